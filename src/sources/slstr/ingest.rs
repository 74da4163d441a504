//! `sciml-data ingest slstr --input ...`: SLSTR products (SAFE folders or the preprocessed
//! `.hdf` files) to a CloudMask version.
//!
//! Products are read one variable at a time and each variable of each scene is written as
//! one shard, so memory stays at about one variable of one scene whatever the number of
//! products. Every error names the product and the variable; the staging area is dropped on
//! error, so the repository is left as it was.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use arrow::array::{
    ArrayRef, Float64Array, Int32Array, Int64Array, ListBuilder, StringArray, StringBuilder,
};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use serde_json::{Map, Value, json};
use zarrs::array::Array;
use zarrs::group::GroupBuilder;

use super::extent;
use super::hdf::{self, HdfProduct};
use super::layout::{self, ArrayPlan, Dtype, Var};
use super::product::SafeProduct;
use super::safe::{self, Grid, SafeName};
use super::split::{self, SplitOptions};
use crate::ingest::{IngestCommon, IngestResult, Session};
use crate::progress;
use crate::record::InputFile;
use crate::staging::StagingZarrStore;

/// The default dataset name of this source.
pub const DATASET: &str = "cloudmask";
/// Where the arrays go in the bag.
pub const ZARR: &str = "data/cloudmask.zarr";
/// The 1 km grid of a frame (rows, columns); the 500 m grid is twice that (sources.md 1.2).
pub const FRAME_GRID: (u64, u64) = (1200, 1500);

/// Options of `ingest slstr`.
#[derive(Debug, Clone)]
pub struct SlstrOptions {
    /// SAFE folders, `.hdf` files, or directories searched for either.
    pub inputs: Vec<PathBuf>,
    /// The expected 1 km grid (rows, columns); the 500 m grid must be twice that.
    pub grid: (u64, u64),
    pub split: SplitOptions,
}

impl Default for SlstrOptions {
    fn default() -> Self {
        SlstrOptions {
            inputs: Vec::new(),
            grid: FRAME_GRID,
            split: SplitOptions::default(),
        }
    }
}

/// One product of either form.
#[derive(Debug, Clone)]
pub enum Product {
    Safe(SafeProduct),
    Hdf(HdfProduct),
}

impl Product {
    pub fn name(&self) -> &SafeName {
        match self {
            Product::Safe(p) => &p.name,
            Product::Hdf(p) => &p.name,
        }
    }

    fn form(&self) -> &'static str {
        match self {
            Product::Safe(_) => "safe",
            Product::Hdf(_) => "hdf",
        }
    }

    fn source_files(&self) -> Vec<PathBuf> {
        match self {
            Product::Safe(p) => p.source_files(),
            Product::Hdf(p) => vec![p.path.clone()],
        }
    }

    fn recorded_name(&self, file: &Path) -> String {
        let base = file
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        match self {
            Product::Safe(p) => format!("{}{}/{base}", p.name.product, safe::SAFE_SUFFIX),
            Product::Hdf(_) => base,
        }
    }
}

fn collect(path: &Path, out: &mut Vec<Product>) -> Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    if path.is_dir() {
        if name.ends_with(safe::SAFE_SUFFIX) {
            out.push(Product::Safe(SafeProduct::open(path)?));
            return Ok(());
        }
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("cannot list {}", path.display()))?
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for e in entries {
            let n = e
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            if e.is_dir() || n.ends_with(".hdf") {
                collect(&e, out)?;
            }
        }
        Ok(())
    } else if path.is_file() && name.ends_with(".hdf") {
        out.push(Product::Hdf(HdfProduct::open(path)?));
        Ok(())
    } else if path.exists() {
        bail!(
            "input {} is neither a SAFE product folder (*.SEN3) nor a preprocessed *.hdf file",
            path.display()
        )
    } else {
        bail!("input {} does not exist", path.display())
    }
}

/// Finds the products of `inputs`, sorted by product name; one form per version.
pub fn expand_inputs(inputs: &[PathBuf]) -> Result<Vec<Product>> {
    let mut out = Vec::new();
    for p in inputs {
        collect(p, &mut out)?;
    }
    out.sort_by(|a, b| a.name().product.cmp(&b.name().product));
    for w in out.windows(2) {
        if w[0].name().product == w[1].name().product {
            bail!(
                "product {} is given twice (as {} and {})",
                w[0].name().product,
                w[0].form(),
                w[1].form()
            );
        }
    }
    if let (Some(a), Some(b)) = (
        out.iter().find(|p| matches!(p, Product::Safe(_))),
        out.iter().find(|p| matches!(p, Product::Hdf(_))),
    ) {
        bail!(
            "the inputs mix SAFE products ({}) and preprocessed .hdf files ({}); ingest each form into its own version or dataset",
            a.name().product,
            b.name().product
        );
    }
    Ok(out)
}

/// Per-scene facts for the scenes table.
#[derive(Debug, Clone, Default)]
struct SceneInfo {
    files: Vec<String>,
    sha256: Vec<String>,
    start_time: Option<String>,
    stop_time: Option<String>,
    absolute_orbit: Option<i64>,
    day_fraction: Option<f64>,
    day_night: Option<String>,
    global_attributes: Option<String>,
    bounds: Option<extent::Bounds>,
}

struct Arrays {
    store: Arc<StagingZarrStore>,
    scenes: u64,
    order: Vec<String>,
    plans: BTreeMap<String, (ArrayPlan, Arc<Array<StagingZarrStore>>)>,
    /// The shards being written (hashed and stored) while the next variable is encoded.
    writing: crate::shards::InFlight,
    /// Per array, per scene: the grid geometry global attributes of the file the scene's
    /// values came from (see [`GEOMETRY_ATTRIBUTES`]).
    geometry: BTreeMap<String, Vec<Value>>,
}

/// The global attributes of a product file that place its grid on the tie-point grid
/// (STFC `load_reflectance_channel` interpolates `solar_zenith_tn` with them). They can
/// differ between products, so they are kept per scene in the array attribute
/// [`GEOMETRY_ATTRIBUTE`].
pub const GEOMETRY_ATTRIBUTES: [&str; 3] = ["resolution", "track_offset", "start_offset"];
/// The array attribute holding, per scene, the [`GEOMETRY_ATTRIBUTES`] of its source file.
pub const GEOMETRY_ATTRIBUTE: &str = "product_geometry";

impl Arrays {
    async fn put(
        &mut self,
        scene: u64,
        var: &Var,
        product: &str,
        extra: Map<String, Value>,
    ) -> Result<()> {
        match self.plans.get(&var.name) {
            Some((plan, _)) => layout::check_same(plan, var, product)?,
            None => {
                let plan = ArrayPlan::of(var, product);
                let array = layout::create(&self.store, &plan, self.scenes, extra)?;
                self.order.push(var.name.clone());
                self.plans.insert(var.name.clone(), (plan, Arc::new(array)));
            }
        }
        let array = self.plans[&var.name].1.clone();
        let shard = layout::encode_scene(&array, scene, var, product)?;
        // Shards in flight: their hashing and writing overlap the next variable's encoding.
        // An all-fill scene has no shard to write (the final wait covers those in flight).
        match shard {
            Some(shard) => {
                self.writing
                    .start(async move { shard.write(&array).await })
                    .await
            }
            None => Ok(()),
        }
    }
}

/// The share of pixels with the `day` flag of `confidence_in` (from its own
/// `flag_masks`/`flag_meanings`).
fn day_fraction(var: &Var) -> Option<f64> {
    let meanings = var.attrs.get("flag_meanings")?.as_str()?;
    let masks = var.attrs.get("flag_masks")?.as_array()?;
    let i = meanings.split_whitespace().position(|m| m == "day")?;
    let mask = masks.get(i)?.as_u64()?;
    if var.is_empty() {
        return None;
    }
    let n = var.len();
    let bytes = var.bytes();
    let day = match var.dtype {
        Dtype::U16 => bytes
            .chunks_exact(2)
            .filter(|b| u64::from(u16::from_le_bytes([b[0], b[1]])) & mask != 0)
            .count(),
        Dtype::U8 => bytes.iter().filter(|b| u64::from(**b) & mask != 0).count(),
        Dtype::U32 => bytes
            .chunks_exact(4)
            .filter(|b| u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])) & mask != 0)
            .count(),
        _ => return None,
    };
    Some(day as f64 / n as f64)
}

type Hashed = Vec<(PathBuf, u64, String)>;

/// Hashes `files` (size, SHA-256) on a thread of its own.
fn hash_files(files: Vec<PathBuf>, product: String) -> std::thread::JoinHandle<Result<Hashed>> {
    std::thread::spawn(move || {
        files
            .into_iter()
            .map(|f| {
                let (size, sha256) = crate::hashing::hash_file(&f, |_| {})
                    .with_context(|| format!("product {product}: cannot read {}", f.display()))?;
                Ok((f, size, sha256))
            })
            .collect()
    })
}

/// Variables the reader may hold ahead of the encoder.
const READ_AHEAD: usize = 4;
/// Shards written (hashed and stored) while the encoder goes on. With [`READ_AHEAD`],
/// measured on the 6 benchmark products, 6 interleaved runs each: 4 and 4 gave a median
/// wall time of 2.12 s (mean 2.18 s), 6 and 6 2.17 s (2.20 s), 3 and 2 2.29 s (2.27 s);
/// one in flight, as before session 7, 2.44 s against 2.20 s for two.
const WRITES_IN_FLIGHT: usize = 4;

/// Reads the variables of the SAFE products, product after product, on one reader thread,
/// handing them over one at a time through a channel of [`READ_AHEAD`] slots: reading
/// (chunks decoded on all cores, see [`super::chunks`]) overlaps the encoding of the previous
/// variables, also across products (the next product's first variables are read while the
/// last ones of this product are encoded). In memory at once: at most `READ_AHEAD + 2`
/// variables, [`WRITES_IN_FLIGHT`] encoded shards and, per scene, `latitude_in` and
/// `longitude_in`, kept for the extent. Every product gives exactly one item per spec, in order,
/// until the first error;
/// the thread stops there, or when the receiver is dropped.
fn read_ahead(
    products: Vec<SafeProduct>,
    specs: Vec<safe::VarSpec>,
) -> tokio::sync::mpsc::Receiver<Result<Read>> {
    let (tx, rx) = tokio::sync::mpsc::channel(READ_AHEAD);
    std::thread::spawn(move || {
        for product in products {
            let mut files = std::collections::BTreeSet::new();
            for spec in &specs {
                let first_of_file = files.insert(spec.file.clone());
                let read = product
                    .read(spec, first_of_file)
                    .map(|(var, globals)| Read {
                        spec: spec.clone(),
                        var,
                        globals,
                    });
                let failed = read.is_err();
                if tx.blocking_send(read).is_err() || failed {
                    return;
                }
            }
        }
    });
    rx
}

/// One variable as the reader hands it over.
struct Read {
    spec: safe::VarSpec,
    var: Var,
    /// The global attributes of the variable's file, with the product's first variable
    /// from that file.
    globals: Option<Map<String, Value>>,
}

fn check_grid(var: &Var, spec_grid: Grid, grid: (u64, u64), product: &str) -> Result<()> {
    let want = match spec_grid {
        Grid::An => Some([grid.0 * 2, grid.1 * 2]),
        Grid::In => Some([grid.0, grid.1]),
        Grid::Tn | Grid::Detectors => None,
    };
    if let Some(w) = want
        && var.shape != w
    {
        bail!(
            "product {product}, variable {}: grid {}x{}, expected {}x{} (the {} grid of a frame; --grid sets the 1 km grid)",
            var.name,
            var.shape[0],
            var.shape.get(1).copied().unwrap_or(0),
            w[0],
            w[1],
            if spec_grid == Grid::An {
                "500 m"
            } else {
                "1 km"
            }
        );
    }
    Ok(())
}

fn str_attr(m: &Map<String, Value>, k: &str) -> Option<String> {
    m.get(k).and_then(|v| v.as_str().map(str::to_string))
}

/// Runs the ingest.
pub async fn ingest(common: &IngestCommon, opts: &SlstrOptions) -> Result<IngestResult> {
    let products = expand_inputs(&opts.inputs)?;
    if products.is_empty() {
        bail!("no SLSTR products (*.SEN3 folders or *.hdf files) found in the given --input paths");
    }
    if opts.grid.0 == 0 || opts.grid.1 == 0 {
        bail!("the grid must not be empty");
    }
    let form = products[0].form();
    let session = Session::open(common)?;
    let n = products.len() as u64;
    let mut arrays = Arrays {
        store: session.staging.zarr_store(ZARR),
        scenes: n,
        order: Vec::new(),
        plans: BTreeMap::new(),
        // Up to WRITES_IN_FLIGHT shards in flight, even on 2 cores: copying a 25 MB shard
        // into the page cache takes a core 40-60 ms here, and with fewer slots the encoder
        // waited behind the consecutive large geolocation shards while a core idled.
        writing: crate::shards::InFlight::with_depth("the cloudmask shards", WRITES_IN_FLIGHT),
        geometry: BTreeMap::new(),
    };
    let specs = safe::variables();
    let steps = match form {
        "safe" => specs.len() as u64 * n,
        _ => n,
    };
    let bar = progress::count_bar(common.progress, steps, "scenes x variables");
    let mut recorded = Vec::new();
    let mut scenes = Vec::new();
    // One reader for every SAFE product (the inputs are all of one form).
    let safe_products: Vec<SafeProduct> = products
        .iter()
        .filter_map(|p| match p {
            Product::Safe(sp) => Some(sp.clone()),
            Product::Hdf(_) => None,
        })
        .collect();
    let mut vars = read_ahead(safe_products, specs.clone());
    // A shard may still be in flight when a product fails: wait for it before the error
    // returns, so that nothing is written into the staging area after it is discarded.
    let looped: Result<()> = async {
        for (i, p) in products.iter().enumerate() {
            let scene = i as u64;
            let product = p.name().product.clone();
            let mut info = SceneInfo::default();
            // The source files are hashed on their own thread while the variables are read.
            let hashing = hash_files(p.source_files(), product.clone());
            match p {
                Product::Safe(_) => {
                    let mut file_globals: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
                    // `latitude_in`, kept until `longitude_in` arrives; then the scene's
                    // bounds are worked out on a thread of their own.
                    let mut latitude: Option<Var> = None;
                    let mut bounding: Option<std::thread::JoinHandle<Option<extent::Bounds>>> =
                        None;
                    for _ in 0..specs.len() {
                        let Read { spec, var, globals } =
                            vars.recv().await.ok_or_else(|| {
                                anyhow::anyhow!("product {product}: the reader thread stopped")
                            })??;
                        if let Some(g) = globals {
                            file_globals.insert(spec.file.clone(), g);
                        }
                        check_grid(&var, spec.grid, opts.grid, &product)?;
                        if spec.grid != Grid::Detectors {
                            let picked: Map<String, Value> = GEOMETRY_ATTRIBUTES
                                .iter()
                                .filter_map(|k| {
                                    file_globals
                                        .get(&spec.file)
                                        .and_then(|g| g.get(*k))
                                        .map(|v| ((*k).to_string(), v.clone()))
                                })
                                .collect();
                            arrays
                                .geometry
                                .entry(var.name.clone())
                                .or_insert_with(|| vec![Value::Null; n as usize])[i] =
                                Value::Object(picked);
                        }
                        if var.name == "confidence_in" {
                            info.day_fraction = day_fraction(&var);
                            info.day_night = info
                                .day_fraction
                                .map(|f| if f >= 0.5 { "day" } else { "night" }.to_string());
                        }
                        let mut extra = Map::new();
                        extra.insert("source_file".into(), json!(spec.file));
                        extra.insert("grid".into(), json!(spec.grid));
                        arrays.put(scene, &var, &product, extra).await?;
                        bar.inc(1);
                        if var.name == "latitude_in" {
                            latitude = Some(var);
                        } else if var.name == "longitude_in" {
                            let lat = latitude.take();
                            bounding =
                                Some(std::thread::spawn(move || extent::of(lat.as_ref(), &var)));
                        }
                    }
                    if let Some(b) = bounding {
                        info.bounds = b.join().map_err(|_| {
                            anyhow::anyhow!("product {product}: the extent thread panicked")
                        })?;
                    }
                    let globals = file_globals.remove(&specs[0].file).ok_or_else(|| {
                        anyhow::anyhow!(
                            "product {product}: the global attributes of {} were not read",
                            specs[0].file
                        )
                    })?;
                    info.start_time = str_attr(&globals, "start_time");
                    info.stop_time = str_attr(&globals, "stop_time");
                    info.absolute_orbit =
                        globals.get("absolute_orbit_number").and_then(Value::as_i64);
                    info.global_attributes = Some(serde_json::to_string(&globals)?);
                }
                Product::Hdf(hp) => {
                    info.day_night = hp
                        .path
                        .parent()
                        .and_then(|d| d.file_name())
                        .map(|d| d.to_string_lossy().to_string())
                        .filter(|d| d == "day" || d == "night");
                    for var in hp.read_all(opts.grid)? {
                        let mut extra = Map::new();
                        extra.insert("description".into(), json!(hdf::description(&var.name)));
                        arrays.put(scene, &var, &product, extra).await?;
                    }
                    bar.inc(1);
                }
            }
            let hashed = hashing
                .join()
                .map_err(|_| anyhow::anyhow!("product {product}: the hashing thread panicked"))??;
            for (f, size, sha256) in hashed {
                let name = p.recorded_name(&f);
                info.files.push(name.clone());
                info.sha256.push(sha256.clone());
                recorded.push(InputFile { name, size, sha256 });
            }
            scenes.push(info);
        }
        Ok(())
    }
    .await;
    if looped.is_err() {
        let _ = arrays.writing.wait().await;
    }
    looped?;
    bar.finish_and_clear();
    arrays.writing.wait().await?;

    for name in &arrays.order {
        let (_, array) = arrays.plans.get_mut(name).expect("planned");
        let array = Arc::get_mut(array).expect("no shard writer holds the array any more");
        if let Some(g) = arrays.geometry.remove(name) {
            array
                .attributes_mut()
                .insert(GEOMETRY_ATTRIBUTE.into(), Value::Array(g));
        }
        array.async_store_metadata().await?;
    }
    let mut g = GroupBuilder::new().build(arrays.store.clone(), "/")?;
    if let Value::Object(m) = json!({
        "title": "CloudMask: Sentinel-3 SLSTR Level-1 scenes (one array per variable, indexed by scene)",
        "form": form,
        "scenes": n,
        "arrays": arrays.order,
        "scenes_table": "data/scenes.parquet",
        "split_table": "data/splits/scenes.parquet",
        "decode": "CF: value * scale_factor + add_offset where value != _FillValue (xarray.open_zarr decodes it)",
    }) {
        *g.attributes_mut() = m;
    }
    // Each scene's box (from latitude_in/longitude_in), for DataCite's geoLocations.
    let regions: Vec<Value> = products
        .iter()
        .zip(&scenes)
        .filter_map(|(p, i)| {
            let b = i.bounds?;
            Some(json!({"title": format!("scene {}", p.name().product), "north": b.north, "south": b.south, "west": b.west, "east": b.east}))
        })
        .collect();
    if !regions.is_empty() {
        g.attributes_mut()
            .insert("regions".into(), Value::Array(regions));
    }
    g.async_store_metadata().await?;

    let names: Vec<String> = products.iter().map(|p| p.name().product.clone()).collect();
    let splits = split::assign(&names, &opts.split);
    session
        .staging
        .put(
            "data/scenes.parquet",
            Bytes::from(parquet_bytes(&scenes_table(
                &products, &scenes, &splits, form,
            )?)?),
        )
        .await?;
    session
        .staging
        .put(
            "data/splits/scenes.parquet",
            Bytes::from(parquet_bytes(&split_table(&names, &splits)?)?),
        )
        .await?;

    let counts: BTreeMap<&str, usize> = splits.iter().fold(BTreeMap::new(), |mut m, s| {
        *m.entry(*s).or_default() += 1;
        m
    });
    let options = json!({
        "dataset": common.dataset,
        "form": form,
        "grid_1km": [opts.grid.0, opts.grid.1],
        "split": opts.split,
        "zarr": format!("one array per variable, shard = one scene, inner chunks 1/{} of each spatial axis, zstd level {} with checksum", layout::INNER_SPLIT, layout::ZSTD_LEVEL),
    });
    let described: Vec<Value> = arrays
        .order
        .iter()
        .map(|n| layout::describe(&arrays.plans[n].0, arrays.scenes))
        .collect();
    let provenance = json!({
        "source": "slstr",
        "dataset": common.dataset,
        "description": "Sentinel-3 SLSTR Level-1 RBT products (CloudMask benchmark) to one Zarr v3 array per variable across scenes",
        "inputs": recorded,
        "options": options,
        "arrays": described,
        "split_counts": counts,
        "transforms": [
            {"output": format!("{ZARR}/<variable>"), "method": "values stored as the product stores them (packed integers, no decode); CF attributes copied from each file after checking that every product packs the variable the same way"},
            {"output": "data/scenes.parquet", "method": "SAFE name fields, start/stop time and orbit from the global attributes, day/night from the day flag of confidence_in (share >= 0.5) or the day/ night/ folder of an .hdf file, west/east/south/north around the valid decoded latitude_in/longitude_in (west > east across the antimeridian; null for the .hdf form, which has no coordinates), source files with SHA-256"},
            {"output": "data/splits/scenes.parquet", "method": "the 100 October-2019 test products of the reference are test; the rest train_test_split(train_size=0.8, random_state=42) over product names sorted, reproduced exactly (MT19937 + numpy legacy permutation)"},
        ],
        "reference": "mlcommons/science benchmarks/cloudmask (data_loader.py, slstr_cloud.py), stfc-sciml/sciml-benchmarks-prerelease@c7c872ac90e513a5ab9ca5abb92273783f6076bf scripts/convert_netcdf.py (see docs/sources/slstr.md)",
    });
    session
        .finish(
            "slstr",
            "ESA/EUMETSAT Copernicus Sentinel-3 SLSTR; CloudMask benchmark by STFC Rutherford Appleton Laboratory",
            &provenance,
            recorded,
            options,
        )
        .await
}

fn scenes_table(
    products: &[Product],
    scenes: &[SceneInfo],
    splits: &[&str],
    form: &str,
) -> Result<RecordBatch> {
    let names: Vec<&SafeName> = products.iter().map(Product::name).collect();
    let s = |f: fn(&SafeName) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(names.iter().map(|n| f(n))))
    };
    let u = |f: fn(&SafeName) -> u32| -> ArrayRef {
        Arc::new(Int32Array::from_iter_values(
            names.iter().map(|n| f(n) as i32),
        ))
    };
    let opt = |f: fn(&SceneInfo) -> Option<String>| -> ArrayRef {
        Arc::new(StringArray::from(scenes.iter().map(f).collect::<Vec<_>>()))
    };
    let list = |f: fn(&SceneInfo) -> &Vec<String>| -> ArrayRef {
        let mut b = ListBuilder::new(StringBuilder::new());
        for sc in scenes {
            for v in f(sc) {
                b.values().append_value(v);
            }
            b.append(true);
        }
        Arc::new(b.finish())
    };
    let bound = |f: fn(&extent::Bounds) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from(
            scenes
                .iter()
                .map(|i| i.bounds.as_ref().map(f))
                .collect::<Vec<_>>(),
        ))
    };
    let list_type = DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)));
    let fields = vec![
        Field::new("scene", DataType::Int64, false),
        Field::new("product", DataType::Utf8, false),
        Field::new("form", DataType::Utf8, false),
        Field::new("platform", DataType::Utf8, false),
        Field::new("product_type", DataType::Utf8, false),
        Field::new("start", DataType::Utf8, false),
        Field::new("stop", DataType::Utf8, false),
        Field::new("creation", DataType::Utf8, false),
        Field::new("duration_s", DataType::Int32, false),
        Field::new("cycle", DataType::Int32, false),
        Field::new("relative_orbit", DataType::Int32, false),
        Field::new("frame", DataType::Utf8, false),
        Field::new("centre", DataType::Utf8, false),
        Field::new("mode", DataType::Utf8, false),
        Field::new("timeliness", DataType::Utf8, false),
        Field::new("baseline", DataType::Utf8, false),
        Field::new("start_time", DataType::Utf8, true),
        Field::new("stop_time", DataType::Utf8, true),
        Field::new("absolute_orbit", DataType::Int64, true),
        Field::new("day_night", DataType::Utf8, true),
        Field::new("day_fraction", DataType::Float64, true),
        Field::new("west", DataType::Float64, true),
        Field::new("east", DataType::Float64, true),
        Field::new("south", DataType::Float64, true),
        Field::new("north", DataType::Float64, true),
        Field::new("split", DataType::Utf8, false),
        Field::new("source_files", list_type.clone(), true),
        Field::new("source_sha256", list_type, true),
        Field::new("global_attributes", DataType::Utf8, true),
    ];
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(0..names.len() as i64)),
        s(|n| &n.product),
        Arc::new(StringArray::from_iter_values(names.iter().map(|_| form))),
        s(|n| &n.platform),
        s(|n| &n.product_type),
        s(|n| &n.start),
        s(|n| &n.stop),
        s(|n| &n.creation),
        u(|n| n.duration_s),
        u(|n| n.cycle),
        u(|n| n.relative_orbit),
        s(|n| &n.frame),
        s(|n| &n.centre),
        s(|n| &n.mode),
        s(|n| &n.timeliness),
        s(|n| &n.baseline),
        opt(|i| i.start_time.clone()),
        opt(|i| i.stop_time.clone()),
        Arc::new(Int64Array::from(
            scenes.iter().map(|i| i.absolute_orbit).collect::<Vec<_>>(),
        )),
        opt(|i| i.day_night.clone()),
        Arc::new(Float64Array::from(
            scenes.iter().map(|i| i.day_fraction).collect::<Vec<_>>(),
        )),
        bound(|b| b.west),
        bound(|b| b.east),
        bound(|b| b.south),
        bound(|b| b.north),
        Arc::new(StringArray::from_iter_values(splits.iter())),
        list(|i| &i.files),
        list(|i| &i.sha256),
        opt(|i| i.global_attributes.clone()),
    ];
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?)
}

fn split_table(names: &[String], splits: &[&str]) -> Result<RecordBatch> {
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("scene", DataType::Int64, false),
            Field::new("product", DataType::Utf8, false),
            Field::new("split", DataType::Utf8, false),
        ])),
        vec![
            Arc::new(Int64Array::from_iter_values(0..names.len() as i64)),
            Arc::new(StringArray::from_iter_values(names.iter())),
            Arc::new(StringArray::from_iter_values(splits.iter())),
        ],
    )?)
}

fn parquet_bytes(batch: &RecordBatch) -> Result<Vec<u8>> {
    crate::sources::candle::ingest::plain_parquet(batch)
}

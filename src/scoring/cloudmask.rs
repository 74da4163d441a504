//! CloudMask scoring: per-pixel cloud segmentation of SLSTR scenes (docs/scoring.md).
//!
//! Scenes: the rows of `data/splits/scenes.parquet` in the evaluated split (catalog default
//! `test`, the reference's 100 named products; a version without test scenes scores
//! `validation`, with a note). Per scene the model input is built as the MLCommons loader
//! (`data_loader.py`) builds it from the preprocessed `.hdf` file: `refs - 0.5` (S1-S6) and
//! `(bts - 270) / 22` (S7-S9), 9 channels on the 1 km grid; ground truth `bayes > 0`.
//! - `.hdf`-form versions store `refs`, `bts`, `bayes` as the files hold them: read directly;
//! - SAFE-form versions store the Level-1 values: the 1 km inputs are derived as
//!   `synth slstr --hdf` writes its `.hdf` form (CF decoding, 2x2 mean of the valid 500 m
//!   radiances, reflectance with the first detector's solar irradiance and the solar zenith
//!   angle interpolated bilinearly from `solar_zenith_tn` with the files' tie-point geometry).
//!
//! NaN inputs (fill) become 0 after normalisation (the value of TF's SAME padding), so that
//! one fill pixel does not turn a whole patch's output into NaN.
//!
//! Inference is the reference's "single_image" path: no crop, 256 x 256 patches with stride
//! 176 and TF `padding='SAME'` (7 x 9 = 63 patches for 1200 x 1500), the central 176 x 176 of
//! each output kept, stitched and centre-cropped back to the image. Metric: per-scene pixel
//! accuracy of `mask > 0.5` against `bayes > 0` (sklearn `accuracy_score` on the full image),
//! averaged over the scenes; also the pixel-pooled accuracy and F1 of the cloud class.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use object_store::local::LocalFileSystem;
use serde_json::{Map, Value};
use zarrs::array::Array;
use zarrs_object_store::AsyncObjectStore;

use super::columns::{self, Kind};
use super::metrics::Binary;
use super::predictions::{Column, Table};
use super::{Input, MetricValue, Outcome, Output, Runner, Staging};
use crate::sources::slstr::ingest::{GEOMETRY_ATTRIBUTE, ZARR};

/// Model patch side (`PATCH_SIZE`).
pub const PATCH: usize = 256;
/// `CROP_SIZE`: the patch border dropped from each output, half on each side.
pub const CROP: usize = 80;
/// Stride of the inference patches (`PATCH_SIZE - CROP_SIZE`) and side of the kept centre.
pub const STRIDE: usize = PATCH - CROP;
/// refs S1-S6 then bts S7-S9.
pub const CHANNELS: usize = 9;

/// Where the patches of an image lie (TF `extract_patches(..., padding='SAME')`) and how the
/// kept centres are stitched back (`reconstruct_from_patches`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub rows: usize,
    pub cols: usize,
    /// Patches down and across: `ceil(in / stride)`.
    pub ny: usize,
    pub nx: usize,
    /// TF SAME padding before the image: `((n - 1) * stride + patch - in) // 2`.
    pub pad_top: usize,
    pub pad_left: usize,
    /// Offset of the image in the stitched `(ny * 176) x (nx * 176)` mask:
    /// `(ny * 176 - rows) // 2`.
    pub off_y: usize,
    pub off_x: usize,
}

impl Geometry {
    pub fn of(rows: usize, cols: usize) -> Geometry {
        let n = |len: usize| len.div_ceil(STRIDE);
        let pad = |len: usize| ((n(len) - 1) * STRIDE + PATCH).saturating_sub(len) / 2;
        Geometry {
            rows,
            cols,
            ny: n(rows),
            nx: n(cols),
            pad_top: pad(rows),
            pad_left: pad(cols),
            off_y: (n(rows) * STRIDE - rows) / 2,
            off_x: (n(cols) * STRIDE - cols) / 2,
        }
    }

    pub fn patches(&self) -> usize {
        self.ny * self.nx
    }

    /// Patch `k` (row-major over (i, j), as `extract_patches` orders them) of a CHW image,
    /// written to `out` (`CHANNELS * PATCH * PATCH` values) as [9, 256, 256]; pixels outside
    /// the image are 0 (SAME padding). Every value of `out` is written.
    pub fn extract(&self, img: &[f32], k: usize, out: &mut [f32]) {
        let (i, j) = (k / self.nx, k % self.nx);
        let y0 = (i * STRIDE) as isize - self.pad_top as isize;
        let x0 = (j * STRIDE) as isize - self.pad_left as isize;
        let (rows, cols) = (self.rows as isize, self.cols as isize);
        // The columns of the patch that fall inside the image.
        let xa = (-x0).clamp(0, PATCH as isize) as usize;
        let xb = (cols - x0).clamp(0, PATCH as isize) as usize;
        for (ch, dst) in out
            .chunks_exact_mut(PATCH * PATCH)
            .take(CHANNELS)
            .enumerate()
        {
            let plane = &img[ch * self.rows * self.cols..(ch + 1) * self.rows * self.cols];
            for (y, row) in dst.chunks_exact_mut(PATCH).enumerate() {
                let r = y0 + y as isize;
                if r < 0 || r >= rows || xa >= xb {
                    row.fill(0.0);
                    continue;
                }
                let src = r as usize * self.cols;
                let c0 = (x0 + xa as isize) as usize;
                row[..xa].fill(0.0);
                row[xa..xb].copy_from_slice(&plane[src + c0..src + c0 + xb - xa]);
                row[xb..].fill(0.0);
            }
        }
    }

    /// Puts the central 176 x 176 of patch `k`'s output (offset 40, `crop_to_bounding_box`)
    /// into the final mask at its place in the stitched image, less the centre crop.
    pub fn stitch(&self, y: &[f32], k: usize, mask: &mut [f32]) {
        let (i, j) = (k / self.nx, k % self.nx);
        let half = CROP / 2;
        for py in 0..STRIDE {
            // Row of the stitched (ny * 176) image, then of the cropped image.
            let Some(r) = (i * STRIDE + py).checked_sub(self.off_y) else {
                continue;
            };
            if r >= self.rows {
                continue;
            }
            for px in 0..STRIDE {
                let Some(c) = (j * STRIDE + px).checked_sub(self.off_x) else {
                    continue;
                };
                if c >= self.cols {
                    continue;
                }
                mask[r * self.cols + c] = y[(py + half) * PATCH + px + half];
            }
        }
    }
}

/// One array's metadata (`zarr.json`).
struct Meta {
    shape: Vec<u64>,
    dtype: String,
    attrs: Map<String, Value>,
}

fn meta(root: &Path, name: &str) -> Result<Meta> {
    let p = root.join(name).join("zarr.json");
    let v: Value = serde_json::from_slice(
        &std::fs::read(&p).with_context(|| format!("{ZARR} has no array {name}"))?,
    )
    .with_context(|| format!("{} is not JSON", p.display()))?;
    Ok(Meta {
        shape: v["shape"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default(),
        dtype: v["data_type"].as_str().unwrap_or("?").to_string(),
        attrs: v["attributes"].as_object().cloned().unwrap_or_default(),
    })
}

type Store = AsyncObjectStore<LocalFileSystem>;

/// The arrays of a version, opened on demand.
struct Arrays {
    root: PathBuf,
    store: Arc<Store>,
}

/// One scene of an array, in the type it is stored in.
enum Raw {
    I8(Vec<i8>),
    U8(Vec<u8>),
    I16(Vec<i16>),
    U16(Vec<u16>),
    I32(Vec<i32>),
    U32(Vec<u32>),
    I64(Vec<i64>),
    U64(Vec<u64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

/// `$body` with `$v` bound to the values of the [`Raw`] `$raw`, a `Vec` of their own type:
/// the body is compiled once per type, so that loops over the values stay typed (no
/// float64 copy of a 2400 x 3000 array per channel).
macro_rules! with_values {
    ($raw:expr, $v:ident => $body:expr) => {
        match $raw {
            Raw::I8($v) => $body,
            Raw::U8($v) => $body,
            Raw::I16($v) => $body,
            Raw::U16($v) => $body,
            Raw::I32($v) => $body,
            Raw::U32($v) => $body,
            Raw::I64($v) => $body,
            Raw::U64($v) => $body,
            Raw::F32($v) => $body,
            Raw::F64($v) => $body,
        }
    };
}

/// A stored value as float64, as numpy's `astype(float64)` gives it.
trait AsF64: Copy {
    fn f64(self) -> f64;
}

macro_rules! as_f64 {
    ($($t:ty),*) => {
        $(impl AsF64 for $t {
            #[inline]
            fn f64(self) -> f64 {
                self as f64
            }
        })*
    };
}
as_f64!(i8, u8, i16, u16, i32, u32, i64, u64, f32);

impl AsF64 for f64 {
    #[inline]
    fn f64(self) -> f64 {
        self
    }
}

impl Raw {
    fn len(&self) -> usize {
        with_values!(self, v => v.len())
    }
    fn to_f64(&self) -> Vec<f64> {
        with_values!(self, v => v.iter().map(|x| x.f64()).collect())
    }
}

/// CF decoding of an array's values as xarray's `mask_and_scale` does it:
/// `value * scale_factor + add_offset`, NaN where `value == _FillValue`.
#[derive(Debug, Clone, Copy)]
struct Cf {
    fill: Option<f64>,
    scale: f64,
    offset: f64,
    packed: bool,
}

impl Cf {
    fn of(m: &Meta) -> Cf {
        let num = |k: &str| m.attrs.get(k).and_then(Value::as_f64);
        Cf {
            fill: num("_FillValue"),
            scale: num("scale_factor").unwrap_or(1.0),
            offset: num("add_offset").unwrap_or(0.0),
            packed: m.attrs.contains_key("scale_factor") || m.attrs.contains_key("add_offset"),
        }
    }

    #[inline]
    fn decode(self, x: f64) -> f64 {
        if self.fill.is_some_and(|f| x == f) {
            f64::NAN
        } else if self.packed {
            x * self.scale + self.offset
        } else {
            x
        }
    }
}

impl Arrays {
    /// Scene `scene` of array `name` as stored (no decoding), with its metadata.
    async fn raw(&self, name: &str, scene: u64) -> Result<(Meta, Raw)> {
        let m = meta(&self.root, name)?;
        let a = Array::async_open(self.store.clone(), &format!("/{name}"))
            .await
            .with_context(|| format!("cannot open {ZARR}/{name}"))?;
        let ranges: Vec<std::ops::Range<u64>> = std::iter::once(scene..scene + 1)
            .chain(m.shape[1..].iter().map(|n| 0..*n))
            .collect();
        let subset = zarrs::array::ArraySubset::new_with_ranges(&ranges);
        macro_rules! get {
            ($variant:ident) => {
                Raw::$variant(
                    a.async_retrieve_array_subset(&subset)
                        .await
                        .with_context(|| format!("cannot read scene {scene} of {ZARR}/{name}"))?,
                )
            };
        }
        let v = match m.dtype.as_str() {
            "int8" => get!(I8),
            "uint8" => get!(U8),
            "int16" => get!(I16),
            "uint16" => get!(U16),
            "int32" => get!(I32),
            "uint32" => get!(U32),
            "int64" => get!(I64),
            "uint64" => get!(U64),
            "float32" => get!(F32),
            "float64" => get!(F64),
            other => {
                bail!("{ZARR}/{name} has data type {other}, which CloudMask scoring does not read")
            }
        };
        Ok((m, v))
    }

    /// Scene `scene` of array `name` as f64, as stored (no decoding).
    async fn raw_f64(&self, name: &str, scene: u64) -> Result<(Meta, Vec<f64>)> {
        let (m, v) = self.raw(name, scene).await?;
        Ok((m, v.to_f64()))
    }

    /// Scene `scene` of array `name` as f64, CF-decoded ([`Cf`]).
    async fn decoded(&self, name: &str, scene: u64) -> Result<(Meta, Vec<f64>)> {
        let (m, mut v) = self.raw_f64(name, scene).await?;
        let cf = Cf::of(&m);
        for x in v.iter_mut() {
            *x = cf.decode(*x);
        }
        Ok((m, v))
    }
}

/// The geometry global attributes of one grid's file for one scene (ingest's
/// `product_geometry`): resolution (across track, along track) in metres, offsets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GridGeometry {
    pub res_x: f64,
    pub res_y: f64,
    pub track_offset: f64,
    pub start_offset: f64,
}

fn grid_geometry(m: &Meta, name: &str, scene: u64) -> Result<GridGeometry> {
    let missing = || {
        anyhow!(
            "{ZARR}/{name} has no {GEOMETRY_ATTRIBUTE} attribute for scene {scene} (the files' \
             resolution, track_offset and start_offset, needed to interpolate solar_zenith_tn); \
             the version was ingested by an older sciml-data: ingest the products again"
        )
    };
    let g = m
        .attrs
        .get(GEOMETRY_ATTRIBUTE)
        .and_then(|v| v.get(scene as usize))
        .and_then(Value::as_object)
        .ok_or_else(missing)?;
    let num = |k: &str| -> Result<f64> {
        let v = g.get(k).ok_or_else(missing)?;
        v.as_f64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .ok_or_else(|| anyhow!("{ZARR}/{name}: {GEOMETRY_ATTRIBUTE}.{k} = {v} is not a number"))
    };
    // "[ 16000 1000 ]" (a netCDF string) or [16000, 1000].
    let res: Vec<f64> = match g.get("resolution") {
        Some(Value::String(s)) => s
            .trim_matches(|c: char| c == '[' || c == ']' || c.is_whitespace())
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|t| !t.is_empty())
            .map(|t| t.parse::<f64>())
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| anyhow!("{ZARR}/{name}: resolution {s:?} is not two numbers"))?,
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_f64).collect(),
        _ => return Err(missing()),
    };
    if res.len() != 2 || res.iter().any(|r| *r <= 0.0) {
        bail!("{ZARR}/{name}: resolution {res:?} is not two positive numbers");
    }
    Ok(GridGeometry {
        res_x: res[0],
        res_y: res[1],
        track_offset: num("track_offset")?,
        start_offset: num("start_offset")?,
    })
}

/// Bilinear interpolation of the tie-point grid `tn` (rows_tn x cols_tn) at the pixels of a
/// `rows x cols` grid with geometry `g`, placed as STFC's `load_reflectance_channel` places
/// them: `x = (column - g.track_offset) * g.res_x / tn.res_x + tn.track_offset`,
/// `y = row * g.res_y / tn.res_y + tn.start_offset`. Positions beyond the tie points take
/// the edge value. (STFC fits a `RectBivariateSpline`.)
pub fn interpolate_tie_points(
    tn: &[f64],
    tn_shape: (usize, usize),
    tng: &GridGeometry,
    rows: usize,
    cols: usize,
    g: &GridGeometry,
) -> Vec<f64> {
    let (tr, tc) = tn_shape;
    let axis = |p: f64, n: usize| -> (usize, usize, f64) {
        let p = p.clamp(0.0, (n - 1) as f64);
        let i0 = (p.floor() as usize).min(n.saturating_sub(2));
        let i1 = (i0 + 1).min(n - 1);
        (i0, i1, p - i0 as f64)
    };
    let xs: Vec<(usize, usize, f64)> = (0..cols)
        .map(|c| {
            axis(
                (c as f64 - g.track_offset) * g.res_x / tng.res_x + tng.track_offset,
                tc,
            )
        })
        .collect();
    let mut out = vec![0f64; rows * cols];
    for r in 0..rows {
        let (y0, y1, fy) = axis(r as f64 * g.res_y / tng.res_y + tng.start_offset, tr);
        for (c, &(x0, x1, fx)) in xs.iter().enumerate() {
            let a = tn[y0 * tc + x0];
            let b = tn[y0 * tc + x1];
            let d = tn[y1 * tc + x0];
            let e = tn[y1 * tc + x1];
            let top = a + (b - a) * fx;
            let bot = d + (e - d) * fx;
            out[r * cols + c] = top + (bot - top) * fy;
        }
    }
    out
}

/// One scene's model input (CHW, normalised, NaN -> 0) and ground truth (`bayes > 0`).
pub struct SceneInput {
    pub rows: usize,
    pub cols: usize,
    pub image: Vec<f32>,
    pub truth: Vec<bool>,
    /// Input values that were NaN before the NaN -> 0 rule.
    pub nan_inputs: u64,
}

/// One scene made ready for the model on a reader thread: its patches in batches of
/// `Runner::batch` (within the scene), and the ground truth.
pub struct ScenePatches {
    pub geometry: Geometry,
    pub truth: Vec<bool>,
    pub nan_inputs: u64,
    /// `(first patch, patches, input [n, 9, 256, 256])` per batch.
    batches: Vec<(usize, usize, Input)>,
}

impl ScenePatches {
    /// Cuts `input` into the inference patches, batch by batch, into buffers of `staging`.
    pub fn new(input: SceneInput, batch: usize, staging: &Staging) -> ScenePatches {
        let g = Geometry::of(input.rows, input.cols);
        let per = CHANNELS * PATCH * PATCH;
        let total = g.patches();
        let mut batches = Vec::with_capacity(total.div_ceil(batch.max(1)));
        let mut k0 = 0;
        while k0 < total {
            let n = batch.max(1).min(total - k0);
            let mut x = staging.buffer(&patch_shape(n));
            for (b, out) in x.as_mut_slice().chunks_exact_mut(per).enumerate() {
                g.extract(&input.image, k0 + b, out);
            }
            batches.push((k0, n, x));
            k0 += n;
        }
        ScenePatches {
            geometry: g,
            truth: input.truth,
            nan_inputs: input.nan_inputs,
            batches,
        }
    }
}

/// The model input shape of `n` patches.
fn patch_shape(n: usize) -> Vec<i64> {
    vec![n as i64, CHANNELS as i64, PATCH as i64, PATCH as i64]
}

/// The MLCommons normalisation of one value: `refs - 0.5`, computed in the stored type
/// (float64 in the `.hdf` files) then cast to float32 as `tf.data` does.
fn norm_ref(v: f64) -> f32 {
    (v - 0.5) as f32
}

/// `(bts - 270) / 22` in float32, as numpy computes it on the float32 `bts` array.
fn norm_bt32(v: f32) -> f32 {
    (v - 270.0f32) / 22.0f32
}

fn norm_bt64(v: f64) -> f32 {
    ((v - 270.0) / 22.0) as f32
}

fn finish(mut image: Vec<f32>, rows: usize, cols: usize, truth: Vec<bool>) -> SceneInput {
    let mut nan_inputs = 0;
    for x in image.iter_mut() {
        if x.is_nan() {
            *x = 0.0;
            nan_inputs += 1;
        }
    }
    SceneInput {
        rows,
        cols,
        image,
        truth,
        nan_inputs,
    }
}

/// `.hdf` form: `refs` (rows, cols, 6), `bts` (rows, cols, 3), `bayes` (rows, cols, 1).
async fn hdf_scene(arrays: &Arrays, scene: u64) -> Result<SceneInput> {
    let (rm, refs) = arrays.raw_f64("refs", scene).await?;
    let (bm, bts) = arrays.raw_f64("bts", scene).await?;
    let (_, bayes) = arrays.raw_f64("bayes", scene).await?;
    let (rows, cols) = (rm.shape[1] as usize, rm.shape[2] as usize);
    let n = rows * cols;
    if rm.shape[1..] != [rows as u64, cols as u64, 6]
        || bm.shape[1..] != [rows as u64, cols as u64, 3]
        || bayes.len() != n
    {
        bail!(
            "{ZARR}: refs {:?}, bts {:?} and bayes do not have the shapes (scene, rows, columns, 6 / 3 / 1)",
            rm.shape,
            bm.shape
        );
    }
    let mut image = vec![0f32; CHANNELS * n];
    for i in 0..n {
        for ch in 0..6 {
            image[ch * n + i] = norm_ref(refs[i * 6 + ch]);
        }
        for ch in 0..3 {
            let v = bts[i * 3 + ch];
            image[(6 + ch) * n + i] = if bm.dtype == "float32" {
                norm_bt32(v as f32)
            } else {
                norm_bt64(v)
            };
        }
    }
    let truth = bayes.iter().map(|b| *b > 0.0).collect();
    Ok(finish(image, rows, cols, truth))
}

/// SAFE form: the 1 km inputs derived from the Level-1 arrays (docs/scoring.md).
async fn safe_scene(arrays: &Arrays, scene: u64) -> Result<SceneInput> {
    let bm = meta(&arrays.root, "S7_BT_in")?;
    let (rows, cols) = (bm.shape[1] as usize, bm.shape[2] as usize);
    let n = rows * cols;
    let mut image = vec![0f32; CHANNELS * n];
    for k in 0..3 {
        let name = format!("S{}_BT_in", k + 7);
        let (m, bt) = arrays.raw(&name, scene).await?;
        if m.shape[1..] != [rows as u64, cols as u64] || bt.len() != n {
            bail!(
                "{ZARR}/{name} has shape {:?}, expected (scene, {rows}, {cols})",
                m.shape
            );
        }
        let cf = Cf::of(&m);
        let plane = &mut image[(6 + k) * n..(7 + k) * n];
        with_values!(&bt, v => {
            for (o, x) in plane.iter_mut().zip(v) {
                // Decoded in float64, kept as float32 (as the .hdf form stores bts).
                *o = norm_bt32(cf.decode(x.f64()) as f32);
            }
        });
    }
    // Solar zenith angle on the 1 km grid, from the tie points (NaN -> 0 as STFC does).
    let (tm, mut tn) = arrays.decoded("solar_zenith_tn", scene).await?;
    for x in tn.iter_mut() {
        if x.is_nan() {
            *x = 0.0;
        }
    }
    let tng = grid_geometry(&tm, "solar_zenith_tn", scene)?;
    let ing = grid_geometry(&bm, "S7_BT_in", scene)?;
    let sza = interpolate_tie_points(
        &tn,
        (tm.shape[1] as usize, tm.shape[2] as usize),
        &tng,
        rows,
        cols,
        &ing,
    );
    let mu0: Vec<f64> = sza
        .iter()
        .map(|s| {
            if *s < 90.0 {
                (s * 0.017453292).cos()
            } else {
                1.0
            }
        })
        .collect();
    let c2 = cols * 2;
    for ch in 0..6 {
        let name = format!("S{}_radiance_an", ch + 1);
        let (m, rad) = arrays.raw(&name, scene).await?;
        if m.shape[1..] != [rows as u64 * 2, cols as u64 * 2] || rad.len() != 4 * n {
            bail!(
                "{ZARR}/{name} has shape {:?}, expected (scene, {}, {}): twice the 1 km grid",
                m.shape,
                rows * 2,
                c2
            );
        }
        let cf = Cf::of(&m);
        let irr_name = format!("S{}_solar_irradiance_an", ch + 1);
        let (_, irr) = arrays.decoded(&irr_name, scene).await?;
        let irr = *irr
            .first()
            .ok_or_else(|| anyhow!("{ZARR}/{irr_name} is empty"))?;
        let plane = &mut image[ch * n..(ch + 1) * n];
        with_values!(&rad, v => {
            for r in 0..rows {
                let top = &v[2 * r * c2..(2 * r + 1) * c2];
                let bottom = &v[(2 * r + 1) * c2..(2 * r + 2) * c2];
                for c in 0..cols {
                    // The 2 x 2 block's valid values, summed in the order (0, 0), (0, 1),
                    // (1, 0), (1, 1).
                    let mut sum = 0.0;
                    let mut cnt = 0u32;
                    for x in [top[2 * c], top[2 * c + 1], bottom[2 * c], bottom[2 * c + 1]] {
                        let d = cf.decode(x.f64());
                        if !d.is_nan() {
                            sum += d;
                            cnt += 1;
                        }
                    }
                    let rad = if cnt > 0 {
                        sum / f64::from(cnt)
                    } else {
                        f64::NAN
                    };
                    let i = r * cols + c;
                    plane[i] = norm_ref(rad / (irr * mu0[i]) * std::f64::consts::PI);
                }
            }
        });
    }
    let (bm, bayes) = arrays.raw("bayes_in", scene).await?;
    if bayes.len() != n {
        bail!("{ZARR}/bayes_in does not have the 1 km grid {rows} x {cols}");
    }
    let cf = Cf::of(&bm);
    let truth = with_values!(&bayes, v => v.iter().map(|x| cf.decode(x.f64()) > 0.0).collect());
    Ok(finish(image, rows, cols, truth))
}

/// The version's form (`safe` or `hdf`) and its arrays.
fn open(bag: &Path) -> Result<(String, Arrays)> {
    let root = bag.join(ZARR);
    let group: Value = serde_json::from_slice(
        &std::fs::read(root.join("zarr.json"))
            .with_context(|| format!("{} has no {ZARR}", bag.display()))?,
    )?;
    let form = group
        .pointer("/attributes/form")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if form != "safe" && form != "hdf" {
        bail!("{ZARR}: unknown form {form:?} (expected safe or hdf)");
    }
    let arrays = Arrays {
        store: Arc::new(AsyncObjectStore::new(LocalFileSystem::new_with_prefix(
            &root,
        )?)),
        root,
    };
    Ok((form, arrays))
}

/// The most pinned host memory that CloudMask scoring stages its patches in.
const PINNED_BUDGET: usize = 4 << 30;

/// The 1 km grid (rows, columns) of a version's scenes.
fn grid(arrays: &Arrays, form: &str) -> Result<(usize, usize)> {
    let name = if form == "hdf" { "refs" } else { "S7_BT_in" };
    let m = meta(&arrays.root, name)?;
    if m.shape.len() < 3 {
        bail!(
            "{ZARR}/{name} has shape {:?}, expected (scene, rows, columns, ...)",
            m.shape
        );
    }
    Ok((m.shape[1] as usize, m.shape[2] as usize))
}

/// The model input and ground truth of scene `scene` of a version (either form).
pub async fn scene_input(bag: &Path, scene: u64) -> Result<SceneInput> {
    let (form, arrays) = open(bag)?;
    if form == "hdf" {
        hdf_scene(&arrays, scene).await
    } else {
        safe_scene(&arrays, scene).await
    }
}

/// The version's scenes: `(scene, product, split)` from `data/splits/scenes.parquet`.
pub fn scenes(bag: &Path) -> Result<Vec<(u64, String, String)>> {
    let p = bag.join("data/splits/scenes.parquet");
    if !p.is_file() {
        bail!(
            "{} has no data/splits/scenes.parquet; is this a cloudmask version?",
            bag.display()
        );
    }
    let mut it = columns::read(
        &p,
        &[
            ("scene", Kind::I64),
            ("product", Kind::Str),
            ("split", Kind::Str),
        ],
    )?
    .into_iter();
    let (s, pr, sp) = (
        it.next().expect("3").i64s(),
        it.next().expect("3").strings(),
        it.next().expect("3").strings(),
    );
    Ok(s.into_iter()
        .zip(pr)
        .zip(sp)
        .filter_map(|((s, p), sp)| Some((s? as u64, p?, sp?)))
        .collect())
}

/// The catalog's default split for a version: `test` (the reference's 100 named
/// products) when the version has test scenes, else `validation` (with a note saying so).
pub fn default_split(bag: &Path, catalog: &str) -> Result<(String, Option<String>)> {
    let all = scenes(bag)?;
    if catalog == "test" && !all.iter().any(|s| s.2 == "test") {
        return Ok((
            "validation".into(),
            Some(
                "the version has no test scenes (none of the reference's 100 test products): \
                 the default split is validation"
                    .into(),
            ),
        ));
    }
    Ok((catalog.to_string(), None))
}

/// A scene's model outputs, batch by batch: `(first patch, patches, output)`.
pub struct SceneOutput {
    pub geometry: Geometry,
    pub truth: Vec<bool>,
    pub nan_inputs: u64,
    outputs: Vec<(usize, usize, Output)>,
}

/// Runs the model on a scene's patches. The input buffers are released as soon as the
/// model has run (pinned ones go back to their pool for the readers).
pub fn run_scene(scene: ScenePatches, runner: &mut Runner) -> Result<SceneOutput> {
    let total = scene.geometry.patches();
    let mut outputs = Vec::with_capacity(scene.batches.len());
    for (k0, n, x) in scene.batches {
        // The bar and the throughput count scenes: a scene is done with its last batch.
        let done = usize::from(k0 + n == total);
        outputs.push((
            k0,
            n,
            runner.run_output(&[("x", &patch_shape(n), &x)], done)?,
        ));
    }
    Ok(SceneOutput {
        geometry: scene.geometry,
        truth: scene.truth,
        nan_inputs: scene.nan_inputs,
        outputs,
    })
}

impl SceneOutput {
    /// The per-scene mask: the model's probabilities on the full image, stitched from the
    /// kept centres of the patches' outputs.
    pub fn mask(&self) -> Result<Vec<f32>> {
        let g = &self.geometry;
        let mut mask = vec![0f32; g.rows * g.cols];
        let per = PATCH * PATCH;
        for (k0, n, out) in &self.outputs {
            let out = out.values()?;
            if out.len() != n * per {
                bail!(
                    "the model returned {} values for {n} patches; cloudmask scoring expects y [N, 1, {PATCH}, {PATCH}] ({} values)",
                    out.len(),
                    n * per
                );
            }
            for b in 0..*n {
                g.stitch(&out[b * per..(b + 1) * per], k0 + b, &mut mask);
            }
        }
        Ok(mask)
    }

    /// The confusion counts of `mask > 0.5` against the ground truth.
    pub fn confusion(&self) -> Result<Binary> {
        let mut b = Binary::default();
        for (m, t) in self.mask()?.iter().zip(&self.truth) {
            b.add(*t, *m > 0.5);
        }
        Ok(b)
    }
}

pub async fn score(
    bag: &Path,
    split: &str,
    runner: &mut Runner,
    progress: bool,
) -> Result<Outcome> {
    let all = scenes(bag)?;
    let mut chosen: Vec<(u64, String)> = all
        .iter()
        .filter(|s| split == "all" || s.2 == split)
        .map(|s| (s.0, s.1.clone()))
        .collect();
    chosen.sort();
    if chosen.is_empty() {
        bail!(
            "split {split:?} has no scenes in data/splits/scenes.parquet (splits: train, validation, test, all)"
        );
    }
    runner.check_inputs(
        "cloudmask",
        &[("x", vec![-1, CHANNELS as i64, PATCH as i64, PATCH as i64])],
    )?;
    let (form, arrays) = open(bag)?;
    runner.bar = crate::progress::count_bar(progress, chosen.len() as u64, "score");
    let mut pooled = Binary::default();
    let mut table_scene = Vec::new();
    let mut table_product = Vec::new();
    let (mut pixels, mut correct, mut acc) = (Vec::new(), Vec::new(), Vec::new());
    let (mut pred_cloud, mut obs_cloud) = (Vec::new(), Vec::new());
    let (mut tp, mut fp, mut tn, mut fnn) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut nan_inputs = 0u64;
    let mut geometry = None;
    // Scenes are read and converted to model inputs on reader threads, ahead of the model.
    // The patches are cut there too, into pinned buffers on the CUDA provider: enough for
    // every scene in flight (`prefetch_in_flight`), within PINNED_BUDGET.
    let rt = tokio::runtime::Handle::current();
    let (rows, cols) = grid(&arrays, &form)?;
    let per_scene = Geometry::of(rows, cols).patches();
    let batch = runner.batch.max(1).min(per_scene);
    let wanted = super::prefetch_in_flight() * per_scene.div_ceil(batch);
    let bytes = batch * CHANNELS * PATCH * PATCH * 4;
    let staging = runner.staging(patch_shape(batch), wanted.min(PINNED_BUDGET / bytes));
    // The masks are stitched and compared with the ground truth on a thread of their own,
    // while the model runs the next scene.
    let (tx, rx) = std::sync::mpsc::sync_channel::<SceneOutput>(2);
    let (fed, results) = std::thread::scope(|scope| {
        let post = scope.spawn(move || -> Result<Vec<(Binary, u64, Geometry)>> {
            let mut done = Vec::new();
            for s in rx {
                done.push((s.confusion()?, s.nan_inputs, s.geometry));
            }
            Ok(done)
        });
        let fed = super::prefetch(
            chosen.len(),
            |i| {
                let (scene, product) = &chosen[i];
                let input = rt
                    .block_on(async {
                        if form == "hdf" {
                            hdf_scene(&arrays, *scene).await
                        } else {
                            safe_scene(&arrays, *scene).await
                        }
                    })
                    .with_context(|| format!("scene {scene} ({product})"))?;
                Ok(ScenePatches::new(input, batch, &staging))
            },
            |_, scene| {
                let out = run_scene(scene, runner)?;
                tx.send(out).map_err(|_| anyhow!("the mask thread stopped"))
            },
        );
        drop(tx);
        (fed, post.join().expect("the mask thread does not panic"))
    });
    // The mask thread's error is the cause when both failed.
    let results = results?;
    fed?;
    for ((scene, product), (b, nan, g)) in chosen.iter().zip(results) {
        nan_inputs += nan;
        geometry = Some(g);
        pooled.merge(&b);
        let total = b.total();
        table_scene.push(*scene as i64);
        table_product.push(product.clone());
        pixels.push(total as i64);
        correct.push((b.tp + b.tn) as i64);
        acc.push(b.accuracy());
        pred_cloud.push((b.tp + b.fp) as f64 / total as f64);
        obs_cloud.push((b.tp + b.r#fn) as f64 / total as f64);
        tp.push(b.tp as i64);
        fp.push(b.fp as i64);
        tn.push(b.tn as i64);
        fnn.push(b.r#fn as i64);
    }
    let mean_acc = acc.iter().sum::<f64>() / acc.len() as f64;
    let g = geometry.expect("at least one scene");
    let mut notes = vec![format!(
        "{} scenes of split {split:?} ({form} form), {} x {} pixels each; {} patches of {PATCH} x {PATCH} per scene ({} x {}, stride {STRIDE}, TF SAME padding {} top / {} left), central {STRIDE} x {STRIDE} kept",
        chosen.len(),
        g.rows,
        g.cols,
        g.patches(),
        g.ny,
        g.nx,
        g.pad_top,
        g.pad_left
    )];
    if form == "safe" {
        notes.push("SAFE form: refs and bts derived from the Level-1 arrays as synth slstr --hdf writes its .hdf form (2x2 mean of valid 500 m radiances, first-detector irradiance, bilinear solar zenith angle from solar_zenith_tn)".into());
    }
    if nan_inputs > 0 {
        notes.push(format!(
            "{nan_inputs} NaN input values (fill) set to 0 after normalisation"
        ));
    }
    let mut table = Table::default();
    table.push("scene", Column::I64(table_scene));
    table.push("product", Column::Str(table_product));
    table.push("pixels", Column::I64(pixels));
    table.push("correct", Column::I64(correct));
    table.push("accuracy", Column::F64(acc));
    table.push("predicted_cloud_fraction", Column::F64(pred_cloud));
    table.push("observed_cloud_fraction", Column::F64(obs_cloud));
    table.push("tp", Column::I64(tp));
    table.push("fp", Column::I64(fp));
    table.push("tn", Column::I64(tn));
    table.push("fn", Column::I64(fnn));
    Ok(Outcome {
        metric: "accuracy".into(),
        metrics: vec![
            MetricValue {
                name: "accuracy".into(),
                value: Some(mean_acc),
            },
            MetricValue {
                name: "pixel_accuracy".into(),
                value: Some(pooled.accuracy()),
            },
            MetricValue {
                name: "f1_cloud".into(),
                value: Some(pooled.f1()),
            },
        ],
        samples: chosen.len() as u64,
        notes,
        predictions: table,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_patch_geometry() {
        // 1200 x 1500: ceil(1200/176) = 7, ceil(1500/176) = 9; SAME padding totals
        // 6*176+256-1200 = 112 and 8*176+256-1500 = 164, split 56/56 and 82/82; the
        // stitched mask is 1232 x 1584, centre-cropped by 16 and 42.
        let g = Geometry::of(1200, 1500);
        assert_eq!(
            g,
            Geometry {
                rows: 1200,
                cols: 1500,
                ny: 7,
                nx: 9,
                pad_top: 56,
                pad_left: 82,
                off_y: 16,
                off_x: 42,
            }
        );
        assert_eq!(g.patches(), 63);
        // The kept centre of patch (i, j) starts at image row 176 i - 56 + 40, which is
        // where the stitched mask's row 176 i lands after the crop by 16: each kept output
        // pixel is predicted from the input pixel at the same place.
        assert_eq!(g.pad_top - CROP / 2, g.off_y);
        assert_eq!(g.pad_left - CROP / 2, g.off_x);
    }

    #[test]
    fn identity_model_reproduces_the_image() {
        // A "model" that returns channel 0 of its input: the stitched mask is channel 0.
        for (rows, cols) in [(1200, 1500), (60, 80), (300, 177)] {
            let g = Geometry::of(rows, cols);
            let n = rows * cols;
            let img: Vec<f32> = (0..CHANNELS * n).map(|i| i as f32).collect();
            let mut mask = vec![f32::NAN; n];
            // A dirty buffer: extract must write every value.
            let mut x = vec![f32::NAN; CHANNELS * PATCH * PATCH];
            for k in 0..g.patches() {
                g.extract(&img, k, &mut x);
                assert!(
                    x.iter().all(|v| !v.is_nan()),
                    "patch {k} of {rows} x {cols}"
                );
                g.stitch(&x[..PATCH * PATCH], k, &mut mask);
            }
            assert_eq!(&mask[..], &img[..n], "{rows} x {cols}");
        }
    }

    #[test]
    fn bilinear_tie_points_reproduce_a_plane() {
        let (tr, tc) = (20, 30);
        let tn: Vec<f64> = (0..tr * tc)
            .map(|i| 10.0 + 0.5 * (i % tc) as f64 + 0.01 * (i / tc) as f64)
            .collect();
        let tng = GridGeometry {
            res_x: 16000.0,
            res_y: 1000.0,
            track_offset: 8.0,
            start_offset: 0.0,
        };
        let g = GridGeometry {
            res_x: 1000.0,
            res_y: 1000.0,
            track_offset: 100.0,
            start_offset: 0.0,
        };
        let out = interpolate_tie_points(&tn, (tr, tc), &tng, 20, 300, &g);
        for r in 0..20 {
            for c in 0..300 {
                let x = (c as f64 - 100.0) / 16.0 + 8.0;
                let want = 10.0 + 0.5 * x + 0.01 * r as f64;
                assert!((out[r * 300 + c] - want).abs() < 1e-9);
            }
        }
    }
}

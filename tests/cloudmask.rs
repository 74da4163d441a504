//! CloudMask end to end: synthetic SLSTR products in the real SAFE layout (netCDF-4) and
//! in the preprocessed .hdf form, ingested and read back. The expected values are read
//! from the input files here with `hdf5-metno` (a netCDF-4 file is an HDF5 file), a
//! different reader from the `netcdf` crate the ingest uses. No real SLSTR product small
//! enough to ship exists (shared/realdata/README.md), so the inputs are synthetic.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, Float64Array, Int64Array, ListArray, StringArray};
use arrow::record_batch::RecordBatch;
use hdf5_metno as hdf5;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sciml_data::ingest::{IngestCommon, IngestResult};
use sciml_data::sources::slstr::ingest::{SlstrOptions, ingest};
use sciml_data::sources::slstr::safe;
use sciml_data::sources::slstr::synth::{SynthOptions, synthesize};
use sciml_data::verify::{VerifyOptions, verify_address};
use sha2::{Digest, Sha256};

const SMALL: (usize, usize) = (60, 80);

fn common(repo: &Path, dataset: &str, version: &str) -> IngestCommon {
    IngestCommon {
        repo: repo.display().to_string(),
        dataset: dataset.into(),
        version: semver::Version::parse(version).unwrap(),
        message: "test".into(),
        progress: false,
    }
}

fn small(inputs: Vec<PathBuf>) -> SlstrOptions {
    SlstrOptions {
        inputs,
        grid: (SMALL.0 as u64, SMALL.1 as u64),
        ..Default::default()
    }
}

fn synth(dir: &Path, scenes: usize, test_names: usize, hdf: bool) -> Vec<PathBuf> {
    synthesize(
        &SynthOptions {
            scenes,
            grid: SMALL,
            test_names,
            hdf,
            ..Default::default()
        },
        dir,
    )
    .unwrap()
    .products
}

fn read_parquet(path: &Path) -> RecordBatch {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let batches: Vec<RecordBatch> = ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect();
    arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap()
}

fn strings(b: &RecordBatch, col: &str) -> Vec<Option<String>> {
    let a = b
        .column_by_name(col)
        .unwrap_or_else(|| panic!("no column {col}"))
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    (0..a.len())
        .map(|i| (!a.is_null(i)).then(|| a.value(i).to_string()))
        .collect()
}

async fn open_array(
    bag: &Path,
    name: &str,
) -> zarrs::array::Array<zarrs_object_store::AsyncObjectStore<object_store::local::LocalFileSystem>>
{
    let fs = object_store::local::LocalFileSystem::new_with_prefix(bag.join("data/cloudmask.zarr"))
        .unwrap();
    let store = Arc::new(zarrs_object_store::AsyncObjectStore::new(fs));
    zarrs::array::Array::async_open(store, &format!("/{name}"))
        .await
        .unwrap_or_else(|e| panic!("array {name}: {e}"))
}

/// Scene `scene` of array `name`, as stored.
async fn zarr_scene<T: zarrs::array::Element + zarrs::array::ElementOwned + Send + Sync>(
    bag: &Path,
    name: &str,
    scene: u64,
) -> (Vec<u64>, Vec<T>) {
    let a = open_array(bag, name).await;
    let shape = a.shape().to_vec();
    let mut ranges: Vec<std::ops::Range<u64>> = Vec::with_capacity(shape.len());
    ranges.push(scene..scene + 1);
    ranges.extend(shape[1..].iter().map(|n| 0..*n));
    let subset = zarrs::array::ArraySubset::new_with_ranges(&ranges);
    let v: Vec<T> = a.async_retrieve_array_subset(&subset).await.unwrap();
    (shape, v)
}

fn attrs(bag: &Path, name: &str) -> serde_json::Value {
    let meta: serde_json::Value = serde_json::from_slice(
        &std::fs::read(bag.join(format!("data/cloudmask.zarr/{name}/zarr.json"))).unwrap(),
    )
    .unwrap();
    meta
}

fn h5<T: hdf5::H5Type>(file: &Path, var: &str) -> (Vec<usize>, Vec<T>) {
    let f = hdf5::File::open(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let d = f.dataset(var).unwrap();
    (d.shape(), d.read_raw::<T>().unwrap())
}

fn h5_attr_f64(file: &Path, var: &str, attr: &str) -> Option<f64> {
    let f = hdf5::File::open(file).unwrap();
    let d = f.dataset(var).unwrap();
    let a = d.attr(attr).ok()?;
    Some(a.read_raw::<f64>().unwrap()[0])
}

fn sha256(p: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(p).unwrap()))
}

async fn check_safe_var<T>(bag: &Path, dir: &Path, scene: u64, file: &str, var: &str)
where
    T: zarrs::array::Element
        + zarrs::array::ElementOwned
        + hdf5::H5Type
        + PartialEq
        + std::fmt::Debug
        + Send
        + Sync,
{
    let (shape, got) = zarr_scene::<T>(bag, var, scene).await;
    let (want_shape, want) = h5::<T>(&dir.join(file), var);
    assert_eq!(
        shape[1..].iter().map(|n| *n as usize).collect::<Vec<_>>(),
        want_shape,
        "{var}"
    );
    assert!(got == want, "{var} of scene {scene} differs from {file}");
    // The CF packing attributes are the file's.
    let meta = attrs(bag, var);
    for a in ["scale_factor", "add_offset", "_FillValue"] {
        let file_value = h5_attr_f64(&dir.join(file), var, a);
        let zarr_value = meta["attributes"][a].as_f64();
        assert_eq!(file_value, zarr_value, "{var}.{a}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn safe_products_read_back_as_stored_with_their_attributes() {
    let tmp = tempfile::tempdir().unwrap();
    let raw = tmp.path().join("raw");
    let products = synth(&raw, 3, 1, false);
    let repo = tmp.path().join("repo");
    let r: IngestResult = ingest(
        &common(&repo, "cloudmask", "1.0.0"),
        &small(products.clone()),
    )
    .await
    .unwrap();
    let bag = r.bag_dir.clone();
    let mut names: Vec<String> = products
        .iter()
        .map(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .trim_end_matches(".SEN3")
                .to_string()
        })
        .collect();
    names.sort();
    let dirs: BTreeMap<String, PathBuf> = products
        .iter()
        .map(|p| {
            (
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .trim_end_matches(".SEN3")
                    .to_string(),
                p.clone(),
            )
        })
        .collect();

    for (scene, name) in names.iter().enumerate() {
        let dir = &dirs[name];
        let s = scene as u64;
        for n in 1..=6 {
            check_safe_var::<i16>(
                &bag,
                dir,
                s,
                &format!("S{n}_radiance_an.nc"),
                &format!("S{n}_radiance_an"),
            )
            .await;
            check_safe_var::<f32>(
                &bag,
                dir,
                s,
                &format!("S{n}_quality_an.nc"),
                &format!("S{n}_solar_irradiance_an"),
            )
            .await;
        }
        for n in 7..=9 {
            check_safe_var::<i16>(
                &bag,
                dir,
                s,
                &format!("S{n}_BT_in.nc"),
                &format!("S{n}_BT_in"),
            )
            .await;
        }
        check_safe_var::<u8>(&bag, dir, s, "flags_in.nc", "bayes_in").await;
        check_safe_var::<u16>(&bag, dir, s, "flags_in.nc", "confidence_in").await;
        check_safe_var::<u16>(&bag, dir, s, "flags_in.nc", "cloud_in").await;
        for g in ["an", "in"] {
            for c in ["latitude", "longitude"] {
                check_safe_var::<i32>(
                    &bag,
                    dir,
                    s,
                    &format!("geodetic_{g}.nc"),
                    &format!("{c}_{g}"),
                )
                .await;
            }
        }
        check_safe_var::<f64>(&bag, dir, s, "geometry_tn.nc", "solar_zenith_tn").await;
    }

    // Layout: one shard per scene of one variable, zstd with checksum, grid dimensions.
    let meta = attrs(&bag, "S1_radiance_an");
    assert_eq!(meta["shape"], serde_json::json!([3, 120, 160]));
    assert_eq!(
        meta["chunk_grid"]["configuration"]["chunk_shape"],
        serde_json::json!([1, 120, 160])
    );
    assert_eq!(
        meta["dimension_names"],
        serde_json::json!(["scene", "rows_an", "columns_an"])
    );
    assert_eq!(meta["data_type"], "int16");
    assert_eq!(meta["fill_value"], -32768);
    let codec = &meta["codecs"][0];
    assert_eq!(codec["name"], "sharding_indexed");
    let inner = serde_json::to_string(&codec["configuration"]["codecs"]).unwrap();
    assert!(
        inner.contains("\"zstd\"") && inner.contains("\"checksum\":true"),
        "{inner}"
    );
    for s in 0..3 {
        assert!(
            bag.join(format!("data/cloudmask.zarr/S1_radiance_an/c/{s}/0/0"))
                .is_file()
        );
    }
    assert_eq!(
        attrs(&bag, "S8_BT_in")["dimension_names"],
        serde_json::json!(["scene", "rows_in", "columns_in"])
    );
    let flags = attrs(&bag, "confidence_in");
    let meanings = flags["attributes"]["flag_meanings"].as_str().unwrap();
    assert!(meanings.split(' ').any(|m| m == "summary_cloud"));
    assert_eq!(
        flags["attributes"]["flag_masks"].as_array().unwrap().len(),
        meanings.split(' ').count()
    );

    // The scenes table.
    let t = read_parquet(&bag.join("data/scenes.parquet"));
    assert_eq!(t.num_rows(), 3);
    assert_eq!(
        strings(&t, "product")
            .into_iter()
            .map(Option::unwrap)
            .collect::<Vec<_>>(),
        names
    );
    for (i, n) in names.iter().enumerate() {
        let parsed = safe::parse(n).unwrap();
        assert_eq!(
            strings(&t, "start")[i].as_deref(),
            Some(parsed.start.as_str())
        );
        assert_eq!(strings(&t, "baseline")[i].as_deref(), Some("003"));
        assert_eq!(strings(&t, "platform")[i].as_deref(), Some("S3A"));
        // start_time from the global attributes agrees with the name.
        let st = strings(&t, "start_time")[i].clone().unwrap();
        assert_eq!(st.replace(['-', ':'], "")[..15], parsed.start);
    }
    // Scene 0 of the generator is a day frame named after a reference test product, the
    // others alternate night/day.
    let test_name = names
        .iter()
        .position(|n| n.starts_with("S3A_SL_1_RBT____20191001T113221"))
        .unwrap();
    assert_eq!(strings(&t, "split")[test_name].as_deref(), Some("test"));
    assert_eq!(strings(&t, "day_night")[test_name].as_deref(), Some("day"));
    let dn: Vec<Option<String>> = strings(&t, "day_night");
    assert!(dn.contains(&Some("night".into())));
    let frac = t
        .column_by_name("day_fraction")
        .unwrap()
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap()
        .clone();
    // The day fraction is the share of pixels with the day flag, computed here from the file.
    let dir = &dirs[&names[test_name]];
    let (_, conf) = h5::<u16>(&dir.join("flags_in.nc"), "confidence_in");
    let want = conf.iter().filter(|v| **v & 1024 != 0).count() as f64 / conf.len() as f64;
    assert!((frac.value(test_name) - want).abs() < 1e-12);
    let orbit = t
        .column_by_name("absolute_orbit")
        .unwrap()
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap()
        .clone();
    assert!(orbit.iter().all(|o| o.is_some()));
    // Source files with their SHA-256.
    let files = t
        .column_by_name("source_files")
        .unwrap()
        .as_any()
        .downcast_ref::<ListArray>()
        .unwrap()
        .clone();
    let shas = t
        .column_by_name("source_sha256")
        .unwrap()
        .as_any()
        .downcast_ref::<ListArray>()
        .unwrap()
        .clone();
    for (i, product) in names.iter().enumerate() {
        let f = files.value(i);
        let f = f.as_any().downcast_ref::<StringArray>().unwrap();
        let h = shas.value(i);
        let h = h.as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(
            f.len(),
            safe::files().len() + 1,
            "netCDF files and the manifest"
        );
        for j in 0..f.len() {
            let rel = f.value(j);
            assert!(rel.starts_with(&format!("{product}.SEN3/")), "{rel}");
            assert_eq!(h.value(j), sha256(&raw.join(rel)), "{rel}");
        }
    }
    // The split table agrees with the scenes table.
    let sp = read_parquet(&bag.join("data/splits/scenes.parquet"));
    assert_eq!(strings(&sp, "split"), strings(&t, "split"));
    // The version verifies.
    let v = verify_address(
        &r.address,
        VerifyOptions {
            fast: false,
            progress: false,
        },
    )
    .await
    .unwrap();
    assert!(v.ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn hdf_form_reads_back_equal() {
    let tmp = tempfile::tempdir().unwrap();
    let raw = tmp.path().join("raw");
    synth(&raw, 2, 0, true);
    let repo = tmp.path().join("repo");
    let r = ingest(
        &common(&repo, "cloudmask-ds1", "1.0.0"),
        &small(vec![raw.join("hdf")]),
    )
    .await
    .unwrap();
    let bag = r.bag_dir.clone();
    let t = read_parquet(&bag.join("data/scenes.parquet"));
    let names: Vec<String> = strings(&t, "product")
        .into_iter()
        .map(Option::unwrap)
        .collect();
    let dn = strings(&t, "day_night");
    assert_eq!(strings(&t, "form")[0].as_deref(), Some("hdf"));
    for (i, n) in names.iter().enumerate() {
        let folder = dn[i].clone().unwrap();
        let file = raw.join("hdf").join(&folder).join(format!("{n}.hdf"));
        assert!(
            file.is_file(),
            "day/night comes from the folder: {}",
            file.display()
        );
        let s = i as u64;
        let (shape, got) = zarr_scene::<f32>(&bag, "bts", s).await;
        assert_eq!(shape, vec![2, 60, 80, 3]);
        let (_, want) = h5::<f32>(&file, "bts");
        assert_eq!(got.len(), want.len());
        assert!(
            got.iter()
                .zip(&want)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "bts"
        );
        assert!(
            want.iter().any(|v| v.is_nan()),
            "the fixture has fill pixels"
        );
        for name in ["rads", "refs"] {
            let (_, got) = zarr_scene::<f64>(&bag, name, s).await;
            let (_, want) = h5::<f64>(&file, name);
            assert!(
                got.iter()
                    .zip(&want)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{name}"
            );
        }
        for name in ["bayes", "summary"] {
            let (_, got) = zarr_scene::<u8>(&bag, name, s).await;
            let (_, want) = h5::<u8>(&file, name);
            assert_eq!(got, want, "{name}");
        }
    }
    assert_eq!(
        attrs(&bag, "rads")["dimension_names"],
        serde_json::json!(["scene", "rows_in", "columns_in", "channel_rads"])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_inputs_give_the_same_digest() {
    let tmp = tempfile::tempdir().unwrap();
    let a = synth(&tmp.path().join("a"), 2, 0, false);
    let b = synth(&tmp.path().join("b"), 2, 0, false);
    for (pa, pb) in a.iter().zip(&b) {
        for f in safe::files() {
            assert_eq!(
                sha256(&pa.join(&f)),
                sha256(&pb.join(&f)),
                "synthesis is deterministic: {f}"
            );
        }
    }
    let r1 = ingest(
        &common(&tmp.path().join("r1"), "cloudmask", "1.0.0"),
        &small(a.clone()),
    )
    .await
    .unwrap();
    let r2 = ingest(
        &common(&tmp.path().join("r2"), "cloudmask", "1.0.0"),
        &small(b),
    )
    .await
    .unwrap();
    assert_eq!(r1.record.digest, r2.record.digest);
    // Ingesting again into the same repository is a no-op with the same digest.
    let r3 = ingest(
        &common(&tmp.path().join("r1"), "cloudmask", "1.0.0"),
        &small(a.clone()),
    )
    .await
    .unwrap();
    assert_eq!(r1.record.digest, r3.record.digest);
    // Another split seed changes the payload (numpy: RandomState(42).permutation(2) is
    // [1 0], RandomState(7).permutation(2) is [0 1]: the validation product changes).
    let mut opts = small(a);
    opts.split.seed = 7;
    let r4 = ingest(&common(&tmp.path().join("r4"), "cloudmask", "1.0.0"), &opts)
        .await
        .unwrap();
    assert_ne!(r1.record.digest, r4.record.digest);
    let s1 = strings(
        &read_parquet(&r1.bag_dir.join("data/splits/scenes.parquet")),
        "split",
    );
    assert_eq!(
        s1,
        vec![Some("train".to_string()), Some("validation".to_string())]
    );
}

/// Every file under `root` with its SHA-256 (the repository's state).
fn snapshot(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(root).unwrap().display().to_string(),
                    sha256(&p),
                );
            }
        }
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_products_are_clear_errors_and_leave_the_repository_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let raw = tmp.path().join("raw");
    let good = synth(&raw, 2, 0, false);
    let repo = tmp.path().join("repo");
    ingest(&common(&repo, "cloudmask", "1.0.0"), &small(good.clone()))
        .await
        .unwrap();
    let before = snapshot(&repo);
    let name = |p: &Path| {
        p.file_name()
            .unwrap()
            .to_string_lossy()
            .trim_end_matches(".SEN3")
            .to_string()
    };
    let second = name(&good[1]);

    type Damage = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, Damage, Vec<String>)> = vec![
        (
            "missing channel",
            Box::new(|d: &Path| std::fs::remove_file(d.join("S3_radiance_an.nc")).unwrap()),
            vec![
                second.clone(),
                "S3_radiance_an.nc is missing".into(),
                "S3_radiance_an".into(),
            ],
        ),
        (
            "truncated",
            Box::new(|d: &Path| {
                let p = d.join("S8_BT_in.nc");
                let bytes = std::fs::read(&p).unwrap();
                std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
            }),
            vec![
                second.clone(),
                "variable S8_BT_in".into(),
                "truncated".into(),
            ],
        ),
        (
            "missing variable",
            Box::new(|d: &Path| {
                // flags_in.nc without cloud_in.
                let p = d.join("flags_in.nc");
                let src = netcdf::open(&p).unwrap();
                let tmp = d.join("flags_new.nc");
                let mut f = netcdf::create(&tmp).unwrap();
                f.add_dimension("rows", 60).unwrap();
                f.add_dimension("columns", 80).unwrap();
                for v in ["bayes_in", "confidence_in"] {
                    let var = src.variable(v).unwrap();
                    let raw = var.get_raw_values(..).unwrap();
                    let mut o = if v == "bayes_in" {
                        let mut o = f.add_variable::<u8>(v, &["rows", "columns"]).unwrap();
                        o.put_values(&raw, ..).unwrap();
                        o
                    } else {
                        let vals: Vec<u16> = raw
                            .chunks_exact(2)
                            .map(|b| u16::from_le_bytes([b[0], b[1]]))
                            .collect();
                        let mut o = f.add_variable::<u16>(v, &["rows", "columns"]).unwrap();
                        o.put_values(&vals, ..).unwrap();
                        o
                    };
                    for a in var.attributes() {
                        o.put_attribute(a.name(), a.value().unwrap()).unwrap();
                    }
                }
                f.close().unwrap();
                drop(src);
                std::fs::rename(&tmp, &p).unwrap();
            }),
            vec![
                second.clone(),
                "variable cloud_in is missing from flags_in.nc".into(),
            ],
        ),
        (
            "different packing",
            Box::new(|d: &Path| {
                let mut f = netcdf::append(d.join("S2_radiance_an.nc")).unwrap();
                let mut v = f.variable_mut("S2_radiance_an").unwrap();
                v.put_attribute("scale_factor", 0.5f64).unwrap();
                f.close().unwrap();
            }),
            vec![
                second.clone(),
                "variable S2_radiance_an".into(),
                "scale_factor".into(),
            ],
        ),
    ];
    for (what, damage, want) in cases {
        let dir = tmp.path().join(format!("bad-{}", what.replace(' ', "-")));
        let mut inputs = Vec::new();
        for p in &good {
            let d = dir.join(p.file_name().unwrap());
            copy_dir(p, &d);
            inputs.push(d);
        }
        damage(&inputs[1]);
        let e = ingest(&common(&repo, "cloudmask", "1.1.0"), &small(inputs))
            .await
            .unwrap_err();
        let msg = format!("{e:#}");
        for w in &want {
            assert!(msg.contains(w.as_str()), "{what}: {msg:?} lacks {w:?}");
        }
        assert_eq!(snapshot(&repo), before, "{what}: the repository changed");
    }

    // A product on another grid.
    let other = tmp.path().join("other");
    synthesize(
        &SynthOptions {
            scenes: 1,
            seed: 5,
            grid: (60, 90),
            ..Default::default()
        },
        &other,
    )
    .unwrap();
    let mut inputs = good.clone();
    let odd = std::fs::read_dir(&other)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let renamed = tmp.path().join("odd").join(
        good[0]
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace("_003.SEN3", "_004.SEN3"),
    );
    copy_dir(&odd, &renamed);
    inputs.push(renamed);
    let e = ingest(&common(&repo, "cloudmask", "1.1.0"), &small(inputs))
        .await
        .unwrap_err();
    let msg = format!("{e:#}");
    assert!(msg.contains("grid 120x180, expected 120x160"), "{msg}");
    assert!(msg.contains("_004"), "{msg}");
    assert_eq!(snapshot(&repo), before, "grid: the repository changed");

    // The default grid is the frame's (1200 x 1500): small products are refused.
    let e = ingest(
        &common(&repo, "cloudmask", "1.1.0"),
        &SlstrOptions {
            inputs: good.clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert!(format!("{e:#}").contains("expected 2400x3000"), "{e:#}");
    // Not a product.
    let junk = tmp.path().join("junk.nc");
    std::fs::write(&junk, b"x").unwrap();
    let e = ingest(&common(&repo, "cloudmask", "1.2.0"), &small(vec![junk]))
        .await
        .unwrap_err();
    assert!(
        format!("{e:#}").contains("neither a SAFE product folder"),
        "{e:#}"
    );
}

/// One product at the real size (2400 x 3000 and 1200 x 1500).
#[tokio::test(flavor = "multi_thread")]
async fn a_full_size_product_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let raw = tmp.path().join("raw");
    let products = synthesize(
        &SynthOptions {
            scenes: 1,
            ..Default::default()
        },
        &raw,
    )
    .unwrap()
    .products;
    let r = ingest(
        &common(&tmp.path().join("repo"), "cloudmask", "1.0.0"),
        &SlstrOptions {
            inputs: products.clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let bag = r.bag_dir.clone();
    check_safe_var::<i16>(&bag, &products[0], 0, "S1_radiance_an.nc", "S1_radiance_an").await;
    check_safe_var::<i16>(&bag, &products[0], 0, "S9_BT_in.nc", "S9_BT_in").await;
    check_safe_var::<u8>(&bag, &products[0], 0, "flags_in.nc", "bayes_in").await;
    let meta = attrs(&bag, "S1_radiance_an");
    assert_eq!(meta["shape"], serde_json::json!([1, 2400, 3000]));
    let inner = &meta["codecs"][0]["configuration"]["chunk_shape"];
    assert_eq!(inner, &serde_json::json!([1, 600, 750]));
    // The fields are smooth, not white noise: the packed radiances compress.
    let shard = std::fs::metadata(bag.join("data/cloudmask.zarr/S1_radiance_an/c/0/0/0"))
        .unwrap()
        .len();
    assert!(shard < 2400 * 3000 * 2 * 3 / 4, "shard of {shard} bytes");
    // A realistic cloud fraction.
    let (_, bayes) = zarr_scene::<u8>(&bag, "bayes_in", 0).await;
    let cloudy = bayes.iter().filter(|v| **v > 0).count() as f64 / bayes.len() as f64;
    assert!((0.1..0.9).contains(&cloudy), "cloud fraction {cloudy}");
}

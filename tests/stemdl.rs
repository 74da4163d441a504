//! STEMDL end to end: synthetic ORNL CBED batch files (the real group and attribute layout,
//! labels drawn from shared/realdata/stemdl/distribution.csv) and `.npz` samples written
//! here with the `zip` crate. Expected values are read from the inputs here, with the HDF5
//! library directly and an independent `.npy` writer, not through the source's readers.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, Float64Array, Int32Array, Int64Array, ListArray, StringArray};
use hdf5_metno as hdf5;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sciml_data::ingest::{IngestCommon, IngestResult};
use sciml_data::sources::cbed::ingest::{CbedOptions, ingest};
use sciml_data::sources::cbed::preprocess;
use sciml_data::sources::cbed::synth::{SynthOptions, synthesize};
use sciml_data::verify::{VerifyOptions, verify_address};

fn common(repo: &Path, version: &str) -> IngestCommon {
    IngestCommon {
        repo: repo.display().to_string(),
        dataset: "stemdl".into(),
        version: semver::Version::parse(version).unwrap(),
        message: "test".into(),
        progress: false,
    }
}

async fn run(
    repo: &Path,
    version: &str,
    inputs: Vec<PathBuf>,
    shard: u64,
) -> anyhow::Result<IngestResult> {
    ingest(
        &common(repo, version),
        &CbedOptions {
            inputs,
            shard_samples: shard,
        },
    )
    .await
}

fn synth(dir: &Path, files: [usize; 3], samples: usize) -> PathBuf {
    let raw = dir.join("raw");
    synthesize(
        &SynthOptions {
            files,
            samples_per_file: samples,
            ..Default::default()
        },
        &raw,
    )
    .unwrap();
    raw
}

async fn read_zarr(bag: &Path, array: &str) -> (Vec<u64>, Vec<f32>) {
    let fs =
        object_store::local::LocalFileSystem::new_with_prefix(bag.join("data/cbed.zarr")).unwrap();
    let store = Arc::new(zarrs_object_store::AsyncObjectStore::new(fs));
    let a = zarrs::array::Array::async_open(store, &format!("/{array}"))
        .await
        .unwrap();
    let v: Vec<f32> = a
        .async_retrieve_array_subset(&a.subset_all())
        .await
        .unwrap();
    (a.shape().to_vec(), v)
}

struct Table {
    batch: arrow::record_batch::RecordBatch,
}

impl Table {
    fn read(bag: &Path) -> Table {
        let f = std::fs::File::open(bag.join("data/samples.parquet")).unwrap();
        let batches: Vec<_> = ParquetRecordBatchReaderBuilder::try_new(f)
            .unwrap()
            .build()
            .unwrap()
            .map(|b| b.unwrap())
            .collect();
        let batch = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
        Table { batch }
    }
    fn col<T: 'static>(&self, name: &str) -> &T {
        self.batch
            .column_by_name(name)
            .unwrap_or_else(|| panic!("no column {name}"))
            .as_any()
            .downcast_ref::<T>()
            .unwrap_or_else(|| panic!("column {name} has another type"))
    }
    fn str(&self, name: &str, i: usize) -> Option<String> {
        let c = self.col::<StringArray>(name);
        (!c.is_null(i)).then(|| c.value(i).to_string())
    }
    fn list(&self, name: &str, i: usize) -> Vec<f64> {
        let c = self.col::<ListArray>(name);
        let v = c.value(i);
        v.as_any()
            .downcast_ref::<Float64Array>()
            .unwrap()
            .values()
            .to_vec()
    }
}

fn natural_key(name: &str) -> Vec<u64> {
    name.split('_').filter_map(|p| p.parse().ok()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn hdf5_batches_read_back_equal() {
    let tmp = tempfile::tempdir().unwrap();
    let raw = synth(tmp.path(), [2, 1, 1], 3);
    // 12 samples in shards of 5: two full shards and a partial one.
    let r = run(&tmp.path().join("repo"), "1.0.0", vec![raw.clone()], 5)
        .await
        .unwrap();
    let bag = r.bag_dir.clone();
    let (raw_shape, raw_v) = read_zarr(&bag, "raw").await;
    let (data_shape, data_v) = read_zarr(&bag, "data").await;
    assert_eq!(raw_shape, vec![12, 3, 512, 512]);
    assert_eq!(data_shape, vec![12, 3, 128, 128]);
    let t = Table::read(&bag);
    assert_eq!(t.batch.num_rows(), 12);

    // The inputs in split order, groups in natural order, read with the HDF5 library.
    let order = [
        "batch_train_0.h5",
        "batch_train_1.h5",
        "batch_dev_0.h5",
        "batch_test_0.h5",
    ];
    let mut i = 0usize;
    let mut counts: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for name in order {
        let split = name.split('_').nth(1).unwrap();
        let f = hdf5::File::open(raw.join(name)).unwrap();
        let mut groups = f.member_names().unwrap();
        groups.sort_by_key(|g| natural_key(g));
        for g in groups {
            let grp = f.group(&g).unwrap();
            let stack: Vec<f32> = grp.dataset("cbed_stack").unwrap().read_raw().unwrap();
            let n = stack.len();
            assert_eq!(n, 3 * 512 * 512);
            assert!(
                raw_v[i * n..(i + 1) * n] == stack[..],
                "raw sample {i} ({name} {g})"
            );
            let mut expect = vec![0.0f32; 3 * 128 * 128];
            preprocess::transform_stack(&stack, 3, 512, &mut expect).unwrap();
            let m = expect.len();
            assert!(data_v[i * m..(i + 1) * m] == expect[..], "data sample {i}");
            assert!(expect.iter().all(|v| (0.0..=255.0).contains(v)));
            // Attributes.
            let text = |a: &str| -> String {
                let attr = grp.attr(a).unwrap();
                match attr.read_scalar::<hdf5::types::FixedAscii<32>>() {
                    Ok(s) => s.as_str().to_string(),
                    Err(_) => attr
                        .read_scalar::<hdf5::types::VarLenUnicode>()
                        .unwrap()
                        .as_str()
                        .to_string(),
                }
            };
            let sg: i32 = text("space_group").parse().unwrap();
            assert_eq!(t.col::<Int64Array>("sample").value(i), i as i64);
            assert_eq!(t.str("split", i).unwrap(), split);
            assert_eq!(t.str("source_file", i).unwrap(), name);
            assert_eq!(t.str("group", i).unwrap(), g);
            assert_eq!(t.col::<Int32Array>("space_group").value(i), sg);
            let system = match sg {
                1..=2 => "triclinic",
                3..=15 => "monoclinic",
                16..=74 => "orthorhombic",
                75..=142 => "tetragonal",
                143..=167 => "trigonal",
                168..=194 => "hexagonal",
                _ => "cubic",
            };
            assert_eq!(t.str("crystal_system", i).unwrap(), system);
            assert_eq!(t.str("material", i).unwrap(), text("material"));
            assert_eq!(t.str("formula", i).unwrap(), text("formula"));
            let e: i64 = grp.attr("energy_keV").unwrap().read_scalar().unwrap();
            assert_eq!(t.col::<Float64Array>("energy_keV").value(i), e as f64);
            for a in [
                "abc_angstrom",
                "angles_degree",
                "y_dirs",
                "semi_angles_rad",
                "d_hkls_angstrom",
            ] {
                let v: Vec<f64> = grp.attr(a).unwrap().read_raw().unwrap();
                assert_eq!(t.list(a, i), v, "{a} of sample {i}");
            }
            let z: Vec<i64> = grp.attr("z_dirs").unwrap().read_raw().unwrap();
            assert_eq!(
                t.list("z_dirs", i),
                z.iter().map(|v| *v as f64).collect::<Vec<_>>()
            );
            *counts
                .entry(split.to_string())
                .or_default()
                .entry(sg.to_string())
                .or_default() += 1;
            i += 1;
        }
    }
    assert_eq!(i, 12);

    // Per-class counts per split in the metadata and the group attributes.
    let prov: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bag.join("metadata/provenance.json")).unwrap())
            .unwrap();
    let got: BTreeMap<String, BTreeMap<String, u64>> =
        serde_json::from_value(prov["class_counts"].clone()).unwrap();
    assert_eq!(got, counts);
    let group: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bag.join("data/cbed.zarr/zarr.json")).unwrap())
            .unwrap();
    assert_eq!(group["attributes"]["class_counts"], prov["class_counts"]);
    assert_eq!(prov["splits"][0]["samples"], 6);
    assert_eq!(prov["splits"][1]["first_sample"], 6);
    // Materials never cross splits.
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for i in 0..12 {
        let m = t.str("material", i).unwrap();
        let s = t.str("split", i).unwrap();
        assert_eq!(seen.entry(m).or_insert(s.clone()), &s);
    }
    // Sharded: 3 shard objects per array, a few samples each.
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bag.join("data/cbed.zarr/raw/zarr.json")).unwrap())
            .unwrap();
    assert_eq!(
        meta["chunk_grid"]["configuration"]["chunk_shape"],
        serde_json::json!([5, 3, 512, 512])
    );
    assert_eq!(meta["codecs"][0]["name"], "sharding_indexed");
    assert!(bag.join("data/cbed.zarr/raw/c/2/0/0/0").is_file());
    assert!(!bag.join("data/cbed.zarr/raw/c/3/0/0/0").exists());
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

/// A `.npy` file (format 1.0) written independently of the library's reader.
fn npy(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let shape = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut v = b"\x93NUMPY\x01\x00".to_vec();
    v.extend((h.len() as u16).to_le_bytes());
    v.extend(h.as_bytes());
    v.extend(data);
    v
}

fn write_npz(path: &Path, data: &[f32], shape: &[usize], label: i64, deflate: bool) {
    let f = std::fs::File::create(path).unwrap();
    let mut z = zip::ZipWriter::new(f);
    let method = if deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    let o = zip::write::SimpleFileOptions::default().compression_method(method);
    let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    z.start_file("data.npy", o).unwrap();
    z.write_all(&npy("<f4", shape, &bytes)).unwrap();
    z.start_file("label.npy", o).unwrap();
    z.write_all(&npy("<i8", &[1], &label.to_le_bytes()))
        .unwrap();
    z.finish().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn npz_samples_read_back_equal() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("stemdl_ds1a");
    let mut expect: Vec<(String, i64, Vec<f32>)> = Vec::new();
    let mut k = 0i64;
    for (dir, split, n) in [
        ("training", "train", 4),
        ("validation", "dev", 2),
        ("testing", "test", 3),
    ] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
        for j in 0..n {
            let data: Vec<f32> = (0..3 * 128 * 128)
                .map(|x| ((x as i64 * 7 + k * 131) % 2560) as f32 / 10.0)
                .collect();
            let label = 1 + (k * 37) % 230;
            let name = format!("sample-{k}.npz");
            write_npz(
                &root.join(dir).join(&name),
                &data,
                &[3, 128, 128],
                label,
                j % 2 == 1,
            );
            expect.push((split.to_string(), label, data));
            k += 1;
        }
    }
    let inputs = vec![
        root.join("testing"),
        root.join("training"),
        root.join("validation"),
    ];
    let r = run(&tmp.path().join("repo"), "1.0.0", inputs, 4)
        .await
        .unwrap();
    let bag = &r.bag_dir;
    assert!(!bag.join("data/cbed.zarr/raw").exists());
    let (shape, v) = read_zarr(bag, "data").await;
    assert_eq!(shape, vec![9, 3, 128, 128]);
    let t = Table::read(bag);
    let m = 3 * 128 * 128;
    for (i, (split, label, data)) in expect.iter().enumerate() {
        assert!(v[i * m..(i + 1) * m] == data[..], "sample {i}");
        assert_eq!(&t.str("split", i).unwrap(), split);
        assert_eq!(
            i64::from(t.col::<Int32Array>("space_group").value(i)),
            *label
        );
        assert_eq!(t.str("source_file", i).unwrap(), format!("sample-{i}.npz"));
        assert!(t.str("material", i).is_none());
    }
    assert_eq!(r.record.inputs.len(), 9);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_inputs_give_the_same_digest() {
    let tmp = tempfile::tempdir().unwrap();
    let a = synth(&tmp.path().join("a"), [1, 1, 0], 2);
    let b = synth(&tmp.path().join("b"), [1, 1, 0], 2);
    for f in std::fs::read_dir(&a).unwrap().flatten() {
        assert!(
            std::fs::read(f.path()).unwrap() == std::fs::read(b.join(f.file_name())).unwrap(),
            "synthesis is deterministic: {}",
            f.path().display()
        );
    }
    let r1 = run(&tmp.path().join("r1"), "1.0.0", vec![a.clone()], 3)
        .await
        .unwrap();
    let r2 = run(&tmp.path().join("r2"), "1.0.0", vec![b], 3)
        .await
        .unwrap();
    assert_eq!(r1.record.digest, r2.record.digest);
    // Another shard size is another layout.
    let r3 = run(&tmp.path().join("r3"), "1.0.0", vec![a], 2)
        .await
        .unwrap();
    assert_ne!(r1.record.digest, r3.record.digest);
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// A batch file with one sample group, written here with the HDF5 library.
fn bad_file(path: &Path, group: &str, stack: Option<[usize; 3]>, space_group: &str) {
    let f = hdf5::File::create(path).unwrap();
    let g = f.create_group(group).unwrap();
    if let Some(shape) = stack {
        let n: usize = shape.iter().product();
        g.new_dataset::<f32>()
            .shape(shape)
            .create("cbed_stack")
            .unwrap()
            .write_raw(&vec![1.0f32; n])
            .unwrap();
    }
    let sg = hdf5::types::FixedAscii::<16>::from_ascii(space_group.as_bytes()).unwrap();
    g.new_attr::<hdf5::types::FixedAscii<16>>()
        .shape(())
        .create("space_group")
        .unwrap()
        .write_scalar(&sg)
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_inputs_are_clear_errors_and_leave_the_repository_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let raw = synth(tmp.path(), [1, 1, 0], 2);
    let repo = tmp.path().join("repo");
    run(&repo, "1.0.0", vec![raw.clone()], 4).await.unwrap();
    let before = snapshot(&repo);

    let dir = tmp.path().join("bad");
    std::fs::create_dir_all(&dir).unwrap();
    let mut cases: Vec<(&str, PathBuf, &str)> = Vec::new();
    let p = dir.join("nostack/batch_train_0.h5");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    bad_file(&p, "sample_0_0", None, "14");
    cases.push((
        "no cbed_stack",
        p,
        "batch_train_0.h5: group sample_0_0: no dataset cbed_stack",
    ));
    let p = dir.join("shape/batch_train_0.h5");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    bad_file(&p, "sample_3_0", Some([3, 256, 256]), "14");
    cases.push((
        "wrong shape",
        p,
        "batch_train_0.h5: group sample_3_0: cbed_stack has shape [3, 256, 256], expected [3, 512, 512]",
    ));
    let p = dir.join("sg/batch_dev_0.h5");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    bad_file(&p, "sample_7_1", Some([3, 512, 512]), "P21/c");
    cases.push((
        "space group",
        p,
        "batch_dev_0.h5: group sample_7_1: space_group \"P21/c\" is not a number",
    ));
    let p = dir.join("truncated/batch_train_0.h5");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    let bytes = std::fs::read(raw.join("batch_train_0.h5")).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    cases.push((
        "truncated",
        p.clone(),
        "batch_train_0.h5: cannot open as HDF5 (truncated or not an HDF5 file?)",
    ));
    // The same material in train and test.
    let p2 = dir.join("cross/batch_test_0.h5");
    std::fs::create_dir_all(p2.parent().unwrap()).unwrap();
    std::fs::copy(raw.join("batch_train_0.h5"), &p2).unwrap();
    let npz = dir.join("npz/training/sample-0.npz");
    std::fs::create_dir_all(npz.parent().unwrap()).unwrap();
    write_npz(&npz, &[0.0; 3 * 64 * 64], &[3, 64, 64], 5, false);

    for (what, input, want) in cases {
        let e = run(&repo, "1.1.0", vec![input], 4).await.unwrap_err();
        let msg = format!("{e:#}");
        assert!(msg.contains(want), "{what}: {msg}");
        assert_eq!(snapshot(&repo), before, "{what}: the repository changed");
    }
    let e = run(
        &repo,
        "1.1.0",
        vec![raw.join("batch_train_0.h5"), p2.clone()],
        4,
    )
    .await
    .unwrap_err();
    let msg = format!("{e:#}");
    assert!(msg.contains("is in two splits: test (batch_test_0.h5: group sample_0_0) and train (batch_train_0.h5: group sample_0_0)"), "{msg}");
    assert_eq!(snapshot(&repo), before);
    let e = run(&repo, "1.1.0", vec![npz], 4).await.unwrap_err();
    let msg = format!("{e:#}");
    assert!(
        msg.contains("sample-0.npz: data has shape [3, 64, 64], expected [3, 128, 128]"),
        "{msg}"
    );
    assert_eq!(snapshot(&repo), before);
}

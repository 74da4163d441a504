//! CANDLE-UNO end to end: synthetic CANDLE files plus the real drug annotation table
//! (shared/realdata/candle/combined.panther.targets: ECP-CANDLE/Benchmarks @
//! 7c4a1f25a21b12d55024d3b7580cb6cd607d1adf, Pilot1/SCRATCH/UnoMT/data/raw, MIT licence;
//! see shared/realdata/README.md). Expected values are read from the TSV inputs here,
//! independently of the library's reader.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, Float32Array, Float64Array, Int64Array, StringArray};
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sciml_data::ingest::{IngestCommon, IngestResult};
use sciml_data::sources::candle::ingest::{CandleOptions, ingest};
use sciml_data::sources::candle::synth::{SynthOptions, synthesize};
use sciml_data::verify::{VerifyOptions, verify_address};

fn real_annotation() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/realdata/candle/combined.panther.targets"
    ))
}

fn common(repo: &Path, version: &str) -> IngestCommon {
    IngestCommon {
        repo: repo.display().to_string(),
        dataset: "candle-uno".into(),
        version: semver::Version::parse(version).unwrap(),
        message: "test".into(),
        progress: false,
    }
}

async fn run(
    repo: &Path,
    inputs: Vec<PathBuf>,
    opts: CandleOptions,
) -> anyhow::Result<IngestResult> {
    ingest(&common(repo, "1.0.0"), &CandleOptions { inputs, ..opts }).await
}

/// The TSV as (header, rows of raw fields), split independently.
fn tsv(path: &Path, skip: usize) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines().skip(skip).filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split('\t')
        .map(String::from)
        .collect();
    let rows = lines
        .map(|l| l.split('\t').map(String::from).collect())
        .collect();
    (header, rows)
}

fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
}

/// Every row of a hive-partitioned table as column name -> text (null as None), with
/// the partition value added; partitions in path order, rows in file order.
fn read_partitioned(dir: &Path) -> Vec<HashMap<String, Option<String>>> {
    let mut parts: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    parts.sort();
    let mut out = Vec::new();
    for p in parts {
        let dirname = p.file_name().unwrap().to_string_lossy().to_string();
        let (key, value) = dirname.split_once('=').unwrap();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&p)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        for f in files {
            for b in read_parquet(&f) {
                for i in 0..b.num_rows() {
                    let mut row = HashMap::new();
                    row.insert(key.to_string(), Some(value.to_string()));
                    for (j, field) in b.schema().fields().iter().enumerate() {
                        row.insert(field.name().clone(), cell_text(b.column(j).as_ref(), i));
                    }
                    out.push(row);
                }
            }
        }
    }
    out
}

fn cell_text(a: &dyn Array, i: usize) -> Option<String> {
    if a.is_null(i) {
        return None;
    }
    if let Some(s) = a.as_any().downcast_ref::<StringArray>() {
        return Some(s.value(i).to_string());
    }
    if let Some(f) = a.as_any().downcast_ref::<Float32Array>() {
        return Some(format!("f{}", f.value(i)));
    }
    if let Some(f) = a.as_any().downcast_ref::<Float64Array>() {
        return Some(format!("d{}", f.value(i)));
    }
    if let Some(f) = a.as_any().downcast_ref::<Int64Array>() {
        return Some(format!("i{}", f.value(i)));
    }
    panic!("unexpected column type {:?}", a.data_type())
}

const MISSING: [&str; 4] = ["", "na", "-", "nan"];

/// The expected text of a TSV field under a column type ('s', 'f' float32, 'd', 'i').
fn expect(v: &str, kind: char) -> Option<String> {
    if MISSING.contains(&v) {
        return None;
    }
    Some(match kind {
        's' => v.to_string(),
        'f' => format!("f{}", v.parse::<f32>().unwrap()),
        'd' => format!("d{}", v.parse::<f64>().unwrap()),
        'i' => format!("i{}", v.parse::<i64>().unwrap()),
        _ => unreachable!(),
    })
}

fn compare_long(bag_table: &Path, input: &Path, kinds: &HashMap<&str, char>) {
    let (header, rows) = tsv(input, 0);
    let got = read_partitioned(bag_table);
    assert_eq!(got.len(), rows.len(), "{}", input.display());
    // Partitions reorder rows by SOURCE (stable within a source).
    let si = header.iter().position(|h| h == "SOURCE").unwrap();
    let mut want: Vec<&Vec<String>> = rows.iter().collect();
    want.sort_by(|a, b| a[si].cmp(&b[si]));
    for (w, g) in want.iter().zip(&got) {
        for (h, v) in header.iter().zip(w.iter()) {
            let k = kinds.get(h.as_str()).copied().unwrap_or('s');
            assert_eq!(g[h], expect(v, k), "column {h}, row {w:?}");
        }
    }
}

async fn read_zarr(bag: &Path, array: &str) -> (Vec<u64>, Vec<u64>, Vec<f32>) {
    let fs = object_store::local::LocalFileSystem::new_with_prefix(bag.join("data/features.zarr"))
        .unwrap();
    let store = Arc::new(zarrs_object_store::AsyncObjectStore::new(fs));
    let a = zarrs::array::Array::async_open(store, &format!("/{array}"))
        .await
        .unwrap();
    let shape = a.shape().to_vec();
    let meta: serde_json::Value = serde_json::from_slice(
        &std::fs::read(bag.join(format!("data/features.zarr/{array}/zarr.json"))).unwrap(),
    )
    .unwrap();
    let chunk: Vec<u64> = meta["chunk_grid"]["configuration"]["chunk_shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let v: Vec<f32> = a
        .async_retrieve_array_subset(&a.subset_all())
        .await
        .unwrap();
    (shape, chunk, v)
}

fn synth_dir(dir: &Path, noise: f64) -> PathBuf {
    let raw = dir.join("raw");
    synthesize(
        &SynthOptions {
            noise,
            ..Default::default()
        },
        &raw,
    )
    .unwrap();
    raw
}

#[tokio::test(flavor = "multi_thread")]
async fn synthetic_files_and_the_real_annotation_read_back_equal() {
    let tmp = tempfile::tempdir().unwrap();
    let raw = synth_dir(tmp.path(), 0.03);
    let repo = tmp.path().join("repo");
    let r = run(
        &repo,
        vec![raw.clone(), real_annotation()],
        CandleOptions {
            feature_row_chunk: 16,
            feature_col_chunk: 50,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let bag = r.bag_dir.clone();
    let v = verify_address(
        &r.address,
        VerifyOptions {
            fast: false,
            progress: false,
        },
    )
    .await
    .unwrap();
    assert!(v.ok(), "{v:?}");
    assert_eq!(r.record.source, "candle");
    assert_eq!(r.record.inputs.len(), 11);
    assert!(
        r.record
            .inputs
            .iter()
            .any(|i| i.name == "combined.panther.targets"
                && i.sha256 == "9a023ea6fa1f32e8dd641d9a41135f5a347861ddc81434f5f481aa09a54daf81")
    );

    // Long tables.
    let f32s: HashMap<&str, char> = [
        "AUC",
        "IC50",
        "EC50",
        "EC50se",
        "R2fit",
        "Einf",
        "HS",
        "AAC1",
        "AUC1",
        "DSS1",
        "LOG_CONCENTRATION",
        "GROWTH",
    ]
    .iter()
    .map(|c| (*c, 'f'))
    .collect();
    compare_long(
        &bag.join("data/responses"),
        &raw.join("combined_single_response_agg"),
        &f32s,
    );
    compare_long(
        &bag.join("data/growth"),
        &raw.join("rescaled_combined_single_drug_growth"),
        &f32s,
    );
    for s in ["CCLE", "CTRP", "GDSC", "NCI60", "gCSI"] {
        assert!(
            bag.join(format!("data/responses/SOURCE={s}/part-0.parquet"))
                .is_file()
        );
    }

    // The real annotation table: types inferred, values equal.
    let batches =
        read_parquet(&bag.join("data/annotations/combined.panther.targets/part-0.parquet"));
    let b = &arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    let (header, rows) = tsv(&real_annotation(), 0);
    assert_eq!(b.num_rows(), rows.len());
    assert_eq!(rows.len(), 1801);
    let names: Vec<String> = b
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, header);
    let qed = b.schema().index_of("qed_weighted").unwrap();
    assert_eq!(
        b.schema().field(qed).data_type(),
        &arrow::datatypes::DataType::Float64
    );
    for (i, row) in rows.iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            let kind = if j == qed { 'd' } else { 's' };
            assert_eq!(
                cell_text(b.column(j).as_ref(), i),
                expect(v, kind),
                "row {i} col {}",
                header[j]
            );
        }
    }

    // Feature matrices.
    for (file, array, skip, key) in [
        (
            "combined_rnaseq_data_lincs1000_source_scale",
            "combined_rnaseq_data_lincs1000_source_scale",
            0,
            true,
        ),
        (
            "NCI60_dragon7_descriptors.tsv",
            "NCI60_dragon7_descriptors",
            0,
            true,
        ),
        ("NCI60_dragon7_PFP.tsv", "NCI60_dragon7_PFP", 1, false),
    ] {
        let text = std::fs::read_to_string(raw.join(file)).unwrap();
        let lines: Vec<&str> = text.lines().skip(skip + usize::from(key)).collect();
        let (shape, chunk, values) = read_zarr(&bag, array).await;
        let ncols = lines[0].split('\t').count() as u64 - 1;
        assert_eq!(shape, [lines.len() as u64, ncols], "{file}");
        assert_eq!(chunk, [16, 50]);
        let mut missing = 0u64;
        for (i, l) in lines.iter().enumerate() {
            for (j, v) in l.split('\t').skip(1).enumerate() {
                let got = values[i * ncols as usize + j];
                if MISSING.contains(&v) {
                    assert!(got.is_nan());
                    missing += 1;
                } else {
                    assert_eq!(got, v.parse::<f32>().unwrap(), "{file} row {i} col {j}");
                }
            }
        }
        let rows = read_parquet(&bag.join(format!("data/features/{array}/rows.parquet")));
        let labels = rows[0]
            .column(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        for (i, l) in lines.iter().enumerate() {
            assert_eq!(labels.value(i), l.split('\t').next().unwrap());
        }
        let cols = read_parquet(&bag.join(format!("data/features/{array}/columns.parquet")));
        let cm = cols[0]
            .column(2)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        assert_eq!(cm.values().iter().sum::<i64>() as u64, missing, "{file}");
        if file.ends_with("descriptors.tsv") {
            assert!(missing > 0, "the synthetic descriptors have na and - holes");
        }
        if !key {
            let n = cols[0]
                .column(1)
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap();
            assert_eq!(n.value(0), "PFP.1");
        }
    }

    // Quality view: counted, no row dropped.
    let (h, rows) = tsv(&raw.join("combined_single_response_agg"), 0);
    let col = |n: &str| h.iter().position(|c| c == n).unwrap();
    let (r2, se) = (col("R2fit"), col("EC50se"));
    let quality = rows
        .iter()
        .filter(|r| {
            r[r2].parse::<f32>().is_ok_and(|v| v >= 0.3)
                && r[se].parse::<f32>().is_ok_and(|v| v <= 3.0)
        })
        .count() as u64;
    assert!(
        quality > 0 && quality < rows.len() as u64,
        "the filter must bite: {quality}"
    );
    let views: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bag.join("data/views.json")).unwrap()).unwrap();
    assert_eq!(views["views"][0]["name"], "quality");
    assert_eq!(views["views"][0]["filter"], "R2fit >= 0.3 AND EC50se <= 3");
    assert_eq!(views["views"][0]["rows"], quality);
    assert_eq!(views["views"][0]["rows_total"], rows.len() as u64);
    let prov: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bag.join("metadata/provenance.json")).unwrap())
            .unwrap();
    assert_eq!(prov["views"][0]["rows"], quality);

    // Split: every quality drug once; validation groups disjoint from training ones;
    // ceil(0.2 n) validation groups.
    let split = read_parquet(&bag.join("data/splits/drugs.parquet"));
    let s = &split[0];
    let drugs = s.column(0).as_any().downcast_ref::<StringArray>().unwrap();
    let groups = s.column(1).as_any().downcast_ref::<StringArray>().unwrap();
    let which = s.column(3).as_any().downcast_ref::<StringArray>().unwrap();
    let quality_drugs: HashSet<&str> = rows
        .iter()
        .filter(|r| {
            r[r2].parse::<f32>().is_ok_and(|v| v >= 0.3)
                && r[se].parse::<f32>().is_ok_and(|v| v <= 3.0)
                && r[col("AUC")].parse::<f32>().is_ok()
        })
        .map(|r| r[col("DRUG")].as_str())
        .collect();
    assert_eq!(drugs.len(), quality_drugs.len());
    let mut by_group: BTreeMap<&str, HashSet<&str>> = BTreeMap::new();
    for i in 0..s.num_rows() {
        by_group
            .entry(groups.value(i))
            .or_default()
            .insert(which.value(i));
    }
    assert!(by_group.values().all(|s| s.len() == 1), "a group is split");
    let n = by_group.len();
    let nval = by_group
        .values()
        .filter(|s| s.contains("validation"))
        .count();
    assert_eq!(nval, (0.2 * n as f64).ceil() as usize);
    // drug_info maps some drugs of different sources to one PubChem CID.
    assert!(
        groups
            .iter()
            .flatten()
            .any(|g| g.starts_with("PubChem.CID."))
    );
}

/// `ComboDrugGrowth_Nov2017.csv` (comma separated) and the Mordred table, read back
/// against an independent parse of the synthetic inputs.
#[tokio::test(flavor = "multi_thread")]
async fn combo_table_and_mordred_matrix_read_back_equal() {
    let tmp = tempfile::tempdir().unwrap();
    let raw = synth_dir(tmp.path(), 0.03);
    let combo = raw.join("ComboDrugGrowth_Nov2017.csv");
    let mordred = raw.join("extended_combined_mordred_descriptors");
    let cellmap = raw.join("NCI60_CELLNAME_to_Combo.txt");
    let r = run(
        &tmp.path().join("repo"),
        vec![combo.clone(), mordred.clone(), cellmap],
        CandleOptions {
            feature_row_chunk: 16,
            feature_col_chunk: 40,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let bag = r.bag_dir.clone();
    let v = verify_address(
        &r.address,
        VerifyOptions {
            fast: false,
            progress: false,
        },
    )
    .await
    .unwrap();
    assert!(v.ok(), "{v:?}");

    // The combo table: every row, partitioned by SOURCE = 'ALMANAC.' + SCREENER.
    let text = std::fs::read_to_string(&combo).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header.len(), 29, "the real file's 29 columns");
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let col = |n: &str| header.iter().position(|c| *c == n).unwrap();
    let scr = col("SCREENER");
    let mut want: Vec<&Vec<&str>> = rows.iter().collect();
    want.sort_by_key(|r| r[scr]);
    let got = read_partitioned(&bag.join("data/combo_growth"));
    assert_eq!(got.len(), rows.len());
    // The column types: the reference's dtypes for its nine columns, the others inferred.
    let prov: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bag.join("metadata/provenance.json")).unwrap())
            .unwrap();
    let kinds: HashMap<String, char> = prov["tables"]["combo_growth"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let k = match c[1].as_str().unwrap() {
                "utf8" => 's',
                "float32" => 'f',
                "float64" => 'd',
                "int64" => 'i',
                t => panic!("{t}"),
            };
            (c[0].as_str().unwrap().to_string(), k)
        })
        .collect();
    assert_eq!(kinds.len(), 29);
    for (c, k) in [
        ("CELLNAME", 's'),
        ("NSC1", 's'),
        ("CONC1", 'f'),
        ("NSC2", 's'),
        ("CONC2", 'f'),
        ("PERCENTGROWTH", 'f'),
        ("VALID", 's'),
        ("SCREENER", 's'),
        ("STUDY", 's'),
        ("COMBODRUGSEQ", 'i'),
        ("PANELNBR", 'i'),
        ("PERCENTGROWTHNOTZ", 'd'),
        ("EXPECTEDGROWTH", 'd'),
        ("PLATE", 's'),
        ("PANEL", 's'),
    ] {
        assert_eq!(kinds[c], k, "{c}");
    }
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(
            g["SOURCE"].as_deref(),
            Some(format!("ALMANAC.{}", w[scr]).as_str())
        );
        for (h, v) in header.iter().zip(w.iter()) {
            assert_eq!(g[*h], expect(v, kinds[*h]), "column {h}, row {w:?}");
        }
    }
    // NSC1/NSC2 are strings (the reference's dtype), NSC2/CONC2 null on single-drug rows.
    let part = bag.join("data/combo_growth/SOURCE=ALMANAC.FG/part-0.parquet");
    let b = &read_parquet(&part)[0];
    let schema = b.schema();
    for (c, t) in [
        ("NSC1", arrow::datatypes::DataType::Utf8),
        ("CONC1", arrow::datatypes::DataType::Float32),
        ("SCREENER", arrow::datatypes::DataType::Utf8),
        ("COMBODRUGSEQ", arrow::datatypes::DataType::Int64),
    ] {
        assert_eq!(schema.field_with_name(c).unwrap().data_type(), &t, "{c}");
    }
    let single = rows.iter().filter(|r| r[col("NSC2")].is_empty()).count() as u64;
    assert!(single > 0 && single < rows.len() as u64);

    // The view of the rows the reference keeps.
    let valid = rows.iter().filter(|r| r[col("VALID")] == "Y").count() as u64;
    assert!(valid > 0 && valid < rows.len() as u64, "VALID must bite");
    let views: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bag.join("data/views.json")).unwrap()).unwrap();
    let view = views["views"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "combo_valid")
        .unwrap();
    assert_eq!(view["filter"], "VALID = 'Y'");
    assert_eq!(view["rows"], valid);
    assert_eq!(view["rows_total"], rows.len() as u64);
    let fg_valid = rows
        .iter()
        .filter(|r| r[col("VALID")] == "Y" && r[scr] == "FG")
        .count() as u64;
    assert_eq!(view["by_source"]["ALMANAC.FG"], fg_valid);
    let t = &prov["tables"]["combo_growth"];
    assert_eq!(t["rows"], rows.len() as u64);
    assert_eq!(t["valid_rows"], valid);
    assert_eq!(t["single_drug_rows"], single);

    // The Mordred matrix: first column the drug id; non-numbers NaN and counted.
    let text = std::fs::read_to_string(&mordred).unwrap();
    let mut lines = text.lines();
    let mh: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let mrows: Vec<Vec<&str>> = lines.map(|l| l.split('\t').collect()).collect();
    let (shape, chunk, values) = read_zarr(&bag, "extended_combined_mordred_descriptors").await;
    let ncols = mh.len() - 1;
    assert_eq!(shape, [mrows.len() as u64, ncols as u64]);
    assert_eq!(chunk, [16, 40]);
    let (mut missing, mut non_numeric) = (0u64, 0u64);
    for (i, r) in mrows.iter().enumerate() {
        for (j, v) in r.iter().skip(1).enumerate() {
            let got = values[i * ncols + j];
            let want = match *v {
                "True" => Some(1.0),
                "False" => Some(0.0),
                v if MISSING.contains(&v) => None,
                v => match v.parse::<f32>() {
                    Ok(x) => Some(x),
                    Err(_) => {
                        non_numeric += 1;
                        None
                    }
                },
            };
            match want {
                Some(x) => assert_eq!(got, x, "row {i} col {}", mh[j + 1]),
                None => {
                    assert!(got.is_nan(), "row {i} col {}", mh[j + 1]);
                    missing += 1;
                }
            }
        }
    }
    assert!(non_numeric > 0 && missing > non_numeric);
    let labels =
        read_parquet(&bag.join("data/features/extended_combined_mordred_descriptors/rows.parquet"));
    assert_eq!(labels[0].schema().field(1).name(), mh[0]);
    assert_eq!(mh[0], "DRUG");
    let f = prov["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["table"] == "extended_combined_mordred_descriptors")
        .unwrap();
    assert_eq!(f["missing_values"], missing);
    assert_eq!(f["non_numeric_values"], non_numeric);
    assert_eq!(f["key_column"], "DRUG");
}

#[tokio::test(flavor = "multi_thread")]
async fn recomputed_auc_agrees_with_the_definition() {
    let tmp = tempfile::tempdir().unwrap();
    let raw = synth_dir(tmp.path(), 0.0);
    let repo = tmp.path().join("repo");
    let r = run(
        &repo,
        vec![
            raw.join("combined_single_response_agg"),
            raw.join("rescaled_combined_single_drug_growth"),
        ],
        CandleOptions {
            recompute_auc: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let b = &read_parquet(&r.bag_dir.join("data/recomputed/responses.parquet"))[0];
    let col = |n: &str| b.column(b.schema().index_of(n).unwrap()).clone();
    let auc = col("AUC");
    let auc = auc.as_any().downcast_ref::<Float64Array>().unwrap();
    let given = col("AUC_provided");
    let given = given.as_any().downcast_ref::<Float32Array>().unwrap();
    let (_, rows) = tsv(&raw.join("combined_single_response_agg"), 0);
    assert_eq!(b.num_rows(), rows.len());
    let mut worst = 0f64;
    for i in 0..b.num_rows() {
        // Provided values are rounded to 4 significant digits.
        let d = (auc.value(i) - f64::from(given.value(i))).abs();
        worst = worst.max(d);
    }
    assert!(worst < 2e-4, "max |AUC - provided| = {worst}");
    let prov: serde_json::Value =
        serde_json::from_slice(&std::fs::read(r.bag_dir.join("metadata/provenance.json")).unwrap())
            .unwrap();
    assert_eq!(
        prov["auc_recomputation"]["matched_with_provided"],
        rows.len() as u64
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_inputs_give_the_same_digest() {
    let tmp = tempfile::tempdir().unwrap();
    let a = synth_dir(&tmp.path().join("a"), 0.03);
    let b = synth_dir(&tmp.path().join("b"), 0.03);
    for f in std::fs::read_dir(&a).unwrap().flatten() {
        assert_eq!(
            std::fs::read(f.path()).unwrap(),
            std::fs::read(b.join(f.file_name())).unwrap(),
            "synthesis is deterministic"
        );
    }
    let r1 = run(&tmp.path().join("r1"), vec![a], CandleOptions::default())
        .await
        .unwrap();
    let r2 = run(&tmp.path().join("r2"), vec![b], CandleOptions::default())
        .await
        .unwrap();
    assert_eq!(r1.record.digest, r2.record.digest);
    // A different split seed changes the payload.
    let c = synth_dir(&tmp.path().join("c"), 0.03);
    let mut opts = CandleOptions::default();
    opts.split.seed = 7;
    let r3 = run(&tmp.path().join("r3"), vec![c], opts).await.unwrap();
    assert_ne!(r1.record.digest, r3.record.digest);
}

/// A small drug-pair table (an extra column PREFIX1; a quoted CELLNAME) for the error cases.
const COMBO_BAD: &str = "CELLNAME,SCREENER,PREFIX1,NSC1,CONC1,NSC2,CONC2,PERCENTGROWTH,VALID,STUDY
\"786-0\",FG,S,740,1.00e-5,750,1.00e-6,35.2,Y,FG07
A549/ATCC,FG,S,740,1.00e-6,,,-12.5,N,FG07
";

#[tokio::test(flavor = "multi_thread")]
async fn bad_inputs_are_clear_errors_and_leave_no_version() {
    let tmp = tempfile::tempdir().unwrap();
    let raw = synth_dir(tmp.path(), 0.03);
    let agg = std::fs::read_to_string(raw.join("combined_single_response_agg")).unwrap();
    let mut lines: Vec<String> = agg.lines().map(String::from).collect();
    let cases: Vec<(&str, String, String, &str)> = vec![
        (
            "ragged",
            "combined_single_response_agg".into(),
            {
                let mut l = lines.clone();
                l[3] = l[3].rsplit_once('\t').unwrap().0.to_string();
                l.join("\n")
            },
            "combined_single_response_agg:4: ragged row: 13 fields, the header has 14",
        ),
        (
            "number",
            "combined_single_response_agg".into(),
            {
                let mut l = lines.clone();
                l[5] = l[5].replacen("\t", "\tX\t", 1).replacen("\tX\t", "\t", 1);
                let mut f: Vec<&str> = l[5].split('\t').collect();
                f[4] = "0.5x";
                l[5] = f.join("\t");
                l.join("\n")
            },
            "combined_single_response_agg:6: column AUC: \"0.5x\" is not a number",
        ),
        (
            "header",
            "NCI60_dragon7_descriptors.tsv".into(),
            "NAME\tMW\tAMW\tMW\nNSC.1\t1\t2\t3\n".into(),
            "NCI60_dragon7_descriptors.tsv:1: duplicated header \"MW\" (columns 2 and 4)",
        ),
        (
            "unknown",
            "notes.csv".into(),
            "a,b\n".into(),
            "notes.csv: unknown CANDLE input file",
        ),
        (
            "descriptor",
            "NCI60_dragon7_descriptors.tsv".into(),
            "NAME\tMW\tAMW\nNSC.1\t1\t2\nNSC.2\tabc\t2\n".into(),
            "NCI60_dragon7_descriptors.tsv:3: column MW: \"abc\" is not a number",
        ),
        (
            "combo-ragged",
            "ComboDrugGrowth_Nov2017.csv".into(),
            COMBO_BAD.replace("A549/ATCC,FG,S,", "A549/ATCC,FG,"),
            "ComboDrugGrowth_Nov2017.csv:3: ragged row: 9 fields, the header has 10",
        ),
        (
            "combo-conc",
            "ComboDrugGrowth_Nov2017.csv".into(),
            COMBO_BAD.replace("1.00e-5,", "1.00e-5x,"),
            "ComboDrugGrowth_Nov2017.csv:2: column CONC1: \"1.00e-5x\" is not a number",
        ),
        (
            "combo-growth",
            "ComboDrugGrowth_Nov2017.csv".into(),
            COMBO_BAD.replace("-12.5", "n/a?"),
            "ComboDrugGrowth_Nov2017.csv:3: column PERCENTGROWTH: \"n/a?\" is not a number",
        ),
        (
            "combo-header",
            "ComboDrugGrowth_Nov2017.csv".into(),
            COMBO_BAD.replacen("PREFIX1", "NSC1", 1),
            "ComboDrugGrowth_Nov2017.csv:1: duplicated header \"NSC1\" (columns 3 and 4)",
        ),
        (
            "combo-columns",
            "ComboDrugGrowth_Nov2017.csv".into(),
            COMBO_BAD.replacen("VALID", "VALIDATED", 1),
            "ComboDrugGrowth_Nov2017.csv:1: header lacks the columns [\"VALID\"]",
        ),
        (
            "combo-screener",
            "ComboDrugGrowth_Nov2017.csv".into(),
            COMBO_BAD.replace("A549/ATCC,FG,", "A549/ATCC,,"),
            "ComboDrugGrowth_Nov2017.csv:3: column SCREENER is missing",
        ),
        (
            "mordred-ragged",
            "extended_combined_mordred_descriptors".into(),
            "DRUG\tABC\tnAcid\nNSC.740\t1.5\t2\nNSC.750\t3\n".into(),
            "extended_combined_mordred_descriptors:3: ragged row: 2 fields, the header has 3",
        ),
        (
            "mordred-header",
            "extended_combined_mordred_descriptors".into(),
            "DRUG\tABC\tABC\nNSC.740\t1.5\t2\n".into(),
            "extended_combined_mordred_descriptors:1: duplicated header \"ABC\" (columns 2 and 3)",
        ),
    ];
    lines.clear();
    for (what, name, text, want) in cases {
        let dir = tmp.path().join(format!("bad-{what}"));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(&name);
        std::fs::write(&p, text).unwrap();
        let repo = tmp.path().join(format!("repo-{what}"));
        let e = run(&repo, vec![p], CandleOptions::default())
            .await
            .unwrap_err();
        let msg = format!("{e:#}");
        assert!(msg.contains(want), "{what}: {msg}");
        assert!(
            !repo.join("candle-uno/versions/1.0.0.json").exists(),
            "{what}"
        );
        assert!(!repo.join("candle-uno/1.0.0").exists(), "{what}");
    }
}

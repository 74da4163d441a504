//! `verify --score`: the shipped demo models score the demo datasets through ONNX Runtime,
//! the record validates, and every failure (bad model, wrong inputs, missing provider
//! library, missing runtime, corrupt data) is a clear error.
//!
//! ONNX Runtime comes from the `onnxruntime` Python package of ./.venv or python3 on PATH
//! (scripts/test.sh installs it), as `verify --score` finds it for users.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_sciml-data")
}

/// The demo's repository, built once for this test binary.
fn demo_repo() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // Under target/tmp (not /tmp), replaced on every run, so runs do not pile up.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("scoring-demo");
        if dir.exists() {
            std::fs::remove_dir_all(&dir).expect("remove the previous demo");
        }
        let out = Command::new(bin())
            .args([
                "demo",
                "--no-progress",
                "--skip",
                "slstr",
                "--skip",
                "score",
                "--dir",
            ])
            .arg(&dir)
            .output()
            .expect("run demo");
        assert!(
            out.status.success(),
            "demo failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir.join("repo")
    })
}

fn run(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .output()
        .expect("run sciml-data")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn addr(v: &str) -> String {
    format!("{}/{v}", demo_repo().display())
}

fn score_json(v: &str, extra: &[&str]) -> (Output, Value) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("result.json");
    let a = addr(v);
    let mut args = vec!["verify", a.as_str(), "--score", "--ep", "cpu"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--json", json.to_str().unwrap()]);
    let o = run(&args);
    assert!(
        o.status.code() == Some(0) || o.status.code() == Some(3),
        "score failed: {}",
        text(&o)
    );
    let v: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    (o, v)
}

/// Every batch of a Parquet file.
fn parquet(path: &Path) -> Vec<arrow::record_batch::RecordBatch> {
    let f = std::fs::File::open(path).unwrap();
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
}

/// A primitive column of a Parquet file, all batches.
fn column<T: arrow::datatypes::ArrowPrimitiveType>(path: &Path, name: &str) -> Vec<T::Native> {
    parquet(path)
        .iter()
        .flat_map(|b| {
            b.column_by_name(name)
                .unwrap_or_else(|| panic!("no column {name}"))
                .as_any()
                .downcast_ref::<arrow::array::PrimitiveArray<T>>()
                .unwrap()
                .values()
                .to_vec()
        })
        .collect()
}

fn metric(rec: &Value, name: &str) -> f64 {
    rec["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no metric {name}"))["value"]
        .as_f64()
        .unwrap()
}

fn check_record(rec: &Value, dataset: &str, version: &str) {
    sciml_data::catalog::validate_named("score-result.schema.json", rec, "score record").unwrap();
    assert_eq!(rec["dataset"], dataset);
    assert_eq!(rec["version"], version);
    // The digest is the version's, as `log` reports it.
    let rec_file = demo_repo()
        .join(dataset)
        .join("versions")
        .join(format!("{version}.json"));
    let record: Value = serde_json::from_slice(&std::fs::read(&rec_file).unwrap()).unwrap();
    assert_eq!(rec["digest"], record["digest"]);
    // The model is the catalog's, by hash.
    let entry = sciml_data::catalog::entry(rec["benchmark"].as_str().unwrap()).unwrap();
    assert_eq!(rec["model"]["sha256"], entry["scoring"]["model"]["sha256"]);
    assert_eq!(rec["execution_provider"]["provider"], "cpu");
    assert!(rec["samples"].as_u64().unwrap() > 0);
    // pass is the target evaluated on the score.
    let v = rec["target"]["value"].as_f64().unwrap();
    assert_eq!(
        rec["target"]["pass"].as_bool().unwrap(),
        sciml_data::scoring::target_pass(&rec["target"]["target"], v)
    );
}

#[test]
fn tevolop_demo_scores_and_batch_size_does_not_change_the_score() {
    let (o, rec) = score_json("tevolop@1.1.0", &["--batch", "64"]);
    check_record(&rec, "tevolop", "1.1.0");
    let nnse = metric(&rec, "nnse");
    assert!(nnse > 0.0 && nnse < 1.0, "NNSE is in (0, 1): {nnse}");
    assert_eq!(rec["target"]["metric"], "nnse");
    assert_eq!(
        o.status.code(),
        Some(if rec["target"]["pass"].as_bool().unwrap() {
            0
        } else {
            3
        })
    );
    let (_, rec7) = score_json("tevolop@1.1.0", &["--batch", "7"]);
    assert_eq!(rec7["batch_size"], 7);
    assert!(
        (metric(&rec7, "nnse") - nnse).abs() < 1e-6,
        "batching changed the score"
    );
    assert_eq!(rec7["samples"], rec["samples"]);
}

#[test]
fn candle_demo_scores_with_predictions() {
    let dir = tempfile::tempdir().unwrap();
    let pred = dir.path().join("p.parquet");
    let (_, rec) = score_json(
        "candle-uno@1.0.0",
        &["--predictions", pred.to_str().unwrap()],
    );
    check_record(&rec, "candle-uno", "1.0.0");
    let mse = metric(&rec, "mse");
    // Recompute MSE from the predictions file.
    use arrow::datatypes::Float64Type;
    let (o, p) = (
        column::<Float64Type>(&pred, "observed"),
        column::<Float64Type>(&pred, "predicted"),
    );
    let n = o.len();
    let se: f64 = o.iter().zip(&p).map(|(a, b)| (a - b).powi(2)).sum();
    assert!(
        parquet(&pred)
            .iter()
            .all(|b| b.column_by_name("CELL").is_some() && b.column_by_name("DRUG").is_some())
    );
    assert_eq!(n as u64, rec["samples"].as_u64().unwrap());
    assert!((se / n as f64 - mse).abs() < 1e-12);
    // Another split scores other samples.
    let (_, train) = score_json("candle-uno@1.0.0", &["--split", "train"]);
    assert_eq!(train["split"], "train");
    assert_ne!(train["samples"], rec["samples"]);
}

#[test]
fn auto_falls_back_to_cpu_and_says_why() {
    let o = run(&["verify", &addr("candle-uno@1.0.0"), "--score"]);
    let t = text(&o);
    assert!(
        o.status.code() == Some(0) || o.status.code() == Some(3),
        "{t}"
    );
    assert!(t.contains("provider cpu (asked: auto)"), "{t}");
    assert!(
        t.contains("skipped tensorrt:") && t.contains("skipped cuda:"),
        "{t}"
    );
    assert!(t.contains("libonnxruntime_providers_cuda.so"), "{t}");
}

#[test]
fn explicit_gpu_provider_without_its_library_is_an_error() {
    for (ep, lib) in [
        ("cuda", "libonnxruntime_providers_cuda.so"),
        ("tensorrt", "libonnxruntime_providers_tensorrt.so"),
    ] {
        let o = run(&["verify", &addr("candle-uno@1.0.0"), "--score", "--ep", ep]);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "an error, not a score: {t}");
        assert!(t.contains(lib), "error names {lib}: {t}");
        assert!(!t.contains("SCORE"), "no silent fallback: {t}");
    }
}

#[test]
fn bad_models_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    // Not an ONNX file.
    let junk = dir.path().join("junk.onnx");
    std::fs::write(&junk, b"this is not a model").unwrap();
    let o = run(&[
        "verify",
        &addr("tevolop@1.1.0"),
        "--score",
        "--ep",
        "cpu",
        "--model",
        junk.to_str().unwrap(),
    ]);
    let t = text(&o);
    assert!(!o.status.success() && t.contains("junk.onnx"), "{t}");
    // A truncated copy of the real model.
    let real =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("models/tevolop-lstm-demo.onnx"))
            .unwrap();
    let cut = dir.path().join("cut.onnx");
    std::fs::write(&cut, &real[..real.len() / 2]).unwrap();
    let o = run(&[
        "verify",
        &addr("tevolop@1.1.0"),
        "--score",
        "--ep",
        "cpu",
        "--model",
        cut.to_str().unwrap(),
    ]);
    assert!(
        !o.status.success() && text(&o).contains("cut.onnx"),
        "{}",
        text(&o)
    );
    // A valid model with the wrong inputs for the data: the UNO model on TEvolOp.
    let (o, t) = score_with_model("tevolop@1.1.0", "models/candle-uno-demo.onnx");
    assert!(!o.status.success(), "{t}");
    assert!(
        t.contains("cell.rnaseq") && t.contains("tevolop scoring feeds"),
        "{t}"
    );
    // The TEvolOp model on CANDLE data: names the missing input.
    let (o, t) = score_with_model("candle-uno@1.0.0", "models/tevolop-lstm-demo.onnx");
    assert!(
        !o.status.success() && t.contains("candle-uno scoring feeds"),
        "{t}"
    );
}

/// `verify <demo version> --score --ep cpu --model <repository model file>`.
fn score_with_model(version: &str, model: &str) -> (Output, String) {
    let m = Path::new(env!("CARGO_MANIFEST_DIR")).join(model);
    let o = run(&[
        "verify",
        &addr(version),
        "--score",
        "--ep",
        "cpu",
        "--model",
        m.to_str().unwrap(),
    ]);
    let t = text(&o);
    (o, t)
}

#[test]
fn catalog_model_with_wrong_hash_is_refused() {
    let mut entry = sciml_data::catalog::entry("tevolop").unwrap();
    entry["scoring"]["model"]["sha256"] = Value::String("0".repeat(64));
    let e = sciml_data::scoring::model::from_catalog(&entry, None).unwrap_err();
    let t = format!("{e:#}");
    assert!(t.contains("refusing") && t.contains(&"0".repeat(64)), "{t}");
    // The real entry loads and hashes to the catalog's value.
    let ok = sciml_data::scoring::model::from_catalog(
        &sciml_data::catalog::entry("tevolop").unwrap(),
        None,
    )
    .unwrap();
    assert_eq!(
        ok.sha256,
        sciml_data::catalog::entry("tevolop").unwrap()["scoring"]["model"]["sha256"]
    );
}

#[test]
fn missing_runtime_is_a_clear_error() {
    let o = Command::new(bin())
        .args([
            "verify",
            &addr("candle-uno@1.0.0"),
            "--score",
            "--ep",
            "cpu",
        ])
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so.1.32.0")
        .output()
        .unwrap();
    let t = text(&o);
    assert!(
        !o.status.success()
            && t.contains("ORT_DYLIB_PATH")
            && t.contains("/nonexistent/libonnxruntime.so.1.32.0"),
        "{t}"
    );
}

#[test]
fn corrupt_data_is_not_scored() {
    // A private copy of the candle version with one payload byte flipped.
    let src = demo_repo();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("repo");
    let st = Command::new("cp")
        .arg("-a")
        .arg(src)
        .arg(&copy)
        .status()
        .unwrap();
    assert!(st.success());
    let bag = copy.join("candle-uno/1.0.0/data/splits/drugs.parquet");
    let mut b = std::fs::read(&bag).unwrap();
    b[10] ^= 0xff;
    std::fs::write(&bag, b).unwrap();
    let o = run(&[
        "verify",
        &format!("{}/candle-uno@1.0.0", copy.display()),
        "--score",
        "--ep",
        "cpu",
    ]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("not scored") && t.contains("drugs.parquet") && !t.contains("SCORE"),
        "{t}"
    );
}

#[test]
fn stemdl_demo_scores_with_macro_f1_of_its_predictions() {
    let dir = tempfile::tempdir().unwrap();
    let pred = dir.path().join("p.parquet");
    let (_, rec) = score_json(
        "stemdl@1.0.0",
        &["--batch", "5", "--predictions", pred.to_str().unwrap()],
    );
    check_record(&rec, "stemdl", "1.0.0");
    assert_eq!(rec["split"], "dev");
    assert_eq!(rec["target"]["metric"], "macro_f1");
    use arrow::datatypes::Int64Type;
    let (y, p) = (
        column::<Int64Type>(&pred, "observed"),
        column::<Int64Type>(&pred, "predicted"),
    );
    assert_eq!(y.len() as u64, rec["samples"].as_u64().unwrap());
    assert!(
        y.iter().all(|g| (1..=230).contains(g)),
        "labels are space groups"
    );
    assert!(
        p.iter().all(|g| (0..231).contains(g)),
        "predictions index the 231 outputs"
    );
    let c = sciml_data::scoring::metrics::classification(&y, &p);
    assert_eq!(metric(&rec, "macro_f1"), c.macro_f1);
    assert_eq!(metric(&rec, "top1"), c.top1);
    // The batch size does not change the predictions.
    let (_, rec16) = score_json("stemdl@1.0.0", &["--batch", "16"]);
    assert_eq!(metric(&rec16, "macro_f1"), c.macro_f1);
}

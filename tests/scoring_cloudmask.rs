//! `verify --score` on CloudMask versions: the same synthetic scenes (`synth slstr --hdf`,
//! full size 1200 x 1500, so the reference's 7 x 9 patch geometry) ingested in both forms,
//! SAFE and `.hdf`, give the same model inputs and the same masks; the record validates; the
//! score is the mean of the per-scene accuracies in the predictions file; the batch size does
//! not change it; a model with the wrong input shape and a missing catalog model are clear
//! errors.
//!
//! The model is a small deterministic U-Net-shaped ONNX file written by
//! tests/interop/cloudmask_test_model.py (needs `python3` with the `onnx` package on PATH, as
//! scripts/test.sh sets it up). ONNX Runtime is found as `verify --score` finds it for users.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use arrow::array::AsArray;
use arrow::datatypes::{Float64Type, Int64Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_sciml-data")
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

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "{}", text(&o));
    o
}

struct Fixture {
    dir: PathBuf,
    /// cloudmask@1.0.0 (SAFE form) and cloudmask-hdf@1.0.0 (.hdf form), same scenes.
    repo: PathBuf,
    model: PathBuf,
    wrong_model: PathBuf,
}

fn write_model(out: &Path, extra: &[&str]) {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/cloudmask_test_model.py");
    // The test environment's Python (scripts/test.sh's venv) when there is one.
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python3");
    let python = std::env::var_os("VIRTUAL_ENV")
        .map(|v| PathBuf::from(v).join("bin/python3"))
        .filter(|p| p.exists())
        .or_else(|| venv.exists().then_some(venv))
        .unwrap_or_else(|| PathBuf::from("python3"));
    let o = Command::new(&python)
        .arg(&script)
        .arg(out)
        .args(extra)
        .output()
        .expect("python3 on PATH (with the onnx package) writes the test model");
    assert!(
        o.status.success(),
        "{} failed (python3 with the onnx package must be on PATH): {}",
        script.display(),
        text(&o)
    );
}

/// Two full-size scenes in both forms, ingested once for this test binary.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("scoring-cloudmask");
        if dir.exists() {
            std::fs::remove_dir_all(&dir).expect("remove the previous run");
        }
        std::fs::create_dir_all(&dir).unwrap();
        let raw = dir.join("raw");
        let repo = dir.join("repo");
        let (raw_s, repo_s) = (raw.to_str().unwrap(), repo.to_str().unwrap());
        ok(run(&[
            "synth", "slstr", "--out", raw_s, "--scenes", "2", "--hdf",
        ]));
        let mut products: Vec<String> = std::fs::read_dir(&raw)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "SEN3"))
            .map(|p| p.display().to_string())
            .collect();
        products.sort();
        let mut args = vec!["ingest", "slstr", "--no-progress", "--repo", repo_s];
        args.extend(["--version", "1.0.0", "--input"]);
        args.extend(products.iter().map(String::as_str));
        ok(run(&args));
        let hdf = raw.join("hdf");
        ok(run(&[
            "ingest",
            "slstr",
            "--no-progress",
            "--repo",
            repo_s,
            "--dataset",
            "cloudmask-hdf",
            "--version",
            "1.0.0",
            "--input",
            hdf.to_str().unwrap(),
        ]));
        let model = dir.join("test-unet.onnx");
        write_model(&model, &[]);
        let wrong_model = dir.join("wrong-input.onnx");
        write_model(&wrong_model, &["--channels", "3"]);
        Fixture {
            dir,
            repo,
            model,
            wrong_model,
        }
    })
}

fn addr(v: &str) -> String {
    format!("{}/{v}", fixture().repo.display())
}

/// Scores `v` with the test model; returns the record and the predictions' path.
fn score(v: &str, name: &str, extra: &[&str]) -> (Value, PathBuf) {
    let f = fixture();
    let json = f.dir.join(format!("{name}.json"));
    let pred = f.dir.join(format!("{name}.parquet"));
    let a = addr(v);
    let mut args = vec![
        "verify",
        a.as_str(),
        "--score",
        "--ep",
        "cpu",
        "--no-progress",
        "--model",
        f.model.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
        "--predictions",
        pred.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(
        o.status.code() == Some(0) || o.status.code() == Some(3),
        "score failed: {}",
        text(&o)
    );
    let rec: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    (rec, pred)
}

/// Both versions scored once on every scene with the default batch (shared by the tests).
fn scored_all(hdf: bool) -> &'static (Value, PathBuf) {
    static SAFE: OnceLock<(Value, PathBuf)> = OnceLock::new();
    static HDF: OnceLock<(Value, PathBuf)> = OnceLock::new();
    if hdf {
        HDF.get_or_init(|| score("cloudmask-hdf@1.0.0", "hdf-all", &["--split", "all"]))
    } else {
        SAFE.get_or_init(|| score("cloudmask@1.0.0", "safe-all", &["--split", "all"]))
    }
}

fn metric(rec: &Value, name: &str) -> f64 {
    rec["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .and_then(|m| m["value"].as_f64())
        .unwrap_or_else(|| panic!("no metric {name}"))
}

/// The predictions table: (scene, pixels, correct, accuracy, predicted and observed cloud
/// fractions, tp, fp, tn, fn) per row.
struct Rows {
    scene: Vec<i64>,
    pixels: Vec<i64>,
    correct: Vec<i64>,
    accuracy: Vec<f64>,
    predicted: Vec<f64>,
    observed: Vec<f64>,
    counts: Vec<[i64; 4]>,
}

fn rows(p: &Path) -> Rows {
    let f = std::fs::File::open(p).unwrap();
    let mut r = Rows {
        scene: vec![],
        pixels: vec![],
        correct: vec![],
        accuracy: vec![],
        predicted: vec![],
        observed: vec![],
        counts: vec![],
    };
    for b in ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap()
    {
        let b = b.unwrap();
        let i = |n: &str| {
            let c = b.column_by_name(n).unwrap().as_primitive::<Int64Type>();
            (0..c.len()).map(|k| c.value(k)).collect::<Vec<_>>()
        };
        let f = |n: &str| {
            let c = b.column_by_name(n).unwrap().as_primitive::<Float64Type>();
            (0..c.len()).map(|k| c.value(k)).collect::<Vec<_>>()
        };
        r.scene.extend(i("scene"));
        r.pixels.extend(i("pixels"));
        r.correct.extend(i("correct"));
        r.accuracy.extend(f("accuracy"));
        r.predicted.extend(f("predicted_cloud_fraction"));
        r.observed.extend(f("observed_cloud_fraction"));
        let (tp, fp, tn, fnn) = (i("tp"), i("fp"), i("tn"), i("fn"));
        for k in 0..tp.len() {
            r.counts.push([tp[k], fp[k], tn[k], fnn[k]]);
        }
        assert!(b.column_by_name("product").is_some());
    }
    r
}

#[test]
fn the_record_validates_and_the_score_is_the_mean_scene_accuracy() {
    let (rec, pred) = scored_all(false);
    let (rec, pred) = (rec.clone(), pred.clone());
    sciml_data::catalog::validate_named("score-result.schema.json", &rec, "score record").unwrap();
    assert_eq!(rec["benchmark"], "cloudmask");
    assert_eq!(rec["split"], "all");
    assert_eq!(rec["samples"], 2);
    assert_eq!(rec["target"]["metric"], "accuracy");
    let r = rows(&pred);
    assert_eq!(r.scene, vec![0, 1]);
    // Every pixel of the 1200 x 1500 grid counts (sklearn accuracy_score on the full image).
    assert!(r.pixels.iter().all(|p| *p == 1200 * 1500));
    let mean: f64 = r
        .correct
        .iter()
        .zip(&r.pixels)
        .map(|(c, p)| *c as f64 / *p as f64)
        .sum::<f64>()
        / 2.0;
    assert!((metric(&rec, "accuracy") - mean).abs() < 1e-12);
    for k in 0..2 {
        let [tp, fp, tn, fnn] = r.counts[k];
        assert_eq!(tp + fp + tn + fnn, r.pixels[k]);
        assert_eq!(tp + tn, r.correct[k]);
        assert!((r.accuracy[k] - r.correct[k] as f64 / r.pixels[k] as f64).abs() < 1e-15);
        assert!((r.predicted[k] - (tp + fp) as f64 / r.pixels[k] as f64).abs() < 1e-15);
        assert!((r.observed[k] - (tp + fnn) as f64 / r.pixels[k] as f64).abs() < 1e-15);
    }
    // Pixel-pooled accuracy and F1 of the cloud class, from the summed counts.
    let s = r.counts.iter().fold([0i64; 4], |mut a, c| {
        for i in 0..4 {
            a[i] += c[i];
        }
        a
    });
    let pooled = (s[0] + s[2]) as f64 / (s.iter().sum::<i64>()) as f64;
    assert!((metric(&rec, "pixel_accuracy") - pooled).abs() < 1e-12);
    let f1 = 2.0 * s[0] as f64 / (2 * s[0] + s[1] + s[3]) as f64;
    assert!((metric(&rec, "f1_cloud") - f1).abs() < 1e-12);
    // The test model sees both classes: neither all cloud nor all clear.
    assert!(
        r.predicted.iter().all(|p| *p > 0.05 && *p < 0.95),
        "{:?}",
        r.predicted
    );
    assert!(rec["notes"][0].as_str().unwrap().contains("63 patches"));
}

#[test]
fn safe_and_hdf_forms_give_the_same_inputs_and_masks() {
    let f = fixture();
    let rt = tokio::runtime::Runtime::new().unwrap();
    for scene in 0..2 {
        let a = rt
            .block_on(sciml_data::scoring::cloudmask::scene_input(
                &f.repo.join("cloudmask/1.0.0"),
                scene,
            ))
            .unwrap();
        let b = rt
            .block_on(sciml_data::scoring::cloudmask::scene_input(
                &f.repo.join("cloudmask-hdf/1.0.0"),
                scene,
            ))
            .unwrap();
        assert_eq!((a.rows, a.cols), (1200, 1500));
        assert_eq!((b.rows, b.cols), (1200, 1500));
        assert_eq!(a.truth, b.truth, "ground truth of scene {scene}");
        assert_eq!(a.nan_inputs, b.nan_inputs);
        let n = 1200 * 1500;
        // bts: exactly equal (the same decoding, float32).
        assert_eq!(a.image[6 * n..], b.image[6 * n..], "bts of scene {scene}");
        // refs: equal within the solar zenith interpolation error (the synthetic angles are
        // linear in the tie-point grid, so only rounding remains).
        let worst = a.image[..6 * n]
            .iter()
            .zip(&b.image[..6 * n])
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        assert!(worst < 1e-5, "refs of scene {scene} differ by {worst}");
    }
    let (ra, pa) = scored_all(false);
    let (rb, pb) = scored_all(true);
    let (a, b) = (rows(pa), rows(pb));
    for k in 0..2 {
        // The masks agree on nearly every pixel (the confusion counts bound the difference).
        let diff: i64 = (0..4)
            .map(|i| (a.counts[k][i] - b.counts[k][i]).abs())
            .sum();
        assert!(
            diff <= 100,
            "scene {k}: counts {:?} vs {:?}",
            a.counts[k],
            b.counts[k]
        );
    }
    assert!((metric(ra, "accuracy") - metric(rb, "accuracy")).abs() < 1e-4);
}

#[test]
fn the_batch_size_does_not_change_the_result() {
    let (r1, p1) = scored_all(true);
    let (r7, p7) = score(
        "cloudmask-hdf@1.0.0",
        "batch-7",
        &["--split", "all", "--batch", "7"],
    );
    assert_eq!(r7["batch_size"], 7);
    assert_eq!(r1["batch_size"], 64);
    assert_eq!(metric(r1, "accuracy"), metric(&r7, "accuracy"));
    assert_eq!(rows(p1).counts, rows(&p7).counts);
    // 63 patches in batches of 7: 9 model calls per scene.
    assert_eq!(r7["timings"]["batches"], 18);
}

#[test]
fn the_default_split_is_validation_without_test_scenes() {
    // Two non-test scenes: sklearn's 80/20 gives one train, one validation scene.
    let (rec, pred) = score("cloudmask-hdf@1.0.0", "default", &[]);
    assert_eq!(rec["split"], "validation");
    assert_eq!(rec["samples"], 1);
    assert_eq!(rows(&pred).scene.len(), 1);
    assert!(
        rec["notes"][0].as_str().unwrap().contains("no test scenes"),
        "{}",
        rec["notes"]
    );
}

#[test]
fn the_default_split_is_test_when_there_are_test_scenes() {
    // A small grid: one patch covers the image (SAME padding all round).
    let f = fixture();
    let dir = f.dir.join("small");
    let _ = std::fs::remove_dir_all(&dir);
    let (raw, repo) = (dir.join("raw"), dir.join("repo"));
    ok(run(&[
        "synth",
        "slstr",
        "--out",
        raw.to_str().unwrap(),
        "--scenes",
        "3",
        "--test-names",
        "1",
        "--grid",
        "60x80",
    ]));
    ok(run(&[
        "ingest",
        "slstr",
        "--no-progress",
        "--repo",
        repo.to_str().unwrap(),
        "--version",
        "1.0.0",
        "--grid",
        "60x80",
        "--input",
        raw.to_str().unwrap(),
    ]));
    let json = dir.join("r.json");
    let o = run(&[
        "verify",
        &format!("{}/cloudmask@1.0.0", repo.display()),
        "--score",
        "--ep",
        "cpu",
        "--no-progress",
        "--model",
        f.model.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(matches!(o.status.code(), Some(0 | 3)), "{}", text(&o));
    let rec: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(rec["split"], "test");
    assert_eq!(rec["samples"], 1);
    assert!(rec["notes"][0].as_str().unwrap().contains("1 patches"));
}

#[test]
fn a_model_with_the_wrong_input_shape_is_refused() {
    let f = fixture();
    let a = addr("cloudmask-hdf@1.0.0");
    let o = run(&[
        "verify",
        &a,
        "--score",
        "--ep",
        "cpu",
        "--no-progress",
        "--model",
        f.wrong_model.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "must not score: {}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("model input \"x\"")
            && t.contains("cloudmask")
            && t.contains("[N, 9, 256, 256]"),
        "{t}"
    );
}

#[test]
fn without_a_registered_model_the_error_says_to_pass_one() {
    let entry = sciml_data::catalog::entry("cloudmask").unwrap();
    let a = addr("cloudmask-hdf@1.0.0");
    let o = run(&["verify", &a, "--score", "--ep", "cpu", "--no-progress"]);
    if entry.pointer("/scoring/model").is_some() {
        // A baseline model is registered: it scores without --model.
        assert!(matches!(o.status.code(), Some(0 | 3)), "{}", text(&o));
        return;
    }
    assert!(
        !matches!(o.status.code(), Some(0 | 3)),
        "must not score: {}",
        text(&o)
    );
    let t = text(&o);
    assert!(
        t.contains("no baseline model is registered for cloudmask") && t.contains("--model FILE"),
        "{t}"
    );
}

//! Every JSON document the tool writes or prints validates against its schema under schemas/:
//! the version record, metadata/provenance.json, usgs-fetch.json (through provenance.json and
//! on its own), metadata/datacite.json, and the --json output of verify, diff, log and info.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use sciml_data::catalog::validate_named;
use sciml_data::sources::usgs::fetch::{FetchProvenance, FetchedPage, PROVENANCE_FILE};
use serde_json::Value;

fn json_of(args: &[&str]) -> (Value, bool) {
    let o = Command::new(env!("CARGO_BIN_EXE_sciml-data"))
        .args(args)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&o.stderr)
        )
    });
    (v, o.status.success())
}

fn read(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn ok(schema: &str, doc: &Value, what: &str) {
    if let Err(e) = validate_named(schema, doc, what) {
        panic!("{e:#}");
    }
}

/// A fetch directory: one page of the real catalogue and its usgs-fetch.json, written with
/// the tool's own types and serializer.
fn fetched_dir(dir: &Path) -> std::path::PathBuf {
    let raw = dir.join("raw");
    std::fs::create_dir_all(&raw).unwrap();
    let page = raw.join("page-0000.csv");
    let bytes = std::fs::read(real_csv()).unwrap();
    std::fs::write(&page, &bytes).unwrap();
    let prov = FetchProvenance {
        service: "usgs-comcat-fdsnws-event".into(),
        base_url: "https://earthquake.usgs.gov/fdsnws/event/1/query".into(),
        region: [32.0, 36.0, -120.0, -114.0],
        start: "2023-03-18".into(),
        end: "2023-04-18".into(),
        min_magnitude: None,
        pages: vec![FetchedPage {
            url: "https://earthquake.usgs.gov/fdsnws/event/1/query?format=csv&starttime=2023-03-18T00:00:00&endtime=2023-04-18T00:00:00".into(),
            file: "page-0000.csv".into(),
            starttime: "2023-03-18T00:00:00".into(),
            endtime: "2023-04-18T00:00:00".into(),
            rows: 11623,
            size: bytes.len() as u64,
            sha256: sciml_data::hashing::sha256_hex(&bytes),
            fetched_at: "2023-04-18T00:00:05Z".into(),
        }],
    };
    std::fs::write(
        raw.join(PROVENANCE_FILE),
        serde_json::to_vec_pretty(&prov).unwrap(),
    )
    .unwrap();
    page
}

#[tokio::test]
async fn every_json_the_tool_writes_or_prints_validates() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let page = fetched_dir(dir.path());
    let v1 = ingest_files(&repo, "1.0.0", vec![page]).await.unwrap();
    let small = write(dir.path(), "small.csv", &small_catalogue(200));
    let v2 = ingest_files(&repo, "1.1.0", vec![small]).await.unwrap();

    ok(
        "usgs-fetch.schema.json",
        &read(&dir.path().join("raw").join(PROVENANCE_FILE)),
        "usgs-fetch.json",
    );
    for v in [&v1, &v2] {
        let rec = read(
            &repo
                .join("tevolop/versions")
                .join(format!("{}.json", v.record.version)),
        );
        ok("version-record.schema.json", &rec, "version record");
        let prov = read(&v.bag_dir.join("metadata/provenance.json"));
        ok("provenance.schema.json", &prov, "provenance.json");
        let dc = read(&v.bag_dir.join("metadata/datacite.json"));
        ok(
            "datacite-v4.6.json",
            &dc["data"]["attributes"],
            "datacite.json",
        );
    }
    // The fetch record travelled into 1.0.0's provenance; 1.1.0 had none.
    let prov1 = read(&v1.bag_dir.join("metadata/provenance.json"));
    assert_eq!(prov1["fetch"]["pages"][0]["rows"], 11623);
    assert!(read(&v2.bag_dir.join("metadata/provenance.json"))["fetch"].is_null());

    let a1 = format!("{}/tevolop@1.0.0", repo.display());
    let a2 = format!("{}/tevolop@1.1.0", repo.display());
    for fast in [false, true] {
        let mut args = vec!["verify", a1.as_str(), "--json"];
        if fast {
            args.push("--fast");
        }
        let (v, success) = json_of(&args);
        assert!(success);
        ok("verify-report.schema.json", &v, "verify --json");
    }
    let (d, _) = json_of(&["diff", &a1, "1.1.0", "--json"]);
    ok("diff.schema.json", &d, "diff --json");
    assert!(
        !d["tables"].as_array().unwrap().is_empty() && !d["arrays"].as_array().unwrap().is_empty()
    );
    let (l, _) = json_of(&["log", &format!("{}/tevolop", repo.display()), "--json"]);
    ok("log.schema.json", &l, "log --json");
    assert_eq!(l.as_array().unwrap().len(), 2);
    let (i, _) = json_of(&["info", &a2, "--json"]);
    ok("info.schema.json", &i, "info --json");
    assert!(
        i["bag_info"]["Parent"]
            .as_str()
            .unwrap()
            .starts_with("tevolop@1.0.0 sha256:")
    );
    let (m, _) = json_of(&["metadata", &a2, "--format", "datacite"]);
    ok(
        "datacite-v4.6.json",
        &m["data"]["attributes"],
        "metadata --format datacite",
    );

    // A failing verification's report validates too (corrupt and missing entries).
    let victim = v1.bag_dir.join("data/splits/locations.parquet");
    std::fs::write(&victim, b"not parquet").unwrap();
    std::fs::remove_file(v1.bag_dir.join("data/grid.zarr/daily/lat/zarr.json")).unwrap();
    let (v, success) = json_of(&["verify", &a1, "--json"]);
    assert!(!success);
    assert_eq!(v["corrupt"][0]["path"], "data/splits/locations.parquet");
    ok("verify-report.schema.json", &v, "verify --json (failed)");
}

#[test]
fn the_schemas_reject_what_they_should() {
    let bad = |schema: &str, doc: Value, needle: &str| {
        let err = validate_named(schema, &doc, "doc").unwrap_err().to_string();
        assert!(err.contains(needle), "{schema}: {err}");
    };
    bad(
        "provenance.schema.json",
        serde_json::json!({"source": "candle", "dataset": "x", "options": {}}),
        "inputs",
    );
    // usgs provenance must carry its counts, and nothing unknown.
    bad(
        "provenance.schema.json",
        serde_json::json!({"source": "usgs", "dataset": "tevolop", "inputs": [{"name": "a", "size": 1, "sha256": "0".repeat(64)}], "options": {}, "extra": 1}),
        "counts",
    );
    bad(
        "verify-report.schema.json",
        serde_json::json!({"dataset": "t", "version": "1.0.0", "digest": "sha256:00", "mode": "quick"}),
        "/digest",
    );
    bad(
        "usgs-fetch.schema.json",
        serde_json::json!({"service": "other"}),
        "usgs-comcat-fdsnws-event",
    );
    bad("log.schema.json", serde_json::json!([]), "[]");
    bad(
        "datacite-v4.6.json",
        serde_json::json!({"publicationYear": 2024}),
        "creators",
    );
}

//! The `sciml-data` binary as a user runs it: exit codes, messages, and the demo.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sciml-data"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

#[test]
fn demo_runs_offline_and_is_repeatable() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let d = dir.to_str().unwrap();
    let o = run(&["demo", "--dir", d, "--events", "4000"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    for needle in [
        "created ",
        "tevolop@1.0.0",
        "tevolop@1.1.0",
        "stemdl@1.0.0",
        "OK ",
        "Try next",
        "sha256sum -c manifest-sha256.txt",
        "cloudmask@1.0.0",
        "SCORE candle-uno candle-uno@1.0.0",
        "SCORE stemdl stemdl@1.0.0",
    ] {
        assert!(out.contains(needle), "demo output lacks {needle:?}:\n{out}");
    }
    // Twice: the same digests, nothing re-created.
    let o2 = run(&["demo", "--dir", d, "--events", "4000"]);
    let (out2, err2) = text(&o2);
    assert!(o2.status.success(), "{out2}\n{err2}");
    assert!(
        out2.contains("already exists with the same digest"),
        "{out2}"
    );

    // The bag passes coreutils' check.
    let bag = dir.join("repo/tevolop/1.1.0");
    let s = Command::new("sha256sum")
        .args(["-c", "--quiet", "manifest-sha256.txt"])
        .current_dir(&bag)
        .status()
        .unwrap();
    assert!(s.success());
    let s = Command::new("sha256sum")
        .args(["-c", "--quiet", "tagmanifest-sha256.txt"])
        .current_dir(&bag)
        .status()
        .unwrap();
    assert!(s.success());
}

fn ingest_small(dir: &Path, version: &str, n: usize) -> (String, Output) {
    let input = write(dir, &format!("in-{version}.csv"), &small_catalogue(n));
    let repo = dir.join("repo");
    let o = run(&[
        "ingest",
        "usgs",
        "--input",
        input.to_str().unwrap(),
        "--repo",
        repo.to_str().unwrap(),
        "--version",
        version,
        "--message",
        "cli test",
    ]);
    (repo.display().to_string(), o)
}

#[test]
fn log_info_verify_diff_and_exit_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, o) = ingest_small(tmp.path(), "1.0.0", 200);
    assert!(o.status.success(), "{:?}", text(&o));
    let (_, o) = ingest_small(tmp.path(), "1.2.0", 250);
    assert!(o.status.success(), "{:?}", text(&o));

    let o = run(&["log", &format!("{repo}/tevolop")]);
    let (out, _) = text(&o);
    assert!(o.status.success());
    let v12 = out.find("1.2.0").unwrap();
    let v10 = out.find("1.0.0 ").unwrap();
    assert!(v12 < v10, "newest first:\n{out}");
    assert!(out.contains("cli test"));

    let o = run(&["log", &format!("{repo}/tevolop"), "--json"]);
    let records: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(records.as_array().unwrap().len(), 2);
    assert_eq!(records[1]["parent"], "1.0.0");

    let o = run(&["info", &format!("{repo}/tevolop@1.2.0")]);
    let (out, _) = text(&o);
    assert!(o.status.success());
    for needle in [
        "digest    sha256:",
        "parent    1.0.0",
        "data/events",
        "data/grid.zarr",
        "data/splits",
        "in-1.2.0.csv",
    ] {
        assert!(out.contains(needle), "info lacks {needle:?}:\n{out}");
    }

    let o = run(&["verify", &format!("{repo}/tevolop@1.2.0")]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(text(&o).0.starts_with("OK "));

    let o = run(&["diff", &format!("{repo}/tevolop@1.0.0"), "1.2.0"]);
    let (out, _) = text(&o);
    assert!(o.status.success());
    assert!(
        out.contains("~ data/events/year=2020/part-0.parquet"),
        "{out}"
    );

    // Corrupt one byte: exit 1 and the file named.
    let victim = Path::new(&repo).join("tevolop/1.2.0/data/splits/locations.parquet");
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&victim, &bytes).unwrap();
    let o = run(&["verify", &format!("{repo}/tevolop@1.2.0")]);
    let (out, _) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        out.contains("corrupt  data/splits/locations.parquet"),
        "{out}"
    );
    let o = run(&["verify", &format!("{repo}/tevolop@1.2.0"), "--json"]);
    let rep: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(rep["corrupt"][0]["path"], "data/splits/locations.parquet");
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn user_errors_are_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, o) = ingest_small(tmp.path(), "1.0.0", 50);
    assert!(o.status.success());
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["info".into(), format!("{repo}/tevolop@9.9.9")],
            "no such version; known versions: 1.0.0",
        ),
        (
            vec!["info".into(), format!("{repo}/tevolop")],
            "names a dataset, not a version",
        ),
        (
            vec!["verify".into(), format!("{repo}/tevolop@1.0")],
            "is not a semantic version",
        ),
        (
            vec!["log".into(), format!("{repo}/nothing")],
            "has no dataset \"nothing\" (datasets: tevolop)",
        ),
        (
            vec!["log".into(), "/does/not/exist/tevolop".into()],
            "does not exist",
        ),
        (
            vec![
                "ingest".into(),
                "usgs".into(),
                "--input".into(),
                "/nope.csv".into(),
                "--repo".into(),
                repo.clone(),
                "--version".into(),
                "2.0.0".into(),
            ],
            "input /nope.csv cannot be read",
        ),
    ];
    for (args, expected) in cases {
        let o = bin().args(&args).output().unwrap();
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains(expected),
            "{args:?}: expected {expected:?} in {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn help_teaches() {
    let o = run(&["--help"]);
    let (out, _) = text(&o);
    for cmd in [
        "demo", "fetch", "ingest", "log", "info", "verify", "diff", "export",
    ] {
        assert!(out.contains(cmd), "--help lacks {cmd}");
    }
    let o = run(&["ingest", "usgs", "--help"]);
    let (out, _) = text(&o);
    assert!(
        out.contains("--skip-bad-rows") && out.contains("--grid-start") && out.contains("Example"),
        "{out}"
    );
}

#[test]
fn export_writes_the_reference_csv_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, o) = ingest_small(tmp.path(), "1.0.0", 300);
    assert!(o.status.success());
    let out_dir = tmp.path().join("ref");
    let o = run(&[
        "export",
        &format!("{repo}/tevolop@1.0.0"),
        "--reference-csv",
        out_dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{:?}", text(&o));
    // The small catalogue spans 2020-02-01..2020-02-28: 59 days from January 1st.
    for q in ["log_eng", "w_depth", "n_shock", "n_shock-mag-3.29"] {
        let f = out_dir.join(format!("SC_2020-2020.freq-D-59x2400-{q}.multi.csv"));
        let text = std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        assert_eq!(header.len(), 2401);
        assert_eq!(header[0], "");
        let mut total = 0.0;
        for (i, l) in lines.enumerate() {
            let cells: Vec<&str> = l.split(',').collect();
            assert_eq!(cells.len(), 2401);
            assert_eq!(cells[0].parse::<usize>().unwrap(), i);
            total += cells[1..]
                .iter()
                .map(|c| c.parse::<f64>().unwrap())
                .sum::<f64>();
        }
        if q == "n_shock" {
            assert_eq!(total, 300.0);
        }
    }
}

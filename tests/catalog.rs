//! The benchmark catalog: every entry validates, `catalog check` names the problem of a broken
//! entry, the rendered table is docs/benchmarks.md, and the catalog covers the working group's
//! seed table.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sciml-data"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

const TEVOLOP: &str = include_str!("../catalog/tevolop.json");
const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/realdata");

/// Writes a modified copy of tevolop.json as `<dir>/tevolop.json` and checks it.
fn check_modified(dir: &Path, edit: impl FnOnce(&mut Value)) -> Output {
    let mut v: Value = serde_json::from_str(TEVOLOP).unwrap();
    edit(&mut v);
    let f: PathBuf = dir.join("tevolop.json");
    std::fs::write(&f, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    run(&[
        "catalog",
        "check",
        f.to_str().unwrap(),
        "--samples",
        SAMPLES,
    ])
}

#[test]
fn every_entry_checks_out_including_sample_hashes() {
    let o = run(&["catalog", "check", "--samples", SAMPLES]);
    assert!(o.status.success(), "{}", stdout(&o));
    for id in ["cloudmask", "stemdl", "candle-uno", "tevolop"] {
        assert!(
            stdout(&o).contains(&format!("ok     catalog/{id}.json")),
            "{}",
            stdout(&o)
        );
    }
    let unchanged = check_modified(tempfile::tempdir().unwrap().path(), |_| {});
    assert!(unchanged.status.success(), "{}", stdout(&unchanged));
}

#[test]
fn broken_entries_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let o = check_modified(dir.path(), |v| {
        v.as_object_mut().unwrap().remove("objective");
    });
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("\"objective\" is a required property"),
        "{}",
        stdout(&o)
    );

    let o = check_modified(dir.path(), |v| {
        v["dataset"]["raw_sources"][0]["licence"] = "Apache-2".into();
    });
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains(
            "/dataset/raw_sources/0/licence: \"Apache-2\" is not an SPDX licence identifier"
        ),
        "{}",
        stdout(&o)
    );

    // Right shape, wrong check character (the ORCID example iD ends in 7).
    let o = check_modified(dir.path(), |v| {
        v["metadata"]["creators"] = serde_json::json!([{"name": "Josiah Carberry", "name_type": "Personal", "given_name": "Josiah", "family_name": "Carberry", "orcid": "0000-0002-1825-0098", "source": "https://orcid.org/0000-0002-1825-0097"}]);
    });
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains(
            "/metadata/creators/0/orcid: \"0000-0002-1825-0098\" is not a valid ORCID iD"
        ),
        "{}",
        stdout(&o)
    );
    // Wrong shape: the schema already rejects it.
    let o = check_modified(dir.path(), |v| {
        v["metadata"]["creators"] = serde_json::json!([{"name": "X", "name_type": "Personal", "orcid": "https://orcid.org/0000-0002-1825-0097", "source": "https://orcid.org"}]);
    });
    assert!(
        stdout(&o).contains("/metadata/creators/0/orcid"),
        "{}",
        stdout(&o)
    );

    let o = check_modified(dir.path(), |v| {
        v["dataset"]["sample_files"][0]["sha256"] = "0".repeat(64).into();
    });
    assert_eq!(o.status.code(), Some(1));
    let real = "1ff84ece2bb7af2e187c7752dfd530b6f3b15fdab350ca4d6f6d7dc8bf32099f";
    assert!(
        stdout(&o).contains("/dataset/sample_files/0/sha256: "),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains(&format!(
            "has SHA-256 {real}, the entry says {}",
            "0".repeat(64)
        )),
        "{}",
        stdout(&o)
    );

    // The baseline model's recorded hash must be the model's.
    let o = check_modified(dir.path(), |v| {
        v["scoring"]["model"]["sha256"] = "1".repeat(64).into();
    });
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("tevolop.json: /scoring/model: catalog entry tevolop: model models/tevolop-lstm-demo.onnx has SHA-256 "),
        "{}",
        stdout(&o)
    );

    let o = check_modified(dir.path(), |v| {
        v["id"] = "quake".into();
    });
    assert!(
        stdout(&o).contains("/id is \"quake\" but the file is named tevolop.json"),
        "{}",
        stdout(&o)
    );

    let bad = dir.path().join("stemdl.json");
    std::fs::write(&bad, "{\n  \"id\": \"stemdl\",\n}").unwrap();
    let o = run(&["catalog", "check", bad.to_str().unwrap()]);
    assert!(
        stdout(&o).contains("stemdl.json:3:1: not JSON"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn render_is_docs_benchmarks_md() {
    let o = run(&["catalog", "render", "--format", "markdown"]);
    assert!(o.status.success());
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/benchmarks.md"))
        .unwrap();
    assert!(
        stdout(&o) == docs,
        "docs/benchmarks.md is out of date: run `sciml-data catalog render --format markdown > docs/benchmarks.md`"
    );
    assert_eq!(stdout(&o), sciml_data::catalog::render_markdown().unwrap());
}

#[test]
fn the_catalog_covers_the_working_group_table() {
    // The seed's table: | Benchmark | Science | Task | Owner Institute | ... |
    let seed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/seed/science-benchmarks-wg.md"
    ))
    .unwrap();
    let rows: Vec<Vec<String>> = seed
        .lines()
        .skip_while(|l| !l.starts_with("| Benchmark"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            l.split('|')
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 4);
    let entries = sciml_data::catalog::entries().unwrap();
    let rendered = sciml_data::catalog::render_markdown().unwrap();
    for row in &rows {
        let first = row[0].split_whitespace().next().unwrap().to_lowercase();
        let e = entries
            .iter()
            .find(|e| {
                e["name"]
                    .as_str()
                    .unwrap()
                    .to_lowercase()
                    .starts_with(&first)
            })
            .unwrap_or_else(|| panic!("no entry for {row:?}"));
        assert_eq!(e["science_domain"], row[1].as_str());
        assert_eq!(e["task"], row[2].as_str());
        assert!(
            e["owner_institutes"][0]["name"]
                .as_str()
                .unwrap()
                .starts_with(&row[3]),
            "{row:?}"
        );
        // Every target field of the seed's template is filled in.
        let section = rendered
            .split(&format!(
                "#### {} Specific Benchmark Targets:",
                e["name"].as_str().unwrap()
            ))
            .nth(1)
            .unwrap();
        let section = section.split("\n## ").next().unwrap();
        for field in [
            "* Formula: ",
            "* Score: ",
            "* Download: ",
            "* Input Size: ",
            "* Training samples: ",
            "* Validation samples: ",
            "* Model: ",
            "* Reference Code: ",
            "* Run Instructions: ",
        ] {
            let line = section
                .lines()
                .find(|l| l.contains(field))
                .unwrap_or_else(|| panic!("{field} missing for {}", e["id"]));
            assert!(line.split(field).nth(1).unwrap().len() > 3, "{line}");
        }
    }
    let list = stdout(&run(&["catalog", "list"]));
    assert_eq!(list.lines().count(), 4);
    let show: Value = serde_json::from_str(&stdout(&run(&["catalog", "show", "stemdl"]))).unwrap();
    assert_eq!(show["dataset"]["samples"]["train"], 148006);
    let o = run(&["catalog", "show", "nope"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("known: cloudmask, stemdl, candle-uno, tevolop")
    );
}

/// A loopback web server: `/ok*` answers 200, `/gone` 404, `/nohead` refuses HEAD (405) but
/// answers a ranged GET with 206, `/moved` redirects to `/ok`, `/doi/10.*` answers 200.
/// Returns the port; the thread serves until the test process ends.
fn web_server() -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            if r.read_line(&mut line).is_err() {
                continue;
            }
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
            }
            let mut parts = line.split_whitespace();
            let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let status = match (method, path) {
                (_, p) if p.starts_with("/ok") || p.starts_with("/doi/10.") => "200 OK",
                ("HEAD", "/nohead") => "405 Method Not Allowed",
                ("GET", "/nohead") => "206 Partial Content",
                (_, "/moved") => "301 Moved Permanently",
                _ => "404 Not Found",
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Length: 0\r\nLocation: /ok\r\nConnection: close\r\n\r\n"
            );
        }
    });
    port
}

#[test]
fn links_resolve_online_and_broken_ones_are_named() {
    let port = web_server();
    let base = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    // Every link of the entry points at the loopback server; three are special.
    fn repoint(v: &mut Value, base: &str) {
        match v {
            Value::String(s) if s.starts_with("http://") || s.starts_with("https://") => {
                *s = format!("{base}/ok/{}", s.len());
            }
            Value::Array(a) => a.iter_mut().for_each(|x| repoint(x, base)),
            Value::Object(m) => m.values_mut().for_each(|x| repoint(x, base)),
            _ => {}
        }
    }
    let mut v: Value = serde_json::from_str(TEVOLOP).unwrap();
    repoint(&mut v, &base);
    v["reference_code"][0]["url"] = format!("{base}/gone").into();
    v["dataset"]["raw_sources"][0]["url"] = format!("{base}/nohead").into();
    v["dataset"]["raw_sources"][0]["licence_url"] = format!("{base}/moved").into();
    let f = dir.path().join("tevolop.json");
    std::fs::write(&f, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let doi = format!("{base}/doi/");
    let args = [
        "catalog",
        "check",
        f.to_str().unwrap(),
        "--links",
        "--doi-resolver",
        &doi,
    ];
    let o = run(&args);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let out = stdout(&o);
    let problems: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("does not resolve"))
        .map(str::trim)
        .collect();
    assert_eq!(
        problems,
        vec![format!(
            "{}: /reference_code/0/url: {base}/gone does not resolve: HTTP 404 Not Found",
            f.display()
        )],
        "{}",
        stdout(&o)
    );
    // Fixed, the entry passes; a DOI the resolver does not know fails.
    v["reference_code"][0]["url"] = format!("{base}/ok/fixed").into();
    std::fs::write(&f, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let o = run(&args);
    assert!(o.status.success(), "{}", stdout(&o));
    let o = run(&[
        "catalog",
        "check",
        f.to_str().unwrap(),
        "--links",
        "--doi-resolver",
        &format!("{base}/nodoi/"),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains(
            "/papers/0/doi: https://doi.org/10.3390/geohazards3020011 does not resolve: HTTP 404"
        ),
        "{}",
        stdout(&o)
    );
    // Offline, a malformed link or DOI is caught without the network.
    v["reference_code"][0]["url"] = "https://".into();
    v["papers"][0]["doi"] = "https://doi.org/10.3390/geohazards3020011".into();
    std::fs::write(&f, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let o = run(&["catalog", "check", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("/reference_code/0/url: \"https://\""),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains("/papers/0/doi: \"https://doi.org/10.3390"),
        "{}",
        stdout(&o)
    );
}

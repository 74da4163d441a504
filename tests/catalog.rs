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

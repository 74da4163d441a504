//! The benchmark catalog: one JSON entry per benchmark under catalog/, validated against
//! schemas/catalog-entry.schema.json plus checks a schema cannot express (SPDX identifiers
//! on the SPDX list, ORCID check digits, sample-file hashes). The entries are embedded in
//! the binary so that the tool always knows the benchmarks it was built with. `catalog
//! render` turns them into the working group's benchmark table (docs/benchmarks.md).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::OnceLock;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

pub mod links;

/// The catalog entry schema.
pub const ENTRY_SCHEMA: &str = include_str!("../../schemas/catalog-entry.schema.json");
/// The version record schema.
pub const RECORD_SCHEMA: &str = include_str!("../../schemas/version-record.schema.json");

/// The SPDX licence identifiers (schemas/spdx-license-ids.json, see schemas/README.md).
pub const SPDX_IDS: &str = include_str!("../../schemas/spdx-license-ids.json");

/// The embedded entries: (file name, JSON text), in the order of the working group's table.
pub const ENTRIES: &[(&str, &str)] = &[
    (
        "cloudmask.json",
        include_str!("../../catalog/cloudmask.json"),
    ),
    ("stemdl.json", include_str!("../../catalog/stemdl.json")),
    (
        "candle-uno.json",
        include_str!("../../catalog/candle-uno.json"),
    ),
    ("tevolop.json", include_str!("../../catalog/tevolop.json")),
];

/// Every JSON Schema under schemas/ (file name, text). The schemas refer to each other by
/// their `$id`s (e.g. info.schema.json to version-record.schema.json).
pub const SCHEMAS: &[(&str, &str)] = &[
    ("catalog-entry.schema.json", ENTRY_SCHEMA),
    ("version-record.schema.json", RECORD_SCHEMA),
    (
        "provenance.schema.json",
        include_str!("../../schemas/provenance.schema.json"),
    ),
    (
        "usgs-fetch.schema.json",
        include_str!("../../schemas/usgs-fetch.schema.json"),
    ),
    (
        "verify-report.schema.json",
        include_str!("../../schemas/verify-report.schema.json"),
    ),
    (
        "diff.schema.json",
        include_str!("../../schemas/diff.schema.json"),
    ),
    (
        "log.schema.json",
        include_str!("../../schemas/log.schema.json"),
    ),
    (
        "info.schema.json",
        include_str!("../../schemas/info.schema.json"),
    ),
    (
        "score-result.schema.json",
        include_str!("../../schemas/score-result.schema.json"),
    ),
    (
        "datacite-v4.6.json",
        include_str!("../../schemas/datacite-v4.6.json"),
    ),
];

/// Validates `doc` against the schema file `name` of [`SCHEMAS`] (references to the other
/// schemas resolved offline); the error lists every violation with its JSON pointer.
pub fn validate_named(name: &str, doc: &Value, what: &str) -> Result<()> {
    let text = SCHEMAS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .with_context(|| format!("no schema {name} under schemas/"))?;
    validate(text, doc, what)
}

/// Validates `doc` against the JSON Schema `schema`; the error lists every violation with
/// its JSON pointer.
pub fn validate(schema: &str, doc: &Value, what: &str) -> Result<()> {
    let schema: Value = serde_json::from_str(schema).context("embedded schema is not JSON")?;
    let mut builder = jsonschema::Registry::new();
    for (n, text) in SCHEMAS {
        let v: Value =
            serde_json::from_str(text).with_context(|| format!("schemas/{n} is not JSON"))?;
        if let Some(id) = v["$id"].as_str() {
            builder = builder
                .add(id, v.clone())
                .map_err(|e| anyhow!("schemas/{n}: {e}"))?;
        }
    }
    let registry = builder
        .prepare()
        .map_err(|e| anyhow!("cannot prepare the schemas: {e}"))?;
    let validator = jsonschema::options()
        .with_registry(&registry)
        .build(&schema)
        .map_err(|e| anyhow!("invalid schema: {e}"))?;
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| {
            format!(
                "  {}: {}",
                if e.instance_path().as_str().is_empty() {
                    "/"
                } else {
                    e.instance_path().as_str()
                },
                e
            )
        })
        .collect();
    if !errors.is_empty() {
        bail!("{what} does not match its schema:\n{}", errors.join("\n"));
    }
    Ok(())
}

/// All embedded entries, each validated.
pub fn entries() -> Result<Vec<Value>> {
    ENTRIES
        .iter()
        .map(|(name, text)| {
            let v: Value = serde_json::from_str(text)
                .with_context(|| format!("catalog/{name} is not JSON"))?;
            validate(ENTRY_SCHEMA, &v, &format!("catalog/{name}"))?;
            Ok(v)
        })
        .collect()
}

/// The entry with `id`.
pub fn entry(id: &str) -> Result<Value> {
    let all = entries()?;
    let ids: Vec<String> = all
        .iter()
        .filter_map(|e| e["id"].as_str().map(String::from))
        .collect();
    all.into_iter().find(|e| e["id"] == id).ok_or_else(|| {
        anyhow!(
            "no benchmark {id:?} in the catalog (known: {})",
            ids.join(", ")
        )
    })
}

/// The entry whose `dataset.name` is `dataset`, else the only entry whose `dataset.source`
/// is `source`; `None` when the catalog describes neither.
pub fn entry_for_dataset(dataset: &str, source: &str) -> Result<Option<Value>> {
    let all = entries()?;
    if let Some(e) = all.iter().find(|e| e["dataset"]["name"] == dataset) {
        return Ok(Some(e.clone()));
    }
    let by_source: Vec<&Value> = all
        .iter()
        .filter(|e| e["dataset"]["source"] == source)
        .collect();
    Ok(match by_source.as_slice() {
        [one] => Some((*one).clone()),
        _ => None,
    })
}

/// Whether `id` is on the SPDX licence list.
pub fn is_spdx_id(id: &str) -> bool {
    static IDS: OnceLock<BTreeSet<String>> = OnceLock::new();
    IDS.get_or_init(|| {
        serde_json::from_str::<Vec<String>>(SPDX_IDS)
            .unwrap_or_default()
            .into_iter()
            .collect()
    })
    .contains(id)
}

/// An ORCID iD (`0000-0002-1825-0097`) with a valid ISO 7064 MOD 11-2 check character.
pub fn is_orcid(id: &str) -> bool {
    let digits: Vec<char> = id.chars().filter(|c| *c != '-').collect();
    let shape_ok = id.len() == 19
        && id.chars().enumerate().all(|(i, c)| {
            if [4, 9, 14].contains(&i) {
                c == '-'
            } else if i == 18 {
                c.is_ascii_digit() || c == 'X'
            } else {
                c.is_ascii_digit()
            }
        });
    if !shape_ok {
        return false;
    }
    let mut total = 0u32;
    for c in &digits[..15] {
        total = (total + c.to_digit(10).unwrap_or(0)) * 2;
    }
    let check = (12 - total % 11) % 11;
    let want = if check == 10 {
        'X'
    } else {
        char::from_digit(check, 10).unwrap_or('?')
    };
    digits[15] == want
}

/// A ROR identifier URL, `https://ror.org/0` + 6 base-32 characters + 2 check digits.
pub fn is_ror(id: &str) -> bool {
    id.strip_prefix("https://ror.org/0").is_some_and(|r| {
        r.len() == 8
            && r[..6]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b.is_ascii_lowercase() && !b"ilou".contains(&b)))
            && r[6..].bytes().all(|b| b.is_ascii_digit())
    })
}

/// Every problem of one entry: its schema, then SPDX ids, ORCIDs, RORs, the id/file name
/// agreement and (when `samples` is given) the size and SHA-256 of each listed sample file
/// found under it. `file` names the entry in the messages.
pub fn check_entry(file: &str, text: &str, samples: Option<&Path>) -> Vec<String> {
    let v: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return vec![format!("{file}:{}:{}: not JSON: {e}", e.line(), e.column())],
    };
    let mut out = Vec::new();
    if let Err(e) = validate(ENTRY_SCHEMA, &v, file) {
        out.push(format!("{e:#}"));
    }
    let stem = Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    if let Some(id) = v["id"].as_str()
        && id != stem
    {
        out.push(format!(
            "{file}: /id is {id:?} but the file is named {stem}.json"
        ));
    }
    let licence = |ptr: String, id: &str, out: &mut Vec<String>| {
        if !(is_spdx_id(id) || id == "NOASSERTION" || id.starts_with("LicenseRef-")) {
            out.push(format!(
                "{file}: {ptr}: {id:?} is not an SPDX licence identifier (see https://spdx.org/licenses/; use NOASSERTION or LicenseRef-<name> for other terms)"
            ));
        }
    };
    for (i, s) in v["dataset"]["raw_sources"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        if let Some(id) = s["licence"].as_str() {
            licence(format!("/dataset/raw_sources/{i}/licence"), id, &mut out);
        }
    }
    if let Some(id) = v["metadata"]["licence"]["id"].as_str() {
        licence("/metadata/licence/id".into(), id, &mut out);
    }
    let mut agents: Vec<(String, &Value)> = Vec::new();
    for key in ["creators", "contributors"] {
        for (i, a) in v["metadata"][key]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            agents.push((format!("/metadata/{key}/{i}"), a));
            for (j, f) in a["affiliations"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                agents.push((format!("/metadata/{key}/{i}/affiliations/{j}"), f));
            }
        }
    }
    agents.push(("/metadata/publisher".into(), &v["metadata"]["publisher"]));
    for (i, o) in v["owner_institutes"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        agents.push((format!("/owner_institutes/{i}"), o));
    }
    for (ptr, a) in agents {
        if let Some(o) = a["orcid"].as_str()
            && !is_orcid(o)
        {
            out.push(format!(
                "{file}: {ptr}/orcid: {o:?} is not a valid ORCID iD (16 digits as 0000-0000-0000-000X with a correct check character)"
            ));
        }
        if let Some(r) = a["ror"].as_str()
            && !is_ror(r)
        {
            out.push(format!(
                "{file}: {ptr}/ror: {r:?} is not a ROR identifier (https://ror.org/0xxxxxxNN)"
            ));
        }
    }
    out.extend(links::check_offline(file, &v));
    if v.pointer("/scoring/model").is_some() {
        // The model file resolves (embedded, or beside the entry's catalog/ folder) and has
        // the recorded SHA-256.
        let root = Path::new(file)
            .parent()
            .and_then(Path::parent)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if let Err(e) = crate::scoring::model::from_catalog(&v, Some(root)) {
            out.push(format!("{file}: /scoring/model: {e:#}"));
        }
    }
    if let Some(dir) = samples {
        for (i, f) in v["dataset"]["sample_files"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let Some(rel) = f["path"].as_str() else {
                continue;
            };
            let path = dir.join(rel);
            match std::fs::read(&path) {
                Ok(bytes) => {
                    let got = crate::hashing::sha256_hex(&bytes);
                    if Some(got.as_str()) != f["sha256"].as_str() {
                        out.push(format!(
                            "{file}: /dataset/sample_files/{i}/sha256: {} has SHA-256 {got}, the entry says {}",
                            path.display(),
                            f["sha256"].as_str().unwrap_or("nothing")
                        ));
                    }
                    if f["size"].as_u64().is_some_and(|s| s != bytes.len() as u64) {
                        out.push(format!(
                            "{file}: /dataset/sample_files/{i}/size: {} has {} bytes, the entry says {}",
                            path.display(),
                            bytes.len(),
                            f["size"]
                        ));
                    }
                }
                Err(e) => out.push(format!(
                    "{file}: /dataset/sample_files/{i}/path: cannot read {}: {e}",
                    path.display()
                )),
            }
        }
    }
    out
}

/// Checks every embedded entry (ids unique too); returns (file, problems) per entry.
pub fn check_all(samples: Option<&Path>) -> Vec<(String, Vec<String>)> {
    let mut seen = BTreeSet::new();
    ENTRIES
        .iter()
        .map(|(name, text)| {
            let file = format!("catalog/{name}");
            let mut problems = check_entry(&file, text, samples);
            if let Ok(v) = serde_json::from_str::<Value>(text)
                && let Some(ds) = v["dataset"]["name"].as_str()
                && !seen.insert(ds.to_string())
            {
                problems.push(format!(
                    "{file}: /dataset/name {ds:?} is used by another entry"
                ));
            }
            (file, problems)
        })
        .collect()
}

fn src(v: &Value) -> String {
    let mut s = String::new();
    if let Some(x) = v["source"].as_str() {
        let _ = write!(s, " [source: {x}");
        if let Some(st) = v["status"].as_str() {
            let _ = write!(s, "; {st}");
        }
        s.push(']');
    }
    s
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn count(v: &Value) -> String {
    v.as_u64().map(group).unwrap_or_else(|| "not known".into())
}

fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn anchor(name: &str) -> String {
    format!(
        "{}-specific-benchmark-targets",
        name.to_lowercase()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join("-")
    )
}

/// The working group's benchmark table and per-benchmark "Specific Benchmark Targets"
/// sections, filled in from the catalog, as Markdown (docs/benchmarks.md is this text).
pub fn render_markdown() -> Result<String> {
    let all = entries()?;
    let mut s = String::new();
    s.push_str("# Science benchmarks\n\n<!-- Generated by `sciml-data catalog render --format markdown` from catalog/*.json; do not edit by hand. -->\n\n");
    s.push_str("The MLCommons Science working group's benchmark table with its \"Specific Benchmark Targets\" filled in from the sciml-data catalog. Every fact names its source and status (VERIFIED, STATED, INFERRED, NOT FOUND; see catalog/README.md).\n\n");
    s.push_str("| Benchmark | Science | Task | Owner Institute | Specific Benchmark Targets | sciml-data dataset |\n|---|---|---|---|---|---|\n");
    for e in &all {
        let owners: Vec<&str> = e["owner_institutes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| o["name"].as_str())
            .collect();
        let name = e["name"].as_str().unwrap_or("?");
        let _ = writeln!(
            s,
            "| {name} | {} | {} | {} | [targets](#{}) | `{}` (source `{}`) |",
            e["science_domain"].as_str().unwrap_or("?"),
            e["task"].as_str().unwrap_or("?"),
            owners.join(", "),
            anchor(e["id"].as_str().unwrap_or("?")),
            e["dataset"]["name"].as_str().unwrap_or("?"),
            e["dataset"]["source"].as_str().unwrap_or("?"),
        );
    }
    for e in &all {
        let id = e["id"].as_str().unwrap_or("?");
        let name = e["name"].as_str().unwrap_or("?");
        let _ = writeln!(
            s,
            "\n## {name}\n\n{}\n",
            one_line(e["description"].as_str().unwrap_or(""))
        );
        let _ = writeln!(
            s,
            "<a id=\"{}\"></a>\n\n#### {name} Specific Benchmark Targets:\n",
            anchor(id)
        );
        let o = &e["objective"];
        let t = &o["target"];
        let target = t["as_written"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| {
                match (t["value"].as_f64(), t["low"].as_f64(), t["high"].as_f64()) {
                    (Some(v), _, _) => format!("{} {v}", t["operator"].as_str().unwrap_or("")),
                    (_, Some(l), Some(h)) => format!("{l} .. {h}"),
                    _ => "?".into(),
                }
            });
        let _ = writeln!(s, "1. Scientific objective(s):");
        let _ = writeln!(
            s,
            "   * Metric: {}",
            one_line(o["metric"].as_str().unwrap_or("?"))
        );
        let _ = writeln!(
            s,
            "   * Formula: {}{}",
            one_line(o["formula"].as_str().unwrap_or("?")),
            src(o)
        );
        let _ = writeln!(
            s,
            "   * Score: {target} ({})",
            o["direction"].as_str().unwrap_or("?").replace('_', " ")
        );
        let rr = &o["reference_result"];
        let _ = writeln!(
            s,
            "   * Reference result: {}{}",
            one_line(rr["description"].as_str().unwrap_or("?")),
            src(rr)
        );
        let d = &e["dataset"];
        let _ = writeln!(s, "2. Data");
        for r in d["raw_sources"].as_array().into_iter().flatten() {
            let _ = writeln!(
                s,
                "   * Download: {} <{}> (licence {}){}",
                r["name"].as_str().unwrap_or("?"),
                r["url"].as_str().unwrap_or("?"),
                r["licence"].as_str().unwrap_or("?"),
                src(r)
            );
        }
        let _ = writeln!(
            s,
            "   * Data size: {}{}",
            one_line(d["size"]["description"].as_str().unwrap_or("?")),
            src(&d["size"])
        );
        let shape = d["input_shape"]["shape"]
            .as_array()
            .map(|a| {
                format!(
                    "({})",
                    a.iter()
                        .map(|x| x.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
            .unwrap_or_else(|| "not known".into());
        let _ = writeln!(
            s,
            "   * Input Size: {shape}: {}{}",
            one_line(d["input_shape"]["description"].as_str().unwrap_or("")),
            src(&d["input_shape"])
        );
        let sm = &d["samples"];
        let unit = sm["unit"].as_str().unwrap_or("samples");
        let _ = writeln!(s, "   * Training samples: {} {unit}", count(&sm["train"]));
        let _ = writeln!(
            s,
            "   * Validation samples: {} {unit}",
            count(&sm["validation"])
        );
        let _ = writeln!(
            s,
            "   * Test samples: {} {unit}{}",
            count(&sm["test"]),
            src(sm)
        );
        if let Some(desc) = sm["description"].as_str() {
            let _ = writeln!(s, "   * Samples: {}", one_line(desc));
        }
        let _ = writeln!(
            s,
            "   * Splits: {}{}",
            one_line(d["splits"]["description"].as_str().unwrap_or("?")),
            src(&d["splits"])
        );
        let _ = writeln!(s, "3. Baseline implementation");
        for m in e["baseline_models"].as_array().into_iter().flatten() {
            let params = m["parameters"]
                .as_u64()
                .map(|p| format!(", {} parameters", group(p)))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "   * Model: {} ({}{params}): {}{}",
                m["name"].as_str().unwrap_or("?"),
                m["framework"].as_str().unwrap_or("?"),
                one_line(m["description"].as_str().unwrap_or("")),
                src(m)
            );
        }
        for c in e["reference_code"].as_array().into_iter().flatten() {
            let path = c["path"]
                .as_str()
                .filter(|p| !p.is_empty())
                .map(|p| format!(" {p}"))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "   * Reference Code: {} @ {}{path}{}",
                c["url"].as_str().unwrap_or("?"),
                c["commit"].as_str().unwrap_or("?"),
                c["description"]
                    .as_str()
                    .map(|d| format!(": {}", one_line(d)))
                    .unwrap_or_default()
            );
        }
        let ri = &e["run_instructions"];
        let _ = writeln!(
            s,
            "   * Run Instructions: {}{}{}",
            ri["url"]
                .as_str()
                .map(|u| format!("<{u}> "))
                .unwrap_or_default(),
            one_line(ri["description"].as_str().unwrap_or("?")),
            src(ri)
        );
        let _ = writeln!(s, "4. Hardware systems explored and performance:");
        let perf = e["hardware_and_performance"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if perf.is_empty() {
            let _ = writeln!(s, "   * none published (NOT FOUND)");
        }
        for p in &perf {
            let _ = writeln!(
                s,
                "   * {}: {} ({}){}",
                p["system"].as_str().unwrap_or("?"),
                p["time"].as_str().unwrap_or("?"),
                one_line(p["result"].as_str().unwrap_or("")),
                src(p)
            );
        }
        let _ = writeln!(s, "5. Example improvements:");
        for x in e["example_improvements"].as_array().into_iter().flatten() {
            let _ = writeln!(s, "   * {}", one_line(x.as_str().unwrap_or("")));
        }
        let papers = e["papers"].as_array().cloned().unwrap_or_default();
        if !papers.is_empty() {
            let _ = writeln!(s, "\nPapers:\n");
            for p in &papers {
                let authors: Vec<&str> = p["authors"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                let link = p["doi"]
                    .as_str()
                    .map(|d| format!("doi:{d}"))
                    .or_else(|| p["url"].as_str().map(String::from))
                    .unwrap_or_default();
                let _ = writeln!(
                    s,
                    "- {}, \"{}\", {}, {}. {link}",
                    authors.join(", "),
                    p["title"].as_str().unwrap_or("?"),
                    p["venue"].as_str().unwrap_or(""),
                    p["year"]
                );
            }
        }
        let caveats = e["caveats"].as_array().cloned().unwrap_or_default();
        if !caveats.is_empty() {
            let _ = writeln!(s, "\nCaveats:\n");
            for c in &caveats {
                let _ = writeln!(
                    s,
                    "- {}{}",
                    one_line(c["description"].as_str().unwrap_or("")),
                    src(c)
                );
            }
        }
    }
    Ok(s)
}

/// One line per benchmark: id, name, science, task, dataset/source.
pub fn list_text() -> Result<String> {
    let mut s = String::new();
    for e in entries()? {
        let _ = writeln!(
            s,
            "{:<12} {:<40} {:<10} {:<15} dataset {} (source {})",
            e["id"].as_str().unwrap_or("?"),
            e["name"].as_str().unwrap_or("?"),
            e["science_domain"].as_str().unwrap_or("?"),
            e["task"].as_str().unwrap_or("?"),
            e["dataset"]["name"].as_str().unwrap_or("?"),
            e["dataset"]["source"].as_str().unwrap_or("?")
        );
    }
    Ok(s)
}

/// `sciml-data catalog ...`.
#[derive(Debug, clap::Subcommand)]
pub enum CatalogCommand {
    /// One line per benchmark the catalog knows.
    List,
    /// Print one entry (JSON): sciml-data catalog show stemdl
    Show {
        /// Benchmark id (see `catalog list`).
        id: String,
    },
    /// Print the working group's benchmark table and target sections, filled in.
    Render {
        #[arg(long, value_enum, default_value = "markdown")]
        format: RenderFormat,
    },
    /// Check the embedded entries (or the given files): schema, SPDX ids, ORCIDs, RORs, the
    /// form of every URL and DOI, the baseline model's SHA-256 and, with --samples, the size
    /// and SHA-256 of each listed sample file; with --links, also that every link resolves
    /// over the network. Exit 1 on a problem.
    ///
    /// Examples:
    ///   sciml-data catalog check
    ///   sciml-data catalog check --samples ../shared/realdata --links
    ///   sciml-data catalog check my-benchmark.json
    Check {
        /// Entry files to check instead of the embedded catalog.
        files: Vec<std::path::PathBuf>,
        /// Directory the entries' `dataset.sample_files[].path` are relative to
        /// (e.g. ../shared/realdata).
        #[arg(long, value_name = "DIR")]
        samples: Option<std::path::PathBuf>,
        /// Also resolve every link (HEAD, or a one-byte GET where HEAD is refused; redirects
        /// followed; DOIs through https://doi.org). Needs the network.
        #[arg(long)]
        links: bool,
        /// Per-request time limit of --links, in seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 30)]
        link_timeout: u64,
        /// DOI resolver of --links (a mirror or proxy); the DOI is appended to it.
        #[arg(long, value_name = "URL", default_value = links::DOI_RESOLVER)]
        doi_resolver: String,
    },
}

/// Output formats of `catalog render`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum RenderFormat {
    Markdown,
}

/// Runs a `catalog` subcommand.
pub async fn run_command(c: CatalogCommand) -> Result<std::process::ExitCode> {
    match c {
        CatalogCommand::List => print!("{}", list_text()?),
        CatalogCommand::Show { id } => println!("{}", serde_json::to_string_pretty(&entry(&id)?)?),
        CatalogCommand::Render {
            format: RenderFormat::Markdown,
        } => print!("{}", render_markdown()?),
        CatalogCommand::Check {
            files,
            samples,
            links: online,
            link_timeout,
            doi_resolver,
        } => {
            // (file, text) of every entry to check.
            let texts: Vec<(String, Result<String, String>)> = if files.is_empty() {
                ENTRIES
                    .iter()
                    .map(|(n, t)| (format!("catalog/{n}"), Ok(t.to_string())))
                    .collect()
            } else {
                files
                    .iter()
                    .map(|f| {
                        let name = f.display().to_string();
                        let t = std::fs::read_to_string(f)
                            .map_err(|e| format!("{name}: cannot read: {e}"));
                        (name, t)
                    })
                    .collect()
            };
            let mut results: Vec<(String, Vec<String>)> = if files.is_empty() {
                check_all(samples.as_deref())
            } else {
                texts
                    .iter()
                    .map(|(name, t)| match t {
                        Ok(t) => (name.clone(), check_entry(name, t, samples.as_deref())),
                        Err(e) => (name.clone(), vec![e.clone()]),
                    })
                    .collect()
            };
            if online {
                let parsed: Vec<Option<Value>> = texts
                    .iter()
                    .map(|(_, t)| t.as_ref().ok().and_then(|t| serde_json::from_str(t).ok()))
                    .collect();
                let urls = parsed
                    .iter()
                    .flatten()
                    .flat_map(|v| links::links(v).into_iter().map(|l| l.url));
                let resolved = links::resolve_all(
                    urls,
                    &doi_resolver,
                    std::time::Duration::from_secs(link_timeout.max(1)),
                    8,
                )
                .await?;
                let bad = resolved
                    .values()
                    .filter(|r| !matches!(r, links::Resolution::Ok(_)))
                    .count();
                eprintln!(
                    "links: {} distinct, {} resolved, {bad} did not",
                    resolved.len(),
                    resolved.len() - bad
                );
                for ((name, problems), v) in results.iter_mut().zip(&parsed) {
                    if let Some(v) = v {
                        problems.extend(links::report(name, v, &resolved));
                    }
                }
            }
            let mut bad = false;
            for (file, problems) in &results {
                if problems.is_empty() {
                    println!("ok     {file}");
                } else {
                    bad = true;
                    println!("FAILED {file}");
                    for p in problems {
                        for line in p.lines() {
                            println!("  {line}");
                        }
                    }
                }
            }
            if bad {
                return Ok(std::process::ExitCode::from(1));
            }
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_validates() {
        let all = entries().unwrap();
        assert_eq!(all.len(), ENTRIES.len());
        assert_eq!(entry("tevolop").unwrap()["dataset"]["name"], "tevolop");
        for (file, problems) in check_all(None) {
            assert!(problems.is_empty(), "{file}: {problems:?}");
        }
    }

    #[test]
    fn identifiers_are_checked_beyond_their_shape() {
        // The ORCID documentation's example iD, and the same with a wrong check digit.
        assert!(is_orcid("0000-0002-1825-0097"));
        assert!(!is_orcid("0000-0002-1825-0098"));
        assert!(!is_orcid("0000-0002-1825-009"));
        assert!(is_orcid("0000-0002-1694-233X"));
        assert!(is_spdx_id("Apache-2.0") && is_spdx_id("CC-BY-4.0"));
        assert!(!is_spdx_id("Apache-2") && !is_spdx_id("CC-BY"));
        assert!(is_ror("https://ror.org/02mhbdp94"));
        assert!(!is_ror("ror.org/02mhbdp94") && !is_ror("https://ror.org/12mhbdp94"));
    }

    #[test]
    fn a_broken_entry_is_rejected_with_its_path() {
        let mut v: Value = serde_json::from_str(ENTRIES[ENTRIES.len() - 1].1).unwrap();
        v.as_object_mut().unwrap().remove("objective");
        let err = validate(ENTRY_SCHEMA, &v, "x").unwrap_err().to_string();
        assert!(err.contains("objective"), "{err}");
    }
}

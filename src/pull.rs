//! `pull`: download a version, or only the part of it a user asks for, verifying every object
//! against the manifest before it is moved into place.
//!
//! The result is a local repository (`<to>/<dataset>/<version>/` plus its version record) that
//! holds a partial copy of the bag: the same layout and the same objects, readable by zarr-python,
//! xarray and pyarrow. What was selected is listed in `<to>/<dataset>/partial/<version>.json`, so
//! that `verify` reports unselected objects as "not pulled" rather than missing. Requests and bytes
//! are proportional to the selection: the manifest, the tag files, and the selected objects (plus
//! the `zarr.json` of each selected array and its parent groups).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::address::Address;
use crate::bag;
use crate::hashing::sha256_hex;
use crate::progress;
use crate::remote::Remote;

/// Name of the directory (inside a dataset) that lists what a partial copy holds.
pub const PARTIAL_DIR: &str = "partial";

/// A comparison on a hive partition key (`year>=2010`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Predicate {
    pub key: String,
    pub op: String,
    pub value: String,
}

impl Predicate {
    /// Parses `key<op>value` with op one of `=`, `==`, `!=`, `>=`, `<=`, `>`, `<`.
    pub fn parse(s: &str) -> Result<Predicate> {
        for op in ["==", "!=", ">=", "<=", "=", ">", "<"] {
            if let Some((k, v)) = s.split_once(op) {
                let (k, v) = (k.trim(), v.trim().trim_matches(['\'', '"']));
                if k.is_empty() || v.is_empty() {
                    break;
                }
                return Ok(Predicate {
                    key: k.to_string(),
                    op: if op == "==" {
                        "=".into()
                    } else {
                        op.to_string()
                    },
                    value: v.to_string(),
                });
            }
        }
        bail!(
            "--where {s:?}: expected <partition key><op><value>, e.g. year>=2010 (ops: = != >= <= > <)"
        )
    }

    fn matches(&self, actual: &str) -> bool {
        use std::cmp::Ordering::*;
        let ord = match (actual.parse::<f64>(), self.value.parse::<f64>()) {
            (Ok(a), Ok(b)) => a.partial_cmp(&b).unwrap_or(Equal),
            _ => actual.cmp(self.value.as_str()),
        };
        match self.op.as_str() {
            "=" => ord == Equal,
            "!=" => ord != Equal,
            ">=" => ord != Less,
            "<=" => ord != Greater,
            ">" => ord == Greater,
            _ => ord == Less,
        }
    }
}

/// An index range selection on an array: `daily/n_shock[0:10, :, 5]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArraySelect {
    pub array: String,
    /// Per dimension: `None` = everything, `Some((start, end))` half-open.
    pub ranges: Vec<Option<(u64, u64)>>,
}

impl ArraySelect {
    pub fn parse(s: &str) -> Result<ArraySelect> {
        let err = || {
            anyhow::anyhow!(
                "--select {s:?}: expected <array>[<start>:<end>, :, <index>, …], e.g. 'daily/n_shock[0:365, :, :]'"
            )
        };
        let (name, rest) = s.split_once('[').ok_or_else(err)?;
        let inner = rest.trim().strip_suffix(']').ok_or_else(err)?;
        let mut ranges = Vec::new();
        for part in inner.split(',') {
            let part = part.trim();
            if part == ":" || part.is_empty() {
                ranges.push(None);
            } else if let Some((a, b)) = part.split_once(':') {
                let a: u64 = if a.trim().is_empty() {
                    0
                } else {
                    a.trim().parse().map_err(|_| err())?
                };
                let b: u64 = if b.trim().is_empty() {
                    u64::MAX
                } else {
                    b.trim().parse().map_err(|_| err())?
                };
                if b <= a {
                    bail!("--select {s:?}: empty range {part}");
                }
                ranges.push(Some((a, b)));
            } else {
                let i: u64 = part.parse().map_err(|_| err())?;
                ranges.push(Some((i, i + 1)));
            }
        }
        Ok(ArraySelect {
            array: name.trim().to_string(),
            ranges,
        })
    }
}

/// What to pull. Empty = the whole version.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Selection {
    pub tables: Vec<String>,
    pub arrays: Vec<String>,
    pub splits: Vec<String>,
    pub wheres: Vec<Predicate>,
    pub selects: Vec<ArraySelect>,
}

impl Selection {
    pub fn is_everything(&self) -> bool {
        self.tables.is_empty()
            && self.arrays.is_empty()
            && self.splits.is_empty()
            && self.wheres.is_empty()
            && self.selects.is_empty()
    }
}

/// Pull options.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    pub selection: Selection,
    pub dry_run: bool,
    pub jobs: usize,
    pub progress: bool,
}

/// What a pull did (or, with --dry-run, would do).
#[derive(Debug, Clone, Serialize)]
pub struct PullReport {
    pub address: String,
    pub digest: String,
    pub selected_objects: u64,
    pub selected_bytes: u64,
    pub total_objects: u64,
    pub total_bytes: u64,
    pub downloaded_objects: u64,
    pub downloaded_bytes: u64,
    pub already_present: u64,
    pub dry_run: bool,
    pub destination: PathBuf,
}

/// The partial-copy marker.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PartialCopy {
    pub source: String,
    pub digest: String,
    pub selections: Vec<Selection>,
    pub paths: BTreeSet<String>,
}

/// Reads the partial-copy marker of a local version, if any.
pub fn read_partial(repo_root: &Path, dataset: &str, version: &str) -> Option<PartialCopy> {
    let p = repo_root
        .join(dataset)
        .join(PARTIAL_DIR)
        .join(format!("{version}.json"));
    serde_json::from_slice(&std::fs::read(p).ok()?).ok()
}

/// The hive `key=value` segments of a path.
fn hive(path: &str) -> BTreeMap<&str, &str> {
    path.split('/')
        .filter_map(|seg| seg.split_once('='))
        .collect()
}

/// The table a Parquet path belongs to: the directory above the first hive segment
/// (`data/events/year=2020/part-0.parquet` -> `events`), else the file stem
/// (`data/splits/locations.parquet` -> `locations`).
pub fn table_of(path: &str) -> Option<String> {
    if !path.ends_with(".parquet") {
        return None;
    }
    let segs: Vec<&str> = path.split('/').collect();
    if let Some(i) = segs.iter().position(|s| s.contains('=')) {
        return (i > 0).then(|| segs[i - 1].to_string());
    }
    segs.last()
        .and_then(|f| f.strip_suffix(".parquet"))
        .map(String::from)
}

/// The array a Zarr chunk or metadata path belongs to (the path before `/c/` or `/zarr.json`).
fn array_of(path: &str, arrays: &BTreeSet<String>) -> Option<String> {
    if let Some((a, _)) = path.split_once("/c/") {
        return Some(a.to_string());
    }
    path.strip_suffix("/zarr.json")
        .filter(|a| arrays.contains(*a))
        .map(String::from)
}

fn name_matches(array_path: &str, name: &str) -> bool {
    let name = name.trim_matches('/');
    array_path == name || array_path.ends_with(&format!("/{name}"))
}

/// Ancestor group `zarr.json` files of an array, inside its `.zarr` root.
fn ancestors_metadata(array_path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let Some(root_end) = array_path.find(".zarr") else {
        return out;
    };
    let root = &array_path[..root_end + 5];
    let mut cur = array_path;
    while let Some((parent, _)) = cur.rsplit_once('/') {
        if parent.len() < root.len() {
            break;
        }
        out.push(format!("{parent}/zarr.json"));
        cur = parent;
    }
    out
}

/// Selects payload paths. `zarr_meta` gives the parsed `zarr.json` of arrays that need it.
fn select(
    manifest: &BTreeMap<String, String>,
    sel: &Selection,
    zarr_meta: &BTreeMap<String, serde_json::Value>,
) -> Result<BTreeSet<String>> {
    let arrays: BTreeSet<String> = manifest
        .keys()
        .filter_map(|p| p.split_once("/c/").map(|(a, _)| a.to_string()))
        .collect();
    let mut chosen: BTreeSet<String> = BTreeSet::new();
    let everything = sel.tables.is_empty() && sel.arrays.is_empty() && sel.selects.is_empty();
    for path in manifest.keys() {
        let by_table = table_of(path).is_some_and(|t| sel.tables.iter().any(|w| w == &t));
        let by_array =
            array_of(path, &arrays).is_some_and(|a| sel.arrays.iter().any(|n| name_matches(&a, n)));
        if everything || by_table || by_array {
            chosen.insert(path.clone());
        }
    }
    for t in &sel.tables {
        if !manifest
            .keys()
            .any(|p| table_of(p).as_deref() == Some(t.as_str()))
        {
            let known: BTreeSet<String> = manifest.keys().filter_map(|p| table_of(p)).collect();
            bail!(
                "no table {t:?} in this version (tables: {})",
                known.into_iter().collect::<Vec<_>>().join(", ")
            );
        }
    }
    for n in sel
        .arrays
        .iter()
        .chain(sel.selects.iter().map(|s| &s.array))
    {
        if !arrays.iter().any(|a| name_matches(a, n)) {
            bail!(
                "no array {n:?} in this version (arrays: {})",
                arrays.iter().cloned().collect::<Vec<_>>().join(", ")
            );
        }
    }
    // Index-range selections: only the chunks (or shards) that intersect the ranges.
    for s in &sel.selects {
        for a in arrays.iter().filter(|a| name_matches(a, &s.array)) {
            let meta = zarr_meta
                .get(a)
                .with_context(|| format!("no metadata for array {a}"))?;
            for key in chunk_keys(a, meta, &s.ranges)? {
                if manifest.contains_key(&key) {
                    chosen.insert(key);
                }
            }
        }
    }
    // Partition filters apply to the paths that have the key.
    chosen.retain(|p| {
        let h = hive(p);
        sel.wheres
            .iter()
            .all(|w| h.get(w.key.as_str()).is_none_or(|v| w.matches(v)))
            && (sel.splits.is_empty()
                || h.get("split")
                    .is_none_or(|v| sel.splits.iter().any(|s| s == v)))
    });
    // Arrays need their own metadata and that of their parent groups.
    let touched: BTreeSet<String> = chosen.iter().filter_map(|p| array_of(p, &arrays)).collect();
    for a in touched {
        for m in std::iter::once(format!("{a}/zarr.json")).chain(ancestors_metadata(&a)) {
            if manifest.contains_key(&m) {
                chosen.insert(m);
            }
        }
    }
    Ok(chosen)
}

/// The chunk keys of `array` (a payload path) intersecting `ranges`, from its zarr.json.
fn chunk_keys(
    array: &str,
    meta: &serde_json::Value,
    ranges: &[Option<(u64, u64)>],
) -> Result<Vec<String>> {
    let shape: Vec<u64> =
        serde_json::from_value(meta["shape"].clone()).context("zarr.json has no shape")?;
    let chunk: Vec<u64> =
        serde_json::from_value(meta["chunk_grid"]["configuration"]["chunk_shape"].clone())
            .with_context(|| format!("{array}: only regular chunk grids can be sliced"))?;
    if ranges.len() != shape.len() {
        bail!(
            "{array} has {} dimensions (shape {shape:?}) but the selection gives {}",
            shape.len(),
            ranges.len()
        );
    }
    let enc = &meta["chunk_key_encoding"];
    let sep = enc["configuration"]["separator"]
        .as_str()
        .unwrap_or("/")
        .to_string();
    let default_enc = enc["name"].as_str().unwrap_or("default") == "default";
    let mut per_dim: Vec<std::ops::Range<u64>> = Vec::new();
    for (d, r) in ranges.iter().enumerate() {
        let (a, b) = r.unwrap_or((0, shape[d]));
        let b = b.min(shape[d]);
        if a >= shape[d] || b <= a {
            bail!(
                "{array}: range {a}:{b} is outside dimension {d} of size {}",
                shape[d]
            );
        }
        per_dim.push(a / chunk[d]..(b - 1) / chunk[d] + 1);
    }
    let mut keys = Vec::new();
    let mut idx: Vec<u64> = per_dim.iter().map(|r| r.start).collect();
    loop {
        let parts: Vec<String> = idx.iter().map(|i| i.to_string()).collect();
        let key = if default_enc {
            format!("c{sep}{}", parts.join(&sep))
        } else {
            parts.join(&sep)
        };
        keys.push(format!("{array}/{key}"));
        // Odometer increment.
        let mut d = idx.len();
        loop {
            if d == 0 {
                return Ok(keys);
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] < per_dim[d].end {
                break;
            }
            idx[d] = per_dim[d].start;
        }
    }
}

/// Downloads `rel` into `dest`, hashing the stream; moves it into place only if it matches.
async fn fetch_verified(
    remote: &Remote,
    rel: &str,
    dest: &Path,
    sha256: &str,
    bar: &indicatif::ProgressBar,
) -> Result<u64> {
    if let Some(parent) = dest.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    let tmp = dest.with_extension(format!(
        "{}part",
        dest.extension()
            .map(|e| format!("{}.", e.to_string_lossy()))
            .unwrap_or_default()
    ));
    let mut last_err = None;
    for _attempt in 0..3 {
        let mut stream = remote.stream(rel).await?;
        let mut file = tokio::fs::File::create(&tmp)
            .await
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        let mut hasher = Sha256::new();
        let mut n = 0u64;
        let mut failed = None;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(c) => {
                    hasher.update(&c);
                    n += c.len() as u64;
                    file.write_all(&c).await?;
                }
                Err(e) => {
                    failed = Some(anyhow::anyhow!("download of {rel} broke off: {e}"));
                    break;
                }
            }
        }
        file.flush().await?;
        drop(file);
        if let Some(e) = failed {
            last_err = Some(e);
            continue;
        }
        let actual = hex::encode(hasher.finalize());
        if actual != sha256 {
            last_err = Some(anyhow::anyhow!(
                "{rel}: the downloaded bytes do not match the manifest (expected {sha256}, got {actual}); not accepted"
            ));
            continue;
        }
        tokio::fs::rename(&tmp, dest).await?;
        bar.inc(n);
        return Ok(n);
    }
    let _ = tokio::fs::remove_file(&tmp).await;
    Err(last_err.unwrap_or_else(|| anyhow::anyhow!("cannot download {rel}")))
}

/// Pulls `addr` (in a remote repository) into the local repository directory `to`.
pub async fn pull(addr: &Address, to: &Path, opts: &PullOptions) -> Result<PullReport> {
    let version = addr.require_version()?.clone();
    let remote = Remote::open(&addr.repository)?;
    let dataset = &addr.dataset;
    let record = match remote.record(dataset, &version).await? {
        Some(r) => r,
        None => bail!(
            "{addr}: no such version (no {}/{dataset}/versions/{version}.json)",
            remote.url
        ),
    };
    let base = format!("{dataset}/{version}");
    let get = |rel: String| {
        let remote = &remote;
        async move {
            remote
                .get(&rel)
                .await?
                .with_context(|| format!("{}/{rel} is missing", remote.url))
        }
    };
    // The manifest is what the digest names: check it before trusting anything it says.
    let manifest_bytes = remote
        .get_verified(&format!("{base}/{}", bag::MANIFEST), record.digest_hex())
        .await
        .with_context(|| {
            format!("{addr}: the manifest does not match the version's digest; refusing to pull")
        })?;
    let manifest = bag::parse_manifest(&String::from_utf8_lossy(&manifest_bytes), bag::MANIFEST)?;
    let tag_bytes = get(format!("{base}/{}", bag::TAGMANIFEST)).await?;
    let tag_bytes = if bag::parse_manifest(&String::from_utf8_lossy(&tag_bytes), bag::TAGMANIFEST)
        .is_ok_and(|t| {
            t.get(bag::MANIFEST).map(String::as_str) == Some(sha256_hex(&manifest_bytes).as_str())
        }) {
        tag_bytes
    } else {
        // Damaged in transit? One more try before giving up.
        get(format!("{base}/{}", bag::TAGMANIFEST)).await?
    };
    let tags = bag::parse_manifest(&String::from_utf8_lossy(&tag_bytes), bag::TAGMANIFEST)?;
    if tags.get(bag::MANIFEST).map(String::as_str) != Some(sha256_hex(&manifest_bytes).as_str()) {
        bail!("{addr}: the tag manifest does not cover the manifest it came with");
    }
    // Tag files (small): fetched and checked against the tag manifest.
    let mut tag_files: BTreeMap<String, bytes::Bytes> = BTreeMap::new();
    for (path, sha) in &tags {
        let bytes = if path == bag::MANIFEST {
            manifest_bytes.clone()
        } else {
            remote
                .get_verified(&format!("{base}/{path}"), sha)
                .await
                .with_context(|| {
                    format!(
                        "{addr}: tag file {path} does not match the tag manifest; refusing to pull"
                    )
                })?
        };
        tag_files.insert(path.clone(), bytes);
    }
    let sizes = match tag_files.get(bag::SIZES) {
        Some(b) => bag::parse_sizes(&String::from_utf8_lossy(b), bag::SIZES)?,
        None => BTreeMap::new(),
    };

    // Array metadata needed for index-range selections.
    let mut zarr_meta = BTreeMap::new();
    for s in &opts.selection.selects {
        for key in manifest.keys().filter(|k| k.ends_with("/zarr.json")) {
            let a = key.trim_end_matches("/zarr.json");
            if name_matches(a, &s.array) && !zarr_meta.contains_key(a) {
                let b = remote
                    .get_verified(&format!("{base}/{key}"), &manifest[key])
                    .await?;
                let v: serde_json::Value =
                    serde_json::from_slice(&b).with_context(|| format!("{key} is not JSON"))?;
                if v["node_type"] == "array" {
                    zarr_meta.insert(a.to_string(), v);
                }
            }
        }
    }
    let chosen = select(&manifest, &opts.selection, &zarr_meta)?;
    let size_of = |p: &String| sizes.get(p).copied().unwrap_or(0);
    let mut report = PullReport {
        address: addr.to_string(),
        digest: record.digest.clone(),
        selected_objects: chosen.len() as u64,
        selected_bytes: chosen.iter().map(size_of).sum(),
        total_objects: manifest.len() as u64,
        total_bytes: manifest.keys().map(size_of).sum(),
        downloaded_objects: 0,
        downloaded_bytes: 0,
        already_present: 0,
        dry_run: opts.dry_run,
        destination: to.join(dataset).join(version.to_string()),
    };
    if opts.dry_run {
        return Ok(report);
    }

    // Download what is not already here (files are moved into place only once verified,
    // so a present file of the right size is a verified one: that is how a pull resumes).
    let bag_dir = report.destination.clone();
    std::fs::create_dir_all(&bag_dir)
        .with_context(|| format!("cannot create {}", bag_dir.display()))?;
    let mut todo = Vec::new();
    for p in &chosen {
        let dest = bag_dir.join(p);
        match std::fs::metadata(&dest) {
            Ok(m) if m.len() == size_of(p) && sizes.contains_key(p) => report.already_present += 1,
            _ => todo.push(p.clone()),
        }
    }
    let total: u64 = todo.iter().map(size_of).sum();
    let bar = progress::bytes_bar(opts.progress, total, "pulling");
    let results: Vec<Result<u64>> = futures::stream::iter(todo.iter())
        .map(|p| {
            let (remote, bar, base, bag_dir, manifest) =
                (&remote, &bar, &base, &bag_dir, &manifest);
            async move {
                fetch_verified(
                    remote,
                    &format!("{base}/{p}"),
                    &bag_dir.join(p),
                    &manifest[p],
                    bar,
                )
                .await
            }
        })
        .buffer_unordered(opts.jobs.max(1))
        .collect()
        .await;
    bar.finish_and_clear();
    for r in results {
        report.downloaded_bytes += r?;
        report.downloaded_objects += 1;
    }
    for (path, bytes) in &tag_files {
        let dest = bag_dir.join(path);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&dest, bytes)?;
    }
    std::fs::write(bag_dir.join(bag::TAGMANIFEST), &tag_bytes)?;

    // What this copy holds, then the record (last).
    let ds_dir = to.join(dataset);
    let mut partial = read_partial(to, dataset, &version.to_string()).unwrap_or_default();
    partial.source = addr.to_string();
    partial.digest = record.digest.clone();
    partial.paths.extend(chosen.iter().cloned());
    partial.selections.push(opts.selection.clone());
    let partial_path = ds_dir.join(PARTIAL_DIR).join(format!("{version}.json"));
    if partial.paths.len() == manifest.len() {
        let _ = std::fs::remove_file(&partial_path);
    } else {
        std::fs::create_dir_all(ds_dir.join(PARTIAL_DIR))?;
        std::fs::write(&partial_path, serde_json::to_vec_pretty(&partial)?)?;
    }
    std::fs::create_dir_all(ds_dir.join("versions"))?;
    std::fs::write(
        ds_dir.join("versions").join(format!("{version}.json")),
        serde_json::to_vec_pretty(&record)?,
    )?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicates() {
        let p = Predicate::parse("year>=2010").unwrap();
        assert!(p.matches("2010") && p.matches("2023") && !p.matches("2009"));
        assert!(Predicate::parse("SOURCE='CCLE'").unwrap().matches("CCLE"));
        assert!(Predicate::parse("year").is_err());
        assert!(Predicate::parse(">=3").is_err());
    }

    #[test]
    fn tables_and_arrays() {
        assert_eq!(
            table_of("data/events/year=2020/part-0.parquet").as_deref(),
            Some("events")
        );
        assert_eq!(
            table_of("data/splits/locations.parquet").as_deref(),
            Some("locations")
        );
        assert_eq!(table_of("data/grid.zarr/daily/n_shock/c/0/0/0"), None);
        assert_eq!(
            ancestors_metadata("data/grid.zarr/daily/n_shock"),
            vec!["data/grid.zarr/daily/zarr.json", "data/grid.zarr/zarr.json"]
        );
    }

    #[test]
    fn index_ranges_map_to_chunks() {
        let meta = serde_json::json!({
            "shape": [1000, 40, 60],
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [365, 40, 60]}},
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        });
        let s = ArraySelect::parse("daily/n_shock[0:366, :, 3]").unwrap();
        let keys = chunk_keys("a", &meta, &s.ranges).unwrap();
        assert_eq!(keys, vec!["a/c/0/0/0", "a/c/1/0/0"]);
        let s = ArraySelect::parse("x[999, :, :]").unwrap();
        assert_eq!(
            chunk_keys("a", &meta, &s.ranges).unwrap(),
            vec!["a/c/2/0/0"]
        );
        assert!(
            chunk_keys(
                "a",
                &meta,
                &ArraySelect::parse("x[1000, :, :]").unwrap().ranges
            )
            .is_err()
        );
        assert!(chunk_keys("a", &meta, &ArraySelect::parse("x[0:1]").unwrap().ranges).is_err());
        assert!(ArraySelect::parse("x[5:2, :]").is_err());
    }
}

//! `diff`: added, removed and changed payload objects between two versions, with sizes;
//! for every Zarr array, which chunks changed; for every Parquet table, the row counts and
//! schema changes (read from the Parquet footers and `zarr.json` files of both versions).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::bag::{self, FileEntry, Inventory};
use crate::metadata::facts::{ColumnFacts, Layout};

/// How one object changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Added,
    Removed,
    Changed,
}

/// One changed object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffEntry {
    pub path: String,
    pub change: Change,
    pub old_size: Option<u64>,
    pub new_size: Option<u64>,
}

/// How a table or an array changed as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeChange {
    Added,
    Removed,
    Changed,
    Unchanged,
}

/// A column whose Arrow type changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnTypeChange {
    pub name: String,
    pub old: String,
    pub new: String,
}

/// How one Parquet table changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableDiff {
    /// Table name (path under `data/` without partitions), e.g. `events`.
    pub name: String,
    pub change: NodeChange,
    pub old_rows: Option<u64>,
    pub new_rows: Option<u64>,
    pub old_files: Option<usize>,
    pub new_files: Option<usize>,
    /// Files of the table that were added, removed or changed.
    pub files_changed: usize,
    pub columns_added: Vec<ColumnFacts>,
    pub columns_removed: Vec<ColumnFacts>,
    pub columns_retyped: Vec<ColumnTypeChange>,
}

/// How one Zarr array changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArrayDiff {
    /// The array's directory, e.g. `data/grid.zarr/daily/log_eng`.
    pub path: String,
    pub change: NodeChange,
    pub old_shape: Option<Vec<u64>>,
    pub new_shape: Option<Vec<u64>>,
    /// `zarr.json` of the array changed (shape, codecs, attributes...).
    pub metadata_changed: bool,
    /// Chunk keys relative to the array, e.g. `c/3/0/0`.
    pub chunks_added: Vec<String>,
    pub chunks_removed: Vec<String>,
    pub chunks_changed: Vec<String>,
    pub chunks_unchanged: usize,
}

/// The difference between two versions.
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub from: String,
    pub to: String,
    pub from_digest: String,
    pub to_digest: String,
    pub unchanged: usize,
    pub entries: Vec<DiffEntry>,
    /// Every Parquet table of either version.
    pub tables: Vec<TableDiff>,
    /// Every Zarr array of either version.
    pub arrays: Vec<ArrayDiff>,
}

struct Listing {
    hashes: BTreeMap<String, String>,
    sizes: BTreeMap<String, u64>,
    digest: String,
}

impl Listing {
    fn inventory(&self) -> Inventory {
        self.hashes
            .iter()
            .map(|(p, h)| {
                (
                    p.clone(),
                    FileEntry {
                        size: self.sizes.get(p).copied().unwrap_or(0),
                        sha256: h.clone(),
                    },
                )
            })
            .collect()
    }
}

fn listing(bag_dir: &Path) -> Result<Listing> {
    let mpath = bag_dir.join(bag::MANIFEST);
    let manifest =
        std::fs::read(&mpath).with_context(|| format!("cannot read {}", mpath.display()))?;
    let hashes = bag::parse_manifest(
        &String::from_utf8_lossy(&manifest),
        &mpath.display().to_string(),
    )?;
    let spath = bag_dir.join(bag::SIZES);
    let sizes = match std::fs::read_to_string(&spath) {
        Ok(t) => bag::parse_sizes(&t, &spath.display().to_string())?,
        Err(_) => BTreeMap::new(),
    };
    Ok(Listing {
        hashes,
        sizes,
        digest: bag::digest_of_manifest(&manifest),
    })
}

/// Compares the manifests of two bags.
pub fn diff_bags(from: &Path, from_name: &str, to: &Path, to_name: &str) -> Result<Diff> {
    let a = listing(from)?;
    let b = listing(to)?;
    let mut entries = Vec::new();
    let mut unchanged = 0;
    for (path, ha) in &a.hashes {
        match b.hashes.get(path) {
            None => entries.push(DiffEntry {
                path: path.clone(),
                change: Change::Removed,
                old_size: a.sizes.get(path).copied(),
                new_size: None,
            }),
            Some(hb) if hb != ha => entries.push(DiffEntry {
                path: path.clone(),
                change: Change::Changed,
                old_size: a.sizes.get(path).copied(),
                new_size: b.sizes.get(path).copied(),
            }),
            Some(_) => unchanged += 1,
        }
    }
    for path in b.hashes.keys().filter(|p| !a.hashes.contains_key(*p)) {
        entries.push(DiffEntry {
            path: path.clone(),
            change: Change::Added,
            old_size: None,
            new_size: b.sizes.get(path).copied(),
        });
    }
    entries.sort_by(|x, y| x.path.cmp(&y.path));
    let la = Layout::read(from, &a.inventory())
        .with_context(|| format!("cannot read the tables and arrays of {from_name}"))?;
    let lb = Layout::read(to, &b.inventory())
        .with_context(|| format!("cannot read the tables and arrays of {to_name}"))?;
    let tables = table_diffs(&la, &lb, &a, &b);
    let arrays = array_diffs(&la, &lb, &a, &b);
    Ok(Diff {
        from: from_name.to_string(),
        to: to_name.to_string(),
        from_digest: a.digest,
        to_digest: b.digest,
        unchanged,
        entries,
        tables,
        arrays,
    })
}

fn table_diffs(la: &Layout, lb: &Layout, a: &Listing, b: &Listing) -> Vec<TableDiff> {
    let old: BTreeMap<&str, _> = la.tables.iter().map(|t| (t.name.as_str(), t)).collect();
    let new: BTreeMap<&str, _> = lb.tables.iter().map(|t| (t.name.as_str(), t)).collect();
    let names: std::collections::BTreeSet<&str> = old.keys().chain(new.keys()).copied().collect();
    names
        .into_iter()
        .map(|name| {
            let (o, n) = (old.get(name), new.get(name));
            let files: std::collections::BTreeSet<&String> = o
                .iter()
                .flat_map(|t| t.files.iter())
                .chain(n.iter().flat_map(|t| t.files.iter()))
                .collect();
            let files_changed = files
                .iter()
                .filter(|f| a.hashes.get(**f) != b.hashes.get(**f))
                .count();
            let cols = |t: Option<&&crate::metadata::facts::TableFacts>| -> Vec<ColumnFacts> {
                t.map(|t| t.columns.clone()).unwrap_or_default()
            };
            let (oc, nc) = (cols(o), cols(n));
            let columns_added = nc
                .iter()
                .filter(|c| !oc.iter().any(|x| x.name == c.name))
                .cloned()
                .collect();
            let columns_removed = oc
                .iter()
                .filter(|c| !nc.iter().any(|x| x.name == c.name))
                .cloned()
                .collect();
            let columns_retyped = oc
                .iter()
                .filter_map(|c| {
                    nc.iter()
                        .find(|x| {
                            x.name == c.name
                                && (x.data_type != c.data_type || x.nullable != c.nullable)
                        })
                        .map(|x| ColumnTypeChange {
                            name: c.name.clone(),
                            old: describe(c),
                            new: describe(x),
                        })
                })
                .collect();
            let change = match (o, n) {
                (None, _) => NodeChange::Added,
                (_, None) => NodeChange::Removed,
                _ if files_changed > 0 => NodeChange::Changed,
                _ => NodeChange::Unchanged,
            };
            TableDiff {
                name: name.to_string(),
                change,
                old_rows: o.map(|t| t.rows),
                new_rows: n.map(|t| t.rows),
                old_files: o.map(|t| t.files.len()),
                new_files: n.map(|t| t.files.len()),
                files_changed,
                columns_added,
                columns_removed,
                columns_retyped,
            }
        })
        .collect()
}

fn describe(c: &ColumnFacts) -> String {
    format!(
        "{}{}",
        c.data_type,
        if c.nullable { " (nullable)" } else { "" }
    )
}

fn array_diffs(la: &Layout, lb: &Layout, a: &Listing, b: &Listing) -> Vec<ArrayDiff> {
    let old: BTreeMap<&str, _> = la.arrays.iter().map(|x| (x.path.as_str(), x)).collect();
    let new: BTreeMap<&str, _> = lb.arrays.iter().map(|x| (x.path.as_str(), x)).collect();
    let paths: std::collections::BTreeSet<&str> = old.keys().chain(new.keys()).copied().collect();
    paths
        .into_iter()
        .map(|path| {
            let (o, n) = (old.get(path), new.get(path));
            let prefix = format!("{path}/");
            let key = |c: &String| c.strip_prefix(&prefix).unwrap_or(c).to_string();
            let oc: std::collections::BTreeSet<&String> =
                o.iter().flat_map(|x| x.chunks.iter()).collect();
            let nc: std::collections::BTreeSet<&String> =
                n.iter().flat_map(|x| x.chunks.iter()).collect();
            let chunks_added = nc.difference(&oc).map(|c| key(c)).collect();
            let chunks_removed = oc.difference(&nc).map(|c| key(c)).collect();
            let mut chunks_changed = Vec::new();
            let mut chunks_unchanged = 0;
            for c in oc.intersection(&nc) {
                if a.hashes.get(*c) == b.hashes.get(*c) {
                    chunks_unchanged += 1;
                } else {
                    chunks_changed.push(key(c));
                }
            }
            let meta = format!("{path}/zarr.json");
            let metadata_changed =
                o.is_some() && n.is_some() && a.hashes.get(&meta) != b.hashes.get(&meta);
            let change = match (o, n) {
                (None, _) => NodeChange::Added,
                (_, None) => NodeChange::Removed,
                _ if metadata_changed
                    || !chunks_changed.is_empty()
                    || oc.len() != nc.len()
                    || oc != nc =>
                {
                    NodeChange::Changed
                }
                _ => NodeChange::Unchanged,
            };
            ArrayDiff {
                path: path.to_string(),
                change,
                old_shape: o.map(|x| x.shape.clone()),
                new_shape: n.map(|x| x.shape.clone()),
                metadata_changed,
                chunks_added,
                chunks_removed,
                chunks_changed,
                chunks_unchanged,
            }
        })
        .collect()
}

/// Diffs two versions given as addresses (`other` may be a bare version of the same dataset).
pub async fn diff_addresses(a: &crate::address::Address, other: &str) -> Result<Diff> {
    let b = if other.contains('/') || other.contains('@') {
        crate::address::Address::parse(other)?
    } else {
        a.with_version(crate::address::parse_version(other)?)
    };
    let ra = crate::repository::Repository::open(&a.repository)?;
    let rb = crate::repository::Repository::open(&b.repository)?;
    ra.require_record(a).await?;
    rb.require_record(&b).await?;
    let da = ra.bag_dir(&a.dataset, a.require_version()?);
    let db = rb.bag_dir(&b.dataset, b.require_version()?);
    diff_bags(&da, &a.to_string(), &db, &b.to_string())
}

//! `diff`: added, removed and changed payload objects between two versions, with sizes.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::bag;

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

/// The difference between two versions.
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub from: String,
    pub to: String,
    pub from_digest: String,
    pub to_digest: String,
    pub unchanged: usize,
    pub entries: Vec<DiffEntry>,
}

struct Listing {
    hashes: BTreeMap<String, String>,
    sizes: BTreeMap<String, u64>,
    digest: String,
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
    Ok(Diff {
        from: from_name.to_string(),
        to: to_name.to_string(),
        from_digest: a.digest,
        to_digest: b.digest,
        unchanged,
        entries,
    })
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

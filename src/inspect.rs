//! `log` and `info`: what a repository holds and what a version is made of.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use crate::address::Address;
use crate::bag::{self, BagInfo};
use crate::record::VersionRecord;
use crate::repository::Repository;

/// A group of payload files (the first two path segments, e.g. `data/events`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PayloadPart {
    pub path: String,
    pub files: u64,
    pub bytes: u64,
}

/// Everything `info` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Info {
    pub address: String,
    pub bag: PathBuf,
    pub record: VersionRecord,
    pub bag_info: BTreeMap<String, String>,
    pub parts: Vec<PayloadPart>,
}

/// The versions of a dataset, oldest first.
pub async fn log(addr: &Address) -> Result<Vec<VersionRecord>> {
    if crate::remote::is_remote(&addr.repository) {
        let remote = crate::remote::Remote::open(&addr.repository)?;
        let versions = remote.versions(&addr.dataset).await?;
        if versions.is_empty() {
            anyhow::bail!(
                "{} has no dataset {:?} (no version records under {}/{}/versions/)",
                remote.url,
                addr.dataset,
                remote.url,
                addr.dataset
            );
        }
        return Ok(versions);
    }
    let repo = Repository::open(&addr.repository)?;
    let versions = repo.versions(&addr.dataset).await?;
    if versions.is_empty() {
        let known = repo.datasets()?;
        anyhow::bail!(
            "{} has no dataset {:?}{}",
            addr.repository,
            addr.dataset,
            if known.is_empty() {
                String::new()
            } else {
                format!(" (datasets: {})", known.join(", "))
            }
        );
    }
    Ok(versions)
}

/// The record, bag metadata and payload summary of one version.
pub async fn info(addr: &Address) -> Result<Info> {
    if crate::remote::is_remote(&addr.repository) {
        return remote_info(addr).await;
    }
    let repo = Repository::open(&addr.repository)?;
    let record = repo.require_record(addr).await?;
    let bag_dir = repo.bag_dir(&addr.dataset, addr.require_version()?);
    let bag_info = std::fs::read_to_string(bag_dir.join(bag::BAG_INFO))
        .ok()
        .and_then(|t| BagInfo::parse(&t).ok())
        .map(|i| i.fields.into_iter().collect())
        .unwrap_or_default();
    let sizes = match std::fs::read_to_string(bag_dir.join(bag::SIZES)) {
        Ok(text) => bag::parse_sizes(&text, bag::SIZES)?,
        Err(_) => BTreeMap::new(),
    };
    Ok(Info {
        address: addr.to_string(),
        bag: bag_dir,
        record,
        bag_info,
        parts: parts_of(sizes),
    })
}

/// Groups payload sizes by their first two path segments.
fn parts_of(sizes: std::collections::BTreeMap<String, u64>) -> Vec<PayloadPart> {
    let mut parts: BTreeMap<String, PayloadPart> = BTreeMap::new();
    for (path, size) in sizes {
        let key: String = path.splitn(3, '/').take(2).collect::<Vec<_>>().join("/");
        let p = parts.entry(key.clone()).or_insert(PayloadPart {
            path: key,
            files: 0,
            bytes: 0,
        });
        p.files += 1;
        p.bytes += size;
    }
    parts.into_values().collect()
}

async fn remote_info(addr: &Address) -> Result<Info> {
    let remote = crate::remote::Remote::open(&addr.repository)?;
    let version = addr.require_version()?;
    let record = remote
        .record(&addr.dataset, version)
        .await?
        .ok_or_else(|| anyhow::anyhow!("{addr}: no such version"))?;
    let base = format!("{}/{}", addr.dataset, version);
    let bag_info = match remote.get(&format!("{base}/{}", bag::BAG_INFO)).await? {
        Some(b) => BagInfo::parse(&String::from_utf8_lossy(&b))?
            .fields
            .into_iter()
            .collect(),
        None => BTreeMap::new(),
    };
    let sizes = match remote.get(&format!("{base}/{}", bag::SIZES)).await? {
        Some(b) => bag::parse_sizes(&String::from_utf8_lossy(&b), bag::SIZES)?,
        None => BTreeMap::new(),
    };
    Ok(Info {
        address: addr.to_string(),
        bag: PathBuf::from(format!("{}/{base}", remote.url)),
        record,
        bag_info,
        parts: parts_of(sizes),
    })
}

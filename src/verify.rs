//! Verification of a version: every byte re-hashed (default) or presence and sizes (`--fast`).
//!
//! Local bags are read with plain file I/O on all cores (rayon), which is what makes full
//! verification run at the machine's SHA-256 rate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rayon::prelude::*;
use serde::Serialize;

use crate::bag::{self, BagInfo};
use crate::hashing::{hash_file, sha256_hex};
use crate::progress;
use crate::record::VersionRecord;

/// How thoroughly to verify.
#[derive(Debug, Clone, Copy, Default)]
pub struct VerifyOptions {
    /// Presence and sizes only, no hashing of payload files.
    pub fast: bool,
    /// Show a progress bar.
    pub progress: bool,
}

/// A file whose content does not match its manifest entry.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Mismatch {
    pub path: String,
    pub expected: String,
    pub actual: String,
}

/// The outcome of verifying one version.
#[derive(Debug, Clone, Serialize, Default)]
pub struct VerifyReport {
    pub dataset: String,
    pub version: String,
    pub digest: String,
    pub mode: &'static str,
    pub files_checked: u64,
    pub bytes_checked: u64,
    pub seconds: f64,
    /// Listed in a manifest, absent on disk.
    pub missing: Vec<String>,
    /// Present under `data/` or `metadata/` but not listed.
    pub extra: Vec<String>,
    /// Present with the wrong SHA-256.
    pub corrupt: Vec<Mismatch>,
    /// Present with the wrong size.
    pub wrong_size: Vec<Mismatch>,
    /// Bag-level problems (digest, Payload-Oxum, unreadable files, symlinks).
    pub problems: Vec<String>,
    /// Payload files of a partial copy (`pull` with a selection) that were not pulled.
    pub not_pulled: u64,
    /// Remarks that do not make the verification fail.
    pub notes: Vec<String>,
}

impl VerifyReport {
    /// True when nothing is missing, extra, corrupt or otherwise wrong.
    pub fn ok(&self) -> bool {
        self.missing.is_empty()
            && self.extra.is_empty()
            && self.corrupt.is_empty()
            && self.wrong_size.is_empty()
            && self.problems.is_empty()
    }

    /// Throughput of the hashing in bytes per second.
    pub fn rate(&self) -> f64 {
        if self.seconds > 0.0 {
            self.bytes_checked as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// A file's path, expected hash and hashing result.
type HashOutcome = (String, String, std::io::Result<(u64, String)>);

/// Lists regular files under `dir` (relative to `base`, '/'-separated); symlinks and other
/// non-regular files are reported as problems (they could point outside the bag).
fn walk(base: &Path, dir: &str, files: &mut BTreeMap<String, u64>, problems: &mut Vec<String>) {
    let full = base.join(dir);
    let entries = match std::fs::read_dir(&full) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => {
            problems.push(format!("cannot list {dir}: {e}"));
            return;
        }
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let rel = format!("{dir}/{name}");
        match entry.path().symlink_metadata() {
            Ok(m) if m.is_dir() => walk(base, &rel, files, problems),
            Ok(m) if m.is_file() => {
                files.insert(rel, m.len());
            }
            Ok(_) => problems.push(format!("{rel} is a symbolic link or special file")),
            Err(e) => problems.push(format!("cannot stat {rel}: {e}")),
        }
    }
}

fn read_text(bag_dir: &Path, name: &str) -> Result<String> {
    let p = bag_dir.join(name);
    std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))
}

/// Verifies the bag at `bag_dir` against its version record.
pub fn verify_bag(
    bag_dir: &Path,
    record: &VersionRecord,
    opts: VerifyOptions,
    partial: Option<&BTreeSet<String>>,
) -> Result<VerifyReport> {
    let started = Instant::now();
    let mut report = VerifyReport {
        dataset: record.dataset.clone(),
        version: record.version.clone(),
        digest: record.digest.clone(),
        mode: if opts.fast { "fast" } else { "full" },
        ..Default::default()
    };
    if !bag_dir.is_dir() {
        report.problems.push(format!(
            "the bag directory {} is missing",
            bag_dir.display()
        ));
        return Ok(report);
    }

    // The manifest is what the digest names: check it first.
    let manifest_bytes = match std::fs::read(bag_dir.join(bag::MANIFEST)) {
        Ok(b) => b,
        Err(e) => {
            report.missing.push(bag::MANIFEST.to_string());
            report
                .problems
                .push(format!("cannot read {}: {e}", bag::MANIFEST));
            return Ok(report);
        }
    };
    let actual_digest = bag::digest_of_manifest(&manifest_bytes);
    if actual_digest != record.digest {
        report.corrupt.push(Mismatch {
            path: bag::MANIFEST.to_string(),
            expected: record.digest.clone(),
            actual: actual_digest,
        });
    }
    let manifest = bag::parse_manifest(&String::from_utf8_lossy(&manifest_bytes), bag::MANIFEST)?;
    for path in manifest.keys() {
        if !path.starts_with(bag::PAYLOAD_DIR) {
            report.problems.push(format!(
                "{} lists {path}, which is outside data/",
                bag::MANIFEST
            ));
        }
    }
    let tagmanifest = match read_text(bag_dir, bag::TAGMANIFEST) {
        Ok(t) => bag::parse_manifest(&t, bag::TAGMANIFEST)?,
        Err(e) => {
            report.missing.push(bag::TAGMANIFEST.to_string());
            report.problems.push(format!("{e:#}"));
            BTreeMap::new()
        }
    };
    if !tagmanifest.contains_key(bag::MANIFEST) && !tagmanifest.is_empty() {
        report.problems.push(format!(
            "{} does not cover {}",
            bag::TAGMANIFEST,
            bag::MANIFEST
        ));
    }
    match read_text(bag_dir, bag::BAGIT) {
        Ok(t) if t.starts_with("BagIt-Version:") => {}
        Ok(_) => report
            .problems
            .push(format!("{} is not a BagIt declaration", bag::BAGIT)),
        Err(_) => report.missing.push(bag::BAGIT.to_string()),
    }
    let oxum = match read_text(bag_dir, bag::BAG_INFO).and_then(|t| BagInfo::parse(&t)) {
        Ok(info) => match info.payload_oxum() {
            Ok(o) => Some(o),
            Err(e) => {
                report.problems.push(format!("{e:#}"));
                None
            }
        },
        Err(e) => {
            report.problems.push(format!("{e:#}"));
            None
        }
    };

    // What is on disk.
    let mut on_disk = BTreeMap::new();
    walk(bag_dir, "data", &mut on_disk, &mut report.problems);
    let mut tags_on_disk = BTreeMap::new();
    walk(bag_dir, "metadata", &mut tags_on_disk, &mut report.problems);
    for top in [bag::BAGIT, bag::BAG_INFO, bag::MANIFEST] {
        if let Ok(m) = bag_dir.join(top).symlink_metadata() {
            tags_on_disk.insert(top.to_string(), m.len());
        }
    }
    let listed: BTreeSet<&String> = manifest.keys().collect();
    for p in manifest.keys().filter(|p| !on_disk.contains_key(*p)) {
        match partial {
            Some(pulled) if !pulled.contains(p) => report.not_pulled += 1,
            _ => report.missing.push(p.clone()),
        }
    }
    report
        .extra
        .extend(on_disk.keys().filter(|p| !listed.contains(p)).cloned());
    report.missing.extend(
        tagmanifest
            .keys()
            .filter(|p| !tags_on_disk.contains_key(*p))
            .cloned(),
    );
    report.extra.extend(
        tags_on_disk
            .keys()
            .filter(|p| p.starts_with("metadata/") && !tagmanifest.contains_key(*p))
            .cloned(),
    );

    // Payload-Oxum and the record's totals, from the sizes on disk of the listed files.
    let listed_bytes: u64 = manifest.keys().filter_map(|p| on_disk.get(p)).sum();
    if partial.is_some() {
        report.notes.push(format!(
            "partial copy: {} of {} payload files pulled; Payload-Oxum not checked",
            manifest.len() as u64 - report.not_pulled,
            manifest.len()
        ));
    } else if let Some((bytes, count)) = oxum
        && (bytes, count) != (listed_bytes, manifest.len() as u64)
    {
        report.problems.push(format!(
            "Payload-Oxum says {bytes}.{count} but the payload is {listed_bytes}.{}",
            manifest.len()
        ));
    }
    if partial.is_none()
        && (record.payload.bytes, record.payload.files) != (listed_bytes, manifest.len() as u64)
    {
        report.problems.push(format!(
            "the version record says {} bytes in {} files but the payload is {listed_bytes} bytes in {} files",
            record.payload.bytes,
            record.payload.files,
            manifest.len()
        ));
    }

    if opts.fast {
        verify_sizes(bag_dir, &on_disk, &mut report);
        report.files_checked = manifest.len() as u64;
    } else {
        let mut jobs: Vec<(String, String, u64)> = manifest
            .iter()
            .filter_map(|(p, h)| on_disk.get(p).map(|s| (p.clone(), h.clone(), *s)))
            .collect();
        jobs.extend(
            tagmanifest
                .iter()
                .filter_map(|(p, h)| tags_on_disk.get(p).map(|s| (p.clone(), h.clone(), *s))),
        );
        // Largest first so that the cores finish together.
        jobs.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
        let total: u64 = jobs.iter().map(|j| j.2).sum();
        let bar = progress::bytes_bar(opts.progress, total, "verifying");
        // One file per task (`with_max_len(1)`): rayon's default splitting left one core
        // hashing most of a sorted list alone.
        let results: Vec<HashOutcome> = jobs
            .par_iter()
            .with_max_len(1)
            .map(|(path, expected, _)| {
                let r = hash_file(&bag_dir.join(path), |n| bar.inc(n));
                (path.clone(), expected.clone(), r)
            })
            .collect();
        bar.finish_and_clear();
        for (path, expected, r) in results {
            match r {
                Ok((n, actual)) => {
                    report.files_checked += 1;
                    report.bytes_checked += n;
                    if actual != expected {
                        report.corrupt.push(Mismatch {
                            path,
                            expected,
                            actual,
                        });
                    }
                }
                Err(e) => report.problems.push(format!("cannot read {path}: {e}")),
            }
        }
        report.corrupt.sort_by(|a, b| a.path.cmp(&b.path));
    }
    report.missing.sort();
    report.missing.dedup();
    report.extra.sort();
    report.seconds = started
        .elapsed()
        .as_secs_f64()
        .max(Duration::from_nanos(1).as_secs_f64());
    Ok(report)
}

/// `--fast`: sizes from `metadata/sizes.txt` (itself checked against the tag manifest).
fn verify_sizes(bag_dir: &Path, on_disk: &BTreeMap<String, u64>, report: &mut VerifyReport) {
    let text = match std::fs::read(bag_dir.join(bag::SIZES)) {
        Ok(t) => t,
        Err(_) => {
            report.missing.push(bag::SIZES.to_string());
            return;
        }
    };
    if let Ok(tm) = std::fs::read_to_string(bag_dir.join(bag::TAGMANIFEST))
        && let Ok(tm) = bag::parse_manifest(&tm, bag::TAGMANIFEST)
        && let Some(expected) = tm.get(bag::SIZES)
    {
        let actual = sha256_hex(&text);
        if &actual != expected {
            report.corrupt.push(Mismatch {
                path: bag::SIZES.to_string(),
                expected: expected.clone(),
                actual,
            });
            return;
        }
    }
    match bag::parse_sizes(&String::from_utf8_lossy(&text), bag::SIZES) {
        Ok(sizes) => {
            for (path, size) in sizes {
                if let Some(actual) = on_disk.get(&path) {
                    report.bytes_checked += actual;
                    if *actual != size {
                        report.wrong_size.push(Mismatch {
                            path,
                            expected: size.to_string(),
                            actual: actual.to_string(),
                        });
                    }
                }
            }
        }
        Err(e) => report.problems.push(format!("{e:#}")),
    }
}

/// Verifies `<repository>/<dataset>@<version>`.
pub async fn verify_address(
    addr: &crate::address::Address,
    opts: VerifyOptions,
) -> Result<VerifyReport> {
    if crate::remote::is_remote(&addr.repository) {
        return verify_remote(addr, !opts.fast, opts.progress).await;
    }
    let repo = crate::repository::Repository::open(&addr.repository)?;
    let record = repo.require_record(addr).await?;
    let version = addr.require_version()?.to_string();
    let bag_dir = repo.bag_dir(&addr.dataset, addr.require_version()?);
    let partial = crate::pull::read_partial(repo.root(), &addr.dataset, &version).map(|p| p.paths);
    tokio::task::spawn_blocking(move || verify_bag(&bag_dir, &record, opts, partial.as_ref()))
        .await?
}

/// Verifies a version in a remote repository. Fast (default): presence, size and the SHA-256
/// stored with each object at upload (one HEAD per object, no download). `full`: stream every
/// object and re-hash it. Both check the manifest against the version's digest first.
pub async fn verify_remote(
    addr: &crate::address::Address,
    full: bool,
    progress: bool,
) -> Result<VerifyReport> {
    use futures::StreamExt;
    use sha2::Digest;
    let started = Instant::now();
    let version = addr.require_version()?;
    let remote = crate::remote::Remote::open(&addr.repository)?;
    let record = remote
        .record(&addr.dataset, version)
        .await?
        .with_context(|| format!("{addr}: no such version"))?;
    let mut report = VerifyReport {
        dataset: record.dataset.clone(),
        version: record.version.clone(),
        digest: record.digest.clone(),
        mode: if full { "full" } else { "fast" },
        ..Default::default()
    };
    let base = format!("{}/{}", addr.dataset, version);
    let Some(manifest_bytes) = remote.get(&format!("{base}/{}", bag::MANIFEST)).await? else {
        report.missing.push(bag::MANIFEST.into());
        return Ok(report);
    };
    let actual = bag::digest_of_manifest(&manifest_bytes);
    if actual != record.digest {
        report.corrupt.push(Mismatch {
            path: bag::MANIFEST.into(),
            expected: record.digest.clone(),
            actual,
        });
        return Ok(report);
    }
    report.files_checked += 1;
    report.bytes_checked += manifest_bytes.len() as u64;
    let manifest = bag::parse_manifest(&String::from_utf8_lossy(&manifest_bytes), bag::MANIFEST)?;
    let tags = match remote.get(&format!("{base}/{}", bag::TAGMANIFEST)).await? {
        Some(b) => bag::parse_manifest(&String::from_utf8_lossy(&b), bag::TAGMANIFEST)?,
        None => {
            report.missing.push(bag::TAGMANIFEST.into());
            BTreeMap::new()
        }
    };
    let sizes = match remote.get(&format!("{base}/{}", bag::SIZES)).await? {
        Some(b) if tags.get(bag::SIZES).map(String::as_str) == Some(sha256_hex(&b).as_str()) => {
            bag::parse_sizes(&String::from_utf8_lossy(&b), bag::SIZES)?
        }
        Some(_) => {
            report
                .problems
                .push(format!("{} does not match the tag manifest", bag::SIZES));
            BTreeMap::new()
        }
        None => BTreeMap::new(),
    };
    let objects: Vec<(String, String)> = manifest
        .iter()
        .chain(tags.iter().filter(|(p, _)| p.as_str() != bag::MANIFEST))
        .map(|(p, h)| (p.clone(), h.clone()))
        .collect();
    let total: u64 = objects
        .iter()
        .map(|(p, _)| sizes.get(p).copied().unwrap_or(0))
        .sum();
    let bar = if full {
        progress::bytes_bar(progress, total, "verifying")
    } else {
        progress::count_bar(progress, objects.len() as u64, "checking")
    };
    enum Outcome {
        Ok(u64),
        Missing,
        Size(u64),
        Corrupt(String),
        NoChecksum(u64),
    }
    let results: Vec<(String, String, Result<Outcome>)> = futures::stream::iter(objects)
        .map(|(path, expected)| {
            let remote = &remote;
            let (base, sizes, bar) = (&base, &sizes, &bar);
            async move {
                let rel = format!("{base}/{path}");
                let outcome = async {
                    if full {
                        let Some(_) = remote.head(&rel).await? else {
                            return Ok(Outcome::Missing);
                        };
                        let mut stream = remote.stream(&rel).await?;
                        let mut hasher = sha2::Sha256::new();
                        let mut n = 0u64;
                        while let Some(chunk) = stream.next().await {
                            let chunk = chunk?;
                            hasher.update(&chunk);
                            n += chunk.len() as u64;
                            bar.inc(chunk.len() as u64);
                        }
                        let actual = hex::encode(hasher.finalize());
                        Ok(if actual == expected {
                            Outcome::Ok(n)
                        } else {
                            Outcome::Corrupt(actual)
                        })
                    } else {
                        bar.inc(1);
                        match remote.head(&rel).await? {
                            None => Ok(Outcome::Missing),
                            Some(o) if sizes.get(&path).is_some_and(|s| *s != o.size) => {
                                Ok(Outcome::Size(o.size))
                            }
                            Some(o) => match o.sha256 {
                                Some(s) if s == expected => Ok(Outcome::Ok(o.size)),
                                Some(s) => Ok(Outcome::Corrupt(s)),
                                None => Ok(Outcome::NoChecksum(o.size)),
                            },
                        }
                    }
                }
                .await;
                (path, expected, outcome)
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    bar.finish_and_clear();
    let mut no_checksum = 0;
    for (path, expected, outcome) in results {
        match outcome? {
            Outcome::Ok(n) => {
                report.files_checked += 1;
                report.bytes_checked += n;
            }
            Outcome::Missing => report.missing.push(path),
            Outcome::Size(actual) => report.wrong_size.push(Mismatch {
                expected: sizes.get(&path).map(|s| s.to_string()).unwrap_or_default(),
                path,
                actual: actual.to_string(),
            }),
            Outcome::Corrupt(actual) => report.corrupt.push(Mismatch {
                path,
                expected,
                actual,
            }),
            Outcome::NoChecksum(n) => {
                report.files_checked += 1;
                report.bytes_checked += n;
                no_checksum += 1;
            }
        }
    }
    if no_checksum > 0 {
        report.notes.push(format!(
            "{no_checksum} object(s) carry no stored SHA-256 (not published by sciml-data, or the store drops metadata); only presence and size were checked: use --full"
        ));
    }
    report.missing.sort();
    report.corrupt.sort_by(|a, b| a.path.cmp(&b.path));
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

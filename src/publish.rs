//! `publish`: copy a local version to an object store, atomically and resumably.
//!
//! 1. The local bag is re-hashed while it is read; a file that does not match its manifest
//!    stops the publish (verify before trust).
//! 2. The store is probed once for conditional writes (`If-None-Match: *`) and the answer is
//!    remembered in `<repo>/.sciml-data/store.json`. Stores that ignore them are refused unless
//!    `--unsafe-no-conditional-writes` is given; the version record then says so.
//! 3. A create-only *claim* `<dataset>/claims/<version>.json` names the digest being published,
//!    so that two publishers of different content for one version cannot interleave objects.
//! 4. Every object is uploaded (in parallel; multipart above 64 MiB, or
//!    `SCIML_DATA_MULTIPART_THRESHOLD` bytes) with its SHA-256 as object
//!    metadata (and S3's x-amz-checksum-sha256, which the server checks); objects already there
//!    with the right size and SHA-256 are skipped, which is what makes a killed publish resume.
//! 5. Every object is checked before the version record is written last, create-only: by the
//!    ETag the store returned for the upload (the MD5 of the bytes it stored, or of the parts'
//!    MD5s for multipart; see [`crate::etag`]), which catches bytes damaged on the way even on
//!    stores that do not verify x-amz-checksum-sha256; an ETag that does not match is settled
//!    by reading the object back, and a damaged object is uploaded again. Objects without an
//!    MD5-style ETag (Azure, GCS, local files) and objects found intact when resuming are
//!    checked by HEAD (size and stored SHA-256) or read back (local files). Only then is the
//!    version visible.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::address::Address;
use crate::bag;
use crate::etag;
use crate::hashing::sha256_hex;
use crate::progress;
use crate::record::VersionRecord;
use crate::remote::Remote;
use crate::repository::Repository;

/// Objects larger than this are uploaded in parts.
pub const MULTIPART_THRESHOLD: u64 = 64 << 20;

/// The multipart threshold in force: [`MULTIPART_THRESHOLD`] unless the environment variable
/// `SCIML_DATA_MULTIPART_THRESHOLD` gives another size in bytes (for tests of the multipart
/// path on small objects; docs/format.md).
pub fn multipart_threshold() -> u64 {
    std::env::var("SCIML_DATA_MULTIPART_THRESHOLD")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(MULTIPART_THRESHOLD)
}
/// Where the probe result is remembered, relative to the repository.
pub const STORE_INFO: &str = ".sciml-data/store.json";

/// Publish options.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    /// Publish even where the store ignores conditional writes (recorded in the version record).
    pub unsafe_no_conditional_writes: bool,
    /// Parallel uploads.
    pub jobs: usize,
    pub progress: bool,
}

impl Default for PublishOptions {
    fn default() -> Self {
        PublishOptions {
            unsafe_no_conditional_writes: false,
            jobs: 8,
            progress: false,
        }
    }
}

/// What a publish did.
#[derive(Debug, Clone, Serialize)]
pub struct PublishReport {
    pub address: String,
    pub digest: String,
    pub objects: u64,
    pub uploaded: u64,
    pub skipped: u64,
    pub bytes_uploaded: u64,
    pub already_published: bool,
    pub seconds: f64,
}

/// The remembered probe result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoreInfo {
    pub conditional_writes: bool,
    pub probed: String,
    pub tool: String,
}

/// The claim a publisher makes on a version before uploading.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claim {
    pub digest: String,
    pub started: String,
    pub host: String,
}

/// One object to upload.
#[derive(Debug, Clone)]
struct Job {
    rel: String,
    local: PathBuf,
    sha256: String,
    size: u64,
}

/// Probes (once per store) whether create-only writes are honoured.
pub async fn conditional_writes(remote: &Remote) -> Result<bool> {
    if let Some(b) = remote.get(STORE_INFO).await?
        && let Ok(info) = serde_json::from_slice::<StoreInfo>(&b)
    {
        return Ok(info.conditional_writes);
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let probe = format!(".sciml-data/probe-{}-{nanos}", std::process::id());
    let body = Bytes::from_static(b"probe");
    let sha = sha256_hex(&body);
    let first = remote.put(&probe, body.clone(), &sha, true).await?;
    let second = remote.put(&probe, body, &sha, true).await;
    remote.delete(&probe).await?;
    let honoured = first && matches!(second, Ok(false));
    let info = StoreInfo {
        conditional_writes: honoured,
        probed: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        tool: format!("{} {}", env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION")),
    };
    let bytes = Bytes::from(serde_json::to_vec_pretty(&info)?);
    let sha = sha256_hex(&bytes);
    remote.put(STORE_INFO, bytes, &sha, false).await?;
    Ok(honoured)
}

/// Lists the bag's files: payload from the manifest, tag files from the tag manifest, and
/// the tag manifest itself.
fn jobs_for(bag_dir: &Path, dataset: &str, version: &str) -> Result<Vec<Job>> {
    let read = |name: &str| -> Result<String> {
        std::fs::read_to_string(bag_dir.join(name))
            .with_context(|| format!("cannot read {}", bag_dir.join(name).display()))
    };
    let manifest = bag::parse_manifest(&read(bag::MANIFEST)?, bag::MANIFEST)?;
    let tagmanifest_text = read(bag::TAGMANIFEST)?;
    let tags = bag::parse_manifest(&tagmanifest_text, bag::TAGMANIFEST)?;
    let mut jobs = Vec::new();
    for (path, sha) in manifest.iter().chain(tags.iter()) {
        let local = bag_dir.join(path);
        let size = std::fs::metadata(&local)
            .with_context(|| format!("{} is missing from the local version", local.display()))?
            .len();
        jobs.push(Job {
            rel: format!("{dataset}/{version}/{path}"),
            local,
            sha256: sha.clone(),
            size,
        });
    }
    jobs.push(Job {
        rel: format!("{dataset}/{version}/{}", bag::TAGMANIFEST),
        local: bag_dir.join(bag::TAGMANIFEST),
        sha256: sha256_hex(tagmanifest_text.as_bytes()),
        size: tagmanifest_text.len() as u64,
    });
    Ok(jobs)
}

/// How one object got to the store.
struct Uploaded {
    /// Bytes sent (0 when the object was already there intact).
    bytes: u64,
    /// Already checked: found intact by a HEAD, or stored with the ETag (MD5) of the bytes
    /// sent ([`etag`]). Unchecked objects get a HEAD (or read-back) before the version record
    /// is written.
    checked: bool,
}

/// Uploads one object unless it is already there intact. `present` holds the sizes of the
/// objects already under the version's folder (listed once when resuming; empty otherwise):
/// only those of the right size are looked at with a HEAD.
async fn upload(
    remote: &Remote,
    job: &Job,
    bar: &indicatif::ProgressBar,
    present: &std::collections::HashMap<String, u64>,
) -> Result<Uploaded> {
    if present.get(&job.rel) == Some(&job.size)
        && let Some(existing) = remote.head(&job.rel).await?
        && existing.size == job.size
        && existing.sha256.as_deref() == Some(job.sha256.as_str())
    {
        bar.inc(job.size);
        return Ok(Uploaded {
            bytes: 0,
            checked: true,
        });
    }
    if job.size <= multipart_threshold() {
        let bytes = Bytes::from(
            tokio::fs::read(&job.local)
                .await
                .with_context(|| format!("cannot read {}", job.local.display()))?,
        );
        let actual = sha256_hex(&bytes);
        if actual != job.sha256 {
            bail!(
                "{} does not match its manifest (expected {}, found {}); the local version is damaged: run `sciml-data verify` on it",
                job.local.display(),
                job.sha256,
                actual
            );
        }
        let expected = etag::single(&bytes);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let returned = remote
                .put_payload(&job.rel, bytes.clone(), &job.sha256)
                .await?;
            match etag::compare(returned.as_deref(), &expected) {
                Some(true) => break,
                // No MD5-style ETag: checked by a HEAD (or read-back) before the record.
                None => {
                    bar.inc(job.size);
                    return Ok(Uploaded {
                        bytes: job.size,
                        checked: false,
                    });
                }
                // Damaged on the way, or an ETag that only looks like an MD5 (SSE-KMS): the
                // stored bytes decide.
                Some(false) => {
                    if remote.get_verified(&job.rel, &job.sha256).await.is_ok() {
                        break;
                    }
                    if attempt == 3 {
                        remote.delete(&job.rel).await?;
                        bail!(
                            "{}/{}: the store kept receiving damaged bytes (3 uploads, ETag {:?} instead of {expected}); nothing was published",
                            remote.url,
                            job.rel,
                            returned.unwrap_or_default()
                        );
                    }
                    tracing::warn!(object = %job.rel, "upload damaged in transit; uploading again");
                }
            }
        }
        bar.inc(job.size);
        Ok(Uploaded {
            bytes: job.size,
            checked: true,
        })
    } else {
        use tokio::io::AsyncReadExt;
        let mut file = tokio::fs::File::open(&job.local)
            .await
            .with_context(|| format!("cannot read {}", job.local.display()))?;
        let mut writer = remote.put_multipart(&job.rel, &job.sha256).await?;
        let mut hasher = Sha256::new();
        let mut parts = etag::Multipart::new(crate::remote::multipart_part_size());
        let mut buf = vec![0u8; 8 << 20];
        loop {
            let n = file.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            parts.update(&buf[..n]);
            writer.wait_for_capacity(4).await?;
            writer.write(&buf[..n]);
            bar.inc(n as u64);
        }
        let actual = hex::encode(hasher.finalize());
        if actual != job.sha256 {
            let _ = writer.abort().await;
            bail!(
                "{} does not match its manifest; the local version is damaged",
                job.local.display()
            );
        }
        let done = writer
            .finish()
            .await
            .with_context(|| format!("cannot finish uploading {}", job.rel))?;
        let checked = match etag::compare(done.e_tag.as_deref(), &parts.finish()) {
            Some(true) => true,
            None => false,
            Some(false) => {
                // Read back in full before deciding (SSE-KMS ETags are not MD5s).
                if remote.stream_sha256(&job.rel).await? != job.sha256 {
                    // Removed, so that a resumed publish does not take it for intact.
                    remote.delete(&job.rel).await?;
                    bail!(
                        "{}/{}: the store holds other bytes than were uploaded (multipart ETag mismatch and SHA-256 mismatch on read-back); publish again",
                        remote.url,
                        job.rel
                    );
                }
                true
            }
        };
        Ok(Uploaded {
            bytes: job.size,
            checked,
        })
    }
}

/// Publishes the local version `source` to the repository URL `to`.
pub async fn publish(source: &Address, to: &str, opts: &PublishOptions) -> Result<PublishReport> {
    let started = std::time::Instant::now();
    let version = source.require_version()?.clone();
    let repo = Repository::open(&source.repository)?;
    let record = repo.require_record(source).await?;
    let bag_dir = repo.bag_dir(&source.dataset, &version);
    let remote = Remote::open(to)?;
    let dataset = &source.dataset;
    let target = format!("{}/{dataset}@{version}", remote.url);
    let record_rel = format!("{dataset}/versions/{version}.json");

    // Already published?
    if let Some(existing) = remote.record(dataset, &version).await? {
        if existing.digest == record.digest {
            return Ok(PublishReport {
                address: target,
                digest: record.digest,
                objects: 0,
                uploaded: 0,
                skipped: 0,
                bytes_uploaded: 0,
                already_published: true,
                seconds: started.elapsed().as_secs_f64(),
            });
        }
        bail!(
            "{target} already exists with digest {} but the local version has {}; published versions are immutable: publish under a new version number",
            existing.digest,
            record.digest
        );
    }

    let conditional = conditional_writes(&remote).await?;
    if !conditional && !opts.unsafe_no_conditional_writes {
        bail!(
            "{} ignores conditional writes (If-None-Match: *): two publishers could overwrite each other's versions there, \
             and a version record could be replaced. Publish to a store that honours them (AWS S3, MinIO, moto, …), \
             or pass --unsafe-no-conditional-writes to publish anyway (the version record will say so)",
            remote.url
        );
    }

    // Claim the version for this digest.
    let claim_rel = format!("{dataset}/claims/{version}.json");
    let claim = Claim {
        digest: record.digest.clone(),
        started: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        host: std::env::var("HOSTNAME").unwrap_or_default(),
    };
    let claim_bytes = Bytes::from(serde_json::to_vec_pretty(&claim)?);
    let claim_sha = sha256_hex(&claim_bytes);
    // A claim we just created (on a store that honours conditional writes) means no earlier
    // publish of this content left objects behind: nothing to look for before uploading.
    let fresh_claim = remote
        .put(&claim_rel, claim_bytes, &claim_sha, conditional)
        .await?;
    let resuming = !(fresh_claim && conditional);
    if !fresh_claim {
        let existing: Claim = remote
            .get(&claim_rel)
            .await?
            .and_then(|b| serde_json::from_slice(&b).ok())
            .context("a claim exists but cannot be read")?;
        if existing.digest != record.digest {
            bail!(
                "{target} is being published by another publisher with different content (digest {}, started {}); \
                 exactly one of you can own this version number. If that publish was abandoned, delete {}/{claim_rel} and retry",
                existing.digest,
                existing.started,
                remote.url
            );
        }
        // Our own earlier, interrupted publish: resume.
    }

    // What an earlier, interrupted publish (or, on stores without conditional writes, anyone)
    // left under the version's folder: one listing instead of a HEAD per object.
    let present = if resuming {
        remote.list_sizes(&format!("{dataset}/{version}")).await?
    } else {
        Default::default()
    };

    // Upload everything, the payload first.
    let mut jobs = jobs_for(&bag_dir, dataset, &version.to_string())?;
    jobs.sort_by_key(|j| (!j.rel.contains("/data/"), j.rel.clone()));
    let total: u64 = jobs.iter().map(|j| j.size).sum();
    let bar = progress::bytes_bar(opts.progress, total, "uploading");
    let uploaded = Arc::new(AtomicU64::new(0));
    let bytes_up = Arc::new(AtomicU64::new(0));
    let finished = Arc::new(AtomicU64::new(0));
    let objects = jobs.len();
    bar.set_message(format!("0/{objects} objects"));
    let results: Vec<Result<(usize, bool)>> = futures::stream::iter(jobs.iter().enumerate())
        .map(|(i, job)| {
            let remote = &remote;
            let bar = &bar;
            let present = &present;
            let uploaded = uploaded.clone();
            let bytes_up = bytes_up.clone();
            let finished = finished.clone();
            async move {
                let u = upload(remote, job, bar, present).await?;
                if u.bytes > 0 {
                    uploaded.fetch_add(1, Ordering::Relaxed);
                    bytes_up.fetch_add(u.bytes, Ordering::Relaxed);
                }
                let done = finished.fetch_add(1, Ordering::Relaxed) + 1;
                bar.set_message(format!("{done}/{objects} objects"));
                Ok((i, u.checked))
            }
        })
        .buffer_unordered(opts.jobs.max(1))
        .collect()
        .await;
    bar.finish_and_clear();
    let mut unchecked = Vec::new();
    for r in results {
        let (i, checked) = r?;
        if !checked {
            unchecked.push(&jobs[i]);
        }
    }

    // Check every object not checked yet before the version becomes visible.
    let checks: Vec<Result<()>> = futures::stream::iter(unchecked)
        .map(|job| {
            let remote = &remote;
            async move {
                match remote.head(&job.rel).await? {
                    Some(o)
                        if o.size == job.size
                            && o.sha256.as_deref() == Some(job.sha256.as_str()) =>
                    {
                        Ok(())
                    }
                    // Stores without user metadata (local files): read it back and hash it.
                    Some(o)
                        if o.size == job.size && o.sha256.is_none() && !remote.keeps_metadata =>
                    {
                        remote.get_verified(&job.rel, &job.sha256).await.map(|_| ())
                    }
                    Some(o) => bail!(
                        "{} was not stored intact (size {}, sha256 {:?})",
                        job.rel,
                        o.size,
                        o.sha256
                    ),
                    None => bail!("{} is missing after upload", job.rel),
                }
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    for c in checks {
        c?;
    }

    // The record, last and create-only.
    let mut published: VersionRecord = record.clone();
    if !conditional {
        published.unsafe_publish = Some("published with --unsafe-no-conditional-writes to a store that ignores conditional writes".into());
    }
    let bytes = Bytes::from(serde_json::to_vec_pretty(&published)?);
    let sha = sha256_hex(&bytes);
    if !remote.put(&record_rel, bytes, &sha, conditional).await? {
        let existing = remote
            .record(dataset, &version)
            .await?
            .context("record vanished")?;
        if existing.digest != record.digest {
            bail!(
                "{target} was published by someone else first with digest {}",
                existing.digest
            );
        }
    }
    remote.delete(&claim_rel).await?;
    let uploaded = uploaded.load(Ordering::Relaxed);
    Ok(PublishReport {
        address: target,
        digest: record.digest,
        objects: jobs.len() as u64,
        uploaded,
        skipped: jobs.len() as u64 - uploaded,
        bytes_uploaded: bytes_up.load(Ordering::Relaxed),
        already_published: false,
        seconds: started.elapsed().as_secs_f64(),
    })
}

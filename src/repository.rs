//! A repository of datasets and their versions (a local directory for now).
//!
//! Layout (docs/format.md): `<repo>/<dataset>/<version>/` is the bag,
//! `<repo>/<dataset>/versions/<version>.json` the version record (written last, create-only),
//! `<repo>/.staging/` holds work in progress.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use crate::address::Address;
use crate::record::VersionRecord;
use crate::staging::Staging;

/// Name of the directory that holds versions being built.
pub const STAGING_DIR: &str = ".staging";
/// Name of the directory (inside `.staging`) that holds the commit locks.
pub const LOCKS_DIR: &str = "locks";
/// Name of the directory (inside a dataset) that holds version records.
pub const VERSIONS_DIR: &str = "versions";

/// A local repository directory.
#[derive(Debug, Clone)]
pub struct Repository {
    root: PathBuf,
    store: Arc<dyn ObjectStore>,
}

/// What happened when a version was committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    /// The version is new.
    Created,
    /// The same version with the same digest already existed; nothing changed.
    AlreadyExists,
}

impl Repository {
    /// Opens an existing repository.
    pub fn open(location: &str) -> Result<Repository> {
        if location.contains("://") && !location.starts_with("file://") {
            bail!(
                "{location}: remote repositories (s3://, gs://, az://, https://) are not supported by this command yet; use a local directory"
            );
        }
        let path = PathBuf::from(location.strip_prefix("file://").unwrap_or(location));
        if !path.is_dir() {
            bail!(
                "repository {} does not exist (or is not a directory)",
                path.display()
            );
        }
        Self::at(path)
    }

    /// Opens a repository directory, creating it if needed.
    pub fn create(location: &str) -> Result<Repository> {
        let path = PathBuf::from(location.strip_prefix("file://").unwrap_or(location));
        if location.contains("://") && !location.starts_with("file://") {
            bail!(
                "{location}: ingest writes to a local repository; publish it to a remote store afterwards"
            );
        }
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create repository {}", path.display()))?;
        Self::at(path)
    }

    fn at(path: PathBuf) -> Result<Repository> {
        let root = path
            .canonicalize()
            .with_context(|| format!("cannot open repository {}", path.display()))?;
        let store = LocalFileSystem::new_with_prefix(&root)
            .with_context(|| format!("cannot open repository {}", root.display()))?;
        Ok(Repository {
            root,
            store: Arc::new(store),
        })
    }

    /// The repository directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The bag directory of a version.
    pub fn bag_dir(&self, dataset: &str, version: &semver::Version) -> PathBuf {
        self.root.join(dataset).join(version.to_string())
    }

    fn record_path(dataset: &str, version: &semver::Version) -> ObjectPath {
        ObjectPath::from_iter([dataset, VERSIONS_DIR, &format!("{version}.json")])
    }

    /// Fails with a clear message when the repository cannot be written.
    pub fn check_writable(&self) -> Result<()> {
        let meta = std::fs::metadata(&self.root)
            .with_context(|| format!("cannot read {}", self.root.display()))?;
        if meta.permissions().readonly() {
            bail!(
                "repository {} is read-only: nothing was written. Make it writable or choose another --repo",
                self.root.display()
            );
        }
        Ok(())
    }

    /// Reads a version record, `None` if the version does not exist.
    pub async fn record(
        &self,
        dataset: &str,
        version: &semver::Version,
    ) -> Result<Option<VersionRecord>> {
        let path = Self::record_path(dataset, version);
        let bytes = match self.store.get(&path).await {
            Ok(r) => r.bytes().await?,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {path}")),
        };
        let record: VersionRecord = serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "{}: not a valid version record",
                self.root.join(path.as_ref()).display()
            )
        })?;
        record.check_names(
            dataset,
            version,
            &self.root.join(path.as_ref()).display().to_string(),
        )?;
        Ok(Some(record))
    }

    /// The record of an address that must name an existing version.
    pub async fn require_record(&self, addr: &Address) -> Result<VersionRecord> {
        let v = addr.require_version()?;
        match self.record(&addr.dataset, v).await? {
            Some(r) => Ok(r),
            None => {
                let known: Vec<String> = self
                    .versions(&addr.dataset)
                    .await?
                    .iter()
                    .map(|r| r.version.clone())
                    .collect();
                if known.is_empty() {
                    bail!(
                        "{addr}: no such version (the dataset has no versions in {})",
                        self.root.display()
                    )
                }
                bail!(
                    "{addr}: no such version; known versions: {}",
                    known.join(", ")
                )
            }
        }
    }

    /// All committed versions of a dataset, oldest (lowest semver) first.
    pub async fn versions(&self, dataset: &str) -> Result<Vec<VersionRecord>> {
        let dir = self.root.join(dataset).join(VERSIONS_DIR);
        let mut versions: Vec<(semver::Version, VersionRecord)> = Vec::new();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("cannot list {}", dir.display())),
        };
        for entry in entries {
            let name = entry?.file_name().to_string_lossy().to_string();
            let Some(v) = crate::record::version_of_record_file(&name) else {
                continue;
            };
            if let Some(r) = self.record(dataset, &v).await? {
                versions.push((v, r));
            }
        }
        versions.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(versions.into_iter().map(|(_, r)| r).collect())
    }

    /// The datasets of the repository (directories that hold a `versions/` directory).
    pub fn datasets(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.root)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().to_string();
            if !name.starts_with('.') && entry.path().join(VERSIONS_DIR).is_dir() {
                out.push(name);
            }
        }
        out.sort();
        Ok(out)
    }

    /// The highest existing version below `version` (the new version's parent).
    pub async fn parent_of(
        &self,
        dataset: &str,
        version: &semver::Version,
    ) -> Result<Option<String>> {
        Ok(self
            .versions(dataset)
            .await?
            .into_iter()
            .filter_map(|r| semver::Version::parse(&r.version).ok())
            .filter(|v| v < version)
            .max()
            .map(|v| v.to_string()))
    }

    /// A fresh staging area for `dataset@version`; sweeps debris of killed runs first.
    pub fn new_staging(&self, dataset: &str, version: &semver::Version) -> Result<Arc<Staging>> {
        self.check_writable()?;
        let dir = self.root.join(STAGING_DIR);
        sweep_staging(&dir);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let name = format!("{dataset}@{version}.{}.{nanos}", std::process::id());
        Staging::create(dir.join(name))
    }

    /// Makes a staged version visible: moves the bag into place, then writes the record
    /// create-only. A version that exists with the same digest is left as it is; one with a
    /// different digest is an error. The staging directory is gone afterwards in every case.
    pub async fn commit(&self, staging: &Staging, record: &VersionRecord) -> Result<CommitOutcome> {
        let version = semver::Version::parse(&record.version)?;
        // One committer per dataset at a time (an advisory lock, released on exit or kill).
        let locks = self.root.join(STAGING_DIR).join(LOCKS_DIR);
        std::fs::create_dir_all(&locks)
            .with_context(|| format!("cannot create {}", locks.display()))?;
        let lock_path = locks.join(format!("{}.lock", record.dataset));
        let lock = std::fs::File::create(&lock_path)
            .with_context(|| format!("cannot create {}", lock_path.display()))?;
        lock.lock()
            .with_context(|| format!("cannot lock {}", lock_path.display()))?;
        let outcome = self.commit_inner(staging, record, &version).await;
        drop(lock);
        let _ = std::fs::remove_dir_all(staging.root());
        outcome
    }

    async fn commit_inner(
        &self,
        staging: &Staging,
        record: &VersionRecord,
        version: &semver::Version,
    ) -> Result<CommitOutcome> {
        let dataset = &record.dataset;
        if let Some(existing) = self.record(dataset, version).await? {
            return same_or_conflict(&existing, record);
        }
        let bag = self.bag_dir(dataset, version);
        if bag.exists() {
            // A bag without a record is debris from a run that died before committing.
            let trash = self
                .root
                .join(STAGING_DIR)
                .join(format!("{dataset}@{version}.debris.{}", std::process::id()));
            std::fs::rename(&bag, &trash)
                .with_context(|| format!("cannot move aside the uncommitted {}", bag.display()))?;
            let _ = std::fs::remove_dir_all(&trash);
        }
        std::fs::create_dir_all(self.root.join(dataset))
            .with_context(|| format!("cannot create {}", self.root.join(dataset).display()))?;
        std::fs::rename(staging.root(), &bag)
            .with_context(|| format!("cannot move the new version into {}", bag.display()))?;
        let json = serde_json::to_vec_pretty(record)?;
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        let path = Self::record_path(dataset, version);
        match self
            .store
            .put_opts(&path, PutPayload::from_bytes(Bytes::from(json)), opts)
            .await
        {
            Ok(_) => Ok(CommitOutcome::Created),
            Err(object_store::Error::AlreadyExists { .. }) => {
                // Another writer committed the same version first.
                let existing = self
                    .record(dataset, version)
                    .await?
                    .context("version record vanished during commit")?;
                same_or_conflict(&existing, record)
            }
            Err(e) => Err(e).with_context(|| format!("cannot write version record {path}")),
        }
    }
}

fn same_or_conflict(existing: &VersionRecord, new: &VersionRecord) -> Result<CommitOutcome> {
    if existing.digest == new.digest {
        Ok(CommitOutcome::AlreadyExists)
    } else {
        bail!(
            "{}@{} already exists with digest {} but this ingest produced {}; versions are immutable: choose a new version number (for example {})",
            new.dataset,
            new.version,
            existing.digest,
            new.digest,
            semver::Version::parse(&new.version)
                .map(|mut v| {
                    v.patch += 1;
                    v.to_string()
                })
                .unwrap_or_default()
        )
    }
}

/// Removes staging directories whose owning process is gone (kill -9, power loss).
fn sweep_staging(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name == LOCKS_DIR {
            continue;
        }
        let pid = name
            .split('.')
            .rev()
            .nth(1)
            .and_then(|p| p.parse::<u32>().ok());
        let alive = pid.is_some_and(|p| Path::new(&format!("/proc/{p}")).exists());
        if !alive {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

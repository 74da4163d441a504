//! What every source's ingest shares: the staging area, the input inventory, the bag, the
//! version record and the commit.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::address::Address;
use crate::bag::BagInfo;
use crate::record::{InputFile, PayloadTotals, RECORD_FORMAT, ToolInfo, VersionRecord};
use crate::repository::{CommitOutcome, Repository, STAGING_DIR};
use crate::staging::Staging;

/// Options every ingest takes.
#[derive(Debug, Clone)]
pub struct IngestCommon {
    /// Local repository directory.
    pub repo: String,
    /// Dataset name.
    pub dataset: String,
    /// The new version.
    pub version: semver::Version,
    /// Free-text message recorded with the version.
    pub message: String,
    /// Show progress bars.
    pub progress: bool,
}

/// What an ingest produced.
#[derive(Debug, Clone)]
pub struct IngestResult {
    pub address: Address,
    pub record: VersionRecord,
    pub outcome: CommitOutcome,
    pub bag_dir: PathBuf,
}

/// An ingest in progress: the repository, the staging area and a scratch directory, all
/// removed if the ingest fails or is dropped.
pub struct Session {
    pub repo: Repository,
    pub staging: Arc<Staging>,
    pub scratch: tempfile::TempDir,
    pub common: IngestCommon,
}

impl Session {
    /// Checks the inputs, then opens (creating if needed) the repository and a staging area.
    pub fn start(common: &IngestCommon, inputs: &[PathBuf]) -> Result<Session> {
        crate::address::check_dataset_name(&common.dataset)?;
        check_inputs(inputs)?;
        Session::open(common)
    }

    /// Opens (creating if needed) the repository and a staging area, without the "inputs are
    /// regular files with distinct names" check of [`Session::start`]: for sources whose
    /// inputs are folders (SLSTR SAFE products) that check their inputs themselves.
    pub fn open(common: &IngestCommon) -> Result<Session> {
        crate::address::check_dataset_name(&common.dataset)?;
        let repo = Repository::create(&common.repo)?;
        let staging = repo.new_staging(&common.dataset, &common.version)?;
        let scratch = tempfile::Builder::new()
            .prefix("scratch.")
            .tempdir_in(repo.root().join(STAGING_DIR))
            .context("cannot create a scratch directory in the repository's .staging")?;
        Ok(Session {
            repo,
            staging,
            scratch,
            common: common.clone(),
        })
    }

    /// Finishes the bag, writes the record and makes the version visible.
    /// The common end of a source's ingest: writes `metadata/provenance.json`, adds the
    /// bag-info fields every source records (`Source`, `Source-Organization`, and the message
    /// on one line as `Internal-Sender-Description`), then [`Session::commit`]s.
    pub async fn finish(
        self,
        source: &str,
        organization: &str,
        provenance: &Value,
        inputs: Vec<InputFile>,
        options: Value,
    ) -> Result<IngestResult> {
        self.staging
            .put(
                "metadata/provenance.json",
                bytes::Bytes::from(serde_json::to_vec_pretty(provenance)?),
            )
            .await?;
        let mut info = BagInfo::default();
        info.push("Source", source);
        info.push("Source-Organization", organization);
        info.push(
            "Internal-Sender-Description",
            self.common
                .message
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        );
        self.commit(source, inputs, options, info).await
    }

    pub async fn commit(
        self,
        source: &str,
        mut inputs: Vec<InputFile>,
        options: Value,
        mut extra_info: BagInfo,
    ) -> Result<IngestResult> {
        let c = &self.common;
        let version = c.version.to_string();
        // The payload is final once its manifest (and so the digest) is written; the
        // metadata documents that need the digest are tag files written after it.
        let finished = self.staging.finish_payload().await?;
        let payload = &finished.payload;
        let (bytes, files) = crate::bag::payload_oxum(payload);
        inputs.sort_by(|a, b| a.name.cmp(&b.name));
        let parent = self.repo.parent_of(&c.dataset, &c.version).await?;
        let record = VersionRecord {
            format: RECORD_FORMAT.to_string(),
            dataset: c.dataset.clone(),
            version: version.clone(),
            digest: finished.digest.clone(),
            parent: parent.clone(),
            created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            message: c.message.clone(),
            source: source.to_string(),
            tool: ToolInfo::current(),
            inputs,
            options,
            payload: PayloadTotals { files, bytes },
            unsafe_publish: None,
        };
        let parent_record = match &parent {
            Some(p) => {
                self.repo
                    .record(&c.dataset, &semver::Version::parse(p)?)
                    .await?
            }
            None => None,
        };
        if let Some(p) = &parent_record {
            extra_info.push(
                "Parent",
                format!("{}@{} {}", p.dataset, p.version, p.digest),
            );
        }
        crate::metadata::write_into_staging(
            &self.staging,
            &self.repo,
            &record,
            payload,
            parent_record.as_ref(),
        )
        .await?;
        self.staging
            .finish_tags(extra_info, &c.dataset, &version, &finished.digest)
            .await?;
        let outcome = self.repo.commit(&self.staging, &record).await?;
        let record = match outcome {
            CommitOutcome::Created => record,
            CommitOutcome::AlreadyExists => self
                .repo
                .record(&c.dataset, &c.version)
                .await?
                .context("the existing version record disappeared")?,
        };
        Ok(IngestResult {
            address: Address {
                repository: c.repo.clone(),
                dataset: c.dataset.clone(),
                version: Some(c.version.clone()),
            },
            bag_dir: self.repo.bag_dir(&c.dataset, &c.version),
            record,
            outcome,
        })
    }
}

/// Every input must be a readable regular file.
pub fn check_inputs(inputs: &[PathBuf]) -> Result<()> {
    if inputs.is_empty() {
        bail!("no input files given (use --input FILE...)");
    }
    let mut names = std::collections::BTreeMap::new();
    for p in inputs {
        if let Some(prev) = names.insert(input_name(p), p) {
            bail!(
                "inputs {} and {} have the same file name; the version record names inputs by file name, so rename one",
                prev.display(),
                p.display()
            );
        }
        let meta = std::fs::metadata(p)
            .with_context(|| format!("input {} cannot be read", p.display()))?;
        if !meta.is_file() {
            bail!("input {} is not a regular file", p.display());
        }
    }
    Ok(())
}

/// The name recorded for an input: its file name.
pub fn input_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| p.display().to_string())
}

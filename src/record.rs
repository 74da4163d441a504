//! The version record: the small JSON document whose existence makes a version exist.
//!
//! It lives at `<repository>/<dataset>/versions/<version>.json`, is written last and
//! create-only, and is never modified afterwards. See docs/format.md.

use serde::{Deserialize, Serialize};

/// The `format` value of every version record this tool writes.
pub const RECORD_FORMAT: &str = "sciml-data/version-record/1";

/// One raw input file that went into a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputFile {
    /// File name (no directories), as the user gave it.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256 of the file's bytes.
    pub sha256: String,
}

/// Totals of the bag's payload (`data/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayloadTotals {
    /// Number of payload files.
    pub files: u64,
    /// Sum of payload file sizes in bytes.
    pub bytes: u64,
}

/// The tool that wrote a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
}

impl ToolInfo {
    pub fn current() -> Self {
        ToolInfo {
            name: env!("CARGO_PKG_NAME").to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// `<repository>/<dataset>/versions/<version>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionRecord {
    /// Always [`RECORD_FORMAT`].
    pub format: String,
    /// Dataset name, e.g. `tevolop`.
    pub dataset: String,
    /// Semantic version, e.g. `1.0.0`.
    pub version: String,
    /// `sha256:` + hex SHA-256 of the bag's canonical `manifest-sha256.txt`.
    pub digest: String,
    /// The version this one follows, if any.
    pub parent: Option<String>,
    /// RFC 3339 UTC time the version was committed.
    pub created: String,
    /// Free-text message given by the steward.
    pub message: String,
    /// The source that produced the payload (`usgs`, `slstr`, `cbed`, `candle`).
    pub source: String,
    /// The tool that wrote the version.
    pub tool: ToolInfo,
    /// Raw inputs, sorted by name.
    pub inputs: Vec<InputFile>,
    /// The options that shaped the payload (source-specific; all defaults made explicit).
    pub options: serde_json::Value,
    /// Payload totals (equal to the bag's Payload-Oxum).
    pub payload: PayloadTotals,
    /// Present only on records published with `--unsafe-no-conditional-writes` to a store that
    /// ignores conditional writes: says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsafe_publish: Option<String>,
}

impl VersionRecord {
    /// The hex part of [`VersionRecord::digest`].
    pub fn digest_hex(&self) -> &str {
        self.digest.strip_prefix("sha256:").unwrap_or(&self.digest)
    }
}

/// The version named by a file in `<dataset>/versions/`: `<semver>.json`, else `None` (other
/// names there, such as temporary files, are not versions; docs/format.md section 2).
pub fn version_of_record_file(name: &str) -> Option<semver::Version> {
    semver::Version::parse(name.strip_suffix(".json")?).ok()
}

impl VersionRecord {
    /// Fails unless the record names `dataset@version` (the place it was read from); `location`
    /// names that place in the error.
    pub fn check_names(
        &self,
        dataset: &str,
        version: &semver::Version,
        location: &str,
    ) -> anyhow::Result<()> {
        if self.dataset != dataset || self.version != version.to_string() {
            anyhow::bail!(
                "{location}: the record names {}@{}, not {dataset}@{version}",
                self.dataset,
                self.version
            );
        }
        Ok(())
    }
}

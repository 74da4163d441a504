//! Addresses: `<repository>/<dataset>[@<version>]`, where the repository is a local
//! directory or an object-store URL.

use std::fmt;

use anyhow::{Result, bail};

/// A parsed `<repository>/<dataset>[@<version>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// The repository: a local directory or a URL (`s3://…`, `file://…`, `https://…`).
    pub repository: String,
    /// The dataset name (one path segment).
    pub dataset: String,
    /// The version, when one was given.
    pub version: Option<semver::Version>,
}

impl Address {
    /// Parses `./repo/tevolop@1.0.0`, `./repo/tevolop`, `s3://bucket/science/tevolop@1.0.0`.
    pub fn parse(s: &str) -> Result<Address> {
        let trimmed = s.trim_end_matches('/');
        let (body, version) = match trimmed.rsplit_once('@') {
            Some((body, v)) if !v.contains('/') => (body, Some(parse_version(v)?)),
            _ => (trimmed, None),
        };
        let (repository, dataset) = match body.rsplit_once('/') {
            Some((repo, ds)) => (if repo.is_empty() { "/" } else { repo }, ds),
            None => (".", body),
        };
        if repository.ends_with(':') || repository.ends_with(":/") {
            bail!(
                "{s:?}: expected <repository>/<dataset>[@<version>], e.g. s3://bucket/prefix/tevolop@1.0.0"
            );
        }
        check_dataset_name(dataset).map_err(|e| {
            anyhow::anyhow!(
                "{s:?}: {e}. Expected <repository>/<dataset>[@<version>], e.g. ./repo/tevolop@1.0.0"
            )
        })?;
        Ok(Address {
            repository: repository.to_string(),
            dataset: dataset.to_string(),
            version,
        })
    }

    /// The version, or an error explaining that one is needed.
    pub fn require_version(&self) -> Result<&semver::Version> {
        match &self.version {
            Some(v) => Ok(v),
            None => bail!(
                "{self} names a dataset, not a version: add @<version>, e.g. {self}@1.0.0 (`sciml-data log {self}` lists the versions)"
            ),
        }
    }

    /// The same dataset at another version.
    pub fn with_version(&self, version: semver::Version) -> Address {
        Address {
            version: Some(version),
            ..self.clone()
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sep = if self.repository.ends_with('/') {
            ""
        } else {
            "/"
        };
        write!(f, "{}{}{}", self.repository, sep, self.dataset)?;
        if let Some(v) = &self.version {
            write!(f, "@{v}")?;
        }
        Ok(())
    }
}

/// Parses a semantic version with a helpful error.
pub fn parse_version(v: &str) -> Result<semver::Version> {
    let parsed = semver::Version::parse(v).map_err(|e| {
        anyhow::anyhow!("{v:?} is not a semantic version ({e}); use MAJOR.MINOR.PATCH, e.g. 1.0.0")
    })?;
    if !parsed.build.is_empty() {
        // Build metadata has no precedence in semver: 1.0.0+a and 1.0.0+b would be the
        // same version under two names.
        bail!(
            "{v:?}: build metadata (+{}) is not allowed in version numbers",
            parsed.build
        );
    }
    Ok(parsed)
}

/// Dataset names are one lowercase path segment: `[a-z0-9][a-z0-9._-]*`.
pub fn check_dataset_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
        && !name.contains("..");
    if !ok {
        bail!("{name:?} is not a valid dataset name (lowercase letters, digits, '.', '_', '-')");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_local_and_url_addresses() {
        let a = Address::parse("./repo/tevolop@1.0.0").unwrap();
        assert_eq!(a.repository, "./repo");
        assert_eq!(a.dataset, "tevolop");
        assert_eq!(a.version.as_ref().unwrap().to_string(), "1.0.0");
        assert_eq!(a.to_string(), "./repo/tevolop@1.0.0");

        let b = Address::parse("s3://bucket/science/cloudmask@2.1.0").unwrap();
        assert_eq!(b.repository, "s3://bucket/science");
        assert_eq!(b.dataset, "cloudmask");

        let c = Address::parse("/abs/repo/tevolop/").unwrap();
        assert_eq!(c.repository, "/abs/repo");
        assert!(c.version.is_none());
        assert!(c.require_version().is_err());

        let d = Address::parse("tevolop@1.2.3").unwrap();
        assert_eq!(d.repository, ".");
    }

    #[test]
    fn rejects_bad_addresses() {
        assert!(Address::parse("./repo/tevolop@1.0").is_err());
        assert!(Address::parse("./repo/tevolop@1.0.0+build").is_err());
        assert!(Address::parse("./repo/Tev olop@1.0.0").is_err());
        assert!(Address::parse("./repo/..@1.0.0").is_err());
        assert!(Address::parse("s3://tevolop@1.0.0").is_err());
    }
}

//! FAIR metadata of a version, generated from one source of truth: the benchmark's catalog
//! entry (src/catalog.rs) plus the version's own facts (its record, the manifest, the
//! Parquet footers, the `zarr.json` files and `metadata/provenance.json`).
//!
//! At ingest time, [`write_into_staging`] writes `metadata/datacite.json` (DataCite kernel
//! 4.6, REST API JSON), `metadata/croissant.json` (Croissant 1.1 JSON-LD) and, when the version
//! has a parent, `metadata/changelog.md` into the bag, after the payload manifest (so the
//! digest is known) and before the tag manifest (so they are covered by it).
//! docs/metadata.md lists every property and where it comes from.

pub mod command;
pub mod croissant;
pub mod datacite;
pub mod facts;

use std::path::Path;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use serde_json::Value;

use crate::address::Address;
use crate::bag::{self, Inventory};
use crate::record::VersionRecord;
use crate::repository::Repository;
use crate::staging::Staging;
use facts::Layout;

/// The media type of a Zarr v3 hierarchy.
pub const ZARR_MEDIA_TYPE: &str = "application/vnd.zarr; version=3";
/// The registered media type of Parquet.
pub const PARQUET_MEDIA_TYPE: &str = "application/vnd.apache.parquet";
/// Tag file names inside the bag.
pub const DATACITE_FILE: &str = "metadata/datacite.json";
pub const CROISSANT_FILE: &str = "metadata/croissant.json";
pub const CHANGELOG_FILE: &str = "metadata/changelog.md";
pub const PROVENANCE_FILE: &str = "metadata/provenance.json";

/// Identifiers and locations that are not known at ingest time (given on the command line
/// when the metadata is regenerated or registered).
#[derive(Debug, Clone, Default)]
pub struct MetadataOptions {
    /// This version's DOI (bare, `10.x/y`). Without one, no identifier is written: never a fake.
    pub doi: Option<String>,
    /// A DOI prefix for DataCite to mint a suffix under (registration without --doi).
    pub prefix: Option<String>,
    /// The concept DOI that names all versions.
    pub concept_doi: Option<String>,
    /// Where the repository is published (`https://host/prefix`); the version lives at
    /// `<url>/<dataset>/<version>/`.
    pub url: Option<String>,
}

impl MetadataOptions {
    /// True when any option changes the generated documents (so the stored copy is not used).
    pub fn any(&self) -> bool {
        self.doi.is_some()
            || self.prefix.is_some()
            || self.concept_doi.is_some()
            || self.url.is_some()
    }

    /// Checks the DOI forms.
    pub fn check(&self) -> Result<()> {
        for (what, d) in [("--doi", &self.doi), ("--concept-doi", &self.concept_doi)] {
            if let Some(d) = d
                && !is_doi(d)
            {
                bail!(
                    "{what} {d:?} is not a bare DOI (expected 10.<registrant>/<suffix>, without https://doi.org/)"
                );
            }
        }
        if let Some(p) = &self.prefix {
            let ok = p.strip_prefix("10.").is_some_and(|r| {
                (4..=9).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_digit())
            });
            if !ok {
                bail!("--prefix {p:?} is not a DOI prefix (expected 10.<4 to 9 digits>)");
            }
        }
        if let Some(u) = &self.url
            && !(u.starts_with("https://") || u.starts_with("http://"))
        {
            bail!("--url {u:?} must be an http(s) URL");
        }
        Ok(())
    }
}

fn is_doi(d: &str) -> bool {
    d.strip_prefix("10.")
        .and_then(|r| r.split_once('/'))
        .is_some_and(|(reg, suffix)| {
            (4..=9).contains(&reg.len())
                && reg.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                && !suffix.is_empty()
                && !suffix.chars().any(char::is_whitespace)
        })
}

/// Another version, as related identifiers name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRef {
    pub dataset: String,
    pub version: String,
    pub digest: String,
    /// The DOI stored in that version's `metadata/datacite.json`, if it has one.
    pub doi: Option<String>,
}

impl VersionRef {
    fn of(record: &VersionRecord, bag_dir: Option<&Path>) -> VersionRef {
        let doi = bag_dir
            .and_then(|b| std::fs::read(b.join(DATACITE_FILE)).ok())
            .and_then(|t| serde_json::from_slice::<Value>(&t).ok())
            .and_then(|v| v["data"]["attributes"]["doi"].as_str().map(String::from));
        VersionRef {
            dataset: record.dataset.clone(),
            version: record.version.clone(),
            digest: record.digest.clone(),
            doi,
        }
    }
}

/// Everything a metadata document is built from, besides the catalog entry.
#[derive(Debug, Clone)]
pub struct Facts {
    pub record: VersionRecord,
    pub payload: Inventory,
    pub layout: Layout,
    pub provenance: Option<Value>,
    pub parent: Option<VersionRef>,
    pub successors: Vec<VersionRef>,
    /// SHA-256 of `metadata/croissant.json` (DataCite links it with HasMetadata).
    pub croissant_sha256: Option<String>,
}

impl Facts {
    /// Reads the facts of the payload under `root` (a bag or staging directory).
    pub fn read(root: &Path, record: &VersionRecord, payload: &Inventory) -> Result<Facts> {
        let layout = Layout::read(root, payload)?;
        let prov_path = root.join(PROVENANCE_FILE);
        let provenance = match std::fs::read(&prov_path) {
            Ok(t) => Some(
                serde_json::from_slice(&t)
                    .with_context(|| format!("{} is not JSON", prov_path.display()))?,
            ),
            Err(_) => None,
        };
        Ok(Facts {
            record: record.clone(),
            payload: payload.clone(),
            layout,
            provenance,
            parent: None,
            successors: Vec::new(),
            croissant_sha256: None,
        })
    }
}

/// The catalog entry that describes `dataset` (by `dataset.name`, else by `dataset.source`).
pub fn catalog_entry(record: &VersionRecord) -> Result<Option<Value>> {
    crate::catalog::entry_for_dataset(&record.dataset, &record.source)
}

/// Writes `metadata/changelog.md` (when there is a parent), `metadata/croissant.json` and
/// `metadata/datacite.json` into a staging area whose payload manifest is final.
/// Datasets without a catalog entry get the changelog only.
pub async fn write_into_staging(
    staging: &Staging,
    repo: &Repository,
    record: &VersionRecord,
    payload: &Inventory,
    parent: Option<&VersionRecord>,
) -> Result<()> {
    let root = staging.root();
    let mut facts = Facts::read(root, record, payload)?;
    if let Some(p) = parent {
        let pv = semver::Version::parse(&p.version)?;
        let parent_bag = repo.bag_dir(&p.dataset, &pv);
        facts.parent = Some(VersionRef::of(p, Some(&parent_bag)));
        let d = crate::diff::diff_bags(
            &parent_bag,
            &format!("{}@{}", p.dataset, p.version),
            root,
            &format!("{}@{}", record.dataset, record.version),
        )?;
        staging
            .put(CHANGELOG_FILE, Bytes::from(changelog(&d, record, p)))
            .await?;
    }
    let Some(entry) = catalog_entry(record)? else {
        return Ok(());
    };
    let opts = MetadataOptions::default();
    let c = pretty(&croissant::document(&entry, &facts, &opts))?;
    facts.croissant_sha256 = Some(crate::hashing::sha256_hex(c.as_bytes()));
    staging.put(CROISSANT_FILE, Bytes::from(c)).await?;
    let d = pretty(&datacite::document(&entry, &facts, &opts))?;
    staging.put(DATACITE_FILE, Bytes::from(d)).await?;
    Ok(())
}

fn pretty(v: &Value) -> Result<String> {
    let mut s = serde_json::to_string_pretty(v)?;
    s.push('\n');
    Ok(s)
}

/// Which document `metadata` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Datacite,
    Croissant,
}

impl Format {
    fn file(self) -> &'static str {
        match self {
            Format::Datacite => DATACITE_FILE,
            Format::Croissant => CROISSANT_FILE,
        }
    }
}

/// The document of a committed version. Without options, the copy stored in the bag at
/// ingest time, with (DataCite only) `IsPreviousVersionOf` links to the versions committed
/// since; with options (a DOI, a URL...), or for a bag written before metadata existed,
/// generated afresh from the catalog entry and the bag.
pub async fn for_address(addr: &Address, format: Format, opts: &MetadataOptions) -> Result<Value> {
    opts.check()?;
    let repo = Repository::open(&addr.repository)?;
    let record = repo.require_record(addr).await?;
    let bag_dir = repo.bag_dir(&addr.dataset, addr.require_version()?);
    let all = repo.versions(&addr.dataset).await?;
    let this = semver::Version::parse(&record.version)?;
    let successors: Vec<VersionRef> = all
        .iter()
        .filter(|r| semver::Version::parse(&r.version).is_ok_and(|v| v > this))
        .map(|r| {
            let v = semver::Version::parse(&r.version).unwrap_or_else(|_| this.clone());
            VersionRef::of(r, Some(&repo.bag_dir(&r.dataset, &v)))
        })
        .collect();
    let stored = bag_dir.join(format.file());
    if !opts.any()
        && let Ok(text) = std::fs::read(&stored)
    {
        let mut doc: Value = serde_json::from_slice(&text)
            .with_context(|| format!("{} is not JSON", stored.display()))?;
        if format == Format::Datacite
            && let Some(rel) = doc["data"]["attributes"]["relatedIdentifiers"].as_array_mut()
        {
            for s in &successors {
                let (id, t) = datacite::version_identifier(s, opts);
                rel.push(serde_json::json!({"relatedIdentifier": id, "relatedIdentifierType": t, "relationType": "IsPreviousVersionOf"}));
            }
        }
        return Ok(doc);
    }
    let entry = catalog_entry(&record)?.with_context(|| {
        format!(
            "the catalog has no benchmark for dataset {:?} (source {:?}); `sciml-data catalog list` shows the known ones",
            record.dataset, record.source
        )
    })?;
    let mpath = bag_dir.join(bag::MANIFEST);
    let manifest = std::fs::read_to_string(&mpath)
        .with_context(|| format!("cannot read {}", mpath.display()))?;
    let hashes = bag::parse_manifest(&manifest, &mpath.display().to_string())?;
    let spath = bag_dir.join(bag::SIZES);
    let sizes = std::fs::read_to_string(&spath)
        .ok()
        .map(|t| bag::parse_sizes(&t, &spath.display().to_string()))
        .transpose()?
        .unwrap_or_default();
    let payload: Inventory = hashes
        .into_iter()
        .map(|(p, h)| {
            let size = sizes.get(&p).copied().unwrap_or(0);
            (p, bag::FileEntry { size, sha256: h })
        })
        .collect();
    let mut facts = Facts::read(&bag_dir, &record, &payload)?;
    if let Some(p) = &record.parent {
        let pv = semver::Version::parse(p)?;
        if let Some(pr) = repo.record(&record.dataset, &pv).await? {
            facts.parent = Some(VersionRef::of(
                &pr,
                Some(&repo.bag_dir(&record.dataset, &pv)),
            ));
        }
    }
    facts.successors = successors;
    if let Ok(c) = std::fs::read(bag_dir.join(CROISSANT_FILE)) {
        facts.croissant_sha256 = Some(crate::hashing::sha256_hex(&c));
    }
    Ok(match format {
        Format::Datacite => datacite::document(&entry, &facts, opts),
        Format::Croissant => croissant::document(&entry, &facts, opts),
    })
}

/// Where and how to register a DataCite record.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The REST API root, e.g. `https://api.test.datacite.org`.
    pub api: String,
    /// Repository account (DATACITE_USER).
    pub user: String,
    /// Repository password (DATACITE_PASSWORD); never printed.
    pub password: String,
    /// Publish (findable) instead of creating a draft.
    pub publish: bool,
}

/// Posts `doc` (a DataCite REST document) to `<api>/dois`; returns the server's answer.
/// Draft unless `publish` (then `attributes.event = "publish"`).
pub async fn register(doc: &Value, reg: &Registration) -> Result<Value> {
    let mut doc = doc.clone();
    let attrs = doc["data"]["attributes"]
        .as_object_mut()
        .context("not a DataCite REST document (no data.attributes)")?;
    if attrs.get("doi").is_none() && attrs.get("prefix").is_none() {
        bail!(
            "registering needs a DOI: give --doi 10.x/y, or --prefix 10.x for DataCite to mint one"
        );
    }
    if reg.publish {
        if attrs.get("url").is_none() {
            bail!(
                "a published DOI needs a landing page: give --url where the repository is published"
            );
        }
        attrs.insert("event".into(), Value::String("publish".into()));
    } else {
        attrs.remove("event");
    }
    let url = format!("{}/dois", reg.api.trim_end_matches('/'));
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()?;
    let resp = client
        .post(&url)
        .basic_auth(&reg.user, Some(&reg.password))
        .header(reqwest::header::CONTENT_TYPE, "application/vnd.api+json")
        .header(reqwest::header::ACCEPT, "application/vnd.api+json")
        .body(serde_json::to_vec(&doc)?)
        .send()
        .await
        .with_context(|| format!("cannot reach the DataCite API at {url}"))?;
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    if !status.is_success() {
        bail!(
            "DataCite answered {status} to POST {url}: {}",
            body.chars().take(2000).collect::<String>()
        );
    }
    Ok(serde_json::from_str(&body).unwrap_or(Value::String(body)))
}

/// `YYYY-MM-DD` of a time in ms since the epoch.
pub fn date_of_ms(ms: f64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// RFC 6920 `ni:///sha-256;<base64url>` URI of a `sha256:<hex>` digest.
pub fn ni_uri(digest: &str) -> String {
    let hex_part = digest.strip_prefix("sha256:").unwrap_or(digest);
    let bytes = hex::decode(hex_part).unwrap_or_default();
    format!("ni:///sha-256;{}", base64url(&bytes))
}

fn base64url(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// One entry of DataCite's rightsList / Croissant's license.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rights {
    pub rights: String,
    pub url: Option<String>,
    /// The SPDX identifier when it is on the SPDX list.
    pub spdx: Option<String>,
}

/// The licences: the entry's `metadata.licence` (of the derived dataset) first, then the
/// raw sources' licences.
pub fn licence_rights(entry: &Value) -> Vec<Rights> {
    let mut out: Vec<Rights> = Vec::new();
    let mut push = |id: &str, name: String, url: Option<String>| {
        let r = if crate::catalog::is_spdx_id(id) {
            Rights {
                rights: format!("{id} ({name})"),
                url: Some(url.unwrap_or_else(|| format!("https://spdx.org/licenses/{id}.html"))),
                spdx: Some(id.to_string()),
            }
        } else if id == "NOASSERTION" {
            Rights {
                rights: format!("No licence stated: {name}"),
                url,
                spdx: None,
            }
        } else {
            Rights {
                rights: format!("{id}: {name}"),
                url,
                spdx: None,
            }
        };
        if !out.contains(&r) {
            out.push(r);
        }
    };
    let l = &entry["metadata"]["licence"];
    if let Some(id) = l["id"].as_str() {
        push(
            id,
            l["name"].as_str().unwrap_or("this dataset").to_string(),
            l["url"].as_str().map(String::from),
        );
    }
    for s in entry["dataset"]["raw_sources"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(id) = s["licence"].as_str() {
            let url = s["licence_url"]
                .as_str()
                .or_else(|| s["see_also"][0].as_str().filter(|u| u.starts_with("http")))
                .map(String::from);
            push(
                id,
                format!("raw source '{}'", s["name"].as_str().unwrap_or("?")),
                url,
            );
        }
    }
    out
}

/// A BibTeX entry for a catalog `papers[]` item.
pub fn bibtex(p: &Value) -> String {
    let authors: Vec<&str> = p["authors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let first = authors
        .first()
        .and_then(|a| a.split_whitespace().last())
        .unwrap_or("anon")
        .to_lowercase();
    let year = p["year"].as_i64().unwrap_or(0);
    let mut s = format!(
        "@misc{{{first}{year}, title = {{{}}}, author = {{{}}}, year = {{{year}}}",
        p["title"].as_str().unwrap_or(""),
        authors.join(" and ")
    );
    if let Some(v) = p["venue"].as_str() {
        s.push_str(&format!(", howpublished = {{{v}}}"));
    }
    if let Some(d) = p["doi"].as_str() {
        s.push_str(&format!(", doi = {{{d}}}"));
    }
    if let Some(u) = p["url"].as_str() {
        s.push_str(&format!(", url = {{{u}}}"));
    }
    s.push('}');
    s
}

/// DataCite `Methods`: how the payload was made, from provenance.json and the record.
pub fn methods_text(facts: &Facts) -> String {
    let r = &facts.record;
    let mut s = String::new();
    let p = facts.provenance.as_ref();
    if let Some(d) = p.and_then(|p| p["description"].as_str()) {
        s.push_str(d);
        s.push_str(". ");
    }
    s.push_str(&format!(
        "Made by {} {} (source reader '{}') from {} input file(s): ",
        r.tool.name,
        r.tool.version,
        r.source,
        r.inputs.len()
    ));
    let inputs: Vec<String> = r
        .inputs
        .iter()
        .map(|i| format!("{} ({} bytes, sha256 {})", i.name, i.size, i.sha256))
        .collect();
    s.push_str(&inputs.join("; "));
    s.push('.');
    if let Some(f) = p.and_then(|p| p.get("fetch")).filter(|f| !f.is_null()) {
        s.push_str(&format!(
            " Fetched from {} ({} pages, {} to {}).",
            f["base_url"].as_str().unwrap_or("?"),
            f["pages"].as_array().map(Vec::len).unwrap_or(0),
            f["start"].as_str().unwrap_or("?"),
            f["end"].as_str().unwrap_or("?")
        ));
    }
    if let Some(ts) = p.and_then(|p| p["transforms"].as_array()) {
        s.push_str(" Transforms:");
        for t in ts {
            s.push_str(&format!(
                " {}: {};",
                t["output"].as_str().unwrap_or("?"),
                t["method"].as_str().unwrap_or("?")
            ));
        }
    }
    s.push_str(&format!(" Options: {}.", r.options));
    s
}

/// DataCite `TechnicalInfo`: layout, digest, parent and how to verify.
pub fn technical_text(facts: &Facts) -> String {
    let r = &facts.record;
    let mut s = format!(
        "A BagIt 1.0 bag (RFC 8493) of {} payload files, {} bytes. Version digest {} = SHA-256 of the bag's manifest-sha256.txt; check with 'sha256sum -c manifest-sha256.txt' inside the bag or 'sciml-data verify'.",
        r.payload.files, r.payload.bytes, r.digest
    );
    match &facts.parent {
        Some(p) => s.push_str(&format!(
            " Parent version: {}@{} ({}).",
            p.dataset, p.version, p.digest
        )),
        None => s.push_str(" Parent version: none."),
    }
    for t in &facts.layout.tables {
        let cols: Vec<String> = t
            .columns
            .iter()
            .map(|c| format!("{} {}", c.name, c.data_type))
            .collect();
        s.push_str(&format!(
            " Parquet table {} ({} rows, {} file(s), {}): {}.",
            t.name,
            t.rows,
            t.files.len(),
            t.glob,
            cols.join(", ")
        ));
    }
    for a in &facts.layout.arrays {
        let shape: Vec<String> = a.shape.iter().map(u64::to_string).collect();
        let chunk: Vec<String> = a.chunk_shape.iter().map(u64::to_string).collect();
        s.push_str(&format!(
            " Zarr v3 array {} {} ({}) chunks ({}).",
            a.path,
            a.data_type,
            shape.join(", "),
            chunk.join(", ")
        ));
    }
    s
}

/// The human changelog of a new version against its parent (`metadata/changelog.md`).
pub fn changelog(d: &crate::diff::Diff, new: &VersionRecord, parent: &VersionRecord) -> String {
    use crate::diff::Change;
    let mut s = format!(
        "# {}@{}\n\nChanges since {}@{}.\n\n- digest: {}\n- parent digest: {}\n- message: {}\n- payload: {} files, {} bytes (was {} files, {} bytes)\n",
        new.dataset,
        new.version,
        parent.dataset,
        parent.version,
        new.digest,
        parent.digest,
        if new.message.is_empty() {
            "-"
        } else {
            &new.message
        },
        new.payload.files,
        new.payload.bytes,
        parent.payload.files,
        parent.payload.bytes
    );
    let count = |c: Change| d.entries.iter().filter(|e| e.change == c).count();
    s.push_str(&format!(
        "- objects: {} added, {} removed, {} changed, {} unchanged\n",
        count(Change::Added),
        count(Change::Removed),
        count(Change::Changed),
        d.unchanged
    ));
    let old_inputs: Vec<&str> = parent.inputs.iter().map(|i| i.sha256.as_str()).collect();
    let new_inputs: Vec<String> = new
        .inputs
        .iter()
        .filter(|i| !old_inputs.contains(&i.sha256.as_str()))
        .map(|i| i.name.clone())
        .collect();
    if !new_inputs.is_empty() {
        s.push_str(&format!("- new inputs: {}\n", new_inputs.join(", ")));
    }
    if !d.tables.is_empty() {
        s.push_str("\n## Tables\n\n| table | change | rows before | rows after | files changed | schema |\n|---|---|---|---|---|---|\n");
        for t in &d.tables {
            let mut schema = Vec::new();
            for c in &t.columns_added {
                schema.push(format!("+{} {}", c.name, c.data_type));
            }
            for c in &t.columns_removed {
                schema.push(format!("-{}", c.name));
            }
            for c in &t.columns_retyped {
                schema.push(format!("{}: {} -> {}", c.name, c.old, c.new));
            }
            let n = |v: Option<u64>| v.map(|x| x.to_string()).unwrap_or_else(|| "-".into());
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                t.name,
                node_change(t.change),
                n(t.old_rows),
                n(t.new_rows),
                t.files_changed,
                if schema.is_empty() {
                    "unchanged".to_string()
                } else {
                    schema.join("; ")
                }
            ));
        }
    }
    if !d.arrays.is_empty() {
        s.push_str("\n## Arrays\n\n| array | change | shape before | shape after | chunks added | removed | changed | unchanged |\n|---|---|---|---|---|---|---|---|\n");
        for a in &d.arrays {
            let shape = |v: &Option<Vec<u64>>| {
                v.as_ref()
                    .map(|s| {
                        format!(
                            "({})",
                            s.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
                        )
                    })
                    .unwrap_or_else(|| "-".into())
            };
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
                a.path,
                node_change(a.change),
                shape(&a.old_shape),
                shape(&a.new_shape),
                a.chunks_added.len(),
                a.chunks_removed.len(),
                a.chunks_changed.len(),
                a.chunks_unchanged
            ));
        }
    }
    s
}

fn node_change(c: crate::diff::NodeChange) -> &'static str {
    match c {
        crate::diff::NodeChange::Added => "added",
        crate::diff::NodeChange::Removed => "removed",
        crate::diff::NodeChange::Changed => "changed",
        crate::diff::NodeChange::Unchanged => "unchanged",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ni_uris_follow_rfc_6920() {
        // RFC 6920 section 3 example: sha-256 of "Hello World!".
        let d = crate::hashing::sha256_hex(b"Hello World!");
        assert_eq!(
            ni_uri(&format!("sha256:{d}")),
            "ni:///sha-256;f4OxZX_x_FO5LcGBSKHWXfwtSx-j1ncoSt3SABJtkGk"
        );
    }

    #[test]
    fn doi_forms_are_checked() {
        assert!(is_doi("10.5281/zenodo.123"));
        assert!(!is_doi("https://doi.org/10.5281/zenodo.123"));
        assert!(!is_doi("10.52/x"));
        let bad = MetadataOptions {
            doi: Some("doi:10.1/x".into()),
            ..Default::default()
        };
        assert!(bad.check().unwrap_err().to_string().contains("--doi"));
    }
}

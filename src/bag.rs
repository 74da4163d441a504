//! The BagIt (RFC 8493) form of a version: manifests, tag files and the version digest.
//!
//! A version is a bag: `bagit.txt`, `bag-info.txt`, `manifest-sha256.txt` over every file
//! under `data/`, tag files under `metadata/`, and `tagmanifest-sha256.txt` over the tag
//! files. The version digest is the SHA-256 of the canonical `manifest-sha256.txt`.
//! docs/format.md is the specification this module follows.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{Context, Result, bail};

use crate::hashing::sha256_hex;

/// `bagit.txt`, byte for byte.
pub const BAGIT_TXT: &str = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n";
/// The payload manifest's file name.
pub const MANIFEST: &str = "manifest-sha256.txt";
/// The tag manifest's file name.
pub const TAGMANIFEST: &str = "tagmanifest-sha256.txt";
/// The bag declaration's file name.
pub const BAGIT: &str = "bagit.txt";
/// The bag metadata's file name.
pub const BAG_INFO: &str = "bag-info.txt";
/// Per-file payload sizes (a tag file of ours), used by `verify --fast`.
pub const SIZES: &str = "metadata/sizes.txt";
/// Payload directory.
pub const PAYLOAD_DIR: &str = "data/";

/// Size and SHA-256 of one file of a bag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub size: u64,
    pub sha256: String,
}

/// Files of a bag by path relative to the bag root. `BTreeMap<String, _>` iterates in
/// bytewise UTF-8 order, which is the canonical manifest order.
pub type Inventory = BTreeMap<String, FileEntry>;

/// Checks that `path` is a safe, canonical relative path inside a bag: '/'-separated, not
/// absolute, no empty, `.` or `..` segments, no backslashes and no control characters.
pub fn check_relative_path(path: &str) -> Result<()> {
    if path.is_empty() {
        bail!("empty path");
    }
    let drive_letter = path.len() >= 2 && path.as_bytes()[1] == b':';
    if path.starts_with('/') || path.contains('\\') || drive_letter {
        bail!("path {path:?} is absolute or not '/'-separated");
    }
    if path.chars().any(|c| c.is_control()) {
        bail!("path {path:?} contains a control character");
    }
    for seg in path.split('/') {
        if seg.is_empty() || seg == "." || seg == ".." {
            bail!("path {path:?} has an empty, '.' or '..' segment (it could escape the bag)");
        }
    }
    Ok(())
}

/// RFC 8493 §2.1.3: in manifests, `%`, CR and LF in file paths are percent-encoded.
fn encode_path(path: &str) -> String {
    path.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn decode_path(path: &str) -> String {
    path.replace("%0A", "\n")
        .replace("%0a", "\n")
        .replace("%0D", "\r")
        .replace("%0d", "\r")
        .replace("%25", "%")
}

/// Canonical manifest text: `<sha256>  <path>\n` per file, sorted by path.
pub fn manifest_text(files: &Inventory) -> String {
    let mut out = String::with_capacity(files.len() * 100);
    for (path, e) in files {
        let _ = writeln!(out, "{}  {}", e.sha256, encode_path(path));
    }
    out
}

/// `<size>  <path>\n` per file, sorted by path (the `metadata/sizes.txt` tag file).
pub fn sizes_text(files: &Inventory) -> String {
    let mut out = String::with_capacity(files.len() * 60);
    for (path, e) in files {
        let _ = writeln!(out, "{}  {}", e.size, encode_path(path));
    }
    out
}

/// The version digest of a manifest's bytes: `sha256:<hex>`.
pub fn digest_of_manifest(manifest: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(manifest))
}

/// Payload-Oxum value `<bytes>.<count>`.
pub fn payload_oxum(files: &Inventory) -> (u64, u64) {
    (files.values().map(|e| e.size).sum(), files.len() as u64)
}

/// Splits a `<value>  <path>` line (one or more spaces or tabs between them).
fn split_line(line: &str) -> Option<(&str, &str)> {
    let idx = line.find([' ', '\t'])?;
    let (value, rest) = line.split_at(idx);
    let path = rest.trim_start_matches([' ', '\t']);
    let path = path.strip_prefix('*').unwrap_or(path); // sha256sum binary-mode marker
    if value.is_empty() || path.is_empty() {
        return None;
    }
    Some((value, path))
}

/// Parses a `manifest-sha256.txt` or `tagmanifest-sha256.txt`. Every path must be safe
/// (see [`check_relative_path`]); `file` names the manifest in errors.
pub fn parse_manifest(text: &str, file: &str) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        let (hash, path) = split_line(line)
            .with_context(|| format!("{file}:{}: expected '<sha256>  <path>'", i + 1))?;
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("{file}:{}: {hash:?} is not a SHA-256 hex digest", i + 1);
        }
        let path = decode_path(path);
        check_relative_path(&path).with_context(|| format!("{file}:{}: unsafe path", i + 1))?;
        if out
            .insert(path.clone(), hash.to_ascii_lowercase())
            .is_some()
        {
            bail!("{file}:{}: {path:?} is listed twice", i + 1);
        }
    }
    Ok(out)
}

/// Parses `metadata/sizes.txt`.
pub fn parse_sizes(text: &str, file: &str) -> Result<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (size, path) = split_line(line)
            .with_context(|| format!("{file}:{}: expected '<size>  <path>'", i + 1))?;
        let size: u64 = size
            .parse()
            .with_context(|| format!("{file}:{}: {size:?} is not a size", i + 1))?;
        let path = decode_path(path);
        check_relative_path(&path).with_context(|| format!("{file}:{}: unsafe path", i + 1))?;
        out.insert(path, size);
    }
    Ok(out)
}

/// `bag-info.txt` as ordered `Label: value` pairs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BagInfo {
    pub fields: Vec<(String, String)>,
}

impl BagInfo {
    pub fn push(&mut self, label: &str, value: impl Into<String>) {
        self.fields.push((label.to_string(), value.into()));
    }

    /// The first value of `label`.
    pub fn get(&self, label: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(l, _)| l.eq_ignore_ascii_case(label))
            .map(|(_, v)| v.as_str())
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for (l, v) in &self.fields {
            let _ = writeln!(out, "{l}: {v}");
        }
        out
    }

    /// Parses `bag-info.txt` (continuation lines start with whitespace).
    pub fn parse(text: &str) -> Result<BagInfo> {
        let mut info = BagInfo::default();
        for (i, line) in text.lines().enumerate() {
            if line.starts_with([' ', '\t']) {
                let Some(last) = info.fields.last_mut() else {
                    bail!("bag-info.txt:{}: continuation line without a label", i + 1);
                };
                last.1.push(' ');
                last.1.push_str(line.trim());
                continue;
            }
            if line.trim().is_empty() {
                continue;
            }
            let (l, v) = line
                .split_once(':')
                .with_context(|| format!("bag-info.txt:{}: expected 'Label: value'", i + 1))?;
            info.push(l.trim(), v.trim());
        }
        Ok(info)
    }

    /// Payload-Oxum as `(bytes, count)`.
    pub fn payload_oxum(&self) -> Result<(u64, u64)> {
        let v = self
            .get("Payload-Oxum")
            .context("bag-info.txt has no Payload-Oxum")?;
        let (b, c) = v
            .split_once('.')
            .with_context(|| format!("bag-info.txt: malformed Payload-Oxum {v:?}"))?;
        Ok((
            b.parse()
                .with_context(|| format!("bag-info.txt: malformed Payload-Oxum {v:?}"))?,
            c.parse()
                .with_context(|| format!("bag-info.txt: malformed Payload-Oxum {v:?}"))?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv(items: &[(&str, u64, &str)]) -> Inventory {
        items
            .iter()
            .map(|(p, s, h)| {
                (
                    p.to_string(),
                    FileEntry {
                        size: *s,
                        sha256: h.to_string(),
                    },
                )
            })
            .collect()
    }

    #[test]
    fn manifest_is_sorted_bytewise_and_round_trips() {
        let h = "a".repeat(64);
        let files = inv(&[("data/b", 1, &h), ("data/B", 2, &h), ("data/a/x", 3, &h)]);
        let text = manifest_text(&files);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], format!("{h}  data/B"));
        assert_eq!(lines[1], format!("{h}  data/a/x"));
        assert_eq!(lines[2], format!("{h}  data/b"));
        let parsed = parse_manifest(&text, MANIFEST).unwrap();
        assert_eq!(parsed.len(), 3);
        assert_eq!(payload_oxum(&files), (6, 3));
        let sizes = parse_sizes(&sizes_text(&files), SIZES).unwrap();
        assert_eq!(sizes["data/a/x"], 3);
    }

    #[test]
    fn escaping_paths_are_rejected() {
        let h = "0".repeat(64);
        for bad in [
            "../x",
            "data/../../etc/passwd",
            "/etc/passwd",
            "data//x",
            "data/./x",
            "a\\b",
        ] {
            let text = format!("{h}  {bad}\n");
            assert!(parse_manifest(&text, MANIFEST).is_err(), "{bad} accepted");
        }
        assert!(parse_manifest(&format!("{h}  data/ok\n"), MANIFEST).is_ok());
        assert!(parse_manifest("xyz  data/ok\n", MANIFEST).is_err());
    }

    #[test]
    fn percent_encoding_round_trips() {
        let h = "1".repeat(64);
        let files = inv(&[("data/100%", 1, &h)]);
        let text = manifest_text(&files);
        assert!(text.contains("data/100%25"));
        assert!(
            parse_manifest(&text, MANIFEST)
                .unwrap()
                .contains_key("data/100%")
        );
    }

    #[test]
    fn bag_info_round_trips() {
        let mut info = BagInfo::default();
        info.push("Payload-Oxum", "123.4");
        info.push("Bag-Group-Identifier", "tevolop");
        let parsed = BagInfo::parse(&info.to_text()).unwrap();
        assert_eq!(parsed, info);
        assert_eq!(parsed.payload_oxum().unwrap(), (123, 4));
    }
}

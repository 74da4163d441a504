//! Which model scores a benchmark, and checking it before it runs.
//!
//! A catalog entry's `scoring.model` names a file under `models/` with its SHA-256. The small
//! trained models live in the repository and are compiled into the binary, so `demo` and the
//! tests score anywhere; `--model FILE` scores any other ONNX file (its SHA-256 is recorded).
//! A catalog model whose bytes do not hash to the catalog's SHA-256 is refused.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The models that ship with the repository (`models/`), by catalog path.
const EMBEDDED: &[(&str, &[u8])] = &[
    (
        "models/tevolop-lstm-demo.onnx",
        include_bytes!("../../models/tevolop-lstm-demo.onnx"),
    ),
    (
        "models/candle-uno-demo.onnx",
        include_bytes!("../../models/candle-uno-demo.onnx"),
    ),
    (
        "models/stemdl-resnet50-demo.onnx",
        include_bytes!("../../models/stemdl-resnet50-demo.onnx"),
    ),
    (
        "models/cloudmask-unet-demo.onnx",
        include_bytes!("../../models/cloudmask-unet-demo.onnx"),
    ),
];

/// A model ready to load: its bytes, SHA-256 and where it came from.
#[derive(Debug, Clone)]
pub struct Model {
    pub bytes: Vec<u8>,
    pub sha256: String,
    /// `catalog:<file>` or the path given with `--model`.
    pub origin: String,
    /// The catalog's name for it, when it came from the catalog.
    pub name: Option<String>,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Loads `--model FILE`; with `expect_sha256` the file must hash to it.
pub fn from_file(path: &Path, expect_sha256: Option<&str>) -> Result<Model> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read model {}", path.display()))?;
    let sha = sha256_hex(&bytes);
    if let Some(want) = expect_sha256
        && !want.eq_ignore_ascii_case(&sha)
    {
        bail!(
            "model {} has SHA-256 {sha}, expected {want}: refusing to score with it",
            path.display()
        );
    }
    Ok(Model {
        bytes,
        sha256: sha,
        origin: path.display().to_string(),
        name: None,
    })
}

/// The model that the catalog entry names (`scoring.model`), checked against its SHA-256.
/// Files are looked up among the embedded models first, then relative to `search_root`.
pub fn from_catalog(entry: &Value, search_root: Option<&Path>) -> Result<Model> {
    let id = entry.get("id").and_then(Value::as_str).unwrap_or("?");
    let m = entry.pointer("/scoring/model").with_context(|| {
        format!(
            "no baseline model is registered for {id} (catalog/{id}.json has no scoring.model); \
                 pass --model FILE to score with an ONNX model"
        )
    })?;
    let file = m
        .get("file")
        .and_then(Value::as_str)
        .with_context(|| format!("catalog entry {id}: scoring.model.file is missing"))?;
    let want = m
        .get("sha256")
        .and_then(Value::as_str)
        .with_context(|| format!("catalog entry {id}: scoring.model.sha256 is missing"))?;
    let name = m.get("name").and_then(Value::as_str).map(str::to_string);
    let bytes = match EMBEDDED.iter().find(|(p, _)| *p == file) {
        Some((_, b)) => b.to_vec(),
        None => {
            let p: PathBuf = search_root.unwrap_or(Path::new(".")).join(file);
            std::fs::read(&p).with_context(|| {
                format!("catalog entry {id}: model file {} not found", p.display())
            })?
        }
    };
    let sha = sha256_hex(&bytes);
    if !sha.eq_ignore_ascii_case(want) {
        bail!(
            "catalog entry {id}: model {file} has SHA-256 {sha} but the catalog records {want}: \
             refusing to score with it"
        );
    }
    Ok(Model {
        bytes,
        sha256: sha,
        origin: format!("catalog:{file}"),
        name,
    })
}

/// The embedded model files (for the catalog checks).
pub fn embedded() -> impl Iterator<Item = (&'static str, &'static [u8])> {
    EMBEDDED.iter().copied()
}

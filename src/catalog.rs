//! The benchmark catalog: one JSON entry per benchmark under catalog/, validated against
//! schemas/catalog-entry.schema.json. The entries are embedded in the binary so that the
//! tool always knows the benchmarks it was built with.

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

/// The catalog entry schema.
pub const ENTRY_SCHEMA: &str = include_str!("../schemas/catalog-entry.schema.json");
/// The version record schema.
pub const RECORD_SCHEMA: &str = include_str!("../schemas/version-record.schema.json");

/// The embedded entries: (file name, JSON text).
pub const ENTRIES: &[(&str, &str)] = &[("tevolop.json", include_str!("../catalog/tevolop.json"))];

/// Validates `doc` against the JSON Schema `schema`; the error lists every violation with
/// its JSON pointer.
pub fn validate(schema: &str, doc: &Value, what: &str) -> Result<()> {
    let schema: Value = serde_json::from_str(schema).context("embedded schema is not JSON")?;
    let validator =
        jsonschema::validator_for(&schema).map_err(|e| anyhow!("invalid schema: {e}"))?;
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| {
            format!(
                "  {}: {}",
                if e.instance_path().as_str().is_empty() {
                    "/"
                } else {
                    e.instance_path().as_str()
                },
                e
            )
        })
        .collect();
    if !errors.is_empty() {
        bail!("{what} does not match its schema:\n{}", errors.join("\n"));
    }
    Ok(())
}

/// All embedded entries, each validated.
pub fn entries() -> Result<Vec<Value>> {
    ENTRIES
        .iter()
        .map(|(name, text)| {
            let v: Value = serde_json::from_str(text)
                .with_context(|| format!("catalog/{name} is not JSON"))?;
            validate(ENTRY_SCHEMA, &v, &format!("catalog/{name}"))?;
            Ok(v)
        })
        .collect()
}

/// The entry with `id`.
pub fn entry(id: &str) -> Result<Value> {
    let all = entries()?;
    let ids: Vec<String> = all
        .iter()
        .filter_map(|e| e["id"].as_str().map(String::from))
        .collect();
    all.into_iter().find(|e| e["id"] == id).ok_or_else(|| {
        anyhow!(
            "no benchmark {id:?} in the catalog (known: {})",
            ids.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_validates() {
        let all = entries().unwrap();
        assert_eq!(all.len(), ENTRIES.len());
        assert_eq!(entry("tevolop").unwrap()["dataset"]["name"], "tevolop");
    }

    #[test]
    fn a_broken_entry_is_rejected_with_its_path() {
        let mut v: Value = serde_json::from_str(ENTRIES[0].1).unwrap();
        v.as_object_mut().unwrap().remove("objective");
        let err = validate(ENTRY_SCHEMA, &v, "x").unwrap_err().to_string();
        assert!(err.contains("objective"), "{err}");
    }
}

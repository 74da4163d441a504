//! The CANDLE Pilot1 input files this source knows, recognised by file name, and the
//! explicit schemas of the long tables (the dtypes `uno_data.py` reads them with).

use anyhow::{Result, bail};
use arrow::datatypes::DataType;
use serde::Serialize;

/// A column type of a long table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ColType {
    Utf8,
    Float32,
    Float64,
    Int64,
}

impl ColType {
    /// The Arrow type written to Parquet.
    pub fn arrow(self) -> DataType {
        match self {
            ColType::Utf8 => DataType::Utf8,
            ColType::Float32 => DataType::Float32,
            ColType::Float64 => DataType::Float64,
            ColType::Int64 => DataType::Int64,
        }
    }
}

/// What an input file is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Kind {
    /// `combined_single_response_agg`: one fitted dose-response curve per row.
    Response,
    /// `rescaled_combined_single_drug_growth`: one growth measurement per row.
    Growth,
    /// `combined_rnaseq_data*`: `Sample` + gene columns (optional `Cancer_type_id`).
    Rnaseq,
    /// `*_dragon7_descriptors.tsv`: `NAME` + Dragon7 descriptors.
    Descriptors,
    /// `*_dragon7_{PFP,ECFP}.tsv`: first line skipped, no header, drug + bits.
    Fingerprints { prefix: String },
    /// `ComboDrugGrowth_Nov2017.csv` (comma separated): NCI ALMANAC drug-pair growth.
    Combo,
    /// `extended_combined_mordred_descriptors`: drug id (first column) + Mordred descriptors.
    Mordred,
    /// Drug and cell lookup tables (types inferred); `header` false for `cl_mapping`.
    Annotation { header: bool },
}

/// The NCI ALMANAC drug-pair growth table (`uno_data.load_combo_dose_response`).
pub const COMBO_FILE: &str = "ComboDrugGrowth_Nov2017.csv";
/// The Mordred descriptor table (`uno_data.load_mordred_descriptors`).
pub const MORDRED_FILE: &str = "extended_combined_mordred_descriptors";
/// The columns `load_combo_dose_response` reads (`usecols`) with its dtypes; the real
/// file has more columns, which are kept with inferred types.
pub const COMBO_COLUMNS: [(&str, ColType); 9] = [
    ("CELLNAME", ColType::Utf8),
    ("NSC1", ColType::Utf8),
    ("CONC1", ColType::Float32),
    ("NSC2", ColType::Utf8),
    ("CONC2", ColType::Float32),
    ("PERCENTGROWTH", ColType::Float32),
    ("VALID", ColType::Utf8),
    ("SCREENER", ColType::Utf8),
    ("STUDY", ColType::Utf8),
];

/// Annotation (lookup) tables recognised by exact name; `false` = no header line.
pub const ANNOTATIONS: [(&str, bool); 6] = [
    ("combined.panther.targets", true),
    ("drug_info", true),
    ("cl_metadata", true),
    ("cl_mapping", false),
    ("NCI_IOA_AOA_drugs", true),
    ("NCI60_CELLNAME_to_Combo.txt", true),
];

/// Files a fetch directory may hold that are not inputs.
pub fn is_ignored(name: &str) -> bool {
    name == super::fetch::PROVENANCE_FILE || name.ends_with(".part") || name.starts_with('.')
}

/// Classifies an input by its file name; unknown names are errors.
pub fn classify(name: &str) -> Result<Kind> {
    if name == "combined_single_response_agg" {
        return Ok(Kind::Response);
    }
    if name == "rescaled_combined_single_drug_growth" {
        return Ok(Kind::Growth);
    }
    if name == COMBO_FILE {
        return Ok(Kind::Combo);
    }
    if name == MORDRED_FILE {
        return Ok(Kind::Mordred);
    }
    if name.starts_with("combined_rnaseq_data") {
        return Ok(Kind::Rnaseq);
    }
    if name.ends_with("_dragon7_descriptors.tsv") {
        return Ok(Kind::Descriptors);
    }
    for fp in ["PFP", "ECFP"] {
        if name.ends_with(&format!("_dragon7_{fp}.tsv")) {
            return Ok(Kind::Fingerprints { prefix: fp.into() });
        }
    }
    if let Some((_, header)) = ANNOTATIONS.iter().find(|(n, _)| *n == name) {
        return Ok(Kind::Annotation { header: *header });
    }
    bail!(
        "{name}: unknown CANDLE input file. Known: combined_single_response_agg, \
         rescaled_combined_single_drug_growth, {COMBO_FILE}, combined_rnaseq_data*, \
         *_dragon7_descriptors.tsv, *_dragon7_PFP.tsv, *_dragon7_ECFP.tsv, {MORDRED_FILE}, {} \
         (see docs/sources/candle.md)",
        ANNOTATIONS.map(|a| a.0).join(", ")
    )
}

/// Name of a table in the payload: the file name without a `.tsv`/`.txt` extension.
pub fn table_name(file: &str) -> String {
    file.strip_suffix(".tsv")
        .or_else(|| file.strip_suffix(".txt"))
        .unwrap_or(file)
        .to_string()
}

/// The string columns of `combined_single_response_agg`.
pub const RESPONSE_KEYS: [&str; 4] = ["SOURCE", "CELL", "DRUG", "STUDY"];
/// The float32 columns of `combined_single_response_agg`, in file order.
pub const RESPONSE_VALUES: [&str; 10] = [
    "AUC", "IC50", "EC50", "EC50se", "R2fit", "Einf", "HS", "AAC1", "AUC1", "DSS1",
];
/// Columns of `rescaled_combined_single_drug_growth`, in file order.
pub const GROWTH_COLUMNS: [(&str, ColType); 7] = [
    ("SOURCE", ColType::Utf8),
    ("DRUG_ID", ColType::Utf8),
    ("CELLNAME", ColType::Utf8),
    ("CONCUNIT", ColType::Utf8),
    ("LOG_CONCENTRATION", ColType::Float32),
    ("EXPID", ColType::Utf8),
    ("GROWTH", ColType::Float32),
];

/// The schema of `combined_single_response_agg` (as `uno_data.load_aggregated_single_response`).
pub fn response_schema() -> Vec<(String, ColType)> {
    RESPONSE_KEYS
        .iter()
        .map(|c| (c.to_string(), ColType::Utf8))
        .chain(
            RESPONSE_VALUES
                .iter()
                .map(|c| (c.to_string(), ColType::Float32)),
        )
        .collect()
}

/// The schema of the growth table (as `uno_data.load_single_dose_response`).
pub fn growth_schema() -> Vec<(String, ColType)> {
    GROWTH_COLUMNS
        .iter()
        .map(|(c, t)| (c.to_string(), *t))
        .collect()
}

/// Types the header of the combo table: the columns of [`COMBO_COLUMNS`] must all be
/// there (any order) with their types; every other column gets its type from `others`
/// (inferred over the file). A missing required column is an error naming the file.
pub fn bind_combo(file: &str, header: &[String], others: &[ColType]) -> Result<Vec<ColType>> {
    let missing: Vec<&str> = COMBO_COLUMNS
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| !header.iter().any(|h| h == n))
        .collect();
    if !missing.is_empty() {
        bail!(
            "{file}:1: header lacks the columns {missing:?} that uno_data.load_combo_dose_response reads"
        );
    }
    Ok(header
        .iter()
        .enumerate()
        .map(|(i, h)| {
            COMBO_COLUMNS
                .iter()
                .find(|(n, _)| n == h)
                .map(|(_, t)| *t)
                .unwrap_or_else(|| others.get(i).copied().unwrap_or(ColType::Utf8))
        })
        .collect())
}

/// Matches a header against an explicit schema (any column order). Returns, for each
/// header column, its type; missing or unexpected columns are errors naming the file.
pub fn bind(file: &str, header: &[String], schema: &[(String, ColType)]) -> Result<Vec<ColType>> {
    let missing: Vec<&str> = schema
        .iter()
        .filter(|(n, _)| !header.contains(n))
        .map(|(n, _)| n.as_str())
        .collect();
    let extra: Vec<&str> = header
        .iter()
        .filter(|h| !schema.iter().any(|(n, _)| n == *h))
        .map(|h| h.as_str())
        .collect();
    if !missing.is_empty() || !extra.is_empty() {
        bail!(
            "{file}:1: header does not match the {} schema: missing columns {:?}, unexpected columns {:?}",
            table_name(file),
            missing,
            extra
        );
    }
    Ok(header
        .iter()
        .map(|h| {
            schema
                .iter()
                .find(|(n, _)| n == h)
                .map(|(_, t)| *t)
                .unwrap_or(ColType::Utf8)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_the_real_file_names() {
        assert_eq!(
            classify("combined_single_response_agg").unwrap(),
            Kind::Response
        );
        assert_eq!(
            classify("combined_rnaseq_data_lincs1000_source_scale").unwrap(),
            Kind::Rnaseq
        );
        assert_eq!(
            classify("NCI60_dragon7_ECFP.tsv").unwrap(),
            Kind::Fingerprints {
                prefix: "ECFP".into()
            }
        );
        assert_eq!(classify(COMBO_FILE).unwrap(), Kind::Combo);
        assert_eq!(classify(MORDRED_FILE).unwrap(), Kind::Mordred);
        assert_eq!(
            classify("cl_mapping").unwrap(),
            Kind::Annotation { header: false }
        );
        let e = classify("notes.txt").unwrap_err().to_string();
        assert!(e.starts_with("notes.txt: unknown CANDLE input file"), "{e}");
    }

    #[test]
    fn bind_reports_missing_and_extra_columns() {
        let h: Vec<String> = ["SOURCE", "CELL", "DRUG", "STUDY", "AUC", "X"]
            .map(String::from)
            .to_vec();
        let e = bind("combined_single_response_agg", &h, &response_schema())
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"IC50\"") && e.contains("[\"X\"]"), "{e}");
    }
}

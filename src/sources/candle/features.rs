//! Wide numeric feature tables (RNA-seq, Dragon7 descriptors, fingerprints) to 2-D float32
//! Zarr v3 arrays, entity x feature, with their row and column labels as Parquet tables.
//!
//! Rows stream in; one block of `row_chunk` rows is buffered and written as chunks of
//! `row_chunk x col_chunk`, so memory is one row block and a user can read a set of rows
//! or a block of features without reading the rest. Missing values (`na`, `-`, empty)
//! become NaN and are counted per row and per column.

use std::io::BufRead;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use arrow::array::{ArrayRef, Int32Array, Int64Array, Int64Builder, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use serde::Serialize;
use serde_json::{Map, Value, json};
use zarrs::array::codec::ZstdCodec;
use zarrs::array::{Array, ArrayBuilder, data_type};

use super::tsv::{TsvReader, parse_f32};
use crate::staging::StagingZarrStore;

/// Placeholder row count while the real one is unknown (chunk keys do not depend on it).
const OPEN_ROWS: u64 = 1 << 40;

/// How a feature table is laid out in its file.
#[derive(Debug, Clone)]
pub struct FeatureLayout {
    /// Name of the entity dimension (`sample`, `drug`).
    pub entity: &'static str,
    /// Where the row label is.
    pub key: Key,
    /// Feature names for header-less files: `<prefix>.<i>` (i = column index, from 1).
    pub prefix: Option<String>,
    /// Non-feature columns kept as integer row attributes (`Cancer_type_id`).
    pub row_attributes: &'static [&'static str],
    /// Non-numeric values become NaN (counted) instead of being errors, as the reference's
    /// `pd.to_numeric(errors='coerce')`; `True`/`False` read as 1/0 (pandas' booleans).
    pub coerce_non_numeric: bool,
}

/// The row-label column of a feature table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// The header column of this name (`Sample`, `NAME`), anywhere in the header.
    Named(&'static str),
    /// The first header column, whatever its name (Mordred: `DRUG` in `uno_data`).
    First,
    /// Header-less files: the first column is the key, named `Drug` (fingerprints).
    HeaderLess,
}

/// pandas' default boolean spellings.
fn boolean(v: &str) -> Option<f32> {
    match v.trim() {
        "True" | "TRUE" | "true" => Some(1.0),
        "False" | "FALSE" | "false" => Some(0.0),
        _ => None,
    }
}

/// What was written for one feature table.
#[derive(Debug, Clone, Serialize)]
pub struct FeatureSummary {
    pub table: String,
    pub array: String,
    pub rows_table: String,
    pub columns_table: String,
    pub entity: String,
    pub rows: u64,
    pub features: u64,
    pub chunk_shape: [u64; 2],
    pub missing_values: u64,
    pub rows_with_missing: u64,
    pub features_with_missing: u64,
    pub skipped_first_lines: Vec<String>,
    /// Name of the row-label column in `rows.parquet`.
    pub key_column: String,
    /// Values that were neither numbers nor missing markers and became NaN (only for
    /// tables read with `coerce_non_numeric`; they are included in `missing_values`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub non_numeric_values: Option<u64>,
    /// The first such value, as `file:line: column C: "value"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_non_numeric: Option<String>,
}

/// Streams one feature table into `store` at `/<table>`; returns the summary and the
/// row and column label tables.
#[allow(clippy::too_many_arguments)]
pub async fn write_table<R: BufRead>(
    store: &Arc<StagingZarrStore>,
    store_prefix: &str,
    table: &str,
    file: &str,
    input: R,
    layout: &FeatureLayout,
    row_chunk: u64,
    col_chunk: u64,
    mut on_row: impl FnMut(u64),
) -> Result<(FeatureSummary, RecordBatch, RecordBatch)> {
    let header_less = layout.key == Key::HeaderLess;
    let (mut r, skipped) = TsvReader::new(file, input, usize::from(header_less), !header_less)?;
    // Column roles.
    let (key_idx, attr_idx, feature_idx, feature_names) = if header_less {
        // The first data line decides the width.
        (0usize, Vec::new(), Vec::new(), Vec::new())
    } else {
        let h = r.header().to_vec();
        let key_idx = match layout.key {
            Key::Named(key) => h
                .iter()
                .position(|c| c == key)
                .with_context(|| format!("{file}:1: no {key} column in the header"))?,
            _ => 0,
        };
        let attr_idx: Vec<usize> = layout
            .row_attributes
            .iter()
            .filter_map(|a| h.iter().position(|c| c == a))
            .collect();
        let feature_idx: Vec<usize> = (0..h.len())
            .filter(|i| *i != key_idx && !attr_idx.contains(i))
            .collect();
        let names = feature_idx.iter().map(|i| h[*i].clone()).collect();
        (key_idx, attr_idx, feature_idx, names)
    };
    let mut feature_idx = feature_idx;
    let mut feature_names: Vec<String> = feature_names;
    let mut ncols = feature_idx.len() as u64;
    let row_chunk = row_chunk.max(1);
    let col_chunk = col_chunk.max(1);

    let mut labels: Vec<String> = Vec::new();
    let mut row_missing: Vec<i64> = Vec::new();
    let mut attrs: Vec<Int64Builder> = attr_idx.iter().map(|_| Int64Builder::new()).collect();
    let mut col_missing: Vec<u64> = vec![0; ncols as usize];
    let mut non_numeric = 0u64;
    let mut first_non_numeric: Option<String> = None;
    let mut buf: Vec<f32> = Vec::new();
    let mut rows_in_buf = 0u64;
    let mut block = 0u64;
    let mut array: Option<Array<StagingZarrStore>> = None;
    let path = format!("/{table}");
    let build = |rows: u64, ncols: u64| -> Result<Array<StagingZarrStore>> {
        Ok(ArrayBuilder::new(
            vec![rows, ncols],
            vec![row_chunk, col_chunk],
            data_type::float32(),
            f32::NAN,
        )
        .bytes_to_bytes_codecs(vec![Arc::new(ZstdCodec::new(5, true))])
        .dimension_names(Some([layout.entity, "feature"]))
        .build(store.clone(), &path)?)
    };

    while r.next_row()? {
        if array.is_none() {
            if header_less {
                let prefix = layout.prefix.clone().unwrap_or_else(|| "f".into());
                feature_idx = (1..r.len()).collect();
                feature_names = feature_idx
                    .iter()
                    .map(|i| format!("{prefix}.{i}"))
                    .collect();
                ncols = feature_idx.len() as u64;
                col_missing = vec![0; ncols as usize];
            }
            if ncols == 0 {
                bail!("{file}: the table has no feature columns");
            }
            buf = vec![f32::NAN; (row_chunk * ncols) as usize];
            array = Some(build(OPEN_ROWS, ncols)?);
        }
        let key = r.field(key_idx);
        if key.is_empty() {
            bail!("{file}:{}: empty row label", r.line());
        }
        labels.push(key.to_string());
        for (b, i) in attrs.iter_mut().zip(&attr_idx) {
            let v = r.field(*i);
            match parse_f32(v, file, r.line(), &r.header()[*i])? {
                None => b.append_null(),
                Some(_) => match v.trim().parse::<i64>() {
                    Ok(x) => b.append_value(x),
                    Err(_) => bail!(
                        "{file}:{}: column {}: {v:?} is not an integer",
                        r.line(),
                        r.header()[*i]
                    ),
                },
            }
        }
        let base = (rows_in_buf * ncols) as usize;
        let mut missing = 0i64;
        for (j, i) in feature_idx.iter().enumerate() {
            let parsed = match r.f32_at(*i) {
                Ok(x) => x,
                Err(e) if layout.coerce_non_numeric => {
                    let b = boolean(r.field(*i));
                    if b.is_none() {
                        non_numeric += 1;
                        if first_non_numeric.is_none() {
                            first_non_numeric = Some(e.to_string());
                        }
                    }
                    b
                }
                Err(e) => return Err(e),
            };
            let v = match parsed {
                Some(x) if !x.is_nan() => x,
                _ => {
                    missing += 1;
                    col_missing[j] += 1;
                    f32::NAN
                }
            };
            buf[base + j] = v;
        }
        row_missing.push(missing);
        rows_in_buf += 1;
        if rows_in_buf == row_chunk {
            if let Some(a) = &array {
                store_block(a, &buf, block, row_chunk, col_chunk, ncols).await?;
            }
            buf.iter_mut().for_each(|v| *v = f32::NAN);
            rows_in_buf = 0;
            block += 1;
        }
        on_row(r.bytes());
    }
    let Some(a) = &array else {
        bail!("{file}: the table has no data rows");
    };
    if rows_in_buf > 0 {
        store_block(a, &buf, block, row_chunk, col_chunk, ncols).await?;
    }
    let rows = labels.len() as u64;
    let missing_values: u64 = col_missing.iter().sum();
    let mut final_array = build(rows, ncols)?;
    let attributes: Map<String, Value> = match json!({
        "source_file": file,
        "rows_table": format!("data/features/{table}/rows.parquet"),
        "columns_table": format!("data/features/{table}/columns.parquet"),
        "missing_values": missing_values,
        "missing_value_markers": super::tsv::MISSING,
        "description": format!("{file}: {} x feature, float32; NaN where the input was missing", layout.entity),
    }) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    *final_array.attributes_mut() = attributes;
    final_array.async_store_metadata().await?;

    // Label tables.
    let key_name = match layout.key {
        Key::Named(k) => k.to_string(),
        Key::First => r.header()[key_idx].clone(),
        Key::HeaderLess => "Drug".to_string(),
    };
    let mut fields = vec![
        Field::new("row", DataType::Int64, false),
        Field::new(key_name.clone(), DataType::Utf8, false),
        Field::new("missing", DataType::Int64, false),
    ];
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(0..rows as i64)),
        Arc::new(StringArray::from_iter_values(labels.iter())),
        Arc::new(Int64Array::from(row_missing.clone())),
    ];
    for (b, i) in attrs.iter_mut().zip(&attr_idx) {
        fields.push(Field::new(r.header()[*i].clone(), DataType::Int64, true));
        cols.push(Arc::new(b.finish()));
    }
    let rows_batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?;
    let columns_batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("column", DataType::Int32, false),
            Field::new("name", DataType::Utf8, false),
            Field::new("missing", DataType::Int64, false),
        ])),
        vec![
            Arc::new(Int32Array::from_iter_values(0..ncols as i32)),
            Arc::new(StringArray::from_iter_values(feature_names.iter())),
            Arc::new(Int64Array::from_iter_values(
                col_missing.iter().map(|v| *v as i64),
            )),
        ],
    )?;
    let summary = FeatureSummary {
        table: table.to_string(),
        array: format!("{store_prefix}/{table}"),
        rows_table: format!("data/features/{table}/rows.parquet"),
        columns_table: format!("data/features/{table}/columns.parquet"),
        entity: layout.entity.to_string(),
        rows,
        features: ncols,
        chunk_shape: [row_chunk, col_chunk],
        missing_values,
        rows_with_missing: row_missing.iter().filter(|m| **m > 0).count() as u64,
        features_with_missing: col_missing.iter().filter(|m| **m > 0).count() as u64,
        skipped_first_lines: skipped,
        key_column: key_name,
        non_numeric_values: layout.coerce_non_numeric.then_some(non_numeric),
        first_non_numeric,
    };
    Ok((summary, rows_batch, columns_batch))
}

/// Writes one block of rows (row-major, `row_chunk x ncols`) as its column chunks.
async fn store_block(
    a: &Array<StagingZarrStore>,
    buf: &[f32],
    block: u64,
    row_chunk: u64,
    col_chunk: u64,
    ncols: u64,
) -> Result<()> {
    let nblocks = ncols.div_ceil(col_chunk);
    let mut futs = Vec::new();
    for cb in 0..nblocks {
        let c0 = cb * col_chunk;
        let mut chunk = vec![f32::NAN; (row_chunk * col_chunk) as usize];
        for r in 0..row_chunk {
            for c in 0..col_chunk {
                let col = c0 + c;
                if col < ncols {
                    chunk[(r * col_chunk + c) as usize] = buf[(r * ncols + col) as usize];
                }
            }
        }
        futs.push(async move {
            a.async_store_chunk(&[block, cb], chunk)
                .await
                .with_context(|| format!("cannot write feature chunk ({block}, {cb})"))
        });
    }
    for r in futures::future::join_all(futs).await {
        r?;
    }
    Ok(())
}

//! `--predictions FILE`: every prediction with its observed value and keys, as Parquet, so
//! that anyone can recompute the metric with their own tools.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

/// One column of the predictions table.
pub enum Column {
    F64(Vec<f64>),
    I64(Vec<i64>),
    Str(Vec<String>),
}

/// Named columns of equal length.
#[derive(Default)]
pub struct Table {
    pub columns: Vec<(String, Column)>,
}

impl Table {
    pub fn push(&mut self, name: &str, c: Column) {
        self.columns.push((name.to_string(), c));
    }

    fn batch(&self) -> Result<RecordBatch> {
        let mut fields = Vec::new();
        let mut arrays: Vec<ArrayRef> = Vec::new();
        for (name, c) in &self.columns {
            let (dt, a): (DataType, ArrayRef) = match c {
                Column::F64(v) => (DataType::Float64, Arc::new(Float64Array::from(v.clone()))),
                Column::I64(v) => (DataType::Int64, Arc::new(Int64Array::from(v.clone()))),
                Column::Str(v) => (
                    DataType::Utf8,
                    Arc::new(StringArray::from_iter_values(v.iter())),
                ),
            };
            fields.push(Field::new(name, dt, false));
            arrays.push(a);
        }
        Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
    }
}

/// Writes the table to `path` (via `<path>.part`, renamed when complete).
pub fn write(path: &Path, t: &Table) -> Result<()> {
    let batch = t.batch()?;
    let tmp = path.with_extension("parquet.part");
    let f =
        std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
        .set_created_by(format!("sciml-data {}", env!("CARGO_PKG_VERSION")))
        .build();
    let mut w = ArrowWriter::try_new(f, batch.schema(), Some(props))?;
    w.write(&batch)?;
    w.close()?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

//! Reading whole columns of the version's Parquet tables (splits, samples, responses), cast
//! to the type the scorer needs, with nulls kept as `None`.

use std::path::Path;

use anyhow::{Context, Result};
use arrow::array::{Array as _, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// The type a column is read as.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Str,
    F64,
    I64,
}

/// A column, read whole.
pub enum Col {
    Str(Vec<Option<String>>),
    F64(Vec<Option<f64>>),
    I64(Vec<Option<i64>>),
}

impl Col {
    pub fn strings(self) -> Vec<Option<String>> {
        match self {
            Col::Str(v) => v,
            _ => unreachable!("read as Kind::Str"),
        }
    }
    pub fn f64s(self) -> Vec<Option<f64>> {
        match self {
            Col::F64(v) => v,
            _ => unreachable!("read as Kind::F64"),
        }
    }
    pub fn i64s(self) -> Vec<Option<i64>> {
        match self {
            Col::I64(v) => v,
            _ => unreachable!("read as Kind::I64"),
        }
    }
}

/// Reads the named columns of a Parquet file; an absent column is an error naming the file.
pub fn read(path: &Path, cols: &[(&str, Kind)]) -> Result<Vec<Col>> {
    let f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(f)
        .with_context(|| format!("{} is not a Parquet file", path.display()))?
        .build()?;
    let mut out: Vec<Col> = cols
        .iter()
        .map(|(_, k)| match k {
            Kind::Str => Col::Str(Vec::new()),
            Kind::F64 => Col::F64(Vec::new()),
            Kind::I64 => Col::I64(Vec::new()),
        })
        .collect();
    for b in reader {
        let b = b?;
        for ((name, _), o) in cols.iter().zip(out.iter_mut()) {
            let c = b
                .column_by_name(name)
                .with_context(|| format!("{}: no column {name}", path.display()))?;
            match o {
                Col::Str(v) => {
                    let c = arrow::compute::cast(c, &DataType::Utf8)?;
                    let c = c.as_string::<i32>();
                    v.extend((0..c.len()).map(|i| (!c.is_null(i)).then(|| c.value(i).to_string())));
                }
                Col::F64(v) => {
                    let c = arrow::compute::cast(c, &DataType::Float64)?;
                    let c = c.as_primitive::<Float64Type>();
                    v.extend((0..c.len()).map(|i| (!c.is_null(i)).then(|| c.value(i))));
                }
                Col::I64(v) => {
                    let c = arrow::compute::cast(c, &DataType::Int64)?;
                    let c = c.as_primitive::<Int64Type>();
                    v.extend((0..c.len()).map(|i| (!c.is_null(i)).then(|| c.value(i))));
                }
            }
        }
    }
    Ok(out)
}

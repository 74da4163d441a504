//! The preprocessed form the benchmark distributes: one HDF5 file `S3A*.hdf` per SAFE
//! product with `bts` (rows, columns, 3), `rads` and `refs` (rows, columns, 6), `bayes` and
//! `summary` (rows, columns, 1) on the 1 km grid (sources.md 1.3), read with `hdf5-metno`.
//! Values are kept in the type the file stores them in.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use hdf5::types::{FloatSize, IntSize, TypeDescriptor};
use hdf5_metno as hdf5;
use serde_json::{Map, Value, json};

use super::layout::{Dtype, Values, Var};
use super::safe::{self, SafeName};

/// The datasets of a preprocessed file and their channel counts, in the reference's order.
pub const DATASETS: [(&str, u64, &str); 5] = [
    (
        "bts",
        3,
        "brightness temperature S7, S8, S9 (K; NaN where the product had fill)",
    ),
    ("rads", 6, "radiance S1-S6 resampled to the 1 km grid"),
    (
        "refs",
        6,
        "reflectance S1-S6 at 1 km as written by the converter (see docs/sources/slstr.md)",
    ),
    ("bayes", 1, "bayes_in bitmask; ground truth is bayes > 0"),
    ("summary", 1, "summary_cloud bit of confidence_in (0/1)"),
];

/// One preprocessed file.
#[derive(Debug, Clone)]
pub struct HdfProduct {
    pub path: PathBuf,
    pub name: SafeName,
}

impl HdfProduct {
    pub fn open(path: &Path) -> Result<HdfProduct> {
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let name =
            safe::parse(&file).with_context(|| format!("preprocessed file {}", path.display()))?;
        Ok(HdfProduct {
            path: path.to_path_buf(),
            name,
        })
    }

    /// Reads every dataset; `grid` is the expected (rows, columns).
    pub fn read_all(&self, grid: (u64, u64)) -> Result<Vec<Var>> {
        let product = &self.name.product;
        let f = hdf5::File::open(&self.path).map_err(|e| {
            anyhow::anyhow!(
                "product {product}: cannot open {} as HDF5 ({e}); the file is unreadable or truncated",
                self.path.display()
            )
        })?;
        let mut out = Vec::new();
        for (name, channels, _) in DATASETS {
            let ds = f.dataset(name).map_err(|e| {
                anyhow::anyhow!("product {product}: dataset {name} is missing ({e})")
            })?;
            let shape: Vec<u64> = ds.shape().iter().map(|n| *n as u64).collect();
            let want = vec![grid.0, grid.1, channels];
            if shape != want {
                bail!(
                    "product {product}, dataset {name}: shape {shape:?}, expected {want:?} (rows, columns, channels)"
                );
            }
            let desc = ds
                .dtype()
                .and_then(|t| t.to_descriptor())
                .map_err(|e| anyhow::anyhow!("product {product}, dataset {name}: {e}"))?;
            let (dtype, bytes) = read_bytes(&ds, &desc)
                .with_context(|| format!("product {product}, dataset {name}: cannot read the values; the file is unreadable or truncated"))?;
            let mut attrs = Map::new();
            let mut attr_types = Map::new();
            for a in ds.attr_names().unwrap_or_default() {
                if let Ok(attr) = ds.attr(&a)
                    && let Some((v, t)) = attribute_json(&attr)
                {
                    attrs.insert(a.clone(), v);
                    attr_types.insert(a, json!(t));
                }
            }
            out.push(Var {
                name: name.to_string(),
                dims: vec![
                    "rows_in".into(),
                    "columns_in".into(),
                    format!("channel_{name}"),
                ],
                shape,
                dtype,
                attrs,
                attr_types,
                values: Values::Whole(bytes),
            });
        }
        Ok(out)
    }
}

fn attribute_json(a: &hdf5::Attribute) -> Option<(Value, &'static str)> {
    let desc = a.dtype().ok()?.to_descriptor().ok()?;
    let scalar = a.shape().is_empty();
    macro_rules! get {
        ($t:ty, $n:expr) => {{
            let v: Vec<$t> = a.read_raw::<$t>().ok()?;
            let j = if scalar && v.len() == 1 {
                json!(v[0])
            } else {
                json!(v)
            };
            Some((j, $n))
        }};
    }
    match desc {
        TypeDescriptor::Float(FloatSize::U8) => get!(f64, "float64"),
        TypeDescriptor::Float(FloatSize::U4) => get!(f32, "float32"),
        TypeDescriptor::Integer(_) => get!(i64, "int64"),
        TypeDescriptor::Unsigned(_) => get!(u64, "uint64"),
        _ => None,
    }
}

fn to_bytes<T: Copy, const N: usize>(v: Vec<T>, f: fn(T) -> [u8; N]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len() * N);
    for x in v {
        out.extend_from_slice(&f(x));
    }
    out
}

fn read_bytes(ds: &hdf5::Dataset, desc: &TypeDescriptor) -> Result<(Dtype, Vec<u8>)> {
    Ok(match desc {
        TypeDescriptor::Float(FloatSize::U4) => (
            Dtype::F32,
            to_bytes(ds.read_raw::<f32>()?, f32::to_le_bytes),
        ),
        TypeDescriptor::Float(FloatSize::U8) => (
            Dtype::F64,
            to_bytes(ds.read_raw::<f64>()?, f64::to_le_bytes),
        ),
        TypeDescriptor::Integer(IntSize::U1) => {
            (Dtype::I8, to_bytes(ds.read_raw::<i8>()?, i8::to_le_bytes))
        }
        TypeDescriptor::Integer(IntSize::U2) => (
            Dtype::I16,
            to_bytes(ds.read_raw::<i16>()?, i16::to_le_bytes),
        ),
        TypeDescriptor::Integer(IntSize::U4) => (
            Dtype::I32,
            to_bytes(ds.read_raw::<i32>()?, i32::to_le_bytes),
        ),
        TypeDescriptor::Integer(IntSize::U8) => (
            Dtype::I64,
            to_bytes(ds.read_raw::<i64>()?, i64::to_le_bytes),
        ),
        TypeDescriptor::Unsigned(IntSize::U1) => {
            (Dtype::U8, to_bytes(ds.read_raw::<u8>()?, u8::to_le_bytes))
        }
        TypeDescriptor::Boolean => (
            Dtype::U8,
            ds.read_raw::<bool>()?.into_iter().map(u8::from).collect(),
        ),
        TypeDescriptor::Unsigned(IntSize::U2) => (
            Dtype::U16,
            to_bytes(ds.read_raw::<u16>()?, u16::to_le_bytes),
        ),
        TypeDescriptor::Unsigned(IntSize::U4) => (
            Dtype::U32,
            to_bytes(ds.read_raw::<u32>()?, u32::to_le_bytes),
        ),
        TypeDescriptor::Unsigned(IntSize::U8) => (
            Dtype::U64,
            to_bytes(ds.read_raw::<u64>()?, u64::to_le_bytes),
        ),
        other => bail!("unsupported HDF5 type {other:?}"),
    })
}

/// Dataset descriptions for the array attributes.
pub fn description(name: &str) -> &'static str {
    DATASETS
        .iter()
        .find(|d| d.0 == name)
        .map(|d| d.2)
        .unwrap_or("")
}

//! Reading one SAFE product folder with the `netcdf` crate: the variables of
//! [`super::safe::variables`] as stored (packed integers, CF attributes, dimensions) and the
//! global attributes of the files.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use netcdf::AttributeValue;
use netcdf::types::{FloatType, IntType, NcVariableType};
use serde_json::{Map, Value, json};

use super::chunks;
use super::layout::{Dtype, Values, Var};
use super::safe::{self, Grid, SafeName, VarSpec};

/// A SAFE product folder.
#[derive(Debug, Clone)]
pub struct SafeProduct {
    pub dir: PathBuf,
    pub name: SafeName,
}

impl SafeProduct {
    /// Checks the folder name and that every needed file is present.
    pub fn open(dir: &Path) -> Result<SafeProduct> {
        let folder = dir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let name = safe::parse(&folder)
            .with_context(|| format!("SAFE product folder {}", dir.display()))?;
        for f in safe::files() {
            let p = dir.join(&f);
            if !p.is_file() {
                bail!(
                    "product {}: file {f} is missing (needed for {})",
                    name.product,
                    safe::variables()
                        .iter()
                        .filter(|v| v.file == f)
                        .map(|v| v.variable.clone())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        Ok(SafeProduct {
            dir: dir.to_path_buf(),
            name,
        })
    }

    /// The source files recorded for the product: the netCDF files, then the manifest if
    /// present.
    pub fn source_files(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = safe::files().iter().map(|f| self.dir.join(f)).collect();
        let manifest = self.dir.join("xfdumanifest.xml");
        if manifest.is_file() {
            out.push(manifest);
        }
        out
    }

    /// Maps `file` into memory: the netCDF library reads its metadata from the map and the
    /// chunk decoder its chunks, so the file is opened and read once. (netCDF-C's own `nc_open`
    /// first reads up to 4 MB of every file it opens, to find its format.)
    fn map_file(&self, file: &str) -> Result<(PathBuf, memmap2::Mmap)> {
        let p = self.dir.join(file);
        let f = std::fs::File::open(&p).map_err(|e| {
            anyhow::anyhow!("product {}: cannot open {file} ({e})", self.name.product)
        })?;
        // SAFETY: the map is read-only. Inputs must not be modified or truncated by another
        // process while they are ingested (memmap2's contract; the chunk decoder has relied on
        // it since session 5). The libraries read only within the map's length, the file's
        // size when it was mapped, so a file truncated before the ingest is an error.
        let map = unsafe { memmap2::Mmap::map(&f) }.map_err(|e| {
            anyhow::anyhow!("product {}: cannot map {file} ({e})", self.name.product)
        })?;
        Ok((p, map))
    }

    /// Reads one variable as stored, with its attributes; checks its dimensions. With
    /// `globals`, also the global attributes of its file (read from the same opening).
    pub fn read(&self, spec: &VarSpec, globals: bool) -> Result<(Var, Option<Map<String, Value>>)> {
        let product = &self.name.product;
        let (path, map) = self
            .map_file(&spec.file)
            .with_context(|| format!("variable {}", spec.variable))?;
        let f = netcdf::open_mem(Some(&path.to_string_lossy()), &map).map_err(|e| {
            anyhow::anyhow!(
                "product {product}: cannot open {} as netCDF-4 ({e}); the file is unreadable or truncated (variable {})",
                spec.file,
                spec.variable
            )
        })?;
        let globals = if globals {
            let (a, _) = attributes(f.attributes()).with_context(|| {
                format!(
                    "product {product}: cannot read the global attributes of {}",
                    spec.file
                )
            })?;
            Some(a)
        } else {
            None
        };
        let v = f.variable(&spec.variable).with_context(|| {
            format!(
                "product {product}: variable {} is missing from {}",
                spec.variable, spec.file
            )
        })?;
        let dims: Vec<(String, usize)> =
            v.dimensions().iter().map(|d| (d.name(), d.len())).collect();
        let want_rank = if spec.grid == Grid::Detectors { 1 } else { 2 };
        if dims.len() != want_rank {
            bail!(
                "product {product}, variable {} ({}): {} dimensions {:?}, expected {want_rank}",
                spec.variable,
                spec.file,
                dims.len(),
                dims.iter().map(|d| &d.0).collect::<Vec<_>>()
            );
        }
        if want_rank == 2 && (dims[0].0 != "rows" || dims[1].0 != "columns") {
            bail!(
                "product {product}, variable {} ({}): dimensions {:?}, expected (rows, columns)",
                spec.variable,
                spec.file,
                dims.iter().map(|d| &d.0).collect::<Vec<_>>()
            );
        }
        let dtype = dtype_of(&v.vartype()).with_context(|| {
            format!(
                "product {product}, variable {} ({})",
                spec.variable, spec.file
            )
        })?;
        let (attrs, attr_types) = attributes(v.attributes()).with_context(|| {
            format!(
                "product {product}, variable {} ({}): cannot read its attributes",
                spec.variable, spec.file
            )
        })?;
        let unreadable = |e: &dyn std::fmt::Display| {
            anyhow::anyhow!(
                "product {product}, variable {} ({}): cannot read the values ({e}); the file is unreadable or truncated",
                spec.variable,
                spec.file
            )
        };
        // Chunked deflate/shuffle variables are decoded in parallel from their chunks; any
        // other layout is read through the library. (The file is open twice meanwhile: both
        // read-only, which HDF5 allows.)
        let shape: Vec<usize> = dims.iter().map(|d| d.1).collect();
        let values = match chunks::read(&path, &map, &spec.variable, &shape, dtype.size())
            .map_err(|e| unreadable(&format!("{e:#}")))?
        {
            Some(values) => values,
            None => Values::Whole(v.get_raw_values(..).map_err(|e| unreadable(&e))?),
        };
        let var = Var {
            name: spec.variable.clone(),
            dims: spec
                .grid
                .dimension_names()
                .iter()
                .map(|s| s.to_string())
                .collect(),
            shape: dims.iter().map(|d| d.1 as u64).collect(),
            dtype,
            attrs,
            attr_types,
            values,
        };
        Ok((var, globals))
    }
}

fn dtype_of(t: &NcVariableType) -> Result<Dtype> {
    Ok(match t {
        NcVariableType::Int(IntType::U8) => Dtype::U8,
        NcVariableType::Int(IntType::I8) => Dtype::I8,
        NcVariableType::Int(IntType::U16) => Dtype::U16,
        NcVariableType::Int(IntType::I16) => Dtype::I16,
        NcVariableType::Int(IntType::U32) => Dtype::U32,
        NcVariableType::Int(IntType::I32) => Dtype::I32,
        NcVariableType::Int(IntType::U64) => Dtype::U64,
        NcVariableType::Int(IntType::I64) => Dtype::I64,
        NcVariableType::Float(FloatType::F32) => Dtype::F32,
        NcVariableType::Float(FloatType::F64) => Dtype::F64,
        other => bail!("unsupported netCDF type {other:?}"),
    })
}

fn num(x: f64) -> Value {
    match serde_json::Number::from_f64(x) {
        Some(n) => Value::Number(n),
        None if x.is_nan() => json!("NaN"),
        None if x > 0.0 => json!("Infinity"),
        None => json!("-Infinity"),
    }
}

/// An attribute value as JSON, with its type name.
pub fn attribute_json(v: AttributeValue) -> (Value, &'static str) {
    use AttributeValue as A;
    match v {
        A::Uchar(x) => (json!(x), "uint8"),
        A::Uchars(x) => (json!(x), "uint8"),
        A::Schar(x) => (json!(x), "int8"),
        A::Schars(x) => (json!(x), "int8"),
        A::Ushort(x) => (json!(x), "uint16"),
        A::Ushorts(x) => (json!(x), "uint16"),
        A::Short(x) => (json!(x), "int16"),
        A::Shorts(x) => (json!(x), "int16"),
        A::Uint(x) => (json!(x), "uint32"),
        A::Uints(x) => (json!(x), "uint32"),
        A::Int(x) => (json!(x), "int32"),
        A::Ints(x) => (json!(x), "int32"),
        A::Ulonglong(x) => (json!(x), "uint64"),
        A::Ulonglongs(x) => (json!(x), "uint64"),
        A::Longlong(x) => (json!(x), "int64"),
        A::Longlongs(x) => (json!(x), "int64"),
        A::Float(x) => (num(f64::from(x)), "float32"),
        A::Floats(x) => (
            Value::Array(x.into_iter().map(|v| num(f64::from(v))).collect()),
            "float32",
        ),
        A::Double(x) => (num(x), "float64"),
        A::Doubles(x) => (Value::Array(x.into_iter().map(num).collect()), "float64"),
        A::Str(s) => (json!(s), "string"),
        A::Strs(s) => (json!(s), "string"),
    }
}

type Attrs = (Map<String, Value>, Map<String, Value>);

fn attributes<'a>(it: impl Iterator<Item = netcdf::Attribute<'a>>) -> Result<Attrs> {
    let mut attrs = Map::new();
    let mut types = Map::new();
    for a in it {
        let name = a.name().to_string();
        let value = a
            .value()
            .map_err(|e| anyhow::anyhow!("attribute {name}: {e}"))?;
        let (v, t) = attribute_json(value);
        attrs.insert(name.clone(), v);
        if t != "string" {
            types.insert(name, json!(t));
        }
    }
    Ok((attrs, types))
}

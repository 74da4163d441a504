//! The ORNL CBED HDF5 batch files (sources.md 2.2): one group `sample_<i>_<j>` per sample
//! holding the float32 dataset `cbed_stack` (3, 512, 512) and the material attributes.
//!
//! Attributes are read by their stored type: `space_group` and `material` are byte strings
//! (`b'14'`), `formula` a UTF-8 string, `energy_keV` an integer, the orientation and
//! lattice attributes numeric arrays. A missing optional attribute reads as `None`.

use std::path::Path;

use anyhow::{Context, Result, bail};
use hdf5::types::{FixedAscii, FixedUnicode, TypeDescriptor, VarLenAscii, VarLenUnicode};
use hdf5_metno as hdf5;

use super::split::{natural_cmp, parse_space_group};

/// The shape of one `cbed_stack`: orientations x height x width.
pub const STACK_SHAPE: [usize; 3] = [3, 512, 512];
/// Values per stack.
pub const STACK_LEN: usize = STACK_SHAPE[0] * STACK_SHAPE[1] * STACK_SHAPE[2];
/// The dataset of a sample group.
pub const STACK_DATASET: &str = "cbed_stack";
/// The numeric array attributes, in the samples table's column order.
pub const VECTOR_ATTRS: [&str; 6] = [
    "abc_angstrom",
    "angles_degree",
    "z_dirs",
    "y_dirs",
    "semi_angles_rad",
    "d_hkls_angstrom",
];

/// The attributes of one sample group.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SampleMeta {
    pub group: String,
    pub space_group: u8,
    pub material: Option<String>,
    pub formula: Option<String>,
    pub energy_kev: Option<f64>,
    /// [`VECTOR_ATTRS`] in order, each flattened row-major.
    pub vectors: [Option<Vec<f64>>; 6],
}

/// An open batch file and its sample groups in natural order.
pub struct BatchFile {
    file: hdf5::File,
    name: String,
    groups: Vec<String>,
}

impl BatchFile {
    /// Opens `path` and lists its groups.
    pub fn open(path: &Path) -> Result<BatchFile> {
        let name = crate::ingest::input_name(path);
        let file = hdf5::File::open(path).with_context(|| {
            format!(
                "{}: cannot open as HDF5 (truncated or not an HDF5 file?)",
                path.display()
            )
        })?;
        let mut groups: Vec<String> = file
            .groups()
            .with_context(|| format!("{name}: cannot list the sample groups"))?
            .iter()
            .map(|g| g.name().trim_start_matches('/').to_string())
            .collect();
        groups.sort_by(|a, b| natural_cmp(a, b));
        Ok(BatchFile { file, name, groups })
    }

    /// The sample groups, in natural order.
    pub fn groups(&self) -> &[String] {
        &self.groups
    }

    /// Reads the stack of `group` into `stack` (`STACK_LEN` values) and its attributes.
    pub fn read_sample(&self, group: &str, stack: &mut [f32]) -> Result<SampleMeta> {
        let at = || format!("{}: group {group}", self.name);
        let g = self
            .file
            .group(group)
            .with_context(|| format!("{}: cannot open", at()))?;
        if !g.link_exists(STACK_DATASET) {
            bail!("{}: no dataset {STACK_DATASET}", at());
        }
        let ds = g
            .dataset(STACK_DATASET)
            .with_context(|| format!("{}: {STACK_DATASET} is not a dataset", at()))?;
        let shape = ds.shape();
        if shape != STACK_SHAPE {
            bail!(
                "{}: {STACK_DATASET} has shape {shape:?}, expected {STACK_SHAPE:?}",
                at()
            );
        }
        let td = ds
            .dtype()
            .and_then(|t| t.to_descriptor())
            .with_context(|| format!("{}: cannot read the type of {STACK_DATASET}", at()))?;
        if !matches!(td, TypeDescriptor::Float(_)) {
            bail!(
                "{}: {STACK_DATASET} is {td}, expected floating point intensities",
                at()
            );
        }
        let n = ds
            .read_into_raw(stack)
            .with_context(|| format!("{}: cannot read {STACK_DATASET}", at()))?;
        if n != STACK_LEN {
            bail!("{}: {STACK_DATASET} holds {n} values", at());
        }
        let names = g
            .attr_names()
            .with_context(|| format!("{}: cannot list the attributes", at()))?;
        let has = |a: &str| names.iter().any(|n| n == a);
        if !has("space_group") {
            bail!("{}: no space_group attribute", at());
        }
        let sg_text = attr_text(&g, "space_group").with_context(at)?;
        let space_group = parse_space_group(&sg_text).with_context(at)?;
        let opt_text = |a: &str| -> Result<Option<String>> {
            if has(a) {
                Ok(Some(attr_text(&g, a).with_context(at)?))
            } else {
                Ok(None)
            }
        };
        let opt_nums = |a: &str| -> Result<Option<Vec<f64>>> {
            if has(a) {
                Ok(Some(attr_numbers(&g, a).with_context(at)?))
            } else {
                Ok(None)
            }
        };
        let energy = match opt_nums("energy_keV")? {
            None => None,
            Some(v) if v.len() == 1 => Some(v[0]),
            Some(v) => bail!("{}: energy_keV has {} values, expected 1", at(), v.len()),
        };
        let mut vectors: [Option<Vec<f64>>; 6] = Default::default();
        for (slot, a) in vectors.iter_mut().zip(VECTOR_ATTRS) {
            *slot = opt_nums(a)?;
        }
        Ok(SampleMeta {
            group: group.to_string(),
            space_group,
            material: opt_text("material")?,
            formula: opt_text("formula")?,
            energy_kev: energy,
            vectors,
        })
    }
}

fn attr_descriptor(a: &hdf5::Attribute, name: &str) -> Result<TypeDescriptor> {
    a.dtype()
        .and_then(|t| t.to_descriptor())
        .with_context(|| format!("attribute {name}: unsupported type"))
}

/// A scalar attribute as text: any string type, or a number written as text.
pub fn attr_text(g: &hdf5::Group, name: &str) -> Result<String> {
    let a = g
        .attr(name)
        .with_context(|| format!("cannot open attribute {name}"))?;
    let read = || -> hdf5::Result<String> {
        Ok(
            match attr_descriptor(&a, name).map_err(|e| e.to_string())? {
                TypeDescriptor::FixedAscii(_) => a
                    .read_raw::<FixedAscii<1024>>()?
                    .iter()
                    .map(|s| s.as_str().to_string())
                    .collect::<Vec<_>>()
                    .join(","),
                TypeDescriptor::FixedUnicode(_) => a
                    .read_raw::<FixedUnicode<1024>>()?
                    .iter()
                    .map(|s| s.as_str().to_string())
                    .collect::<Vec<_>>()
                    .join(","),
                TypeDescriptor::VarLenAscii => a
                    .read_raw::<VarLenAscii>()?
                    .iter()
                    .map(|s| s.as_str().to_string())
                    .collect::<Vec<_>>()
                    .join(","),
                TypeDescriptor::VarLenUnicode => a
                    .read_raw::<VarLenUnicode>()?
                    .iter()
                    .map(|s| s.as_str().to_string())
                    .collect::<Vec<_>>()
                    .join(","),
                TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) => a
                    .read_raw::<i64>()?
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
                TypeDescriptor::Float(_) => a
                    .read_raw::<f64>()?
                    .iter()
                    .map(f64::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
                other => {
                    return Err(format!("attribute {name} is {other}, expected a string").into());
                }
            },
        )
    };
    let n = a.size();
    if n != 1 {
        bail!("attribute {name} has {n} values, expected 1");
    }
    read().with_context(|| format!("cannot read attribute {name}"))
}

/// A numeric attribute (any shape) as float64 values, row-major.
pub fn attr_numbers(g: &hdf5::Group, name: &str) -> Result<Vec<f64>> {
    let a = g
        .attr(name)
        .with_context(|| format!("cannot open attribute {name}"))?;
    match attr_descriptor(&a, name)? {
        TypeDescriptor::Integer(_)
        | TypeDescriptor::Unsigned(_)
        | TypeDescriptor::Float(_)
        | TypeDescriptor::Boolean => {}
        other => bail!("attribute {name} is {other}, expected numbers"),
    }
    let v = a
        .read_raw::<f64>()
        .with_context(|| format!("cannot read attribute {name}"))?;
    Ok(v)
}

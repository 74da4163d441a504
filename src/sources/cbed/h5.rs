//! The ORNL CBED HDF5 batch files (sources.md 2.2): one group `sample_<i>_<j>` per sample
//! holding the float32 dataset `cbed_stack` (3, 512, 512) and the material attributes.
//!
//! Attributes are read by their stored type: `space_group` and `material` are byte strings
//! (`b'14'`), `formula` a UTF-8 string, `energy_keV` an integer, the orientation and
//! lattice attributes numeric arrays. A missing optional attribute reads as `None`.

use std::path::Path;
use std::sync::Arc;

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
    /// The file mapped read-only, for stacks copied out of it on any thread (see
    /// [`BatchFile::locate_sample`]); `None` where it cannot be mapped.
    map: Option<Arc<memmap2::Mmap>>,
}

/// Where the values of a sample's stack are.
pub enum StackBytes {
    /// Already in the caller's buffer.
    Read,
    /// Little-endian float32 values at `offset` of the mapped file, contiguous and
    /// unfiltered: [`StackBytes::fill`] copies them out, on whichever thread needs them.
    Mapped {
        map: Arc<memmap2::Mmap>,
        offset: usize,
    },
}

impl StackBytes {
    /// Puts the stack's values into `stack` (`STACK_LEN` values); they are [`StackBytes::Read`]
    /// from then on (the map is let go).
    pub fn fill(&mut self, stack: &mut [f32]) {
        if let StackBytes::Mapped { map, offset } = self {
            let len = STACK_LEN * 4;
            bytemuck::cast_slice_mut::<f32, u8>(&mut stack[..STACK_LEN])
                .copy_from_slice(&map[*offset..*offset + len]);
            *self = StackBytes::Read;
        }
    }
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
        // SAFETY: the map is read-only and inputs are not modified while they are ingested
        // (each is hashed while it is read: a change shows as a digest mismatch).
        let map = std::fs::File::open(path)
            .and_then(|f| unsafe { memmap2::Mmap::map(&f) })
            .ok()
            .map(Arc::new);
        Ok(BatchFile {
            file,
            name,
            groups,
            map,
        })
    }

    /// The sample groups, in natural order.
    pub fn groups(&self) -> &[String] {
        &self.groups
    }

    /// Reads the stack of `group` into `stack` (`STACK_LEN` values) and its attributes.
    pub fn read_sample(&self, group: &str, stack: &mut [f32]) -> Result<SampleMeta> {
        let (meta, mut bytes) = self.locate_sample(group, stack)?;
        bytes.fill(stack);
        Ok(meta)
    }

    /// Reads the attributes of `group` and checks its stack. A stack stored contiguous,
    /// unfiltered, as little-endian float32 is not read here but located in the mapped file
    /// ([`StackBytes::Mapped`]), so that the copy runs outside the HDF5 library, which is
    /// serial; any other stack is read into `stack` through the library.
    pub fn locate_sample(
        &self,
        group: &str,
        stack: &mut [f32],
    ) -> Result<(SampleMeta, StackBytes)> {
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
        let little_f32 = cfg!(target_endian = "little")
            && matches!(td, TypeDescriptor::Float(hdf5::types::FloatSize::U4))
            && ds
                .dtype()
                .is_ok_and(|t| t.byte_order() == hdf5::datatype::ByteOrder::LittleEndian);
        let mapped = match &self.map {
            Some(map) if little_f32 && ds.chunk().is_none() && ds.filters().is_empty() => {
                ds.offset().map(|o| (map.clone(), o as usize))
            }
            _ => None,
        };
        let bytes = match mapped {
            Some((map, offset)) => {
                if offset
                    .checked_add(STACK_LEN * 4)
                    .is_none_or(|end| end > map.len())
                {
                    bail!(
                        "{}: {STACK_DATASET} lies beyond the end of the file (truncated?)",
                        at()
                    );
                }
                StackBytes::Mapped { map, offset }
            }
            None => {
                let n = ds
                    .read_into_raw(stack)
                    .with_context(|| format!("{}: cannot read {STACK_DATASET}", at()))?;
                if n != STACK_LEN {
                    bail!("{}: {STACK_DATASET} holds {n} values", at());
                }
                StackBytes::Read
            }
        };
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
        let meta = SampleMeta {
            group: group.to_string(),
            space_group,
            material: opt_text("material")?,
            formula: opt_text("formula")?,
            energy_kev: energy,
            vectors,
        };
        Ok((meta, bytes))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn write_group(file: &hdf5::File, name: &str, stack: &[f32], chunked: bool) {
        let g = file.create_group(name).unwrap();
        let builder = g.new_dataset::<f32>().shape(STACK_SHAPE);
        let builder = if chunked {
            builder.chunk([1, 512, 512]).deflate(4)
        } else {
            builder
        };
        builder
            .create(STACK_DATASET)
            .unwrap()
            .write_raw(stack)
            .unwrap();
        let sg = FixedAscii::<8>::from_ascii(b"14").unwrap();
        g.new_attr::<FixedAscii<8>>()
            .shape(())
            .create("space_group")
            .unwrap()
            .write_scalar(&sg)
            .unwrap();
    }

    #[test]
    fn mapped_and_library_reads_give_the_same_stack() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("batch_train_0.h5");
        let stack: Vec<f32> = (0..STACK_LEN)
            .map(|i| (i % 9973) as f32 * 0.37 - 5.0)
            .collect();
        {
            let f = hdf5::File::create(&path).unwrap();
            write_group(&f, "sample_0_0", &stack, false);
            write_group(&f, "sample_0_1", &stack, true);
        }
        let file = BatchFile::open(&path).unwrap();
        // Contiguous float32: located in the map, copied out by `fill`.
        let mut buf = vec![0f32; STACK_LEN];
        let (meta, mut bytes) = file.locate_sample("sample_0_0", &mut buf).unwrap();
        assert!(matches!(bytes, StackBytes::Mapped { .. }));
        assert!(buf.iter().all(|v| *v == 0.0), "not read before fill");
        bytes.fill(&mut buf);
        assert!(matches!(bytes, StackBytes::Read));
        assert_eq!(buf, stack);
        assert_eq!(meta.space_group, 14);
        // Chunked and deflated: read through the library.
        let mut buf = vec![0f32; STACK_LEN];
        let (_, bytes) = file.locate_sample("sample_0_1", &mut buf).unwrap();
        assert!(matches!(bytes, StackBytes::Read));
        assert_eq!(buf, stack);
        // read_sample gives the values either way.
        for group in ["sample_0_0", "sample_0_1"] {
            let mut buf = vec![0f32; STACK_LEN];
            file.read_sample(group, &mut buf).unwrap();
            assert_eq!(buf, stack, "{group}");
        }
    }
}

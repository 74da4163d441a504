//! The preprocessed per-sample `.npz` files (sources.md 2.3): a zip of `data.npy`
//! ((3, 128, 128) float32, the reference transform's output) and `label.npy` ((1,) integer,
//! the space group 1..230), as written by `np.savez` (stored) or `np.savez_compressed`
//! (deflated).

use std::io::Read;

use anyhow::{Context, Result, bail};

use super::split::parse_space_group;

/// The shape of `data`.
pub const DATA_SHAPE: [usize; 3] = [3, 128, 128];
/// Values of `data`.
pub const DATA_LEN: usize = DATA_SHAPE[0] * DATA_SHAPE[1] * DATA_SHAPE[2];

/// One `.npy` array: its dtype descriptor, shape and little-endian bytes.
#[derive(Debug, Clone)]
pub struct Npy {
    pub descr: String,
    pub shape: Vec<usize>,
    pub data: Vec<u8>,
}

/// Parses a `.npy` file (format versions 1 to 3, C order).
pub fn parse_npy(bytes: &[u8]) -> Result<Npy> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        bail!("not a .npy array (bad magic)");
    }
    let (header_len, start) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => bail!("unsupported .npy format version {v}"),
    };
    let end = start + header_len;
    if bytes.len() < end {
        bail!("truncated .npy header");
    }
    let header = std::str::from_utf8(&bytes[start..end]).context(".npy header is not text")?;
    let value = |key: &str| -> Result<&str> {
        let k = format!("'{key}':");
        let i = header
            .find(&k)
            .with_context(|| format!(".npy header has no {key}: {header}"))?;
        Ok(header[i + k.len()..].trim_start())
    };
    let d = value("descr")?;
    let descr = d
        .strip_prefix('\'')
        .and_then(|r| r.split('\'').next())
        .with_context(|| format!("bad descr in .npy header: {header}"))?
        .to_string();
    if value("fortran_order")?.starts_with("True") {
        bail!("Fortran-ordered .npy arrays are not supported");
    }
    let s = value("shape")?;
    let inner = s
        .strip_prefix('(')
        .and_then(|r| r.split(')').next())
        .with_context(|| format!("bad shape in .npy header: {header}"))?;
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.parse::<usize>()
                .with_context(|| format!("bad shape {inner:?}"))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Npy {
        descr,
        shape,
        data: bytes[end..].to_vec(),
    })
}

impl Npy {
    fn count(&self) -> usize {
        self.shape.iter().product()
    }

    fn item_size(&self) -> Result<usize> {
        let n: usize = self.descr[2..]
            .parse()
            .with_context(|| format!("unsupported dtype {}", self.descr))?;
        if self.data.len() < n * self.count() {
            bail!(
                "array of shape {:?} {} holds {} bytes, expected {}",
                self.shape,
                self.descr,
                self.data.len(),
                n * self.count()
            );
        }
        Ok(n)
    }

    /// The values as float32 (`<f4` as is, `<f8` rounded).
    pub fn to_f32(&self, out: &mut [f32]) -> Result<()> {
        let n = self.item_size()?;
        if out.len() != self.count() {
            bail!("wrong number of values");
        }
        match self.descr.as_str() {
            "<f4" => {
                for (o, b) in out.iter_mut().zip(self.data.chunks_exact(n)) {
                    *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                }
            }
            "<f8" => {
                for (o, b) in out.iter_mut().zip(self.data.chunks_exact(n)) {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    *o = f64::from_le_bytes(a) as f32;
                }
            }
            d => bail!("dtype {d} is not a float32/float64 array"),
        }
        Ok(())
    }

    /// The values as integers (any little-endian signed or unsigned integer dtype).
    pub fn to_i64(&self) -> Result<Vec<i64>> {
        let n = self.item_size()?;
        let kind = self.descr.as_bytes().get(1).copied();
        if !matches!(self.descr.as_bytes().first(), Some(b'<' | b'|'))
            || !matches!(kind, Some(b'i' | b'u'))
            || !matches!(n, 1 | 2 | 4 | 8)
        {
            bail!("dtype {} is not a little-endian integer", self.descr);
        }
        Ok(self
            .data
            .chunks_exact(n)
            .take(self.count())
            .map(|b| {
                let mut a = [0u8; 8];
                a[..n].copy_from_slice(b);
                let u = u64::from_le_bytes(a);
                if kind == Some(b'i') && n < 8 && b[n - 1] & 0x80 != 0 {
                    (u | (!0u64 << (8 * n))) as i64
                } else {
                    u as i64
                }
            })
            .collect())
    }
}

fn member(zip: &mut zip::ZipArchive<std::io::Cursor<&[u8]>>, name: &str) -> Result<Npy> {
    let mut f = zip
        .by_name(&format!("{name}.npy"))
        .with_context(|| format!("no array {name} ({name}.npy)"))?;
    let mut buf = Vec::with_capacity(f.size() as usize);
    f.read_to_end(&mut buf)
        .with_context(|| format!("cannot read {name}.npy"))?;
    parse_npy(&buf).with_context(|| format!("array {name}"))
}

/// Reads one `.npz` sample held in `bytes`: `data` into `out` (`DATA_LEN` values) and the
/// label as a space group. `file` names the input in errors.
pub fn read_sample(file: &str, bytes: &[u8], out: &mut [f32]) -> Result<u8> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .with_context(|| format!("{file}: not a .npz (zip) archive"))?;
    let data = member(&mut zip, "data").with_context(|| file.to_string())?;
    if data.shape != DATA_SHAPE {
        bail!(
            "{file}: data has shape {:?}, expected {DATA_SHAPE:?}",
            data.shape
        );
    }
    data.to_f32(out)
        .with_context(|| format!("{file}: array data"))?;
    let label = member(&mut zip, "label").with_context(|| file.to_string())?;
    let values = label
        .to_i64()
        .with_context(|| format!("{file}: array label"))?;
    if values.len() != 1 {
        bail!("{file}: label has shape {:?}, expected (1,)", label.shape);
    }
    parse_space_group(&values[0].to_string()).with_context(|| format!("{file}: label"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + h.len() + 1) % 64 != 0 {
            h.push(' ');
        }
        h.push('\n');
        let mut v = b"\x93NUMPY\x01\x00".to_vec();
        v.extend((h.len() as u16).to_le_bytes());
        v.extend(h.as_bytes());
        v.extend(data);
        v
    }

    #[test]
    fn npy_headers_and_values() {
        let a = parse_npy(&npy("<i8", "(1,)", &14i64.to_le_bytes())).expect("npy");
        assert_eq!(a.shape, vec![1]);
        assert_eq!(a.to_i64().expect("ints"), vec![14]);
        let b = parse_npy(&npy("<i2", "(2,)", &[0xff, 0xff, 3, 0])).expect("npy");
        assert_eq!(b.to_i64().expect("ints"), vec![-1, 3]);
        let c = parse_npy(&npy("<f4", "(2, 1)", &[0, 0, 128, 63, 0, 0, 0, 64])).expect("npy");
        let mut out = [0.0f32; 2];
        c.to_f32(&mut out).expect("floats");
        assert_eq!(out, [1.0, 2.0]);
        assert!(parse_npy(b"not an array").is_err());
        assert!(c.to_i64().is_err());
    }
}

//! The geographic extent of a scene: the box around its valid `latitude_in`/`longitude_in`
//! values (decoded with their CF attributes), for the scenes table and DataCite's
//! geoLocations.
//!
//! A swath that crosses the antimeridian (longitudes near both +180 and -180) gets the
//! narrower of the two boxes, written with `west > east` as DataCite and ISO 19115 expect for
//! a box that crosses it.

use serde_json::Value;

use super::layout::{Dtype, Var};

/// A latitude/longitude box in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    pub west: f64,
    pub east: f64,
    pub south: f64,
    pub north: f64,
}

/// The decoded values of `var` (value * scale_factor + add_offset), fill values and
/// non-finite values left out.
pub fn decoded(var: &Var) -> Vec<f64> {
    let num = |k: &str| var.attrs.get(k).and_then(Value::as_f64);
    let scale = num("scale_factor").unwrap_or(1.0);
    let offset = num("add_offset").unwrap_or(0.0);
    let fill = num("_FillValue");
    let bytes = var.bytes();
    let raw: Vec<f64> = match var.dtype {
        Dtype::I8 => bytes.iter().map(|b| f64::from(*b as i8)).collect(),
        Dtype::U8 => bytes.iter().map(|b| f64::from(*b)).collect(),
        Dtype::I16 => bytes
            .chunks_exact(2)
            .map(|b| f64::from(i16::from_le_bytes([b[0], b[1]])))
            .collect(),
        Dtype::U16 => bytes
            .chunks_exact(2)
            .map(|b| f64::from(u16::from_le_bytes([b[0], b[1]])))
            .collect(),
        Dtype::I32 => bytes
            .chunks_exact(4)
            .map(|b| f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])))
            .collect(),
        Dtype::U32 => bytes
            .chunks_exact(4)
            .map(|b| f64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
            .collect(),
        Dtype::F32 => bytes
            .chunks_exact(4)
            .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
            .collect(),
        Dtype::F64 => bytes
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect(),
        // 64-bit integers are not used for coordinates.
        Dtype::I64 | Dtype::U64 => Vec::new(),
    };
    raw.into_iter()
        .filter(|v| v.is_finite() && Some(*v) != fill)
        .map(|v| v * scale + offset)
        .collect()
}

/// The box around the valid coordinates; `None` when there are none.
pub fn bounds(lat: &[f64], lon: &[f64]) -> Option<Bounds> {
    let valid_lat = lat.iter().copied().filter(|v| (-90.0..=90.0).contains(v));
    let (south, north) = min_max(valid_lat)?;
    let lon: Vec<f64> = lon
        .iter()
        .copied()
        .filter(|v| (-180.0..=360.0).contains(v))
        .map(|v| if v > 180.0 { v - 360.0 } else { v })
        .collect();
    let (w, e) = min_max(lon.iter().copied())?;
    // The same longitudes on 0..360: narrower when the swath crosses the antimeridian.
    let (w360, e360) = min_max(lon.iter().map(|v| if *v < 0.0 { v + 360.0 } else { *v }))?;
    let (west, east) = if e360 - w360 < e - w {
        let back = |v: f64| if v > 180.0 { v - 360.0 } else { v };
        (back(w360), back(e360))
    } else {
        (w, e)
    };
    Some(Bounds {
        west,
        east,
        south,
        north,
    })
}

fn min_max(it: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    it.fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((a, b)) => Some((a.min(v), b.max(v))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_box_around_the_valid_values() {
        let b = bounds(&[50.0, 51.5, 49.2, f64::NAN], &[-10.0, -8.0, -12.5]).unwrap();
        assert_eq!(
            b,
            Bounds {
                west: -12.5,
                east: -8.0,
                south: 49.2,
                north: 51.5
            }
        );
        assert_eq!(bounds(&[], &[1.0]), None);
    }

    #[test]
    fn a_swath_across_the_antimeridian_has_west_greater_than_east() {
        let b = bounds(&[10.0, 12.0], &[178.5, 179.9, -179.8, -177.0]).unwrap();
        assert_eq!((b.west, b.east), (178.5, -177.0));
    }

    #[test]
    fn packed_values_are_decoded_and_fill_is_left_out() {
        let mut attrs = serde_json::Map::new();
        attrs.insert("scale_factor".into(), 1e-6.into());
        attrs.insert("add_offset".into(), 0.0.into());
        attrs.insert("_FillValue".into(), (-2147483648i64).into());
        let vals: [i32; 3] = [50_000_000, -2147483648, -1_500_000];
        let var = Var {
            name: "latitude_in".into(),
            dims: vec!["rows".into()],
            shape: vec![3],
            dtype: Dtype::I32,
            attrs,
            attr_types: serde_json::Map::new(),
            values: crate::sources::slstr::layout::Values::Whole(
                vals.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ),
        };
        let d = decoded(&var);
        assert_eq!(d.len(), 2);
        assert!(
            (d[0] - 50.0).abs() < 1e-9 && (d[1] + 1.5).abs() < 1e-9,
            "{d:?}"
        );
    }
}

//! The geographic extent of a scene: the box around its valid `latitude_in`/`longitude_in`
//! values (decoded with their CF attributes), for the scenes table and DataCite's
//! geoLocations.
//!
//! A swath that crosses the antimeridian (longitudes near both +180 and -180) gets the
//! narrower of the two boxes, written with `west > east` as DataCite and ISO 19115 expect for
//! a box that crosses it.

use serde_json::Value;

use super::layout::{Dtype, Values, Var};

/// A latitude/longitude box in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    pub west: f64,
    pub east: f64,
    pub south: f64,
    pub north: f64,
}

/// Calls `f` with each decoded value of `var` (value * scale_factor + add_offset), fill
/// values and non-finite values left out. The order is the row-major order, except for a
/// variable held as the file's chunks (which are visited chunk by chunk, without assembling
/// the variable).
fn for_each_decoded(var: &Var, mut f: impl FnMut(f64)) {
    let num = |k: &str| var.attrs.get(k).and_then(Value::as_f64);
    let scale = num("scale_factor").unwrap_or(1.0);
    let offset = num("add_offset").unwrap_or(0.0);
    let fill = num("_FillValue");
    let mut take = |raw: f64| {
        if raw.is_finite() && Some(raw) != fill {
            f(raw * scale + offset);
        }
    };
    let dtype = var.dtype;
    let mut visit = |bytes: &[u8]| match dtype {
        Dtype::I8 => bytes.iter().for_each(|b| take(f64::from(*b as i8))),
        Dtype::U8 => bytes.iter().for_each(|b| take(f64::from(*b))),
        Dtype::I16 => bytes
            .chunks_exact(2)
            .for_each(|b| take(f64::from(i16::from_le_bytes([b[0], b[1]])))),
        Dtype::U16 => bytes
            .chunks_exact(2)
            .for_each(|b| take(f64::from(u16::from_le_bytes([b[0], b[1]])))),
        Dtype::I32 => bytes
            .chunks_exact(4)
            .for_each(|b| take(f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])))),
        Dtype::U32 => bytes
            .chunks_exact(4)
            .for_each(|b| take(f64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))),
        Dtype::F32 => bytes
            .chunks_exact(4)
            .for_each(|b| take(f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))),
        Dtype::F64 => bytes
            .chunks_exact(8)
            .for_each(|b| take(f64::from_le_bytes(b.try_into().expect("8 bytes")))),
        // 64-bit integers are not used for coordinates.
        Dtype::I64 | Dtype::U64 => {}
    };
    match &var.values {
        // Chunks that tile the variable exactly hold every value once, with no padding.
        Values::Tiled { chunk, tiles }
            if chunk.len() == var.shape.len()
                && var
                    .shape
                    .iter()
                    .zip(chunk)
                    .all(|(n, c)| *c > 0 && n % c == 0) =>
        {
            tiles.iter().for_each(|t| visit(t));
        }
        _ => visit(&var.bytes()),
    }
}

/// The box around the valid coordinates of a scene's latitude and longitude variables,
/// decoded as they are visited (nothing the size of the variables is allocated).
pub fn of(lat: Option<&Var>, lon: &Var) -> Option<Bounds> {
    let mut e = Extent::default();
    if let Some(lat) = lat {
        for_each_decoded(lat, |v| e.latitude(v));
    }
    for_each_decoded(lon, |v| e.longitude(v));
    e.bounds()
}

/// Running minima and maxima of valid coordinates.
#[derive(Default)]
struct Extent {
    latitude: Option<(f64, f64)>,
    /// Longitudes on -180..180.
    longitude: Option<(f64, f64)>,
    /// The same longitudes on 0..360: narrower when the swath crosses the antimeridian.
    longitude_360: Option<(f64, f64)>,
}

fn widen(acc: &mut Option<(f64, f64)>, v: f64) {
    *acc = Some(match *acc {
        None => (v, v),
        Some((a, b)) => (a.min(v), b.max(v)),
    });
}

impl Extent {
    fn latitude(&mut self, v: f64) {
        if (-90.0..=90.0).contains(&v) {
            widen(&mut self.latitude, v);
        }
    }

    fn longitude(&mut self, v: f64) {
        if (-180.0..=360.0).contains(&v) {
            let v = if v > 180.0 { v - 360.0 } else { v };
            widen(&mut self.longitude, v);
            widen(&mut self.longitude_360, if v < 0.0 { v + 360.0 } else { v });
        }
    }

    fn bounds(self) -> Option<Bounds> {
        let (south, north) = self.latitude?;
        let (w, e) = self.longitude?;
        let (w360, e360) = self.longitude_360?;
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
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The decoded values of `var`, fill values and non-finite values left out (in the order
    /// of [`for_each_decoded`]).
    fn decoded(var: &Var) -> Vec<f64> {
        let mut out = Vec::new();
        for_each_decoded(var, |v| out.push(v));
        out
    }

    /// The box around the valid coordinates given as values; `None` when there are none.
    fn bounds(lat: &[f64], lon: &[f64]) -> Option<Bounds> {
        let mut e = Extent::default();
        lat.iter().for_each(|v| e.latitude(*v));
        lon.iter().for_each(|v| e.longitude(*v));
        e.bounds()
    }

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
    fn chunks_give_the_same_box_as_the_whole_variable() {
        let var = |values: Values, name: &str| Var {
            name: name.into(),
            dims: vec!["rows".into(), "columns".into()],
            shape: vec![2, 4],
            dtype: Dtype::I16,
            attrs: serde_json::Map::from_iter([
                ("scale_factor".to_string(), Value::from(0.01)),
                ("_FillValue".to_string(), Value::from(-32768)),
            ]),
            attr_types: serde_json::Map::new(),
            values,
        };
        let bytes = |v: &[i16]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        // Rows [1000, 2000, -32768, 4000] and [500, 6000, 7000, 8000]; chunks of 2 x 2.
        let lat = [1000i16, 2000, -32768, 4000, 500, 6000, 7000, 8000];
        let lon = [
            17_950i16, 17_990, -17_990, -17_900, 17_960, 17_980, -17_950, -17_800,
        ];
        let tiles = |v: &[i16]| Values::Tiled {
            chunk: vec![2, 2],
            tiles: vec![
                bytes(&[v[0], v[1], v[4], v[5]]),
                bytes(&[v[2], v[3], v[6], v[7]]),
            ],
        };
        let whole = of(
            Some(&var(Values::Whole(bytes(&lat)), "lat")),
            &var(Values::Whole(bytes(&lon)), "lon"),
        )
        .unwrap();
        let tiled = of(Some(&var(tiles(&lat), "lat")), &var(tiles(&lon), "lon")).unwrap();
        assert_eq!(whole, tiled);
        assert_eq!((whole.south, whole.north), (5.0, 80.0));
        assert_eq!((whole.west, whole.east), (179.5, -178.0));
        assert_eq!(
            whole,
            bounds(
                &decoded(&var(tiles(&lat), "lat")),
                &decoded(&var(tiles(&lon), "lon"))
            )
            .unwrap()
        );
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
            values: Values::Whole(vals.iter().flat_map(|v| v.to_le_bytes()).collect()),
        };
        let d = decoded(&var);
        assert_eq!(d.len(), 2);
        assert!(
            (d[0] - 50.0).abs() < 1e-9 && (d[1] + 1.5).abs() < 1e-9,
            "{d:?}"
        );
    }
}

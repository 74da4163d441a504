//! The TEvolOp space-time grid: 40 x 60 pixels of 0.1 degree over Southern California,
//! daily and fortnightly series of the four reference quantities, written as Zarr v3.
//!
//! Reference (sources.md §4.3): pixel = x + 60*y, x = floor((lon+120)*10),
//! y = floor((36-lat)*10); log_eng = log10(Σ 10^(1.5 m))/1.5; depth energy-weighted;
//! counts; fortnights skip `ndays % 14` days at the start.

use std::sync::Arc;

use anyhow::{Context, Result};
use serde_json::{Map, Value, json};
use zarrs::array::codec::ZstdCodec;
use zarrs::array::{Array, ArrayBuilder, data_type};
use zarrs::group::GroupBuilder;

use crate::staging::StagingZarrStore;

/// Number of pixel rows (north to south).
pub const NY: usize = 40;
/// Number of pixel columns (west to east).
pub const NX: usize = 60;
/// Number of pixels.
pub const NPIX: usize = NY * NX;
/// Magnitude threshold of the "Rundle multiplicity" count.
pub const MAG_THRESHOLD: f64 = 3.29;
/// Days per coarse time unit.
pub const FORTNIGHT: u64 = 14;
/// The four quantities, in reference order: (array name, reference file suffix, long name, units).
pub const QUANTITIES: [(&str, &str, &str, &str); 4] = [
    (
        "log_eng",
        "log_eng",
        "energy-summed magnitude log10(sum 10^(1.5 m))/1.5",
        "1",
    ),
    ("w_depth", "w_depth", "energy-weighted mean depth", "km"),
    ("n_shock", "n_shock", "number of events", "1"),
    (
        "n_shock_mag_3_29",
        "n_shock-mag-3.29",
        "number of events with magnitude > 3.29",
        "1",
    ),
];

/// The benchmark region and its pixel grid.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Region {
    /// Northern edge (degrees north).
    pub north: f64,
    /// Western edge (degrees east).
    pub west: f64,
    /// Pixels per degree (10: pixels of 0.1 degree).
    pub per_degree: f64,
}

impl Default for Region {
    fn default() -> Self {
        Region {
            north: 36.0,
            west: -120.0,
            per_degree: 10.0,
        }
    }
}

impl Region {
    /// Pixel index `x + 60*y` of a location, `None` outside the grid. Float64 arithmetic
    /// exactly as the reference: x = floor((lon+120)*10), y = floor((36-lat)*10).
    pub fn pixel(&self, lat: f64, lon: f64) -> Option<usize> {
        let x = ((lon - self.west) * self.per_degree).floor();
        let y = ((self.north - lat) * self.per_degree).floor();
        if (0.0..NX as f64).contains(&x) && (0.0..NY as f64).contains(&y) {
            Some(x as usize + NX * y as usize)
        } else {
            None
        }
    }

    /// Latitude of the centre of pixel row `y`.
    pub fn lat_centre(&self, y: usize) -> f64 {
        self.north - (y as f64 + 0.5) / self.per_degree
    }

    /// Longitude of the centre of pixel column `x`.
    pub fn lon_centre(&self, x: usize) -> f64 {
        self.west + (x as f64 + 0.5) / self.per_degree
    }

    /// Southern edge.
    pub fn south(&self) -> f64 {
        self.north - NY as f64 / self.per_degree
    }

    /// Eastern edge.
    pub fn east(&self) -> f64 {
        self.west + NX as f64 / self.per_degree
    }
}

/// Sums for one (time step, pixel).
#[derive(Debug, Clone, Copy, Default)]
struct Cell {
    energy: f64,
    depth_energy: f64,
    depth_weight: f64,
    count: u32,
    count_big: u32,
}

impl Cell {
    fn add(&mut self, mag: f64, depth: Option<f64>) {
        let e = 10f64.powf(1.5 * mag);
        self.energy += e;
        if let Some(d) = depth {
            self.depth_energy += e * d;
            self.depth_weight += e;
        }
        self.count += 1;
        if mag > MAG_THRESHOLD {
            self.count_big += 1;
        }
    }

    fn values(&self) -> [f32; 4] {
        if self.count == 0 {
            return [0.0; 4];
        }
        let log_eng = self.energy.log10() / 1.5;
        let w_depth = if self.depth_weight > 0.0 {
            self.depth_energy / self.depth_weight
        } else {
            0.0
        };
        [
            log_eng as f32,
            w_depth as f32,
            self.count as f32,
            self.count_big as f32,
        ]
    }
}

/// Writes one time axis (daily or fortnightly) of the four quantities, chunk by chunk,
/// from events that arrive in time order. Memory: one chunk of cells.
pub struct SeriesWriter {
    arrays: Vec<Array<StagingZarrStore>>,
    steps: u64,
    chunk: u64,
    current: u64,
    cells: Vec<Cell>,
}

fn attrs(pairs: Value) -> Map<String, Value> {
    match pairs {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

impl SeriesWriter {
    /// Creates the group `group` with its coordinate arrays and the four data arrays.
    /// `times` holds each step's first day as days since 1970-01-01.
    pub async fn create(
        store: &Arc<StagingZarrStore>,
        group: &str,
        description: &str,
        times: &[i64],
        chunk: u64,
        region: &Region,
    ) -> Result<SeriesWriter> {
        let steps = times.len() as u64;
        let mut g = GroupBuilder::new().build(store.clone(), &format!("/{group}"))?;
        g.attributes_mut()
            .insert("description".into(), Value::String(description.into()));
        g.async_store_metadata().await?;

        let zstd = || Arc::new(ZstdCodec::new(5, true));
        // Coordinates.
        let time = ArrayBuilder::new(
            vec![steps],
            vec![steps.max(1)],
            data_type::int64(),
            i64::MIN,
        )
        .bytes_to_bytes_codecs(vec![zstd()])
        .dimension_names(Some(["time"]))
        .attributes(attrs(json!({
            "units": "days since 1970-01-01",
            "calendar": "proleptic_gregorian",
            "standard_name": "time",
            "long_name": format!("first day of each {group} step (UTC)"),
        })))
        .build(store.clone(), &format!("/{group}/time"))?;
        time.async_store_metadata().await?;
        if steps > 0 {
            time.async_store_chunk(&[0], times.to_vec()).await?;
        }
        let lat: Vec<f64> = (0..NY).map(|y| region.lat_centre(y)).collect();
        let lon: Vec<f64> = (0..NX).map(|x| region.lon_centre(x)).collect();
        for (name, values, units, std_name) in [
            ("lat", lat, "degrees_north", "latitude"),
            ("lon", lon, "degrees_east", "longitude"),
        ] {
            let n = values.len() as u64;
            let a = ArrayBuilder::new(vec![n], vec![n], data_type::float64(), f64::NAN)
                .bytes_to_bytes_codecs(vec![zstd()])
                .dimension_names(Some([name]))
                .attributes(attrs(json!({
                    "units": units,
                    "standard_name": std_name,
                    "long_name": format!("{std_name} of the pixel centre"),
                })))
                .build(store.clone(), &format!("/{group}/{name}"))?;
            a.async_store_metadata().await?;
            a.async_store_chunk(&[0], values).await?;
        }
        let mut arrays = Vec::new();
        for (name, reference, long_name, units) in QUANTITIES {
            let a = ArrayBuilder::new(
                vec![steps, NY as u64, NX as u64],
                vec![chunk, NY as u64, NX as u64],
                data_type::float32(),
                f32::NAN,
            )
            .bytes_to_bytes_codecs(vec![zstd()])
            .dimension_names(Some(["time", "lat", "lon"]))
            .attributes(attrs(json!({
                "long_name": long_name,
                "units": units,
                "reference_file_suffix": reference,
                "empty_cells": "0 where a pixel has no events in a step (n_shock tells them apart)",
            })))
            .build(store.clone(), &format!("/{group}/{name}"))?;
            a.async_store_metadata().await?;
            arrays.push(a);
        }
        Ok(SeriesWriter {
            arrays,
            steps,
            chunk,
            current: 0,
            cells: vec![Cell::default(); (chunk as usize) * NPIX],
        })
    }

    /// Adds one event at time step `step` (steps must not decrease between calls).
    pub async fn add(
        &mut self,
        step: u64,
        pixel: usize,
        mag: f64,
        depth: Option<f64>,
    ) -> Result<()> {
        if step >= self.steps {
            return Ok(());
        }
        let chunk = step / self.chunk;
        anyhow::ensure!(chunk >= self.current, "events must arrive in time order");
        while self.current < chunk {
            self.flush().await?;
        }
        let i = ((step % self.chunk) as usize) * NPIX + pixel;
        self.cells[i].add(mag, depth);
        Ok(())
    }

    async fn flush(&mut self) -> Result<()> {
        let n = self.cells.len();
        let mut outs: Vec<Vec<f32>> = (0..4).map(|_| Vec::with_capacity(n)).collect();
        for c in &self.cells {
            let v = c.values();
            for q in 0..4 {
                outs[q].push(v[q]);
            }
        }
        let idx = [self.current, 0, 0];
        let futs = self
            .arrays
            .iter()
            .zip(outs)
            .map(|(a, data)| a.async_store_chunk(&idx, data));
        for r in futures::future::join_all(futs).await {
            r.with_context(|| format!("cannot write grid chunk {}", self.current))?;
        }
        self.cells.iter_mut().for_each(|c| *c = Cell::default());
        self.current += 1;
        Ok(())
    }

    /// Writes the remaining chunks (empty ones as zeros).
    pub async fn finish(mut self) -> Result<()> {
        let chunks = self.steps.div_ceil(self.chunk);
        while self.current < chunks {
            self.flush().await?;
        }
        Ok(())
    }
}

/// Writes the root group's attributes.
pub async fn write_root(
    store: &Arc<StagingZarrStore>,
    attributes: Map<String, Value>,
) -> Result<()> {
    let mut g = GroupBuilder::new().build(store.clone(), "/")?;
    *g.attributes_mut() = attributes;
    g.async_store_metadata().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixels_follow_the_reference_formula() {
        let r = Region::default();
        assert_eq!(r.pixel(35.95, -119.95), Some(0));
        assert_eq!(r.pixel(35.95, -114.05), Some(59));
        assert_eq!(r.pixel(32.05, -114.05), Some(NPIX - 1));
        assert_eq!(r.pixel(36.0, -120.0), Some(0));
        assert_eq!(r.pixel(32.0, -117.0), None);
        assert_eq!(r.pixel(34.0, -114.0), None);
        assert_eq!(r.pixel(36.01, -117.0), None);
        // x = floor((lon+120)*10), y = floor((36-lat)*10): 35.1 -> y = 9 (float64), lon -117.55 -> x = 24
        let y = ((36.0f64 - 35.1) * 10.0).floor() as usize;
        assert_eq!(r.pixel(35.1, -117.55), Some(24 + 60 * y));
    }

    #[test]
    fn cell_values() {
        let mut c = Cell::default();
        c.add(3.0, Some(10.0));
        c.add(3.0, Some(20.0));
        let v = c.values();
        // two equal energies: log10(2 * 10^4.5)/1.5 = 3 + log10(2)/1.5
        assert!((v[0] as f64 - (3.0 + 2f64.log10() / 1.5)).abs() < 1e-5);
        assert!((v[1] - 15.0).abs() < 1e-5);
        assert_eq!(v[2], 2.0);
        assert_eq!(v[3], 0.0);
        c.add(3.3, None);
        assert_eq!(c.values()[3], 1.0);
        assert_eq!(Cell::default().values(), [0.0; 4]);
    }
}

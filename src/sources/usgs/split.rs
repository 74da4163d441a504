//! The reference's spatial split: active locations (by the count of m > 3.29 events, alone or
//! in the 3 x 3 neighbourhood), 80/20 train/validation with a fixed seed.

use std::sync::Arc;

use anyhow::Result;
use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::Serialize;

use super::grid::{NPIX, NX, NY, Region};

/// Split parameters (all recorded in the version's options).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SplitOptions {
    /// Seed of the ChaCha8 shuffle of the active locations.
    pub seed: u64,
    /// Share of active locations held out for validation.
    pub validation_fraction: f64,
    /// A pixel is active with at least this many m > 3.29 events…
    pub single_threshold: f64,
    /// …or at least this many in its 3 x 3 neighbourhood.
    pub neighbourhood_threshold: f64,
}

impl Default for SplitOptions {
    fn default() -> Self {
        SplitOptions {
            seed: 2020,
            validation_fraction: 0.2,
            single_threshold: 7.1,
            neighbourhood_threshold: 34.1,
        }
    }
}

/// The split as computed.
#[derive(Debug, Clone, Serialize)]
pub struct SplitSummary {
    pub active: usize,
    pub train: usize,
    pub validation: usize,
}

/// Sum over the 3 x 3 neighbourhood of each pixel (clipped at the edges).
pub fn neighbourhood_sums(counts: &[u64]) -> Vec<u64> {
    let mut out = vec![0u64; NPIX];
    for y in 0..NY {
        for x in 0..NX {
            let mut s = 0;
            for yy in y.saturating_sub(1)..=(y + 1).min(NY - 1) {
                for xx in x.saturating_sub(1)..=(x + 1).min(NX - 1) {
                    s += counts[xx + NX * yy];
                }
            }
            out[x + NX * y] = s;
        }
    }
    out
}

/// Builds the locations table from per-pixel totals.
pub fn locations_table(
    n_events: &[u64],
    n_big: &[u64],
    region: &Region,
    opts: &SplitOptions,
) -> Result<(RecordBatch, SplitSummary)> {
    let n3 = neighbourhood_sums(n_big);
    let active: Vec<bool> = (0..NPIX)
        .map(|p| {
            n_big[p] as f64 >= opts.single_threshold || n3[p] as f64 >= opts.neighbourhood_threshold
        })
        .collect();
    let mut order: Vec<usize> = (0..NPIX).filter(|p| active[*p]).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(opts.seed);
    order.shuffle(&mut rng);
    let n_val = (opts.validation_fraction * order.len() as f64).round() as usize;
    let mut split: Vec<Option<&str>> = vec![None; NPIX];
    for (i, p) in order.iter().enumerate() {
        split[*p] = Some(if i < n_val { "validation" } else { "train" });
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("pixel", DataType::Int32, false),
        Field::new("x", DataType::Int32, false),
        Field::new("y", DataType::Int32, false),
        Field::new("lat", DataType::Float64, false),
        Field::new("lon", DataType::Float64, false),
        Field::new("n_events", DataType::Int64, false),
        Field::new("n_mag_gt_3_29", DataType::Int64, false),
        Field::new("n_mag_gt_3_29_3x3", DataType::Int64, false),
        Field::new("active", DataType::Boolean, false),
        Field::new("split", DataType::Utf8, true),
    ]));
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int32Array::from_iter_values((0..NPIX).map(|p| p as i32))),
        Arc::new(Int32Array::from_iter_values(
            (0..NPIX).map(|p| (p % NX) as i32),
        )),
        Arc::new(Int32Array::from_iter_values(
            (0..NPIX).map(|p| (p / NX) as i32),
        )),
        Arc::new(Float64Array::from_iter_values(
            (0..NPIX).map(|p| region.lat_centre(p / NX)),
        )),
        Arc::new(Float64Array::from_iter_values(
            (0..NPIX).map(|p| region.lon_centre(p % NX)),
        )),
        Arc::new(Int64Array::from_iter_values(
            n_events.iter().map(|v| *v as i64),
        )),
        Arc::new(Int64Array::from_iter_values(
            n_big.iter().map(|v| *v as i64),
        )),
        Arc::new(Int64Array::from_iter_values(n3.iter().map(|v| *v as i64))),
        Arc::new(BooleanArray::from(active)),
        Arc::new(StringArray::from(split)),
    ];
    let summary = SplitSummary {
        active: order.len(),
        train: order.len() - n_val,
        validation: n_val,
    };
    Ok((RecordBatch::try_new(schema, cols)?, summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbourhood_clips_at_edges() {
        let mut c = vec![0u64; NPIX];
        c[0] = 5;
        let n = neighbourhood_sums(&c);
        assert_eq!(n[0], 5);
        assert_eq!(n[1], 5);
        assert_eq!(n[NX], 5);
        assert_eq!(n[NX + 1], 5);
        assert_eq!(n[2], 0);
        assert_eq!(n.iter().sum::<u64>(), 20);
    }

    #[test]
    fn split_is_deterministic_and_80_20() {
        let big: Vec<u64> = (0..NPIX).map(|p| if p % 3 == 0 { 8 } else { 0 }).collect();
        let ev = big.clone();
        let r = Region::default();
        let (a, s) = locations_table(&ev, &big, &r, &SplitOptions::default()).unwrap();
        let (b, _) = locations_table(&ev, &big, &r, &SplitOptions::default()).unwrap();
        assert_eq!(a, b);
        assert_eq!(s.validation, (s.active as f64 * 0.2).round() as usize);
        let (c, _) = locations_table(
            &ev,
            &big,
            &r,
            &SplitOptions {
                seed: 7,
                ..Default::default()
            },
        )
        .unwrap();
        assert_ne!(a.column(9), c.column(9));
    }
}

//! TEvolOp scoring: the LSTM baseline's nowcast of each location's next-fortnight
//! energy-summed magnitude, scored by NNSE per location (the notebook's `FindNNSE`).
//!
//! Inputs, per evaluated location `l` and fortnight `t >= TSEQ`: the four fortnightly
//! quantities of the `TSEQ` fortnights before `t`, in the order of [`FEATURES`], as stored in
//! `data/grid.zarr/fortnightly/` (raw values: the model normalises internally). Target:
//! `fortnightly/log_eng[t, l]`. Locations: `data/splits/locations.parquet`, the rows whose
//! `split` is the evaluated split (`all` = every active location).

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use object_store::local::LocalFileSystem;
use zarrs::array::Array;

use super::columns::{self, Kind};
use super::metrics;
use super::predictions::{Column, Table};
use super::{MetricValue, Outcome, Runner};

/// The model's input features, in order.
pub const FEATURES: [&str; 4] = ["log_eng", "w_depth", "n_shock", "n_shock_mag_3_29"];
/// Sequence length (the notebook's `Tseq`).
pub const TSEQ: usize = 26;

/// Reads `(pixel, split)` of the locations table.
pub fn locations(bag: &Path) -> Result<Vec<(i64, Option<String>)>> {
    let p = bag.join("data/splits/locations.parquet");
    let mut it = columns::read(&p, &[("pixel", Kind::I64), ("split", Kind::Str)])?.into_iter();
    let (pix, split) = (
        it.next().expect("2").i64s(),
        it.next().expect("2").strings(),
    );
    Ok(pix
        .into_iter()
        .zip(split)
        .filter_map(|(p, s)| p.map(|p| (p, s)))
        .collect())
}

pub async fn score(
    bag: &Path,
    split: &str,
    runner: &mut Runner,
    progress: bool,
) -> Result<Outcome> {
    let grid = bag.join("data/grid.zarr");
    if !grid.join("zarr.json").is_file() {
        bail!(
            "{} has no data/grid.zarr; is this a tevolop version?",
            bag.display()
        );
    }
    runner.check_inputs(
        "tevolop",
        &[("x", vec![-1, TSEQ as i64, FEATURES.len() as i64])],
    )?;
    let locs: Vec<i64> = locations(bag)?
        .into_iter()
        .filter(|(_, s)| match (split, s) {
            ("all", Some(_)) => true,
            (want, Some(s)) => s == want,
            _ => false,
        })
        .map(|(p, _)| p)
        .collect();
    if locs.is_empty() {
        bail!(
            "split {split:?} has no locations in data/splits/locations.parquet (splits: train, validation, all)"
        );
    }
    let store = Arc::new(zarrs_object_store::AsyncObjectStore::new(
        LocalFileSystem::new_with_prefix(&grid)?,
    ));
    let mut series: Vec<Vec<f32>> = Vec::new();
    let mut shape = Vec::new();
    for name in FEATURES {
        let a = Array::async_open(store.clone(), &format!("/fortnightly/{name}"))
            .await
            .with_context(|| format!("cannot open fortnightly/{name}"))?;
        shape = a.shape().to_vec();
        if shape.len() != 3 {
            bail!("fortnightly/{name} has shape {shape:?}, expected (fortnight, 40, 60)");
        }
        let v: Vec<f32> = a
            .async_retrieve_array_subset(&[0..shape[0], 0..shape[1], 0..shape[2]])
            .await?;
        series.push(v);
    }
    let times: Vec<i64> = Array::async_open(store.clone(), "/fortnightly/time")
        .await?
        .async_retrieve_array_subset(&zarrs::array::ArraySubset::new_with_shape(vec![shape[0]]))
        .await?;
    let (nt, npix) = (shape[0] as usize, (shape[1] * shape[2]) as usize);
    if nt <= TSEQ {
        bail!("the grid has {nt} fortnights; scoring needs more than {TSEQ}");
    }
    let per_loc = nt - TSEQ;
    let total = (locs.len() * per_loc) as u64;
    runner.bar = crate::progress::count_bar(progress, total, "score");
    let nf = FEATURES.len();
    let mut pred = Vec::with_capacity(total as usize);
    let mut keys: Vec<(usize, usize)> = Vec::with_capacity(total as usize);
    let mut x: Vec<f32> = Vec::with_capacity(runner.batch * TSEQ * nf);
    let mut n = 0usize;
    for &l in &locs {
        let l = l as usize;
        if l >= npix {
            bail!("location {l} is outside the {npix}-pixel grid");
        }
        for t in TSEQ..nt {
            for s in t - TSEQ..t {
                for f in &series {
                    x.push(f[s * npix + l]);
                }
            }
            keys.push((l, t));
            n += 1;
            if n == runner.batch {
                pred.extend(runner.run(
                    &[(
                        "x",
                        &[n as i64, TSEQ as i64, nf as i64],
                        &std::mem::take(&mut x).into(),
                    )],
                    n,
                )?);
                n = 0;
            }
        }
    }
    if n > 0 {
        pred.extend(runner.run(
            &[(
                "x",
                &[n as i64, TSEQ as i64, nf as i64],
                &std::mem::take(&mut x).into(),
            )],
            n,
        )?);
    }
    if pred.len() != keys.len() {
        bail!(
            "the model returned {} values for {} samples; the TEvolOp model must output one value per sample",
            pred.len(),
            keys.len()
        );
    }
    let obs: Vec<f64> = keys
        .iter()
        .map(|&(l, t)| series[0][t * npix + l] as f64)
        .collect();
    let p: Vec<f64> = pred.iter().map(|&v| v as f64).collect();
    let mut per_location = Vec::new();
    for (i, _) in locs.iter().enumerate() {
        let r = i * per_loc..(i + 1) * per_loc;
        per_location.push(metrics::nnse(&obs[r.clone()], &p[r]));
    }
    let valid: Vec<f64> = per_location
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let mean_nnse = (!valid.is_empty()).then(|| valid.iter().sum::<f64>() / valid.len() as f64);
    // The notebook's "summed" NNSE: on the location-summed series.
    let (mut so, mut sp) = (vec![0.0; per_loc], vec![0.0; per_loc]);
    for i in 0..locs.len() {
        for k in 0..per_loc {
            so[k] += obs[i * per_loc + k];
            sp[k] += p[i * per_loc + k];
        }
    }
    let summed = metrics::nnse(&so, &sp);
    let mut notes = vec![format!(
        "target: next-fortnight log_eng per location from the previous {TSEQ} fortnights of {}; NNSE averaged over {} of {} locations (NaN NNSE of constant series left out)",
        FEATURES.join(", "),
        valid.len(),
        locs.len()
    )];
    if valid.len() < locs.len() {
        notes.push(format!(
            "{} locations have no NNSE (constant, perfectly predicted series)",
            locs.len() - valid.len()
        ));
    }
    let mut table = Table::default();
    table.push(
        "pixel",
        Column::I64(keys.iter().map(|k| k.0 as i64).collect()),
    );
    table.push(
        "fortnight",
        Column::I64(keys.iter().map(|k| k.1 as i64).collect()),
    );
    table.push(
        "time",
        Column::I64(keys.iter().map(|k| times[k.1]).collect()),
    );
    table.push("observed", Column::F64(obs.clone()));
    table.push("predicted", Column::F64(p.clone()));
    Ok(Outcome {
        metric: "nnse".into(),
        metrics: vec![
            MetricValue {
                name: "nnse".into(),
                value: mean_nnse,
            },
            MetricValue {
                name: "nnse_summed".into(),
                value: summed.is_finite().then_some(summed),
            },
            MetricValue {
                name: "mse".into(),
                value: Some(metrics::mse(&obs, &p)),
            },
            MetricValue {
                name: "locations".into(),
                value: Some(locs.len() as f64),
            },
        ],
        samples: keys.len() as u64,
        notes,
        predictions: table,
    })
}

//! STEMDL scoring: space-group classification of the CBED stacks.
//!
//! Samples: the rows of `data/samples.parquet` whose `split` is the evaluated split (default
//! `dev`, the data challenge's validation set), in sample order. Input: the benchmark tensor
//! `data/cbed.zarr/data` (sample, 3, 128, 128) float32, the reference's log-scaled 128 x 128
//! stacks, as stored. Two model forms, told apart by the model's input channels:
//! - ORNL (`x` [N, 1, 128, 128], the reference): each orientation is one image; the logits of
//!   a sample are the mean of its three orientations' logits, as the reference validates;
//! - STFC (`x` [N, 3, 128, 128]): the three orientations are the channels.
//!
//! The predicted class is the arg-max of the 231 logits (index = space group). Metrics:
//! dataset-level macro-F1 (scikit-learn `f1_score(average="macro")`) and top-1 accuracy.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use object_store::local::LocalFileSystem;
use zarrs::array::Array;

use super::columns::{self, Kind};
use super::metrics;
use super::predictions::{Column, Table};
use super::{Batch, MetricValue, Outcome, Runner};

pub const SIDE: u64 = 128;
pub const ORIENTATIONS: u64 = 3;

/// `(sample, split, space_group)` of the samples table (rows with a null left out).
pub fn samples(bag: &Path) -> Result<Vec<(u64, String, i64)>> {
    let p = bag.join("data/samples.parquet");
    if !p.is_file() {
        bail!(
            "{} has no data/samples.parquet; is this a stemdl version?",
            bag.display()
        );
    }
    let mut it = columns::read(
        &p,
        &[
            ("sample", Kind::I64),
            ("split", Kind::Str),
            ("space_group", Kind::I64),
        ],
    )?
    .into_iter();
    let (s, sp, g) = (
        it.next().expect("3").i64s(),
        it.next().expect("3").strings(),
        it.next().expect("3").i64s(),
    );
    Ok(s.into_iter()
        .zip(sp)
        .zip(g)
        .filter_map(|((s, sp), g)| Some((s? as u64, sp?, g?)))
        .collect())
}

pub async fn score(
    bag: &Path,
    split: &str,
    runner: &mut Runner,
    progress: bool,
) -> Result<Outcome> {
    let all = samples(bag)?;
    let mut split = split.to_string();
    let mut notes = Vec::new();
    if split == "validation" && !all.iter().any(|s| s.1 == "validation") {
        notes.push("split \"validation\" is called \"dev\" in STEMDL versions".to_string());
        split = "dev".into();
    }
    let mut chosen: Vec<(u64, i64)> = all
        .iter()
        .filter(|s| split == "all" || s.1 == split)
        .map(|s| (s.0, s.2))
        .collect();
    chosen.sort();
    if chosen.is_empty() {
        bail!(
            "split {split:?} has no samples in data/samples.parquet (splits: train, dev, test, all)"
        );
    }
    // The model form, from its input channels.
    let channels = runner
        .session
        .inputs()
        .first()
        .and_then(|i| i.dtype().tensor_shape().and_then(|s| s.get(1).copied()))
        .unwrap_or(1);
    let per_image = if channels == ORIENTATIONS as i64 {
        ORIENTATIONS
    } else {
        1
    };
    runner.check_inputs(
        "stemdl",
        &[("x", vec![-1, per_image as i64, SIDE as i64, SIDE as i64])],
    )?;
    let store = Arc::new(zarrs_object_store::AsyncObjectStore::new(
        LocalFileSystem::new_with_prefix(bag.join("data/cbed.zarr"))?,
    ));
    let a = Array::async_open(store, "/data")
        .await
        .context("cannot open data/cbed.zarr/data")?;
    let shape = a.shape().to_vec();
    if shape.len() != 4 || shape[1] != ORIENTATIONS || shape[2] != SIDE || shape[3] != SIDE {
        bail!("data/cbed.zarr/data has shape {shape:?}, expected (sample, 3, 128, 128)");
    }
    runner.bar = crate::progress::count_bar(progress, chosen.len() as u64, "score");
    let stack = (ORIENTATIONS * SIDE * SIDE) as usize;
    let mut pred: Vec<i64> = Vec::with_capacity(chosen.len());
    let mut classes = 0usize;
    let batches: Vec<&[(u64, i64)]> = chosen.chunks(runner.batch).collect();
    // The reader thread drives the async Zarr reads on this runtime.
    let rt = tokio::runtime::Handle::current();
    let views = (ORIENTATIONS / per_image) as usize;
    // Full batches are written into pinned buffers on the CUDA provider.
    let image_shape = |n: usize| {
        vec![
            (n * views) as i64,
            per_image as i64,
            SIDE as i64,
            SIDE as i64,
        ]
    };
    let staging = runner.staging(image_shape(runner.batch), super::prefetch_in_flight());
    runner.run_overlapped(
        batches.len(),
        |b| {
            let batch = batches[b];
            let x_shape = image_shape(batch.len());
            let mut x = staging.buffer(&x_shape);
            let mut filled = 0;
            // Consecutive samples are read as one range.
            let mut i = 0;
            while i < batch.len() {
                let mut j = i + 1;
                while j < batch.len() && batch[j].0 == batch[j - 1].0 + 1 {
                    j += 1;
                }
                let (s0, s1) = (batch[i].0, batch[j - 1].0 + 1);
                if s1 > shape[0] {
                    bail!(
                        "sample {} is outside data/cbed.zarr/data ({} samples)",
                        s1 - 1,
                        shape[0]
                    );
                }
                let v: Vec<f32> = rt.block_on(a.async_retrieve_array_subset(&[
                    s0..s1,
                    0..ORIENTATIONS,
                    0..SIDE,
                    0..SIDE,
                ]))?;
                x.as_mut_slice()[filled..filled + v.len()].copy_from_slice(&v);
                filled += v.len();
                i = j;
            }
            debug_assert_eq!(filled, batch.len() * stack);
            Ok(Batch {
                inputs: vec![("x", x_shape, x)],
                n: batch.len(),
            })
        },
        |b, out| {
            let n = batches[b].len();
            let images = n * views;
            if out.is_empty() || out.len() % images != 0 {
                bail!(
                    "the model returned {} values for {images} images",
                    out.len()
                );
            }
            classes = out.len() / images;
            for k in 0..n {
                let mut logits = vec![0f64; classes];
                for v in 0..views {
                    let row = &out[(k * views + v) * classes..(k * views + v + 1) * classes];
                    for (l, &o) in logits.iter_mut().zip(row) {
                        *l += o as f64 / views as f64;
                    }
                }
                let mut best = 0;
                for (c, &l) in logits.iter().enumerate() {
                    if l > logits[best] {
                        best = c;
                    }
                }
                pred.push(best as i64);
            }
            Ok(())
        },
    )?;
    let truth: Vec<i64> = chosen.iter().map(|s| s.1).collect();
    let c = metrics::classification(&truth, &pred);
    notes.push(format!(
        "{} samples of split {split:?}; {classes} model outputs (index = space group); {}",
        chosen.len(),
        if per_image == 1 {
            "ORNL form: logits averaged over the 3 orientations"
        } else {
            "STFC form: the 3 orientations as channels"
        }
    ));
    notes.push("macro-F1 is dataset-level; the ORNL reference logged the mean of per-batch (32) macro-F1 values".into());
    let mut table = Table::default();
    table.push(
        "sample",
        Column::I64(chosen.iter().map(|s| s.0 as i64).collect()),
    );
    table.push("observed", Column::I64(truth));
    table.push("predicted", Column::I64(pred));
    Ok(Outcome {
        metric: "macro_f1".into(),
        metrics: vec![
            MetricValue {
                name: "macro_f1".into(),
                value: Some(c.macro_f1),
            },
            MetricValue {
                name: "top1".into(),
                value: Some(c.top1),
            },
            MetricValue {
                name: "classes_seen".into(),
                value: Some(c.classes as f64),
            },
        ],
        samples: chosen.len() as u64,
        notes,
        predictions: table,
    })
}

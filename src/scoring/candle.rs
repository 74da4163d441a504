//! CANDLE-UNO scoring: the UNO network's predicted dose-response AUC on the drug split.
//!
//! Samples: the responses (`data/responses/`) that pass the benchmark's quality filter
//! (`R2fit >= 0.3 AND EC50se <= 3`, AUC present) whose drug is in the evaluated split of
//! `data/splits/drugs.parquet` and whose cell and drug both have features; ordered by
//! (SOURCE, CELL, DRUG, STUDY). Inputs, as `uno_data`'s loaders prepare them
//! (`impute_and_scale(df, scaling="std")`): each feature matrix's missing values take their
//! column's mean, then every column is standardised with its mean and population standard
//! deviation over all rows of the matrix (scikit-learn `StandardScaler`; a constant column
//! is only centred). Cell features: the RNA-seq matrix (`combined_rnaseq_data_lincs1000_source_scale`
//! when present); drug features: the Dragon7 descriptor matrices, the first that holds the drug.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use object_store::local::LocalFileSystem;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use zarrs::array::Array;

use super::columns::{self, Kind};
use super::metrics;
use super::predictions::{Column, Table};
use super::{Batch, MetricValue, Outcome, Runner};

pub const CELL_INPUT: &str = "cell.rnaseq";
pub const DRUG_INPUT: &str = "drug1.descriptors";

/// `part-<n>.parquet` files of every `SOURCE=<s>` partition, in (source, n) order.
fn response_files(bag: &Path) -> Result<Vec<(String, PathBuf)>> {
    let dir = bag.join("data/responses");
    let mut out = Vec::new();
    let mut parts: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| {
            format!(
                "{} has no data/responses; is this a candle-uno version?",
                bag.display()
            )
        })?
        .flatten()
        .map(|e| e.path())
        .collect();
    parts.sort();
    for p in parts {
        let Some(source) = p
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("SOURCE="))
            .map(str::to_string)
        else {
            continue;
        };
        let mut files: Vec<(u64, PathBuf)> = std::fs::read_dir(&p)?
            .flatten()
            .filter_map(|e| {
                let n = e.file_name().to_str()?.to_string();
                let k = n
                    .strip_prefix("part-")?
                    .strip_suffix(".parquet")?
                    .parse()
                    .ok()?;
                Some((k, e.path()))
            })
            .collect();
        files.sort();
        out.extend(files.into_iter().map(|(_, f)| (source.clone(), f)));
    }
    Ok(out)
}

/// A feature matrix: its label → row map, and scaled rows fetched on demand.
struct Features {
    stem: String,
    rows: HashMap<String, u64>,
    columns: u64,
}

fn feature_rows(bag: &Path, stem: &str) -> Result<Features> {
    let p = bag.join(format!("data/features/{stem}/rows.parquet"));
    let f = std::fs::File::open(&p).with_context(|| format!("cannot open {}", p.display()))?;
    let b = ParquetRecordBatchReaderBuilder::try_new(f)?;
    let label = b
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .find(|n| n == "Sample" || n == "NAME" || n == "Drug")
        .with_context(|| format!("{}: no Sample/NAME/Drug column", p.display()))?;
    let cols = columns::read(&p, &[("row", Kind::I64), (&label, Kind::Str)])?;
    let mut it = cols.into_iter();
    let (row, name) = (
        it.next().expect("2").i64s(),
        it.next().expect("2").strings(),
    );
    let mut rows = HashMap::new();
    for (r, n) in row.into_iter().zip(name) {
        if let (Some(r), Some(n)) = (r, n) {
            rows.entry(n).or_insert(r as u64);
        }
    }
    let cp = bag.join(format!("data/features/{stem}/columns.parquet"));
    let ncols = columns::read(&cp, &[("column", Kind::I64)])?
        .pop()
        .expect("one column")
        .i64s()
        .len() as u64;
    Ok(Features {
        stem: stem.to_string(),
        rows,
        columns: ncols,
    })
}

/// Streams the matrix once: column means and population standard deviations after mean
/// imputation, and the raw values of the wanted rows; returns the wanted rows scaled.
async fn scaled_rows(
    bag: &Path,
    f: &Features,
    wanted: &HashSet<u64>,
) -> Result<HashMap<u64, Vec<f32>>> {
    let store = Arc::new(zarrs_object_store::AsyncObjectStore::new(
        LocalFileSystem::new_with_prefix(bag.join("data/features.zarr"))?,
    ));
    let a = Array::async_open(store, &format!("/{}", f.stem))
        .await
        .with_context(|| format!("cannot open data/features.zarr/{}", f.stem))?;
    let shape = a.shape().to_vec();
    if shape.len() != 2 || shape[1] != f.columns {
        bail!(
            "data/features.zarr/{} has shape {shape:?}, expected (rows, {})",
            f.stem,
            f.columns
        );
    }
    let (n, m) = (shape[0], shape[1] as usize);
    let step = 512u64;
    let (mut sum, mut sq, mut cnt) = (vec![0f64; m], vec![0f64; m], vec![0u64; m]);
    let mut raw: HashMap<u64, Vec<f32>> = HashMap::new();
    let mut r0 = 0;
    while r0 < n {
        let r1 = (r0 + step).min(n);
        let v: Vec<f32> = a
            .async_retrieve_array_subset(&[r0..r1, 0..shape[1]])
            .await?;
        for (i, row) in v.chunks(m).enumerate() {
            for (j, &x) in row.iter().enumerate() {
                if !x.is_nan() {
                    sum[j] += x as f64;
                    sq[j] += (x as f64) * (x as f64);
                    cnt[j] += 1;
                }
            }
            let r = r0 + i as u64;
            if wanted.contains(&r) {
                raw.insert(r, row.to_vec());
            }
        }
        r0 = r1;
    }
    let mut mean = vec![0f64; m];
    let mut sd = vec![1f64; m];
    for j in 0..m {
        if cnt[j] > 0 {
            mean[j] = sum[j] / cnt[j] as f64;
            let ss = (sq[j] - 2.0 * mean[j] * sum[j] + cnt[j] as f64 * mean[j] * mean[j]).max(0.0);
            let var = ss / n as f64;
            if var > 0.0 {
                sd[j] = var.sqrt();
            }
        }
    }
    Ok(raw
        .into_iter()
        .map(|(r, row)| {
            let s = row
                .iter()
                .enumerate()
                .map(|(j, &x)| {
                    let x = if x.is_nan() { mean[j] } else { x as f64 };
                    ((x - mean[j]) / sd[j]) as f32
                })
                .collect();
            (r, s)
        })
        .collect())
}

fn stems(bag: &Path) -> Result<Vec<String>> {
    let mut v: Vec<String> = std::fs::read_dir(bag.join("data/features"))
        .with_context(|| format!("{} has no data/features", bag.display()))?
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    v.sort();
    Ok(v)
}

pub async fn score(
    bag: &Path,
    split: &str,
    runner: &mut Runner,
    progress: bool,
) -> Result<Outcome> {
    let all = stems(bag)?;
    let cell_stem = ["combined_rnaseq_data_lincs1000_source_scale"]
        .iter()
        .map(|s| s.to_string())
        .find(|s| all.contains(s))
        .or_else(|| all.iter().find(|s| s.contains("rnaseq")).cloned())
        .with_context(|| format!("{} has no RNA-seq feature matrix", bag.display()))?;
    let mut drug_stems: Vec<String> = all
        .iter()
        .filter(|s| s.ends_with("_dragon7_descriptors"))
        .cloned()
        .collect();
    drug_stems.sort_by_key(|s| !s.starts_with("Combined_PubChem"));
    if drug_stems.is_empty() {
        bail!(
            "{} has no *_dragon7_descriptors feature matrix",
            bag.display()
        );
    }
    let cells = feature_rows(bag, &cell_stem)?;
    let drugs: Vec<Features> = drug_stems
        .iter()
        .map(|s| feature_rows(bag, s))
        .collect::<Result<_>>()?;
    let ndrug = drugs[0].columns;
    if let Some(d) = drugs.iter().find(|d| d.columns != ndrug) {
        bail!(
            "descriptor matrices differ in width: {} has {}, {} has {ndrug}",
            d.stem,
            d.columns,
            drugs[0].stem
        );
    }
    runner.check_inputs(
        "candle-uno",
        &[
            (CELL_INPUT, vec![-1, cells.columns as i64]),
            (DRUG_INPUT, vec![-1, ndrug as i64]),
        ],
    )?;

    // The split over drugs.
    let sp = bag.join("data/splits/drugs.parquet");
    let mut it = columns::read(&sp, &[("DRUG", Kind::Str), ("split", Kind::Str)])?.into_iter();
    let (d, s) = (
        it.next().expect("2").strings(),
        it.next().expect("2").strings(),
    );
    let in_split: HashSet<String> = d
        .into_iter()
        .zip(s)
        .filter_map(|(d, s)| match (d, s) {
            (Some(d), Some(s)) if split == "all" || s == split => Some(d),
            _ => None,
        })
        .collect();
    if in_split.is_empty() {
        bail!(
            "split {split:?} has no drugs in data/splits/drugs.parquet (splits: train, validation, all)"
        );
    }

    // The samples.
    let mut samples: Vec<(String, String, String, String, f64)> = Vec::new();
    let (mut filtered, mut no_features) = (0u64, 0u64);
    for (source, file) in response_files(bag)? {
        let mut it = columns::read(
            &file,
            &[
                ("CELL", Kind::Str),
                ("DRUG", Kind::Str),
                ("STUDY", Kind::Str),
                ("AUC", Kind::F64),
                ("R2fit", Kind::F64),
                ("EC50se", Kind::F64),
            ],
        )?
        .into_iter();
        let cell = it.next().expect("6").strings();
        let drug = it.next().expect("6").strings();
        let study = it.next().expect("6").strings();
        let auc = it.next().expect("6").f64s();
        let r2 = it.next().expect("6").f64s();
        let se = it.next().expect("6").f64s();
        for i in 0..cell.len() {
            let (Some(c), Some(dr)) = (&cell[i], &drug[i]) else {
                continue;
            };
            if !in_split.contains(dr) {
                continue;
            }
            let quality = matches!((r2[i], se[i]), (Some(r), Some(e)) if r >= 0.3 && e <= 3.0);
            let Some(a) = auc[i].filter(|a| a.is_finite() && quality) else {
                filtered += 1;
                continue;
            };
            if !cells.rows.contains_key(c) || !drugs.iter().any(|f| f.rows.contains_key(dr)) {
                no_features += 1;
                continue;
            }
            samples.push((
                source.clone(),
                c.clone(),
                dr.clone(),
                study[i].clone().unwrap_or_default(),
                a,
            ));
        }
    }
    samples.sort_by(|a, b| (&a.0, &a.1, &a.2, &a.3).cmp(&(&b.0, &b.1, &b.2, &b.3)));
    if samples.is_empty() {
        bail!(
            "split {split:?} has no scorable responses (after the quality filter {filtered} removed, {no_features} without features)"
        );
    }

    // Scaled feature rows of the cells and drugs in use.
    let want_cells: HashSet<u64> = samples.iter().map(|s| cells.rows[&s.1]).collect();
    let cell_rows = scaled_rows(bag, &cells, &want_cells).await?;
    let mut drug_of: BTreeMap<&str, (usize, u64)> = BTreeMap::new();
    for s in &samples {
        let k = drugs
            .iter()
            .position(|f| f.rows.contains_key(&s.2))
            .expect("filtered above");
        drug_of.insert(&s.2, (k, drugs[k].rows[&s.2]));
    }
    let mut drug_rows: Vec<HashMap<u64, Vec<f32>>> = Vec::new();
    for (k, f) in drugs.iter().enumerate() {
        let want: HashSet<u64> = drug_of
            .values()
            .filter(|(kk, _)| *kk == k)
            .map(|(_, r)| *r)
            .collect();
        drug_rows.push(if want.is_empty() {
            HashMap::new()
        } else {
            scaled_rows(bag, f, &want).await?
        });
    }

    runner.bar = crate::progress::count_bar(progress, samples.len() as u64, "score");
    let (nc, nd) = (cells.columns as usize, ndrug as usize);
    let mut pred: Vec<f64> = Vec::with_capacity(samples.len());
    let chunks: Vec<_> = samples.chunks(runner.batch).collect();
    // Full batches are written into pinned buffers on the CUDA provider.
    let pinned = super::prefetch_in_flight();
    let cell_staging = runner.staging(vec![runner.batch as i64, nc as i64], pinned);
    let drug_staging = runner.staging(vec![runner.batch as i64, nd as i64], pinned);
    runner.run_overlapped(
        chunks.len(),
        |i| {
            let chunk = chunks[i];
            let n = chunk.len();
            let (cs, ds) = (vec![n as i64, nc as i64], vec![n as i64, nd as i64]);
            let mut xc = cell_staging.buffer(&cs);
            let mut xd = drug_staging.buffer(&ds);
            let (c, d) = (xc.as_mut_slice(), xd.as_mut_slice());
            for (j, s) in chunk.iter().enumerate() {
                c[j * nc..(j + 1) * nc].copy_from_slice(&cell_rows[&cells.rows[&s.1]]);
                let (k, r) = drug_of[s.2.as_str()];
                d[j * nd..(j + 1) * nd].copy_from_slice(&drug_rows[k][&r]);
            }
            Ok(Batch {
                inputs: vec![(CELL_INPUT, cs, xc), (DRUG_INPUT, ds, xd)],
                n,
            })
        },
        |i, out| {
            let n = chunks[i].len();
            if out.len() != n {
                bail!(
                    "the model returned {} values for a batch of {n}; the UNO model must output one AUC per sample",
                    out.len()
                );
            }
            pred.extend(out.iter().map(|&v| v as f64));
            Ok(())
        },
    )?;
    let obs: Vec<f64> = samples.iter().map(|s| s.4).collect();
    let mut table = Table::default();
    table.push(
        "SOURCE",
        Column::Str(samples.iter().map(|s| s.0.clone()).collect()),
    );
    table.push(
        "CELL",
        Column::Str(samples.iter().map(|s| s.1.clone()).collect()),
    );
    table.push(
        "DRUG",
        Column::Str(samples.iter().map(|s| s.2.clone()).collect()),
    );
    table.push(
        "STUDY",
        Column::Str(samples.iter().map(|s| s.3.clone()).collect()),
    );
    table.push("observed", Column::F64(obs.clone()));
    table.push("predicted", Column::F64(pred.clone()));
    let pearson = metrics::pearson(&obs, &pred);
    Ok(Outcome {
        metric: "mse".into(),
        metrics: vec![
            MetricValue { name: "mse".into(), value: Some(metrics::mse(&obs, &pred)) },
            MetricValue { name: "mae".into(), value: Some(metrics::mae(&obs, &pred)) },
            MetricValue { name: "r2".into(), value: Some(metrics::r2(&obs, &pred)) },
            MetricValue { name: "pearson".into(), value: pearson.is_finite().then_some(pearson) },
        ],
        samples: samples.len() as u64,
        notes: vec![
            format!(
                "{} responses of split {split:?} scored; {filtered} failed the quality filter (R2fit >= 0.3 AND EC50se <= 3, AUC present), {no_features} had no cell or drug features",
                samples.len()
            ),
            format!("features: {} ({} columns) and {} ({} columns), mean-imputed and standardised as uno_data's impute_and_scale(scaling='std')", cells.stem, nc, drug_stems.join(" + "), nd),
            "the reference keeps dropout on at inference (PermanentDropout) and averages stochastic passes in uno_infer.py; this score is the deterministic (dropout-off) prediction".into(),
        ],
        predictions: table,
    })
}

//! `sciml-data ingest cbed --input ...`: ORNL CBED batch files (or the preprocessed `.npz`
//! files) to the `stemdl` dataset.
//!
//! Inputs are streamed file by file, sample by sample, into one shard buffer: when it holds
//! `shard_samples` samples it is encoded and written as one shard object of each array and
//! reused, so memory stays at one shard whatever the number of files. Each HDF5 input is
//! hashed on a second thread while it is read.
//!
//! Payload:
//! - `data/cbed.zarr/raw` (sample, orientation, 512, 512) float32, the `cbed_stack`s as
//!   stored (HDF5 inputs only);
//! - `data/cbed.zarr/data` (sample, orientation, 128, 128) float32, the benchmark input:
//!   the reference transform of `raw` ([`super::preprocess`]), or the `.npz` `data` as is;
//! - `data/samples.parquet`: one row per sample (split, source file, group, space group,
//!   crystal system, material attributes).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use arrow::array::{
    ArrayRef, Float64Builder, Int32Array, Int64Array, ListBuilder, StringArray, StringBuilder,
};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use serde_json::{Map, Value, json};
use zarrs::array::codec::ZstdCodec;
use zarrs::array::codec::api::CodecSpecificOptions;
use zarrs::array::codec::array_to_bytes::sharding::{ShardingCodecOptions, SubchunkWriteOrder};
use zarrs::array::{Array, ArrayBuilder, data_type};
use zarrs::group::GroupBuilder;

use super::h5::{BatchFile, STACK_LEN, STACK_SHAPE, SampleMeta, StackBytes, VECTOR_ATTRS};
use super::npz::{self, DATA_LEN};
use super::preprocess::{self, OUT_SIDE};
use super::shard::{ShardStream, Subchunk, SubchunkEncoder};
use super::split::{self, SPLITS, crystal_system, natural_cmp};
use crate::ingest::{IngestCommon, IngestResult, Session, input_name};
use crate::progress;
use crate::record::InputFile;
use crate::staging::StagingZarrStore;

/// The default dataset name of this source.
pub const DATASET: &str = "stemdl";
/// Where the arrays go.
pub const ZARR: &str = "data/cbed.zarr";
/// The samples table.
pub const SAMPLES: &str = "data/samples.parquet";
/// zstd level of the arrays' chunks.
pub const ZSTD_LEVEL: i32 = 3;
/// Placeholder sample count while the real one is unknown (chunk keys do not depend on it).
const OPEN_SAMPLES: u64 = 1 << 40;

/// Options of `ingest cbed`.
#[derive(Debug, Clone)]
pub struct CbedOptions {
    /// Input files or directories (their `.h5`/`.hdf5`/`.npz` files are the inputs).
    pub inputs: Vec<PathBuf>,
    /// Samples per shard object (the unit of memory and of writing).
    pub shard_samples: u64,
}

impl Default for CbedOptions {
    fn default() -> Self {
        CbedOptions {
            inputs: Vec::new(),
            shard_samples: 256,
        }
    }
}

/// The two input forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// ORNL HDF5 batch files.
    Hdf5,
    /// Preprocessed per-sample `.npz` files.
    Npz,
}

fn form_of(p: &Path) -> Option<Form> {
    let name = input_name(p).to_ascii_lowercase();
    if name.ends_with(".h5") || name.ends_with(".hdf5") {
        Some(Form::Hdf5)
    } else if name.ends_with(".npz") {
        Some(Form::Npz)
    } else {
        None
    }
}

/// Expands directories into their `.h5`/`.hdf5`/`.npz` files and orders every input by
/// split, then by file name in natural order. Returns the inputs with their splits and the
/// input form (all inputs must share one).
pub fn expand_inputs(inputs: &[PathBuf]) -> Result<(Vec<(PathBuf, &'static str)>, Form)> {
    let mut files = Vec::new();
    for p in inputs {
        if p.is_dir() {
            for e in std::fs::read_dir(p).with_context(|| format!("cannot list {}", p.display()))? {
                let f = e
                    .with_context(|| format!("cannot list {}", p.display()))?
                    .path();
                if f.is_file() && form_of(&f).is_some() {
                    files.push(f);
                }
            }
        } else {
            files.push(p.clone());
        }
    }
    if files.is_empty() {
        bail!("no CBED input files (.h5, .hdf5 or .npz) in the given --input paths");
    }
    let mut form = None;
    let mut out = Vec::new();
    for f in files {
        let this = form_of(&f).with_context(|| {
            format!(
                "input {}: not an HDF5 batch file (.h5, .hdf5) or a .npz sample",
                f.display()
            )
        })?;
        match form {
            None => form = Some(this),
            Some(x) if x != this => bail!(
                "inputs mix HDF5 batch files and .npz samples ({}); ingest one form per version",
                f.display()
            ),
            _ => {}
        }
        let s = split::split_of(&f)?;
        out.push((f, s));
    }
    out.sort_by(|(a, sa), (b, sb)| {
        split::split_rank(sa)
            .cmp(&split::split_rank(sb))
            .then_with(|| natural_cmp(&input_name(a), &input_name(b)))
            .then_with(|| a.cmp(b))
    });
    Ok((out, form.unwrap_or(Form::Hdf5)))
}

/// One row of the samples table.
#[derive(Debug, Clone)]
struct Row {
    split: &'static str,
    file: String,
    meta: SampleMeta,
    group: Option<String>,
}

/// Samples the reader thread may hold ahead of the encoders.
const READ_AHEAD: usize = 4;

/// One sample as read from its batch file.
struct ReadSample {
    split: &'static str,
    file: String,
    meta: SampleMeta,
    /// The stack's values, once [`ReadSample::bytes`] is filled in.
    stack: Vec<f32>,
    /// Where the values are: read, or still in the mapped file (copied on the encoding
    /// thread, outside the serial HDF5 library).
    bytes: StackBytes,
}

/// What the reader thread sends, in input order.
enum Read {
    Sample(Box<ReadSample>),
    /// A file was read to its end; its size and SHA-256 (hashed on a second thread).
    FileDone(InputFile),
}

/// Reads the HDF5 inputs in order on a thread of its own (the HDF5 library is serial), one
/// sample at a time: its attributes, and its stack into buffers recycled through `free`, or,
/// for a contiguous float32 stack, its place in the mapped file, copied out later on the
/// encoding threads. Each input is hashed on a further thread while it is read. Stops at
/// the first error (sent) or when `tx` is dropped.
fn spawn_reader(
    inputs: Vec<(PathBuf, &'static str)>,
    tx: std::sync::mpsc::SyncSender<Result<Read>>,
    free: std::sync::mpsc::Receiver<Vec<f32>>,
    bar: indicatif::ProgressBar,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        // The first error is sent once; a dropped receiver just stops the reading.
        if let Err(e) = read_inputs(&inputs, &tx, &free, &bar) {
            let _ = tx.send(Err(e));
        }
    })
}

/// Input files hashed at once, each on a thread of its own, while later files are read.
fn hashers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| (n.get() / 2).clamp(1, 8))
}

/// A file being hashed: its recorded name, path and hashing thread.
type Hashing = (
    String,
    PathBuf,
    std::thread::JoinHandle<std::io::Result<(u64, String)>>,
);

/// The body of [`spawn_reader`]: `Ok` also when the receiver went away. A file is hashed on
/// a thread of its own while it and the files after it are read (at most [`hashers`] files
/// at once); its `FileDone` is sent when its hash is ready, files in input order.
fn read_inputs(
    inputs: &[(PathBuf, &'static str)],
    tx: &std::sync::mpsc::SyncSender<Result<Read>>,
    free: &std::sync::mpsc::Receiver<Vec<f32>>,
    bar: &indicatif::ProgressBar,
) -> Result<()> {
    let mut hashing: std::collections::VecDeque<Hashing> = std::collections::VecDeque::new();
    let at_once = hashers();
    let mut read = 0u64;
    // Waits for the oldest files' hashes until at most `keep` files are being hashed,
    // sending each one's `FileDone`; `false`: the receiver went away.
    let drain = |hashing: &mut std::collections::VecDeque<Hashing>, keep: usize| -> Result<bool> {
        while hashing.len() > keep {
            let Some((name, path, hasher)) = hashing.pop_front() else {
                break;
            };
            let (size, sha256) = hasher
                .join()
                .map_err(|_| anyhow::anyhow!("the hashing thread of {name} panicked"))?
                .with_context(|| format!("cannot read {}", path.display()))?;
            let input = InputFile { name, size, sha256 };
            if tx.send(Ok(Read::FileDone(input))).is_err() {
                return Ok(false);
            }
        }
        Ok(true)
    };
    for (path, split) in inputs {
        let name = input_name(path);
        let hasher = {
            let p = path.clone();
            std::thread::spawn(move || crate::hashing::hash_file(&p, |_| {}))
        };
        hashing.push_back((name.clone(), path.clone(), hasher));
        let file = BatchFile::open(path)?;
        let file_bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let groups = file.groups().len().max(1) as u64;
        for (k, group) in file.groups().iter().enumerate() {
            let mut stack = free.try_recv().unwrap_or_else(|_| vec![0.0; STACK_LEN]);
            let (meta, bytes) = file.locate_sample(group, &mut stack)?;
            let sample = Read::Sample(Box::new(ReadSample {
                split,
                file: name.clone(),
                meta,
                stack,
                bytes,
            }));
            if tx.send(Ok(sample)).is_err() {
                return Ok(());
            }
            bar.set_position(read + file_bytes * (k as u64 + 1) / groups);
        }
        drop(file);
        read += file_bytes;
        if !drain(&mut hashing, at_once - 1)? {
            return Ok(());
        }
    }
    drain(&mut hashing, 0)?;
    Ok(())
}

fn build_array(
    store: &Arc<StagingZarrStore>,
    path: &str,
    samples: u64,
    shard: u64,
    side: u64,
    subchunk: Vec<u64>,
) -> Result<Array<StagingZarrStore>> {
    Ok(ArrayBuilder::new(
        vec![samples, STACK_SHAPE[0] as u64, side, side],
        vec![shard, STACK_SHAPE[0] as u64, side, side],
        data_type::float32(),
        0.0f32,
    )
    .subchunk_shape(subchunk)
    // Subchunks in C order within a shard: the encoding is parallel, the bytes deterministic.
    .codec_specific_options(CodecSpecificOptions::default().with_option(
        ShardingCodecOptions::default().with_subchunk_write_order(SubchunkWriteOrder::C),
    ))
    .bytes_to_bytes_codecs(vec![Arc::new(ZstdCodec::new(ZSTD_LEVEL, true))])
    .dimension_names(Some(["sample", "orientation", "y", "x"]))
    .build(store.clone(), path)?)
}

fn raw_array(
    store: &Arc<StagingZarrStore>,
    samples: u64,
    shard: u64,
) -> Result<Array<StagingZarrStore>> {
    let side = STACK_SHAPE[1] as u64;
    build_array(store, "/raw", samples, shard, side, vec![1, 1, side, side])
}

fn data_array(
    store: &Arc<StagingZarrStore>,
    samples: u64,
    shard: u64,
) -> Result<Array<StagingZarrStore>> {
    let side = OUT_SIDE as u64;
    build_array(
        store,
        "/data",
        samples,
        shard,
        side,
        vec![1, STACK_SHAPE[0] as u64, side, side],
    )
}

/// Runs the ingest.
pub async fn ingest(common: &IngestCommon, opts: &CbedOptions) -> Result<IngestResult> {
    let (inputs, form) = expand_inputs(&opts.inputs)?;
    if opts.shard_samples == 0 {
        bail!("--shard-samples must be at least 1");
    }
    let paths: Vec<PathBuf> = inputs.iter().map(|(p, _)| p.clone()).collect();
    let session = Session::start(common, &paths)?;
    let total_bytes: u64 = paths
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let bar = progress::bytes_bar(common.progress, total_bytes, "reading");
    let store = session.staging.zarr_store(ZARR);
    let s = opts.shard_samples;
    let orientations = STACK_SHAPE[0];
    let per_shard = usize::try_from(s).context("--shard-samples is too large")?;
    let mut raw = match form {
        Form::Hdf5 => Some(ShardStream::new(
            raw_array(&store, OPEN_SAMPLES, s)?,
            &format!("{ZARR}/raw"),
            per_shard * orientations,
        )),
        Form::Npz => None,
    };
    let mut data = ShardStream::new(
        data_array(&store, OPEN_SAMPLES, s)?,
        &format!("{ZARR}/data"),
        per_shard,
    );
    let enc = SubchunkEncoder::new(ZSTD_LEVEL);
    let mut rows: Vec<Row> = Vec::new();
    let mut recorded = Vec::new();
    let mut materials: HashMap<String, (&'static str, String, String)> = HashMap::new();
    // On an error, the shards being written are waited for before the staging area is
    // dropped, so that no write lands after it is removed.
    let streamed: Result<()> = async {
        match form {
            Form::Hdf5 => {
                use rayon::prelude::*;
                let (tx, rx) = std::sync::mpsc::sync_channel(READ_AHEAD);
                let (free_tx, free_rx) = std::sync::mpsc::channel::<Vec<f32>>();
                let reader = spawn_reader(inputs.clone(), tx, free_rx, bar.clone());
                let batch_len = rayon::current_num_threads().max(1) * 2;
                let mut ended = false;
                while !ended {
                    let mut batch: Vec<Box<ReadSample>> = Vec::with_capacity(batch_len);
                    while batch.len() < batch_len {
                        match rx.recv() {
                            Ok(Ok(Read::Sample(x))) => batch.push(x),
                            Ok(Ok(Read::FileDone(input))) => recorded.push(input),
                            Ok(Err(e)) => return Err(e),
                            Err(_) => {
                                ended = true;
                                break;
                            }
                        }
                    }
                    // The reference transform and the compression of every subchunk, on all
                    // cores, while the reader thread reads ahead.
                    let encoded: Vec<Result<(Vec<Subchunk>, Subchunk)>> = batch
                        .par_iter_mut()
                        .map(|x| {
                            x.bytes.fill(&mut x.stack);
                            let mut out = vec![0.0f32; DATA_LEN];
                            preprocess::transform_stack(
                                &x.stack,
                                orientations,
                                STACK_SHAPE[1],
                                &mut out,
                            )
                            .with_context(|| format!("{}: group {}", x.file, x.meta.group))?;
                            let raw = x
                                .stack
                                .chunks(STACK_LEN / orientations)
                                .map(|p| enc.encode(p))
                                .collect::<Result<Vec<_>>>()?;
                            Ok((raw, enc.encode(&out)?))
                        })
                        .collect();
                    for (x, e) in batch.into_iter().zip(encoded) {
                        let (raw_blobs, data_blob) = e?;
                        let x = *x;
                        let group = x.meta.group.clone();
                        if let Some(m) = &x.meta.material {
                            match materials.get(m) {
                                Some((other, f, g)) if *other != x.split => bail!(
                                    "material {m} is in two splits: {} ({}: group {group}) and {other} ({f}: group {g}); splits must not share materials",
                                    x.split,
                                    x.file,
                                ),
                                Some(_) => {}
                                None => {
                                    materials
                                        .insert(m.clone(), (x.split, x.file.clone(), group.clone()));
                                }
                            }
                        }
                        if let Some(raw) = raw.as_mut() {
                            for b in raw_blobs {
                                raw.push(b).await?;
                            }
                        }
                        data.push(data_blob).await?;
                        rows.push(Row {
                            split: x.split,
                            file: x.file,
                            group: Some(group),
                            meta: x.meta,
                        });
                        let _ = free_tx.send(x.stack);
                    }
                }
                drop(rx);
                reader
                    .join()
                    .map_err(|_| anyhow::anyhow!("the CBED reader thread panicked"))?;
            }
            Form::Npz => {
                use rayon::prelude::*;
                let mut done = 0u64;
                for batch in inputs.chunks(per_shard) {
                    let read: Vec<Result<(InputFile, u8, Subchunk)>> = batch
                        .par_iter()
                        .map(|(path, _)| {
                            let name = input_name(path);
                            let bytes = std::fs::read(path)
                                .with_context(|| format!("cannot read {}", path.display()))?;
                            let mut values = vec![0.0f32; DATA_LEN];
                            let sg = npz::read_sample(&name, &bytes, &mut values)?;
                            let input = InputFile {
                                size: bytes.len() as u64,
                                sha256: crate::hashing::sha256_hex(&bytes),
                                name,
                            };
                            Ok((input, sg, enc.encode(&values)?))
                        })
                        .collect();
                    for ((_, split), r) in batch.iter().zip(read) {
                        let (input, sg, blob) = r?;
                        data.push(blob).await?;
                        let stem = input.name.strip_suffix(".npz").unwrap_or(&input.name);
                        rows.push(Row {
                            split,
                            file: input.name.clone(),
                            group: None,
                            meta: SampleMeta {
                                group: stem.to_string(),
                                space_group: sg,
                                ..Default::default()
                            },
                        });
                        done += input.size;
                        recorded.push(input);
                    }
                    bar.set_position(done);
                }
            }
        }
        Ok(())
    }
    .await;
    if streamed.is_err() {
        if let Some(raw) = raw.as_mut() {
            let _ = raw.abandon().await;
        }
        let _ = data.abandon().await;
    }
    streamed?;
    if let Some(raw) = raw.as_mut() {
        raw.finish().await?;
    }
    data.finish().await?;
    bar.finish_and_clear();
    let n = rows.len() as u64;
    if n == 0 {
        bail!("the inputs hold no samples");
    }

    // Per split: the sample range and the per-class counts.
    let mut ranges: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    let mut classes: BTreeMap<&str, BTreeMap<u8, u64>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        let e = ranges.entry(r.split).or_insert((i as u64, i as u64));
        e.1 = i as u64 + 1;
        *classes
            .entry(r.split)
            .or_default()
            .entry(r.meta.space_group)
            .or_default() += 1;
    }
    let splits_json: Vec<Value> = SPLITS
        .iter()
        .filter_map(|sp| {
            ranges.get(sp).map(
                |(a, b)| json!({"split": sp, "first_sample": a, "end_sample": b, "samples": b - a}),
            )
        })
        .collect();
    let class_counts: Map<String, Value> = SPLITS
        .iter()
        .filter_map(|sp| {
            classes.get(sp).map(|c| {
                let m: Map<String, Value> =
                    c.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
                (sp.to_string(), Value::Object(m))
            })
        })
        .collect();
    let transform = json!({
        "reference": "mlcommons/science@a11f72794810f9329d28aa5c35e3fc6f58e0a001 benchmarks/stemdl/ornl/preprocess/hdf5_helper.py (log, xform)",
        "log": {"floor": preprocess::LOG_FLOOR, "scale": preprocess::LOG_SCALE, "clip": [preprocess::CLIP.0, preprocess::CLIP.1],
                 "formula": "clip((max(log(x), -17) + 17) * 10, 0, 255) in float32; log computed in float64 and rounded to float32"},
        "resize": {"from": [STACK_SHAPE[1], STACK_SHAPE[2]], "to": [OUT_SIDE, OUT_SIDE], "method": "cv2.INTER_AREA: exact 4 x 4 block mean, summed row by row in float32 as OpenCV does"},
    });

    // Final array metadata.
    let data_attrs = match form {
        Form::Hdf5 => json!({
            "description": "benchmark input: the reference transform of raw (log floor -17, x10, clip 0..255, INTER_AREA 512 -> 128), float32",
            "derived_from": "raw",
            "transform": transform,
        }),
        Form::Npz => json!({
            "description": "benchmark input: the data arrays of the .npz inputs, as stored (already transformed by the reference preprocessing)",
            "derived_from": null,
        }),
    };
    let mut data = data_array(&store, n, s)?;
    *data.attributes_mut() = as_map(data_attrs);
    data.async_store_metadata().await?;
    if form == Form::Hdf5 {
        let mut raw = raw_array(&store, n, s)?;
        *raw.attributes_mut() = as_map(json!({
            "description": "CBED intensities of the three orientations (z_dirs, y_dirs in data/samples.parquet), float32 as stored in each group's cbed_stack",
            "source_dataset": "cbed_stack",
        }));
        raw.async_store_metadata().await?;
    }
    let mut g = GroupBuilder::new().build(store.clone(), "/")?;
    *g.attributes_mut() = as_map(json!({
        "title": "STEMDL CBED stacks: space-group classification",
        "arrays": if form == Form::Hdf5 { json!(["raw", "data"]) } else { json!(["data"]) },
        "samples_table": SAMPLES,
        "splits": splits_json,
        "class_counts": class_counts,
        "label": "space_group (1..230) in data/samples.parquet, row i = sample i",
    }));
    g.async_store_metadata().await?;

    // The samples table.
    let batch = samples_batch(&rows)?;
    session
        .staging
        .put(
            SAMPLES,
            Bytes::from(crate::sources::candle::ingest::plain_parquet(&batch)?),
        )
        .await?;

    let options = json!({
        "dataset": common.dataset,
        "form": match form { Form::Hdf5 => "hdf5", Form::Npz => "npz" },
        "shard_samples": s,
        "zarr": format!("sharded; subchunks of one pattern (raw) / one stack (data); zstd level {ZSTD_LEVEL} with checksum; fill 0"),
        "parquet": "zstd level 3, page statistics",
    });
    let provenance = json!({
        "source": "cbed",
        "dataset": common.dataset,
        "description": "ORNL CBED diffraction stacks (STEMDL) to the benchmark's space-group classification layout",
        "inputs": recorded,
        "options": options,
        "samples": n,
        "splits": splits_json,
        "class_counts": class_counts,
        "transforms": [
            {"output": format!("{ZARR}/raw"), "method": "cbed_stack of every sample group, in input order (split, then file and group names in natural order), float32 as stored"},
            {"output": format!("{ZARR}/data"), "method": match form {
                Form::Hdf5 => "reference preprocessing of raw per pattern: clip((max(log(x), -17) + 17) * 10, 0, 255) in float32, then cv2.resize INTER_AREA 512 x 512 -> 128 x 128 (exact 4 x 4 block mean)",
                Form::Npz => "the .npz data arrays as stored",
            }, "parameters": transform},
            {"output": SAMPLES, "method": "one row per sample: split from the input (batch_<split>_<k>.h5 or the .npz directory), space_group parsed from its byte string to 1..230, crystal system from the International Tables ranges, the group's attributes (vectors flattened row-major)"},
        ],
        "reference": "shared/reference/sources.md section 2; mlcommons/science@a11f72794810f9329d28aa5c35e3fc6f58e0a001 benchmarks/stemdl/ornl/preprocess/hdf5_helper.py",
    });
    session
        .finish(
            "cbed",
            "Oak Ridge National Laboratory (ORNL CBED dataset, doi:10.13139/OLCF/1510313)",
            &provenance,
            recorded,
            options,
        )
        .await
}

fn as_map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn samples_batch(rows: &[Row]) -> Result<RecordBatch> {
    let opt_str = |f: &dyn Fn(&Row) -> Option<&str>| -> ArrayRef {
        let mut b = StringBuilder::new();
        for r in rows {
            b.append_option(f(r));
        }
        Arc::new(b.finish())
    };
    let mut fields = vec![
        Field::new("sample", DataType::Int64, false),
        Field::new("split", DataType::Utf8, false),
        Field::new("source_file", DataType::Utf8, false),
        Field::new("group", DataType::Utf8, true),
        Field::new("space_group", DataType::Int32, false),
        Field::new("crystal_system", DataType::Utf8, false),
        Field::new("material", DataType::Utf8, true),
        Field::new("formula", DataType::Utf8, true),
        Field::new("energy_keV", DataType::Float64, true),
    ];
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(0..rows.len() as i64)),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.split))),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.file.as_str()),
        )),
        opt_str(&|r| r.group.as_deref()),
        Arc::new(Int32Array::from_iter_values(
            rows.iter().map(|r| i32::from(r.meta.space_group)),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| crystal_system(r.meta.space_group)),
        )),
        opt_str(&|r| r.meta.material.as_deref()),
        opt_str(&|r| r.meta.formula.as_deref()),
        Arc::new(arrow::array::Float64Array::from(
            rows.iter().map(|r| r.meta.energy_kev).collect::<Vec<_>>(),
        )),
    ];
    for (i, name) in VECTOR_ATTRS.iter().enumerate() {
        let mut b = ListBuilder::new(Float64Builder::new());
        for r in rows {
            match &r.meta.vectors[i] {
                Some(v) => {
                    b.values().append_slice(v);
                    b.append(true);
                }
                None => b.append(false),
            }
        }
        let a = b.finish();
        use arrow::array::Array as _;
        fields.push(Field::new(*name, a.data_type().clone(), true));
        cols.push(Arc::new(a));
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?)
}

/// Arrays laid out as `raw` (subchunk = one pattern) for the tests of [`super::shard`].
#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// Two identical arrays of shape (5, 3, side, side), `shard` samples per shard, in the
    /// stores `zarrs` and `stream` of a staging area under the returned directory.
    pub async fn array_pair(
        shard: u64,
        side: u64,
    ) -> (
        tempfile::TempDir,
        Array<StagingZarrStore>,
        Array<StagingZarrStore>,
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let staging = crate::staging::Staging::create(dir.path().join("s")).expect("staging");
        let make = |name: &str| {
            build_array(
                &staging.zarr_store(name),
                "/raw",
                5,
                shard,
                side,
                vec![1, 1, side, side],
            )
            .expect("array")
        };
        let (a, b) = (make("zarrs"), make("stream"));
        (dir, a, b)
    }

    /// The bytes of shard `k` of the array in store `name` (empty when it was not written).
    pub fn read_shard_bytes(dir: &Path, name: &str, k: u64) -> Vec<u8> {
        std::fs::read(dir.join(format!("s/{name}/raw/c/{k}/0/0/0"))).unwrap_or_default()
    }
}

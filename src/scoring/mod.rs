//! `sciml-data verify --score`: reproduce a benchmark's baseline score from a verified version.
//!
//! The data are verified first (as plain `verify`); a version that fails is never scored. The
//! catalog entry of the version's dataset names the evaluation split, the metric, its target
//! and the baseline model (a small trained model that ships with the tool, or `--model FILE`).
//! The model runs through ONNX Runtime ([`runtime`]) on the chosen execution provider; each
//! benchmark module reads its split from the version and prepares the inputs exactly as the
//! reference does ([`tevolop`], [`candle`], [`stemdl`], [`cloudmask`]); [`metrics`] computes the scores. The result record
//! (`--json`, schemas/score-result.schema.json) names everything needed to reproduce it, and
//! `--predictions FILE` writes every prediction with its observed value and keys as Parquet.

pub mod candle;
pub mod cloudmask;
pub mod columns;
pub mod metrics;
pub mod model;
pub mod predictions;
pub mod runtime;
pub mod staging;
pub mod stemdl;
pub mod tevolop;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use indicatif::ProgressBar;
use ort::session::Session;
use serde::Serialize;
use serde_json::Value;

pub use self::staging::{Input, Staging};
use crate::address::Address;
use crate::record::VersionRecord;
use crate::verify::{VerifyOptions, VerifyReport};
pub use runtime::Ep;

/// Options of `verify --score`.
#[derive(Debug, Clone)]
pub struct ScoreOptions {
    /// `--model FILE`: score this ONNX file instead of the catalog's model.
    pub model: Option<PathBuf>,
    pub ep: Ep,
    /// `--split`: the split to evaluate (default: the catalog's evaluation split).
    pub split: Option<String>,
    pub batch: usize,
    /// ONNX Runtime intra-op threads (0 = its default).
    pub threads: usize,
    /// `--predictions FILE`.
    pub predictions: Option<PathBuf>,
    pub progress: bool,
}

impl Default for ScoreOptions {
    fn default() -> Self {
        ScoreOptions {
            model: None,
            ep: Ep::Auto,
            split: None,
            batch: 64,
            threads: 0,
            predictions: None,
            progress: false,
        }
    }
}

/// One named metric value.
#[derive(Debug, Clone, Serialize)]
pub struct MetricValue {
    pub name: String,
    pub value: Option<f64>,
}

/// What a benchmark module hands back.
pub struct Outcome {
    pub metric: String,
    pub metrics: Vec<MetricValue>,
    pub samples: u64,
    pub notes: Vec<String>,
    pub predictions: predictions::Table,
}

/// The catalog's target, evaluated against the primary metric.
#[derive(Debug, Clone, Serialize)]
pub struct TargetCheck {
    pub metric: String,
    pub value: Option<f64>,
    pub target: Value,
    pub pass: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Timings {
    pub verify_seconds: f64,
    pub load_seconds: f64,
    /// Wall time of reading, preparing and running every batch.
    pub score_seconds: f64,
    /// Time inside `Session::run` only, first batch excluded.
    pub model_seconds: f64,
    pub samples_per_second: f64,
    pub model_samples_per_second: f64,
    /// End to end after the first batch: the samples of the later batches over the wall time
    /// from the end of the first batch to the end of the last (reading and preparing
    /// included; the provider's one-time set-up and the metrics computed after the last
    /// batch excluded). 0 with a single batch.
    pub steady_samples_per_second: f64,
    /// The first batch's `Session::run` time (provider set-up included).
    pub first_batch_ms: f64,
    pub batches: u64,
    pub latency_ms_mean: f64,
    pub latency_ms_p50: f64,
    pub latency_ms_p95: f64,
}

/// The result record (`--json`); schemas/score-result.schema.json.
#[derive(Debug, Clone, Serialize)]
pub struct ScoreRecord {
    pub format: &'static str,
    pub benchmark: String,
    pub dataset: String,
    pub version: String,
    pub digest: String,
    pub verified: bool,
    pub split: String,
    pub samples: u64,
    pub model: ModelInfo,
    pub execution_provider: runtime::ProviderChoice,
    pub device: String,
    pub batch_size: usize,
    pub metrics: Vec<MetricValue>,
    pub target: TargetCheck,
    pub reference_result: Value,
    pub timings: Timings,
    pub notes: Vec<String>,
    pub tool: crate::record::ToolInfo,
    pub created: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    pub sha256: String,
    pub origin: String,
    pub name: Option<String>,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
}

/// Runs batches through a session, keeping timings and a progress bar.
pub struct Runner {
    pub(crate) session: Session,
    pub batch: usize,
    model_time: Duration,
    latencies_ms: Vec<f64>,
    /// The first batch, timed apart: it carries the provider's one-time set-up (CUDA
    /// context, cuDNN/cuBLAS handles, memory arena), which is not throughput.
    first_batch: Option<(f64, usize)>,
    /// When the first batch finished (the start of the steady state).
    first_done: Option<Instant>,
    /// When the last batch so far finished.
    last_done: Option<Instant>,
    calls: u64,
    pub bar: ProgressBar,
    /// The execution provider the session runs on (`cpu`, `cuda`, `tensorrt`).
    provider: String,
    /// The name of the model's first output, the one scoring reads.
    first_output: String,
}

impl Runner {
    /// Checks that the model has exactly these float32 inputs, with these shapes (-1 = any
    /// size, e.g. the batch), and returns an error naming the mismatch.
    pub fn check_inputs(&self, benchmark: &str, expected: &[(&str, Vec<i64>)]) -> Result<()> {
        let have: Vec<String> = self
            .session
            .inputs()
            .iter()
            .map(|i| format!("{} {}", i.name(), i.dtype()))
            .collect();
        if self.session.inputs().len() != expected.len() {
            bail!(
                "the model has inputs [{}] but {benchmark} scoring feeds {} input(s): {}",
                have.join(", "),
                expected.len(),
                describe(expected)
            );
        }
        for (name, want) in expected {
            let Some(i) = self.session.inputs().iter().find(|i| i.name() == *name) else {
                bail!(
                    "the model has no input named {name:?} (its inputs: [{}]); {benchmark} scoring feeds {}",
                    have.join(", "),
                    describe(expected)
                );
            };
            let shape: Vec<i64> = i
                .dtype()
                .tensor_shape()
                .map(|s| s.iter().copied().collect())
                .unwrap_or_default();
            let ok_type = matches!(
                i.dtype().tensor_type(),
                Some(ort::value::TensorElementType::Float32)
            );
            let ok_shape = shape.len() == want.len()
                && shape
                    .iter()
                    .zip(want)
                    .all(|(h, w)| *h < 0 || *w < 0 || h == w);
            if !ok_type || !ok_shape {
                bail!(
                    "model input {name:?} is {} but the {benchmark} data give float32 {}",
                    i.dtype(),
                    shape_str(want)
                );
            }
        }
        Ok(())
    }

    /// A pool of input buffers of `shape` for the reader threads ([`Staging`]): on the CUDA
    /// provider `count` of them in pinned host memory, so that inputs reach the GPU by DMA;
    /// host memory otherwise, when pinned memory cannot be had (said in the log), or when
    /// `SCIML_DATA_PINNED=0` turns it off.
    pub fn staging(&self, shape: Vec<i64>, count: usize) -> Staging {
        if self.provider != "cuda" || count == 0 || !pinned_inputs() {
            return Staging::host(shape);
        }
        match Staging::pinned(&self.session, shape.clone(), count) {
            Ok(s) => {
                tracing::debug!("{count} pinned input buffers of shape {shape:?}");
                s
            }
            Err(e) => {
                tracing::warn!("inputs stay in pageable host memory: {e:#}");
                Staging::host(shape)
            }
        }
    }

    /// Runs one batch of `n` samples; returns the first output, flattened.
    pub fn run(&mut self, inputs: &[(&str, &[i64], &Input)], n: usize) -> Result<Vec<f32>> {
        Ok(self.run_output(inputs, n)?.values()?.to_vec())
    }

    /// Runs one batch of `n` samples; returns the first output, owned, so that another
    /// thread can work on it while the model runs the next batch.
    pub fn run_output(&mut self, inputs: &[(&str, &[i64], &Input)], n: usize) -> Result<Output> {
        let mut values = Vec::with_capacity(inputs.len());
        for (name, shape, data) in inputs {
            values.push((
                std::borrow::Cow::Borrowed(*name),
                data.session_value(shape)?,
            ));
        }
        let t0 = Instant::now();
        let mut out = self
            .session
            .run(values)
            .map_err(|e| anyhow!("ONNX Runtime failed to run the model: {e}"))?;
        let first = &self.first_output;
        let output = Output(
            out.remove(first)
                .ok_or_else(|| anyhow!("the model gave no output {first:?}"))?,
        );
        drop(out);
        output.values()?;
        let dt = t0.elapsed();
        self.calls += 1;
        if self.first_batch.is_none() {
            self.first_batch = Some((dt.as_secs_f64() * 1e3, n));
            self.first_done = Some(Instant::now());
        } else {
            self.model_time += dt;
            self.latencies_ms.push(dt.as_secs_f64() * 1e3);
        }
        self.last_done = Some(Instant::now());
        self.bar.inc(n as u64);
        Ok(output)
    }
}

/// The first output of a batch, owned ([`Runner::run_output`]).
pub struct Output(ort::value::DynValue);

impl Output {
    /// The output's values, flattened; an error unless it is a float32 tensor.
    pub fn values(&self) -> Result<&[f32]> {
        let (_, data) = self
            .0
            .try_extract_tensor::<f32>()
            .map_err(|e| anyhow!("model output is not a float32 tensor: {e}"))?;
        Ok(data)
    }
}

/// One batch of model inputs: `(input name, shape, values)` per input, for `n` samples.
pub struct Batch {
    pub inputs: Vec<(&'static str, Vec<i64>, Input)>,
    pub n: usize,
}

/// Items `0..count` built by `make` on reader threads, ahead of the caller, and handed to
/// `consume` in order: worker `w` builds items `w, w + W, ...` into a channel of its own of
/// capacity one, so at most `2 W` items are in memory and no reordering buffer is needed. The
/// first error from either side stops everything. `W` is [`prefetch_workers`].
pub fn prefetch<I, M, C>(count: usize, make: M, mut consume: C) -> Result<()>
where
    I: Send,
    M: Fn(usize) -> Result<I> + Sync,
    C: FnMut(usize, I) -> Result<()>,
{
    let workers = prefetch_workers().min(count.max(1));
    std::thread::scope(|scope| {
        let make = &make;
        let receivers: Vec<_> = (0..workers)
            .map(|w| {
                let (tx, rx) = std::sync::mpsc::sync_channel::<Result<I>>(1);
                scope.spawn(move || {
                    for i in (w..count).step_by(workers) {
                        let item = make(i);
                        let failed = item.is_err();
                        // A closed channel means the consumer stopped; so does an error here.
                        if tx.send(item).is_err() || failed {
                            break;
                        }
                    }
                });
                rx
            })
            .collect();
        for i in 0..count {
            let item = receivers[i % workers]
                .recv()
                .map_err(|_| anyhow!("the reader stopped before item {i}"))??;
            consume(i, item)?;
        }
        Ok(())
    })
}

/// Whether inputs for the CUDA provider are staged in pinned host memory: yes unless
/// `SCIML_DATA_PINNED` is `0`, `false` or `no` (ONNX Runtime then copies them from ordinary
/// memory itself, as onnxruntime-python does with NumPy inputs).
pub fn pinned_inputs() -> bool {
    pinned_setting(std::env::var("SCIML_DATA_PINNED").ok().as_deref())
}

/// [`pinned_inputs`] for a value of `SCIML_DATA_PINNED` (`None`: unset).
fn pinned_setting(value: Option<&str>) -> bool {
    value.is_none_or(|v| !matches!(v.trim().to_ascii_lowercase().as_str(), "0" | "false" | "no"))
}

/// Reader threads of [`prefetch`]: all cores but the one that drives the model, at least
/// 2 and at most 12 (`SCIML_DATA_READERS` overrides). Reading, decoding and preparing a
/// CloudMask scene takes a core about half a second, so a fast GPU needs many of them.
pub fn prefetch_workers() -> usize {
    std::env::var("SCIML_DATA_READERS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                .saturating_sub(1)
                .clamp(2, 12)
        })
}

/// The most items of [`prefetch`] in memory at once: per reader thread one waiting in its
/// channel and one being built, and the one the consumer holds. A pool of input buffers
/// ([`Runner::staging`]) this large is never short while the model keeps up.
pub fn prefetch_in_flight() -> usize {
    2 * prefetch_workers() + 1
}

impl Runner {
    /// Runs `count` batches with reading overlapped: `make(i)` builds batch `i` on reader
    /// threads ([`prefetch`]) while the model runs the ones before, so that reading, decoding
    /// and scaling the data hide behind the model. `take(i, output)` receives each batch's
    /// output in order.
    pub fn run_overlapped<M, T>(&mut self, count: usize, make: M, mut take: T) -> Result<()>
    where
        M: Fn(usize) -> Result<Batch> + Sync,
        T: FnMut(usize, Vec<f32>) -> Result<()>,
    {
        prefetch(count, make, |i, b: Batch| {
            let inputs: Vec<(&str, &[i64], &Input)> = b
                .inputs
                .iter()
                .map(|(name, shape, x)| (*name, shape.as_slice(), x))
                .collect();
            let out = self.run(&inputs, b.n)?;
            take(i, out)
        })
    }
}

fn shape_str(s: &[i64]) -> String {
    let parts: Vec<String> = s
        .iter()
        .map(|d| if *d < 0 { "N".into() } else { d.to_string() })
        .collect();
    format!("[{}]", parts.join(", "))
}

fn describe(expected: &[(&str, Vec<i64>)]) -> String {
    expected
        .iter()
        .map(|(n, s)| format!("{n} float32 {}", shape_str(s)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The benchmark a version belongs to, from its source.
fn benchmark_of(record: &VersionRecord) -> Result<&'static str> {
    Ok(match record.source.as_str() {
        "usgs" => "tevolop",
        "candle" => "candle-uno",
        "cbed" => "stemdl",
        "slstr" => "cloudmask",
        other => bail!(
            "scoring is not implemented for source {other:?} (dataset {}); it exists for \
             tevolop (usgs), candle-uno (candle), stemdl (cbed) and cloudmask (slstr)",
            record.dataset
        ),
    })
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}

/// Evaluates the catalog target against a value (`le`, `ge`, `between_exclusive`, ...).
pub fn target_pass(target: &Value, value: f64) -> bool {
    let num = |k: &str| target.get(k).and_then(Value::as_f64);
    match target.get("operator").and_then(Value::as_str) {
        Some("le") => num("value").is_some_and(|t| value <= t),
        Some("lt") => num("value").is_some_and(|t| value < t),
        Some("ge") => num("value").is_some_and(|t| value >= t),
        Some("gt") => num("value").is_some_and(|t| value > t),
        Some("between_exclusive") => {
            matches!((num("low"), num("high")), (Some(l), Some(h)) if value > l && value < h)
        }
        Some("between_inclusive") => {
            matches!((num("low"), num("high")), (Some(l), Some(h)) if value >= l && value <= h)
        }
        _ => false,
    }
}

/// The device the provider runs on, in words.
fn device_of(provider: &str) -> String {
    if provider == "cpu" {
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|m| m.trim().to_string())
            })
            .unwrap_or_else(|| std::env::consts::ARCH.to_string());
        return format!("CPU: {model} ({cpus} threads available)");
    }
    let gpu = std::process::Command::new("nvidia-smi")
        .args([
            "--query-gpu=name,driver_version",
            "--format=csv,noheader",
            "-i",
            "0",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    format!(
        "GPU 0: {}",
        gpu.unwrap_or_else(|| "unknown (nvidia-smi unavailable)".into())
    )
}

/// Verifies, then scores a local version. Returns the verify report and, when the data
/// verified, the score record.
pub async fn score_address(
    addr: &Address,
    opts: &ScoreOptions,
) -> Result<(VerifyReport, Option<ScoreRecord>)> {
    if crate::remote::is_remote(&addr.repository) {
        bail!(
            "--score needs a local copy: `sciml-data pull {addr} --to DIR` first, then score DIR/{}@{}",
            addr.dataset,
            addr.require_version()?
        );
    }
    if opts.batch == 0 {
        bail!("--batch must be at least 1");
    }
    let t0 = Instant::now();
    let report = crate::verify::verify_address(
        addr,
        VerifyOptions {
            fast: false,
            progress: opts.progress,
        },
    )
    .await?;
    let verify_seconds = t0.elapsed().as_secs_f64();
    if !report.ok() {
        return Ok((report, None));
    }
    if report.not_pulled > 0 {
        bail!(
            "{addr} is a partial copy ({} payload files not pulled); scoring needs the whole version",
            report.not_pulled
        );
    }
    let repo = crate::repository::Repository::open(&addr.repository)?;
    let record = repo.require_record(addr).await?;
    let bag = repo.bag_dir(&addr.dataset, addr.require_version()?);
    let benchmark = benchmark_of(&record)?;
    let entry = crate::catalog::entry(benchmark)?;
    let mut split_note = None;
    let split = match &opts.split {
        Some(s) => s.clone(),
        None => {
            let s = entry
                .pointer("/scoring/split")
                .and_then(Value::as_str)
                .unwrap_or("validation")
                .to_string();
            if benchmark == "cloudmask" {
                let (s, note) = cloudmask::default_split(&bag, &s)?;
                split_note = note;
                s
            } else {
                s
            }
        }
    };
    let t1 = Instant::now();
    let model = match &opts.model {
        Some(p) => model::from_file(p, None)?,
        None => model::from_catalog(&entry, None)?,
    };
    let (session, choice) = runtime::session(&model.bytes, opts.ep, opts.threads)
        .with_context(|| format!("cannot load model {}", model.origin))?;
    let info = ModelInfo {
        sha256: model.sha256.clone(),
        origin: model.origin.clone(),
        name: model.name.clone(),
        inputs: session
            .inputs()
            .iter()
            .map(|i| format!("{}: {}", i.name(), i.dtype()))
            .collect(),
        outputs: session
            .outputs()
            .iter()
            .map(|i| format!("{}: {}", i.name(), i.dtype()))
            .collect(),
    };
    let load_seconds = t1.elapsed().as_secs_f64();
    let first_output = session
        .outputs()
        .first()
        .map(|o| o.name().to_string())
        .ok_or_else(|| anyhow!("the model {} has no outputs", model.origin))?;
    let mut runner = Runner {
        session,
        batch: opts.batch,
        model_time: Duration::ZERO,
        latencies_ms: Vec::new(),
        first_batch: None,
        first_done: None,
        last_done: None,
        calls: 0,
        bar: ProgressBar::hidden(),
        provider: choice.provider.clone(),
        first_output,
    };
    let t2 = Instant::now();
    let mut outcome = match benchmark {
        "tevolop" => tevolop::score(&bag, &split, &mut runner, opts.progress).await?,
        "candle-uno" => candle::score(&bag, &split, &mut runner, opts.progress).await?,
        "stemdl" => stemdl::score(&bag, &split, &mut runner, opts.progress).await?,
        "cloudmask" => cloudmask::score(&bag, &split, &mut runner, opts.progress).await?,
        _ => unreachable!("benchmark_of returns known names"),
    };
    runner.bar.finish_and_clear();
    if let Some(n) = split_note {
        outcome.notes.insert(0, n);
    }
    let score_seconds = t2.elapsed().as_secs_f64();
    let steady_seconds = match (runner.first_done, runner.last_done) {
        (Some(a), Some(b)) => b.duration_since(a).as_secs_f64(),
        _ => 0.0,
    };
    if let Some(p) = &opts.predictions {
        predictions::write(p, &outcome.predictions)?;
    }
    let primary = outcome
        .metrics
        .iter()
        .find(|m| m.name == outcome.metric)
        .and_then(|m| m.value);
    let target = entry
        .pointer("/objective/target")
        .cloned()
        .unwrap_or(Value::Null);
    let pass = primary.is_some_and(|v| target_pass(&target, v));
    // A single batch is all there is to time; otherwise the first one is set-up.
    let (first_ms, first_n) = runner.first_batch.unwrap_or((0.0, 0));
    if runner.latencies_ms.is_empty() {
        runner.latencies_ms.push(first_ms);
        runner.model_time = Duration::from_secs_f64(first_ms / 1e3);
    }
    let timed_samples = if runner.latencies_ms.len() == 1 && first_n as u64 == outcome.samples {
        outcome.samples
    } else {
        outcome.samples - first_n as u64
    };
    let mut lat = runner.latencies_ms.clone();
    lat.sort_by(f64::total_cmp);
    let model_seconds = runner.model_time.as_secs_f64();
    let rate = |n: u64, secs: f64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
    let rec = ScoreRecord {
        format: "sciml-data-score/1",
        benchmark: benchmark.into(),
        dataset: record.dataset.clone(),
        version: record.version.clone(),
        digest: record.digest.clone(),
        verified: true,
        split,
        samples: outcome.samples,
        model: info,
        device: device_of(&choice.provider),
        execution_provider: choice,
        batch_size: opts.batch,
        metrics: outcome.metrics,
        target: TargetCheck {
            metric: outcome.metric,
            value: primary,
            target,
            pass,
        },
        reference_result: entry
            .pointer("/objective/reference_result")
            .cloned()
            .unwrap_or(Value::Null),
        timings: Timings {
            verify_seconds,
            load_seconds,
            score_seconds,
            model_seconds,
            samples_per_second: rate(outcome.samples, score_seconds),
            model_samples_per_second: rate(timed_samples, model_seconds),
            steady_samples_per_second: if runner.calls > 1 {
                rate(outcome.samples - first_n as u64, steady_seconds)
            } else {
                0.0
            },
            first_batch_ms: first_ms,
            batches: runner.calls,
            latency_ms_mean: if lat.is_empty() {
                0.0
            } else {
                lat.iter().sum::<f64>() / lat.len() as f64
            },
            latency_ms_p50: percentile(&lat, 0.5),
            latency_ms_p95: percentile(&lat, 0.95),
        },
        notes: outcome.notes,
        tool: crate::record::ToolInfo::current(),
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    Ok((report, Some(rec)))
}

/// The record as JSON, validated against its schema.
pub fn record_json(rec: &ScoreRecord) -> Result<Value> {
    let v = serde_json::to_value(rec)?;
    crate::catalog::validate_named("score-result.schema.json", &v, "score result")?;
    Ok(v)
}

/// Writes `--json FILE` atomically.
pub fn write_record(path: &Path, rec: &ScoreRecord) -> Result<()> {
    let v = record_json(rec)?;
    let tmp = path.with_extension("json.part");
    let mut bytes = serde_json::to_vec_pretty(&v)?;
    bytes.push(b'\n');
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// The human-readable summary.
pub fn summary(rec: &ScoreRecord) -> String {
    let mut s = String::new();
    let fmt = |v: Option<f64>| v.map_or("n/a".to_string(), |x| format!("{x:.6}"));
    s.push_str(&format!(
        "SCORE {} {}@{} on split {:?}: {} samples\n",
        rec.benchmark, rec.dataset, rec.version, rec.split, rec.samples
    ));
    s.push_str(&format!(
        "   model    {} (sha256 {})\n",
        rec.model.name.as_deref().unwrap_or(&rec.model.origin),
        &rec.model.sha256[..16]
    ));
    s.push_str(&format!(
        "   provider {} (asked: {}) on {}; batch {}\n",
        rec.execution_provider.provider,
        rec.execution_provider.requested,
        rec.device,
        rec.batch_size
    ));
    for sk in &rec.execution_provider.skipped {
        s.push_str(&format!("            skipped {sk}\n"));
    }
    for m in &rec.metrics {
        let mark = if m.name == rec.target.metric {
            "  <- score"
        } else {
            ""
        };
        s.push_str(&format!("   {:<22} {}{mark}\n", m.name, fmt(m.value)));
    }
    let as_written = rec
        .target
        .target
        .get("as_written")
        .and_then(Value::as_str)
        .unwrap_or("?");
    s.push_str(&format!(
        "   target   {as_written}: {}\n",
        if rec.target.pass { "PASS" } else { "FAIL" }
    ));
    if let Some(d) = rec
        .reference_result
        .get("description")
        .and_then(Value::as_str)
    {
        s.push_str(&format!("   reference {d}\n"));
    }
    let t = &rec.timings;
    s.push_str(&format!(
        "   speed    {:.1} samples/s end to end ({:.1} after the first batch), {:.1} samples/s in the model; latency {:.2} ms mean, {:.2} ms p95 per batch (first batch {:.1} ms)\n",
        t.samples_per_second, t.steady_samples_per_second, t.model_samples_per_second, t.latency_ms_mean, t.latency_ms_p95, t.first_batch_ms
    ));
    for n in &rec.notes {
        s.push_str(&format!("   note     {n}\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pinned_inputs_are_on_unless_turned_off() {
        assert!(pinned_setting(None));
        for on in ["1", "yes", "true", ""] {
            assert!(pinned_setting(Some(on)), "{on:?}");
        }
        for off in ["0", "false", "No", " FALSE "] {
            assert!(!pinned_setting(Some(off)), "{off:?}");
        }
    }

    #[test]
    fn targets() {
        let le = json!({"operator": "le", "value": 0.0054});
        assert!(target_pass(&le, 0.005));
        assert!(!target_pass(&le, 0.006));
        let b = json!({"operator": "between_exclusive", "low": 0.8, "high": 0.99});
        assert!(target_pass(&b, 0.85));
        assert!(!target_pass(&b, 0.8));
        assert!(!target_pass(&b, 0.995));
        assert!(!target_pass(&json!({"operator": "??"}), 1.0));
    }
}

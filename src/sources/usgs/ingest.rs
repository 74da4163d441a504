//! `sciml-data ingest usgs`: ComCat CSV files to the `tevolop` dataset.
//!
//! Two passes with bounded memory: (1) stream every input (hashing it on the way), parse
//! and flag each event, spill it to a per-year Arrow file; (2) year by year, sort and
//! de-duplicate, write the year's Parquet partition and feed the grid writers in time order.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use arrow::array::Array;
use bytes::Bytes;
use chrono::{DateTime, Datelike, NaiveDate};
use serde::Serialize;
use serde_json::json;

use super::comcat::ComcatReader;
use super::events::{self, GridColumns, YearSpill};
use super::grid::{self, FORTNIGHT, NPIX, Region, SeriesWriter};
use super::split::{self, SplitOptions};
use crate::bag::BagInfo;
use crate::hashing::HashingReader;
use crate::ingest::{IngestCommon, IngestResult, Session, input_name};
use crate::progress;
use crate::record::InputFile;

/// The default dataset name of this source.
pub const DATASET: &str = "tevolop";
const DAY_MS: i64 = 86_400_000;

/// Options of `ingest usgs`.
#[derive(Debug, Clone)]
pub struct UsgsOptions {
    pub inputs: Vec<PathBuf>,
    /// Skip (and count) malformed rows instead of failing.
    pub skip_bad_rows: bool,
    /// First day of the grid (default: January 1st of the earliest benchmark event's year).
    pub grid_start: Option<NaiveDate>,
    /// Last day of the grid (default: the latest benchmark event's day).
    pub grid_end: Option<NaiveDate>,
    pub split: SplitOptions,
    /// Days per chunk of the daily arrays.
    pub daily_chunk: u64,
    /// Fortnights per chunk of the fortnightly arrays.
    pub fortnight_chunk: u64,
}

impl Default for UsgsOptions {
    fn default() -> Self {
        UsgsOptions {
            inputs: Vec::new(),
            skip_bad_rows: false,
            grid_start: None,
            grid_end: None,
            split: SplitOptions::default(),
            daily_chunk: 365,
            fortnight_chunk: 52,
        }
    }
}

/// Counts gathered while reading.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Counts {
    pub rows: u64,
    pub bad_rows_skipped: u64,
    pub duplicates_dropped: u64,
    pub in_region: u64,
    pub earthquakes: u64,
    pub null_magnitude: u64,
    pub benchmark: u64,
    pub benchmark_in_grid: u64,
}

/// The grid's time axes.
#[derive(Debug, Clone, Serialize)]
pub struct GridAxes {
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub days: u64,
    pub fortnight_skip_days: u64,
    pub fortnights: u64,
}

impl GridAxes {
    fn new(first_day: NaiveDate, last_day: NaiveDate) -> Result<GridAxes> {
        if last_day < first_day {
            bail!("the grid ends ({last_day}) before it starts ({first_day})");
        }
        let days = (last_day - first_day).num_days() as u64 + 1;
        Ok(GridAxes {
            first_day,
            last_day,
            days,
            fortnight_skip_days: days % FORTNIGHT,
            fortnights: days / FORTNIGHT,
        })
    }

    fn epoch_day(&self) -> i64 {
        self.first_day
            .signed_duration_since(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default())
            .num_days()
    }
}

fn date_of_ms(ms: i64) -> Result<NaiveDate> {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.date_naive())
        .with_context(|| format!("time {ms} ms is out of range"))
}

/// Runs the ingest.
pub async fn ingest(common: &IngestCommon, opts: &UsgsOptions) -> Result<IngestResult> {
    let session = Session::start(common, &opts.inputs)?;
    let region = Region::default();
    let mut counts = Counts::default();

    // Pass 1: read, hash, flag, spill.
    let total_bytes: u64 = opts
        .inputs
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let bar = progress::bytes_bar(common.progress, total_bytes, "reading");
    let mut spill = YearSpill::new(session.scratch.path());
    let mut inputs = Vec::new();
    let mut bench_range: Option<(i64, i64)> = None;
    let mut done_bytes = 0u64;
    let mut warned = 0;
    for path in &opts.inputs {
        let name = path.display().to_string();
        let file = std::fs::File::open(path).with_context(|| format!("cannot open {name}"))?;
        let mut reader = ComcatReader::new(
            &name,
            HashingReader::on_thread(std::io::BufReader::with_capacity(1 << 20, file)),
        )?;
        let mut n = 0u64;
        while let Some(item) = reader.next_event()? {
            let event = match item {
                Ok(e) => e,
                Err(bad) if opts.skip_bad_rows => {
                    counts.bad_rows_skipped += 1;
                    if warned < 5 {
                        bar.suspend(|| eprintln!("warning: skipping {bad}"));
                        warned += 1;
                    }
                    continue;
                }
                Err(bad) => bail!("{bad}\n(use --skip-bad-rows to skip and count malformed rows)"),
            };
            let flags = events::flags(&event, &region);
            counts.rows += 1;
            counts.in_region += flags.0 as u64;
            counts.earthquakes += flags.1 as u64;
            counts.null_magnitude += event.mag.is_none() as u64;
            if flags.2 {
                counts.benchmark += 1;
                let t = event.time_ms;
                bench_range = Some(match bench_range {
                    None => (t, t),
                    Some((a, b)) => (a.min(t), b.max(t)),
                });
            }
            spill.push(date_of_ms(event.time_ms)?.year(), &event, flags)?;
            n += 1;
            if n.is_multiple_of(8192) {
                bar.set_position(done_bytes + reader.byte_position());
            }
        }
        let (size, sha256) = reader.into_inner().finish()?;
        done_bytes += size;
        bar.set_position(done_bytes);
        inputs.push(InputFile {
            name: input_name(path),
            size,
            sha256,
        });
    }
    bar.finish_and_clear();
    let years = spill.finish()?;
    if counts.rows == 0 {
        bail!("the input has a header but no events");
    }

    // The grid's time axes.
    let first_day = match (opts.grid_start, bench_range) {
        (Some(d), _) => d,
        (None, Some((t0, _))) => {
            let d = date_of_ms(t0)?;
            NaiveDate::from_ymd_opt(d.year(), 1, 1).context("bad year")?
        }
        (None, None) => bail!(
            "no earthquake with a magnitude lies inside the benchmark region (32-36 N, 120-114 W); \
             give --grid-start and --grid-end to build an empty grid"
        ),
    };
    let last_day = match (opts.grid_end, bench_range) {
        (Some(d), _) => d,
        (None, Some((_, t1))) => date_of_ms(t1)?,
        (None, None) => bail!("give --grid-end (no benchmark events to take it from)"),
    };
    let axes = GridAxes::new(first_day, last_day)?;
    let epoch_day = axes.epoch_day();

    // Pass 2: per year, sorted Parquet partitions and the grid in time order.
    let zstore = session.staging.zarr_store("data/grid.zarr");
    grid::write_root(
        &zstore,
        serde_json::from_value(json!({
            "title": "TEvolOp space-time grid (Southern California, 0.1 degree pixels)",
            "conventions": "CF-1.10 attributes on each array; pixel = x + 60*y as in the reference",
            "region": {"north": region.north, "south": region.south(), "west": region.west, "east": region.east(), "pixel_degrees": 1.0 / region.per_degree},
            "first_day": axes.first_day.to_string(),
            "last_day": axes.last_day.to_string(),
            "days": axes.days,
            "fortnight_skip_days": axes.fortnight_skip_days,
            "benchmark_filter": events::BENCHMARK_FILTER,
        }))?,
    )
    .await?;
    let day_times: Vec<i64> = (0..axes.days as i64).map(|d| epoch_day + d).collect();
    let fort_times: Vec<i64> = (0..axes.fortnights as i64)
        .map(|f| epoch_day + axes.fortnight_skip_days as i64 + FORTNIGHT as i64 * f)
        .collect();
    let mut daily = SeriesWriter::create(
        &zstore,
        "daily",
        "daily series",
        &day_times,
        opts.daily_chunk,
        &region,
    )
    .await?;
    let mut fortnightly = SeriesWriter::create(
        &zstore,
        "fortnightly",
        "14-day series; the first fortnight_skip_days days of the grid are not in any fortnight (as in the reference)",
        &fort_times,
        opts.fortnight_chunk,
        &region,
    )
    .await?;
    let mut n_events = vec![0u64; NPIX];
    let mut n_big = vec![0u64; NPIX];
    let day0_ms = epoch_day * DAY_MS;
    let bar = progress::count_bar(common.progress, years.len() as u64, "writing");
    for year in &years {
        let batch = YearSpill::read_year(session.scratch.path(), *year)?;
        let (batch, dropped) = events::sort_and_dedupe(&batch)?;
        counts.duplicates_dropped += dropped;
        let parquet = events::to_parquet(&batch)?;
        session
            .staging
            .put(
                &format!("data/events/year={year}/part-0.parquet"),
                Bytes::from(parquet),
            )
            .await?;
        let cols = GridColumns::of(&batch)?;
        for i in 0..batch.num_rows() {
            if !cols.benchmark.value(i) {
                continue;
            }
            let day = (cols.time.value(i) - day0_ms).div_euclid(DAY_MS);
            if day < 0 || day as u64 >= axes.days {
                continue;
            }
            let day = day as u64;
            let Some(pixel) = region.pixel(cols.lat.value(i), cols.lon.value(i)) else {
                continue;
            };
            let mag = cols.mag.value(i);
            let depth = cols.depth.is_valid(i).then(|| cols.depth.value(i));
            counts.benchmark_in_grid += 1;
            n_events[pixel] += 1;
            n_big[pixel] += (mag > grid::MAG_THRESHOLD) as u64;
            daily.add(day, pixel, mag, depth).await?;
            if day >= axes.fortnight_skip_days {
                fortnightly
                    .add(
                        (day - axes.fortnight_skip_days) / FORTNIGHT,
                        pixel,
                        mag,
                        depth,
                    )
                    .await?;
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    daily.finish().await?;
    fortnightly.finish().await?;

    let (locations, split_summary) =
        split::locations_table(&n_events, &n_big, &region, &opts.split)?;
    session
        .staging
        .put(
            "data/splits/locations.parquet",
            Bytes::from(write_plain_parquet(&locations)?),
        )
        .await?;

    let options = json!({
        "dataset": common.dataset,
        "region": {"north": region.north, "west": region.west, "pixels_per_degree": region.per_degree, "rows": grid::NY, "columns": grid::NX},
        "grid_start": axes.first_day.to_string(),
        "grid_end": axes.last_day.to_string(),
        "grid_start_given": opts.grid_start.is_some(),
        "grid_end_given": opts.grid_end.is_some(),
        "skip_bad_rows": opts.skip_bad_rows,
        "daily_chunk_days": opts.daily_chunk,
        "fortnight_chunk": opts.fortnight_chunk,
        "split": opts.split,
        "benchmark_filter": events::BENCHMARK_FILTER,
    });
    let fetch = opts
        .inputs
        .iter()
        .filter_map(|p| p.parent())
        .find_map(|d| super::fetch::read_provenance(d).ok().flatten());
    let provenance = json!({
        "source": "usgs",
        "dataset": common.dataset,
        "description": "USGS ComCat earthquake catalogue to the TEvolOp benchmark layout (MLCommons Science earthquake benchmark)",
        "inputs": inputs,
        "fetch": fetch,
        "options": options,
        "counts": counts,
        "grid": axes,
        "split": split_summary,
        "transforms": [
            {"output": "data/events/year=*/part-0.parquet", "method": "ComCat CSV parsed by header; typed; empty fields null; sorted by (time, id); duplicate ids dropped keeping the latest 'updated'; flags in_region, is_earthquake, benchmark"},
            {"output": "data/grid.zarr/daily/log_eng", "method": "log10(sum over benchmark events in the pixel-day of 10^(1.5 m)) / 1.5; 0 where no events"},
            {"output": "data/grid.zarr/daily/w_depth", "method": "sum(E*depth)/sum(E) over events with a depth, E = 10^(1.5 m); 0 where none"},
            {"output": "data/grid.zarr/daily/n_shock", "method": "count of benchmark events"},
            {"output": "data/grid.zarr/daily/n_shock_mag_3_29", "method": "count of benchmark events with m > 3.29"},
            {"output": "data/grid.zarr/fortnightly/*", "method": "the same quantities over 14-day steps; the first (days % 14) days are skipped as in the reference"},
            {"output": "data/splits/locations.parquet", "method": "active iff n(m>3.29) >= 7.1 or 3x3 sum >= 34.1; ChaCha8 shuffle with the seed; first round(0.2 n) validation"},
        ],
        "reference": "mlcommons/science@a11f72794810f9329d28aa5c35e3fc6f58e0a001 benchmarks/earthquake (see docs/sources/usgs.md)",
    });
    session
        .staging
        .put(
            "metadata/provenance.json",
            Bytes::from(serde_json::to_vec_pretty(&provenance)?),
        )
        .await?;
    let mut info = BagInfo::default();
    info.push("Source", "usgs");
    info.push("Source-Organization", "U.S. Geological Survey (ComCat)");
    info.push("Internal-Sender-Description", one_line(&common.message));
    session.commit("usgs", inputs, options, info).await
}

/// Encodes a small table as Parquet (zstd, page statistics).
pub fn write_plain_parquet(batch: &arrow::record_batch::RecordBatch) -> Result<Vec<u8>> {
    use parquet::arrow::ArrowWriter;
    use parquet::basic::{Compression, ZstdLevel};
    use parquet::file::properties::{EnabledStatistics, WriterProperties};
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
        .set_statistics_enabled(EnabledStatistics::Page)
        .build();
    let mut buf = Vec::new();
    let mut w = ArrowWriter::try_new(&mut buf, batch.schema(), Some(props))?;
    w.write(batch)?;
    w.close()?;
    Ok(buf)
}

/// bag-info.txt values are single lines.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

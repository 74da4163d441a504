//! The events table: ComCat rows as typed Arrow columns, spilled per year while reading and
//! written as one sorted, hive-partitioned Parquet file per year.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use arrow::array::{
    Array, ArrayRef, BooleanArray, BooleanBuilder, Float64Array, Float64Builder, Int32Builder,
    StringArray, StringBuilder, TimestampMillisecondArray, TimestampMillisecondBuilder,
};
use arrow::compute::{
    SortColumn, SortOptions, concat_batches, filter_record_batch, lexsort_to_indices,
    take_record_batch,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use super::comcat::Event;
use super::grid::Region;

/// Column index of `time` in [`schema`].
pub const TIME_COLUMN: usize = 0;

fn ts() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

/// The events table schema (ComCat names kept, plus three flags).
pub fn schema() -> SchemaRef {
    let f = |name: &str, dt: DataType, nullable: bool| Field::new(name, dt, nullable);
    Arc::new(Schema::new(vec![
        f("time", ts(), false),
        f("latitude", DataType::Float64, false),
        f("longitude", DataType::Float64, false),
        f("depth", DataType::Float64, true),
        f("mag", DataType::Float64, true),
        f("magType", DataType::Utf8, true),
        f("nst", DataType::Int32, true),
        f("gap", DataType::Float64, true),
        f("dmin", DataType::Float64, true),
        f("rms", DataType::Float64, true),
        f("net", DataType::Utf8, true),
        f("id", DataType::Utf8, false),
        f("updated", ts(), true),
        f("place", DataType::Utf8, true),
        f("type", DataType::Utf8, true),
        f("horizontalError", DataType::Float64, true),
        f("depthError", DataType::Float64, true),
        f("magError", DataType::Float64, true),
        f("magNst", DataType::Int32, true),
        f("status", DataType::Utf8, true),
        f("locationSource", DataType::Utf8, true),
        f("magSource", DataType::Utf8, true),
        f("in_region", DataType::Boolean, false),
        f("is_earthquake", DataType::Boolean, false),
        f("benchmark", DataType::Boolean, false),
    ]))
}

/// The benchmark filter, as recorded in the provenance.
pub const BENCHMARK_FILTER: &str = "type = 'earthquake' AND mag IS NOT NULL AND in_region (0 <= floor((longitude+120)*10) < 60 AND 0 <= floor((36-latitude)*10) < 40)";

/// Flags of one event.
pub fn flags(e: &Event, region: &Region) -> (bool, bool, bool) {
    let in_region = region.pixel(e.latitude, e.longitude).is_some();
    let is_eq = e.event_type.as_deref() == Some("earthquake");
    (in_region, is_eq, in_region && is_eq && e.mag.is_some())
}

/// Column builders for a batch of events.
pub struct EventBuilder {
    time: TimestampMillisecondBuilder,
    lat: Float64Builder,
    lon: Float64Builder,
    depth: Float64Builder,
    mag: Float64Builder,
    mag_type: StringBuilder,
    nst: Int32Builder,
    gap: Float64Builder,
    dmin: Float64Builder,
    rms: Float64Builder,
    net: StringBuilder,
    id: StringBuilder,
    updated: TimestampMillisecondBuilder,
    place: StringBuilder,
    event_type: StringBuilder,
    horizontal_error: Float64Builder,
    depth_error: Float64Builder,
    mag_error: Float64Builder,
    mag_nst: Int32Builder,
    status: StringBuilder,
    location_source: StringBuilder,
    mag_source: StringBuilder,
    in_region: BooleanBuilder,
    is_earthquake: BooleanBuilder,
    benchmark: BooleanBuilder,
    len: usize,
}

impl Default for EventBuilder {
    fn default() -> Self {
        EventBuilder {
            time: TimestampMillisecondBuilder::new().with_timezone("UTC"),
            lat: Float64Builder::new(),
            lon: Float64Builder::new(),
            depth: Float64Builder::new(),
            mag: Float64Builder::new(),
            mag_type: StringBuilder::new(),
            nst: Int32Builder::new(),
            gap: Float64Builder::new(),
            dmin: Float64Builder::new(),
            rms: Float64Builder::new(),
            net: StringBuilder::new(),
            id: StringBuilder::new(),
            updated: TimestampMillisecondBuilder::new().with_timezone("UTC"),
            place: StringBuilder::new(),
            event_type: StringBuilder::new(),
            horizontal_error: Float64Builder::new(),
            depth_error: Float64Builder::new(),
            mag_error: Float64Builder::new(),
            mag_nst: Int32Builder::new(),
            status: StringBuilder::new(),
            location_source: StringBuilder::new(),
            mag_source: StringBuilder::new(),
            in_region: BooleanBuilder::new(),
            is_earthquake: BooleanBuilder::new(),
            benchmark: BooleanBuilder::new(),
            len: 0,
        }
    }
}

impl EventBuilder {
    /// Appends one event with its flags.
    pub fn push(&mut self, e: &Event, (in_region, is_eq, bench): (bool, bool, bool)) {
        self.time.append_value(e.time_ms);
        self.lat.append_value(e.latitude);
        self.lon.append_value(e.longitude);
        self.depth.append_option(e.depth);
        self.mag.append_option(e.mag);
        self.mag_type.append_option(e.mag_type.as_deref());
        self.nst.append_option(e.nst);
        self.gap.append_option(e.gap);
        self.dmin.append_option(e.dmin);
        self.rms.append_option(e.rms);
        self.net.append_option(e.net.as_deref());
        self.id.append_value(&e.id);
        self.updated.append_option(e.updated_ms);
        self.place.append_option(e.place.as_deref());
        self.event_type.append_option(e.event_type.as_deref());
        self.horizontal_error.append_option(e.horizontal_error);
        self.depth_error.append_option(e.depth_error);
        self.mag_error.append_option(e.mag_error);
        self.mag_nst.append_option(e.mag_nst);
        self.status.append_option(e.status.as_deref());
        self.location_source
            .append_option(e.location_source.as_deref());
        self.mag_source.append_option(e.mag_source.as_deref());
        self.in_region.append_value(in_region);
        self.is_earthquake.append_value(is_eq);
        self.benchmark.append_value(bench);
        self.len += 1;
    }

    /// Rows buffered.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no rows are buffered.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Finishes the buffered rows into a batch and resets the builder.
    pub fn finish(&mut self) -> Result<RecordBatch> {
        self.len = 0;
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.time.finish()),
            Arc::new(self.lat.finish()),
            Arc::new(self.lon.finish()),
            Arc::new(self.depth.finish()),
            Arc::new(self.mag.finish()),
            Arc::new(self.mag_type.finish()),
            Arc::new(self.nst.finish()),
            Arc::new(self.gap.finish()),
            Arc::new(self.dmin.finish()),
            Arc::new(self.rms.finish()),
            Arc::new(self.net.finish()),
            Arc::new(self.id.finish()),
            Arc::new(self.updated.finish()),
            Arc::new(self.place.finish()),
            Arc::new(self.event_type.finish()),
            Arc::new(self.horizontal_error.finish()),
            Arc::new(self.depth_error.finish()),
            Arc::new(self.mag_error.finish()),
            Arc::new(self.mag_nst.finish()),
            Arc::new(self.status.finish()),
            Arc::new(self.location_source.finish()),
            Arc::new(self.mag_source.finish()),
            Arc::new(self.in_region.finish()),
            Arc::new(self.is_earthquake.finish()),
            Arc::new(self.benchmark.finish()),
        ];
        Ok(RecordBatch::try_new(schema(), cols)?)
    }
}

/// Per-year spill files (Arrow IPC streams) that keep memory flat while reading inputs.
pub struct YearSpill {
    dir: PathBuf,
    builders: std::collections::BTreeMap<i32, EventBuilder>,
    writers: HashMap<i32, StreamWriter<BufWriter<File>>>,
    buffered: usize,
}

/// Rows buffered per year before they are spilled.
const SPILL_ROWS_PER_YEAR: usize = 8192;
/// Rows buffered across all years before everything is spilled.
const SPILL_ROWS_TOTAL: usize = 131_072;

impl YearSpill {
    pub fn new(dir: &Path) -> Self {
        YearSpill {
            dir: dir.to_path_buf(),
            builders: Default::default(),
            writers: HashMap::new(),
            buffered: 0,
        }
    }

    /// Buffers one event under its UTC year.
    pub fn push(&mut self, year: i32, e: &Event, flags: (bool, bool, bool)) -> Result<()> {
        let b = self.builders.entry(year).or_default();
        b.push(e, flags);
        self.buffered += 1;
        if b.len() >= SPILL_ROWS_PER_YEAR {
            self.flush_year(year)?;
        }
        if self.buffered >= SPILL_ROWS_TOTAL {
            let years: Vec<i32> = self.builders.keys().copied().collect();
            for y in years {
                self.flush_year(y)?;
            }
        }
        Ok(())
    }

    fn flush_year(&mut self, year: i32) -> Result<()> {
        let Some(b) = self.builders.get_mut(&year) else {
            return Ok(());
        };
        if b.is_empty() {
            return Ok(());
        }
        self.buffered -= b.len();
        let batch = b.finish()?;
        let writer = match self.writers.entry(year) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let path = self.dir.join(format!("{year}.arrows"));
                let f = File::create(&path)
                    .with_context(|| format!("cannot create {}", path.display()))?;
                v.insert(StreamWriter::try_new(BufWriter::new(f), &schema())?)
            }
        };
        writer.write(&batch)?;
        Ok(())
    }

    /// Flushes everything and returns the years seen, ascending.
    pub fn finish(mut self) -> Result<Vec<i32>> {
        let years: Vec<i32> = self.builders.keys().copied().collect();
        for y in &years {
            self.flush_year(*y)?;
        }
        for (_, mut w) in self.writers.drain() {
            w.finish()?;
        }
        Ok(years)
    }

    /// All rows of one year, read back from its spill file.
    pub fn read_year(dir: &Path, year: i32) -> Result<RecordBatch> {
        let path = dir.join(format!("{year}.arrows"));
        let f = File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
        let reader = StreamReader::try_new(BufReader::new(f), None)?;
        let batches: Vec<RecordBatch> = reader.collect::<std::result::Result<_, _>>()?;
        Ok(concat_batches(&schema(), &batches)?)
    }
}

/// Sorts by (time, id) and drops duplicate ids (keeping the most recently updated row).
/// Returns the batch and the number of duplicates dropped.
pub fn sort_and_dedupe(batch: &RecordBatch) -> Result<(RecordBatch, u64)> {
    let id_col = batch.column(11).clone();
    let indices = lexsort_to_indices(
        &[
            SortColumn {
                values: batch.column(TIME_COLUMN).clone(),
                options: Some(SortOptions::default()),
            },
            SortColumn {
                values: id_col,
                options: Some(SortOptions::default()),
            },
        ],
        None,
    )?;
    let sorted = take_record_batch(batch, &indices)?;
    let ids = sorted
        .column(11)
        .as_any()
        .downcast_ref::<StringArray>()
        .context("id column is not a string column")?;
    let updated = sorted
        .column(12)
        .as_any()
        .downcast_ref::<TimestampMillisecondArray>()
        .context("updated column is not a timestamp column")?;
    let mut best: HashMap<&str, usize> = HashMap::new();
    for i in 0..sorted.num_rows() {
        let id = ids.value(i);
        match best.get(id) {
            None => {
                best.insert(id, i);
            }
            Some(&j) => {
                let ui = updated.is_valid(i).then(|| updated.value(i));
                let uj = updated.is_valid(j).then(|| updated.value(j));
                if ui > uj {
                    best.insert(id, i);
                }
            }
        }
    }
    let dropped = (sorted.num_rows() - best.len()) as u64;
    if dropped == 0 {
        return Ok((sorted, 0));
    }
    let mut keep = vec![false; sorted.num_rows()];
    for &i in best.values() {
        keep[i] = true;
    }
    let mask = BooleanArray::from(keep);
    Ok((filter_record_batch(&sorted, &mask)?, dropped))
}

/// Encodes a sorted batch as a Parquet file (zstd, page statistics and page indexes,
/// sorting metadata) in memory.
pub fn to_parquet(batch: &RecordBatch) -> Result<Vec<u8>> {
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(1 << 20))
        .set_sorting_columns(Some(vec![SortingColumn {
            column_idx: TIME_COLUMN as i32,
            descending: false,
            nulls_first: false,
        }]))
        .build();
    let mut buf = Vec::new();
    let mut w = ArrowWriter::try_new(&mut buf, batch.schema(), Some(props))?;
    w.write(batch)?;
    w.close()?;
    Ok(buf)
}

/// The columns the grid needs, borrowed from a batch.
pub struct GridColumns<'a> {
    pub time: &'a TimestampMillisecondArray,
    pub lat: &'a Float64Array,
    pub lon: &'a Float64Array,
    pub depth: &'a Float64Array,
    pub mag: &'a Float64Array,
    pub benchmark: &'a BooleanArray,
}

impl<'a> GridColumns<'a> {
    pub fn of(b: &'a RecordBatch) -> Result<Self> {
        fn col<'b, T: 'static>(b: &'b RecordBatch, name: &str) -> Result<&'b T> {
            b.column_by_name(name)
                .and_then(|c| c.as_any().downcast_ref::<T>())
                .with_context(|| format!("events column {name} has an unexpected type"))
        }
        Ok(GridColumns {
            time: col(b, "time")?,
            lat: col(b, "latitude")?,
            lon: col(b, "longitude")?,
            depth: col(b, "depth")?,
            mag: col(b, "mag")?,
            benchmark: col(b, "benchmark")?,
        })
    }
}

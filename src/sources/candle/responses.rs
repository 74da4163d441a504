//! Long tables (responses, growth curves, drug-pair growth, annotations) to Parquet.
//!
//! Rows stream from a [`TsvReader`] into per-partition column builders; full batches go to
//! a Parquet writer on a scratch file, which rolls over to a new `part-<n>.parquet` every
//! `rows_per_file` rows, so memory stays flat however large the input is. Partitioned
//! tables (those with a `SOURCE` column) are written hive-style:
//! `<base>/SOURCE=<value>/part-<n>.parquet`, the partition column not stored in the files.
//! The drug-pair table derives its partition ([`LongTableWriter::derived_partition`]):
//! `SOURCE=ALMANAC.<SCREENER>`, with `SCREENER` kept in the files.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use arrow::array::{
    ArrayBuilder, ArrayRef, Float32Builder, Float64Builder, Int64Builder, StringBuilder,
};
use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use serde::Serialize;

use super::tables::ColType;
use super::tsv::{TsvReader, is_missing, parse_f32, parse_f64};

/// Rows per Arrow batch handed to the Parquet writer.
const BATCH_ROWS: usize = 65_536;
/// Rows per Parquet row group.
const ROW_GROUP_ROWS: usize = 262_144;

/// The Parquet settings of every table: zstd level 3, page statistics and indexes.
pub fn writer_properties() -> Result<WriterProperties> {
    Ok(WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build())
}

/// One typed column builder.
enum Col {
    Utf8(StringBuilder),
    F32(Float32Builder),
    F64(Float64Builder),
    I64(Int64Builder),
}

impl Col {
    fn new(t: ColType) -> Col {
        match t {
            ColType::Utf8 => Col::Utf8(StringBuilder::new()),
            ColType::Float32 => Col::F32(Float32Builder::new()),
            ColType::Float64 => Col::F64(Float64Builder::new()),
            ColType::Int64 => Col::I64(Int64Builder::new()),
        }
    }

    fn push(&mut self, v: &str, file: &str, line: u64, column: &str) -> Result<()> {
        match self {
            Col::Utf8(b) => {
                if is_missing(v) {
                    b.append_null()
                } else {
                    b.append_value(v)
                }
            }
            Col::F32(b) => b.append_option(parse_f32(v, file, line, column)?),
            Col::F64(b) => b.append_option(parse_f64(v, file, line, column)?),
            Col::I64(b) => {
                if is_missing(v) {
                    b.append_null()
                } else {
                    match v.trim().parse::<i64>() {
                        Ok(x) => b.append_value(x),
                        Err(_) => {
                            bail!("{file}:{line}: column {column}: {v:?} is not an integer")
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Col::Utf8(b) => Arc::new(b.finish()),
            Col::F32(b) => Arc::new(b.finish()),
            Col::F64(b) => Arc::new(b.finish()),
            Col::I64(b) => Arc::new(b.finish()),
        }
    }

    fn len(&self) -> usize {
        match self {
            Col::Utf8(b) => b.len(),
            Col::F32(b) => b.len(),
            Col::F64(b) => b.len(),
            Col::I64(b) => b.len(),
        }
    }
}

/// Rows of one block of an input, parsed by [`LongTableWriter::parse_block`].
pub struct Block {
    /// Per partition (in key order), the block's rows of that partition.
    batches: Vec<(String, RecordBatch)>,
    /// Rows in the block.
    pub rows: u64,
}

/// One finished Parquet file of a table.
#[derive(Debug, Clone, Serialize)]
pub struct PartFile {
    /// Path in the bag (`data/...`).
    pub path: String,
    /// Partition value (`SOURCE`), if partitioned.
    pub partition: Option<String>,
    pub rows: u64,
    #[serde(skip)]
    pub scratch: PathBuf,
}

struct Partition {
    cols: Vec<Col>,
    /// Rows parsed by [`LongTableWriter::parse_block`] not yet written, in order.
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    /// Whether the writer thread has a file open for this partition.
    open: bool,
    rows_in_file: u64,
    next_index: u32,
    current: Option<PartFile>,
    done: Vec<PartFile>,
}

impl Partition {
    fn new(cols: Vec<Col>) -> Partition {
        Partition {
            cols,
            pending: Vec::new(),
            pending_rows: 0,
            open: false,
            rows_in_file: 0,
            next_index: 0,
            current: None,
            done: Vec::new(),
        }
    }
}

/// Batches waiting for the writer thread: bounds memory to a few batches.
const QUEUED_BATCHES: usize = 4;

/// What the writer thread is asked to do, in order.
enum Job {
    /// Create the scratch file of partition `key` and a Parquet writer on it.
    Open(String, PathBuf),
    /// Append a batch to partition `key`'s open file.
    Write(String, RecordBatch),
    /// Finish partition `key`'s open file (footer, flush).
    Close(String),
}

/// A thread that owns the Parquet writers, so that encoding and compressing the pages
/// (dictionaries, statistics, zstd) overlaps the parsing of the next rows. The jobs are done
/// in the order they are sent, so the files are the same bytes as when written inline.
struct FileWriters {
    tx: Option<std::sync::mpsc::SyncSender<Job>>,
    handle: Option<std::thread::JoinHandle<Result<()>>>,
}

impl FileWriters {
    fn spawn(schema: SchemaRef, props: WriterProperties) -> FileWriters {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(QUEUED_BATCHES);
        let handle = std::thread::spawn(move || -> Result<()> {
            let mut open: BTreeMap<String, (PathBuf, ArrowWriter<BufWriter<File>>)> =
                BTreeMap::new();
            for job in rx {
                match job {
                    Job::Open(key, path) => {
                        let f = File::create(&path)
                            .with_context(|| format!("cannot create {}", path.display()))?;
                        let w = ArrowWriter::try_new(
                            BufWriter::with_capacity(1 << 20, f),
                            schema.clone(),
                            Some(props.clone()),
                        )?;
                        open.insert(key, (path, w));
                    }
                    Job::Write(key, batch) => {
                        let (path, w) = open
                            .get_mut(&key)
                            .with_context(|| format!("no open file for partition {key}"))?;
                        w.write(&batch)
                            .with_context(|| format!("cannot write {}", path.display()))?;
                    }
                    Job::Close(key) => {
                        if let Some((path, w)) = open.remove(&key) {
                            w.close()
                                .with_context(|| format!("cannot write {}", path.display()))?;
                        }
                    }
                }
            }
            Ok(())
        });
        FileWriters {
            tx: Some(tx),
            handle: Some(handle),
        }
    }

    /// Queues a job; if the thread has stopped, returns the error that stopped it.
    fn send(&mut self, job: Job) -> Result<()> {
        let sent = match &self.tx {
            Some(tx) => tx.send(job).is_ok(),
            None => false,
        };
        if sent {
            return Ok(());
        }
        self.finish()?;
        bail!("the Parquet writer thread stopped")
    }

    /// Waits until every queued job is done; the first error of the thread, if any.
    fn finish(&mut self) -> Result<()> {
        self.tx = None;
        match self.handle.take() {
            Some(h) => h
                .join()
                .map_err(|_| anyhow::anyhow!("the Parquet writer thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for FileWriters {
    /// On an error elsewhere, lets the thread finish what it has (no write lands after the
    /// caller has cleaned up).
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// Streams rows of one input file into Parquet files.
pub struct LongTableWriter {
    base: String,
    scratch: PathBuf,
    columns: Vec<(String, ColType)>,
    partition: Option<usize>,
    /// Name of the partition directory key (`SOURCE`) and the prefix of its value.
    partition_name: String,
    partition_prefix: String,
    /// Whether the column that names the partition is also stored in the files.
    keep_partition_column: bool,
    key_buf: String,
    schema: SchemaRef,
    rows_per_file: u64,
    parts: BTreeMap<String, Partition>,
    files: FileWriters,
}

/// Partition values become directory names: they must be safe path segments.
fn check_partition_value(v: &str, file: &str, line: u64) -> Result<()> {
    let ok = !v.is_empty()
        && v != "."
        && v != ".."
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !ok {
        bail!(
            "{file}:{line}: SOURCE value {v:?} cannot name a partition directory \
             (allowed: letters, digits, '.', '_', '-')"
        );
    }
    Ok(())
}

impl LongTableWriter {
    /// `columns` in input order with their types; `partition` the index of the column
    /// whose value names the partition (it is not stored in the files).
    pub fn new(
        base: &str,
        scratch: &Path,
        columns: Vec<(String, ColType)>,
        partition: Option<usize>,
        rows_per_file: u64,
    ) -> Result<Self> {
        let fields: Vec<Field> = columns
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != partition)
            .map(|(_, (n, t))| Field::new(n, t.arrow(), true))
            .collect();
        std::fs::create_dir_all(scratch)
            .with_context(|| format!("cannot create {}", scratch.display()))?;
        let schema = Arc::new(Schema::new(fields));
        let partition_name = partition
            .and_then(|p| columns.get(p))
            .map(|c| c.0.clone())
            .unwrap_or_default();
        Ok(LongTableWriter {
            base: base.to_string(),
            scratch: scratch.to_path_buf(),
            columns,
            partition,
            partition_name,
            partition_prefix: String::new(),
            keep_partition_column: false,
            key_buf: String::new(),
            schema: schema.clone(),
            rows_per_file: rows_per_file.max(1),
            parts: BTreeMap::new(),
            files: FileWriters::spawn(schema, writer_properties()?),
        })
    }

    /// Partitions by a value derived from column `column`: directory `<name>=<prefix><value>`
    /// (as the reference's `SOURCE = 'ALMANAC.' + SCREENER`); the column itself is stored.
    pub fn derived_partition(
        base: &str,
        scratch: &Path,
        columns: Vec<(String, ColType)>,
        column: usize,
        name: &str,
        prefix: &str,
        rows_per_file: u64,
    ) -> Result<Self> {
        let mut w = Self::new(base, scratch, columns, None, rows_per_file)?;
        w.partition = Some(column);
        w.partition_name = name.to_string();
        w.partition_prefix = prefix.to_string();
        w.keep_partition_column = true;
        Ok(w)
    }

    /// The Arrow schema of the files.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Appends the reader's current row.
    pub fn push<R: BufRead>(&mut self, r: &TsvReader<R>) -> Result<()> {
        let mut buf = std::mem::take(&mut self.key_buf);
        let pushed = self.push_keyed(r, &mut buf);
        self.key_buf = buf;
        pushed
    }

    fn push_keyed<R: BufRead>(&mut self, r: &TsvReader<R>, buf: &mut String) -> Result<()> {
        let key = self.key_of(r, buf)?;
        if self.partition.is_some() && !self.parts.contains_key(key) {
            check_partition_value(key, r.file(), r.line())?;
        }
        let mut cols = std::mem::take(&mut self.partition_mut(key).cols);
        let pushed = self.push_fields(&mut cols, r);
        let part = self.parts.get_mut(key).context("partition vanished")?;
        part.cols = cols;
        pushed?;
        if part.cols.first().map_or(0, |c| c.len()) >= BATCH_ROWS {
            self.flush(key)?;
        }
        Ok(())
    }

    /// The partition key of the reader's current row (in `buf` when derived).
    fn key_of<'a, R: BufRead>(&self, r: &'a TsvReader<R>, buf: &'a mut String) -> Result<&'a str> {
        Ok(match self.partition {
            Some(p) if self.keep_partition_column => {
                let v = r.field(p);
                if is_missing(v) {
                    bail!(
                        "{}:{}: column {} is missing, so {} ({:?} + {}) cannot be derived",
                        r.file(),
                        r.line(),
                        self.columns[p].0,
                        self.partition_name,
                        self.partition_prefix,
                        self.columns[p].0
                    );
                }
                buf.clear();
                buf.push_str(&self.partition_prefix);
                buf.push_str(v);
                buf
            }
            Some(p) => r.field(p),
            None => "",
        })
    }

    /// Partition `key`, created empty the first time it is seen.
    fn partition_mut(&mut self, key: &str) -> &mut Partition {
        if !self.parts.contains_key(key) {
            let part = Partition::new(self.new_cols());
            self.parts.insert(key.to_string(), part);
        }
        self.parts.get_mut(key).expect("inserted above")
    }

    fn new_cols(&self) -> Vec<Col> {
        self.columns
            .iter()
            .enumerate()
            .filter(|(i, _)| self.keep_partition_column || Some(*i) != self.partition)
            .map(|(_, (_, t))| Col::new(*t))
            .collect()
    }

    fn push_fields<R: BufRead>(&self, cols: &mut [Col], r: &TsvReader<R>) -> Result<()> {
        let mut j = 0;
        for (i, (name, _)) in self.columns.iter().enumerate() {
            if !self.keep_partition_column && Some(i) == self.partition {
                continue;
            }
            match &mut cols[j] {
                // Through the reader, which parses a field once per row (the caller may
                // also need it).
                Col::F32(b) => b.append_option(r.f32_at(i)?),
                c => c.push(r.field(i), r.file(), r.line(), name)?,
            }
            j += 1;
        }
        Ok(())
    }

    /// Parses every row of `r` (a block of the input) into per-partition batches, calling
    /// `row` on each row after its fields are checked. Needs only `&self`, so blocks can be
    /// parsed on several threads; [`LongTableWriter::append`] then takes them in input order.
    pub fn parse_block<R: BufRead>(
        &self,
        r: &mut TsvReader<R>,
        mut row: impl FnMut(&TsvReader<R>) -> Result<()>,
    ) -> Result<Block> {
        let mut parts: BTreeMap<String, Vec<Col>> = BTreeMap::new();
        let mut buf = String::new();
        let mut rows = 0u64;
        while r.next_row()? {
            let key = self.key_of(r, &mut buf)?;
            let cols = match parts.get_mut(key) {
                Some(c) => c,
                None => {
                    if self.partition.is_some() {
                        check_partition_value(key, r.file(), r.line())?;
                    }
                    parts.entry(key.to_string()).or_insert(self.new_cols())
                }
            };
            self.push_fields(cols, r)?;
            row(r)?;
            rows += 1;
        }
        let mut batches = Vec::with_capacity(parts.len());
        for (key, mut cols) in parts {
            let arrays: Vec<ArrayRef> = cols.iter_mut().map(|c| c.finish()).collect();
            batches.push((key, RecordBatch::try_new(self.schema.clone(), arrays)?));
        }
        Ok(Block { batches, rows })
    }

    /// Appends a parsed block. Batches reach the writer in exactly the sizes the row-wise
    /// [`LongTableWriter::push`] gives (`BATCH_ROWS` rows per partition), so the files do not
    /// depend on how the input was cut into blocks.
    pub fn append(&mut self, block: Block) -> Result<()> {
        for (key, batch) in block.batches {
            let part = self.partition_mut(&key);
            part.pending_rows += batch.num_rows();
            part.pending.push(batch);
            while self.parts[&key].pending_rows >= BATCH_ROWS {
                let full = self.take_pending(&key, BATCH_ROWS)?;
                self.write_batch(&key, full)?;
            }
        }
        Ok(())
    }

    /// The first `n` pending rows of partition `key` as one batch.
    fn take_pending(&mut self, key: &str, n: usize) -> Result<RecordBatch> {
        let schema = self.schema.clone();
        let part = self.parts.get_mut(key).context("unknown partition")?;
        let all = arrow::compute::concat_batches(&schema, &part.pending)?;
        let n = n.min(all.num_rows());
        let head = all.slice(0, n);
        let rest = all.slice(n, all.num_rows() - n);
        part.pending_rows = rest.num_rows();
        part.pending = if rest.num_rows() > 0 {
            vec![rest]
        } else {
            Vec::new()
        };
        Ok(head)
    }

    fn path_of(&self, key: &str, index: u32) -> String {
        match self.partition {
            Some(_) => format!(
                "{}/{}={key}/part-{index}.parquet",
                self.base, self.partition_name
            ),
            None => format!("{}/part-{index}.parquet", self.base),
        }
    }

    fn flush(&mut self, key: &str) -> Result<()> {
        let part = self.parts.get_mut(key).context("unknown partition")?;
        let n = part.cols.first().map_or(0, |c| c.len());
        if n == 0 {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = part.cols.iter_mut().map(|c| c.finish()).collect();
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)?;
        self.write_batch(key, batch)
    }

    /// Hands one batch of partition `key` to the writer thread, opening and rolling over
    /// its files.
    fn write_batch(&mut self, key: &str, batch: RecordBatch) -> Result<()> {
        let n = batch.num_rows();
        let rows_per_file = self.rows_per_file;
        let next_path = {
            let part = self.parts.get(key).context("unknown partition")?;
            self.path_of(key, part.next_index)
        };
        let scratch_dir = self.scratch.clone();
        let partition = self.partition.map(|_| key.to_string());
        let part = self.parts.get_mut(key).context("unknown partition")?;
        if !part.open {
            let scratch =
                scratch_dir.join(format!("{}.parquet", next_path.replace(['/', '='], "_")));
            self.files
                .send(Job::Open(key.to_string(), scratch.clone()))?;
            part.open = true;
            part.current = Some(PartFile {
                path: next_path,
                partition,
                rows: 0,
                scratch,
            });
            part.next_index += 1;
            part.rows_in_file = 0;
        }
        self.files.send(Job::Write(key.to_string(), batch))?;
        part.rows_in_file += n as u64;
        if let Some(c) = part.current.as_mut() {
            c.rows += n as u64;
        }
        if part.rows_in_file >= rows_per_file {
            Self::close_file(&mut self.files, key, part)?;
        }
        Ok(())
    }

    fn close_file(files: &mut FileWriters, key: &str, part: &mut Partition) -> Result<()> {
        if part.open {
            files.send(Job::Close(key.to_string()))?;
            part.open = false;
        }
        if let Some(c) = part.current.take() {
            part.done.push(c);
        }
        Ok(())
    }

    /// Flushes everything and returns the files, ordered by bag path.
    pub fn finish(mut self) -> Result<Vec<PartFile>> {
        let keys: Vec<String> = self.parts.keys().cloned().collect();
        let mut out = Vec::new();
        for k in keys {
            self.flush(&k)?;
            if self.parts[&k].pending_rows > 0 {
                let rest = self.take_pending(&k, usize::MAX)?;
                self.write_batch(&k, rest)?;
            }
            let part = self.parts.get_mut(&k).context("unknown partition")?;
            Self::close_file(&mut self.files, &k, part)?;
            out.append(&mut part.done);
        }
        // Every file is written and closed once the writer thread has drained its queue.
        self.files.finish()?;
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }
}

/// Infers the column types of a table with no explicit schema (annotation tables): a
/// column is int64 if every non-missing value parses as an integer, else float64 if every
/// one parses as a number, else utf8. One streaming pass.
pub fn infer_types<R: BufRead>(r: &mut TsvReader<R>) -> Result<(Vec<ColType>, u64)> {
    let mut int_ok: Vec<bool> = Vec::new();
    let mut float_ok: Vec<bool> = Vec::new();
    let mut seen: Vec<bool> = Vec::new();
    let mut rows = 0u64;
    while r.next_row()? {
        if int_ok.is_empty() {
            int_ok = vec![true; r.len()];
            float_ok = vec![true; r.len()];
            seen = vec![false; r.len()];
        }
        rows += 1;
        for i in 0..r.len() {
            let v = r.field(i);
            if is_missing(v) {
                continue;
            }
            seen[i] = true;
            if int_ok[i] && v.trim().parse::<i64>().is_err() {
                int_ok[i] = false;
            }
            if float_ok[i] && !int_ok[i] && v.trim().parse::<f64>().is_err() {
                float_ok[i] = false;
            }
        }
    }
    let n = r.header().len();
    Ok((
        (0..n)
            .map(|i| {
                if i >= seen.len() || !seen[i] {
                    ColType::Utf8
                } else if int_ok[i] {
                    ColType::Int64
                } else if float_ok[i] {
                    ColType::Float64
                } else {
                    ColType::Utf8
                }
            })
            .collect(),
        rows,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, Float32Array, StringArray};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    #[test]
    fn partitions_and_rolls_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("SOURCE\tDRUG\tAUC\n");
        for i in 0..10 {
            let s = if i % 3 == 0 { "CCLE" } else { "gCSI" };
            text.push_str(&format!("{s}\tNSC.{i}\t{}\n", i as f32 / 10.0));
        }
        text.push_str("CCLE\tNSC.x\tna\n");
        let (mut r, _) = TsvReader::new("f", text.as_bytes(), 0, true).unwrap();
        let cols = vec![
            ("SOURCE".to_string(), ColType::Utf8),
            ("DRUG".to_string(), ColType::Utf8),
            ("AUC".to_string(), ColType::Float32),
        ];
        let mut w = LongTableWriter::new("data/t", dir.path(), cols, Some(0), 3).unwrap();
        // Small batches: flush every row to exercise rolling.
        while r.next_row().unwrap() {
            w.push(&r).unwrap();
            let k = r.field(0).to_string();
            w.flush(&k).unwrap();
        }
        let files = w.finish().unwrap();
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "data/t/SOURCE=CCLE/part-0.parquet",
                "data/t/SOURCE=CCLE/part-1.parquet",
                "data/t/SOURCE=gCSI/part-0.parquet",
                "data/t/SOURCE=gCSI/part-1.parquet",
            ]
        );
        assert_eq!(files.iter().map(|f| f.rows).sum::<u64>(), 11);
        let f = File::open(&files[1].scratch).unwrap();
        let b: Vec<RecordBatch> = ParquetRecordBatchReaderBuilder::try_new(f)
            .unwrap()
            .build()
            .unwrap()
            .map(|b| b.unwrap())
            .collect();
        let drugs = b[0]
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        let auc = b[0]
            .column(1)
            .as_any()
            .downcast_ref::<Float32Array>()
            .unwrap();
        assert_eq!(drugs.value(0), "NSC.9");
        assert_eq!(auc.value(0), 0.9);
        assert_eq!(drugs.value(1), "NSC.x");
        assert!(auc.is_null(1));
    }

    #[test]
    fn bad_partition_values_and_numbers_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let cols = vec![
            ("SOURCE".to_string(), ColType::Utf8),
            ("AUC".to_string(), ColType::Float32),
        ];
        let (mut r, _) = TsvReader::new("f", "SOURCE\tAUC\na/b\t1\n".as_bytes(), 0, true).unwrap();
        let mut w = LongTableWriter::new("d", dir.path(), cols.clone(), Some(0), 10).unwrap();
        r.next_row().unwrap();
        assert!(
            w.push(&r)
                .unwrap_err()
                .to_string()
                .contains("f:2: SOURCE value \"a/b\"")
        );
        let (mut r, _) = TsvReader::new("f", "SOURCE\tAUC\nA\tx1\n".as_bytes(), 0, true).unwrap();
        r.next_row().unwrap();
        let e = w.push(&r).unwrap_err().to_string();
        assert!(e.contains("f:2: column AUC: \"x1\" is not a number"), "{e}");
    }

    #[test]
    fn derived_partition_keeps_the_column() {
        let dir = tempfile::tempdir().unwrap();
        let cols = vec![
            ("SCREENER".to_string(), ColType::Utf8),
            ("CONC1".to_string(), ColType::Float32),
        ];
        let t = "SCREENER,CONC1\nFG,1e-6\n1A,2e-6\nFG,\n";
        let mut r = TsvReader::csv("c.csv", t.as_bytes()).unwrap();
        let mut w = LongTableWriter::derived_partition(
            "data/c",
            dir.path(),
            cols.clone(),
            0,
            "SOURCE",
            "ALMANAC.",
            10,
        )
        .unwrap();
        while r.next_row().unwrap() {
            w.push(&r).unwrap();
        }
        assert_eq!(w.schema().fields().len(), 2);
        let files = w.finish().unwrap();
        let paths: Vec<(&str, u64)> = files.iter().map(|f| (f.path.as_str(), f.rows)).collect();
        assert_eq!(
            paths,
            [
                ("data/c/SOURCE=ALMANAC.1A/part-0.parquet", 1),
                ("data/c/SOURCE=ALMANAC.FG/part-0.parquet", 2)
            ]
        );
        let mut r = TsvReader::csv("c.csv", "SCREENER,CONC1\n,1\n".as_bytes()).unwrap();
        let mut w =
            LongTableWriter::derived_partition("d", dir.path(), cols, 0, "SOURCE", "ALMANAC.", 10)
                .unwrap();
        r.next_row().unwrap();
        let e = w.push(&r).unwrap_err().to_string();
        assert!(e.contains("c.csv:2: column SCREENER is missing"), "{e}");
    }

    #[test]
    fn inference() {
        let t = "a\tb\tc\td\n1\t1.5\tx\t\n-2\tna\t3\t-\n";
        let (mut r, _) = TsvReader::new("f", t.as_bytes(), 0, true).unwrap();
        let (types, rows) = infer_types(&mut r).unwrap();
        assert_eq!(rows, 2);
        assert_eq!(
            types,
            [
                ColType::Int64,
                ColType::Float64,
                ColType::Utf8,
                ColType::Utf8
            ]
        );
    }
}

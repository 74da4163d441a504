//! `sciml-data ingest candle --input DIR`: the CANDLE Pilot1 files to `candle-uno`.
//!
//! Every input is streamed once (hashed on the way): long tables go to Parquet through
//! scratch files, wide tables to Zarr chunk by chunk. The split, the quality view and
//! (optionally) the recomputed fits are derived from what was read.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use serde::Serialize;
use serde_json::{Value, json};
use zarrs::group::GroupBuilder;

use super::auc;
use super::features::{self, FeatureLayout, FeatureSummary, Key};
use super::responses::{Block, LongTableWriter, PartFile, infer_types, writer_properties};
use super::split::{self, SplitOptions};
use super::tables::{self, ColType, Kind};
use super::tsv::TsvReader;
use crate::hashing::HashingReader;
use crate::ingest::{IngestCommon, IngestResult, Session, input_name};
use crate::progress;
use crate::record::InputFile;

/// The default dataset name of this source.
pub const DATASET: &str = "candle-uno";
/// The benchmark's quality filter (`uno_data.load_aggregated_single_response`).
pub const QUALITY_FILTER: &str = "R2fit >= 0.3 AND EC50se <= 3";
/// The drug-pair rows the benchmark keeps (`uno_data.load_combo_dose_response`).
pub const COMBO_FILTER: &str = "VALID = 'Y'";
/// Where the drug-pair growth table goes (hive-partitioned by `SOURCE`).
pub const COMBO_TABLE: &str = "data/combo_growth";
const MIN_R2FIT: f32 = 0.3;
const MAX_EC50SE: f32 = 3.0;

/// Options of `ingest candle`.
#[derive(Debug, Clone)]
pub struct CandleOptions {
    /// Input files or directories (every file of a directory is an input).
    pub inputs: Vec<PathBuf>,
    /// Rows per Parquet file before a partition rolls over to the next `part-<n>`.
    pub rows_per_file: u64,
    /// Rows per chunk of the feature arrays.
    pub feature_row_chunk: u64,
    /// Features per chunk of the feature arrays.
    pub feature_col_chunk: u64,
    pub split: SplitOptions,
    /// Refit every growth curve and write `data/recomputed/responses.parquet`.
    pub recompute_auc: bool,
}

impl Default for CandleOptions {
    fn default() -> Self {
        CandleOptions {
            inputs: Vec::new(),
            rows_per_file: 5_000_000,
            feature_row_chunk: 512,
            feature_col_chunk: 1024,
            split: SplitOptions::default(),
            recompute_auc: false,
        }
    }
}

/// Expands directories into their files (sorted by name), skipping fetch bookkeeping.
pub fn expand_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("cannot list {}", p.display()))?
                .flatten()
                .map(|e| e.path())
                .filter(|f| !tables::is_ignored(&input_name(f)))
                .collect();
            files.sort();
            out.extend(files);
        } else {
            out.push(p.clone());
        }
    }
    out.sort_by_key(|p| input_name(p));
    Ok(out)
}

/// Per-table row counts.
#[derive(Debug, Default, Clone, Serialize)]
pub struct TableCounts {
    pub rows: u64,
    pub by_source: BTreeMap<String, u64>,
}

/// Counts of the drug-pair growth table.
#[derive(Debug, Default, Clone, Serialize)]
pub struct ComboCounts {
    pub rows: u64,
    pub by_source: BTreeMap<String, u64>,
    /// Rows with `VALID == 'Y'` (the view `combo_valid`).
    pub valid_rows: u64,
    /// Rows without a second drug (`NSC2` missing): single-drug controls.
    pub single_drug_rows: u64,
    /// Every column of the file with its stored type, in file order.
    pub columns: Vec<(String, ColType)>,
    /// Columns beyond the nine the reference reads; their types were inferred over the file.
    pub inferred_columns: Vec<String>,
}

/// A named view: a filter over a table, with its counts (no row is dropped).
#[derive(Debug, Clone, Serialize)]
pub struct View {
    pub name: String,
    pub table: String,
    pub filter: String,
    pub rows: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_with_auc: Option<u64>,
    pub rows_total: u64,
    pub by_source: BTreeMap<String, u64>,
    pub duckdb: String,
    pub pandas: String,
    /// A DuckDB query giving the frame the reference's loader builds from the view.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_frame_duckdb: Option<String>,
}

/// Agreement of the recomputed AUC with the provided one.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AucAgreement {
    pub curves_fitted: u64,
    pub curves_not_fitted: u64,
    pub matched_with_provided: u64,
    pub mean_abs_diff: Option<f64>,
    pub max_abs_diff: Option<f64>,
    pub within_0_01: u64,
}

type CurveKey = (String, String, String, String);

struct Collected {
    files: Vec<PartFile>,
    features: Vec<(FeatureSummary, RecordBatch, RecordBatch)>,
    annotations: BTreeMap<String, Vec<(String, ColType)>>,
    responses: Option<TableCounts>,
    growth: Option<TableCounts>,
    combo: Option<ComboCounts>,
    view: Option<View>,
    combo_view: Option<View>,
    drugs: Vec<(String, u64)>,
    pubchem: HashMap<String, String>,
    provided_auc: HashMap<CurveKey, f32>,
    curves: BTreeMap<CurveKey, Vec<(f64, f64)>>,
}

fn open(path: &Path) -> Result<BufReader<HashingReader<File>>> {
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    Ok(BufReader::with_capacity(
        1 << 20,
        HashingReader::on_thread(f),
    ))
}

fn finish_hash(path: &Path, r: BufReader<HashingReader<File>>) -> Result<InputFile> {
    let (size, sha256) = r
        .into_inner()
        .finish()
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(InputFile {
        name: input_name(path),
        size,
        sha256,
    })
}

/// Runs the ingest.
pub async fn ingest(common: &IngestCommon, opts: &CandleOptions) -> Result<IngestResult> {
    let inputs = expand_inputs(&opts.inputs)?;
    if inputs.is_empty() {
        bail!("no CANDLE input files found in the given --input paths");
    }
    let kinds: Vec<Kind> = inputs
        .iter()
        .map(|p| tables::classify(&input_name(p)).with_context(|| format!("input {}", p.display())))
        .collect::<Result<_>>()?;
    let session = Session::start(common, &inputs)?;
    let total_bytes: u64 = inputs
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let bar = progress::bytes_bar(common.progress, total_bytes, "reading");
    let zstore = session.staging.zarr_store("data/features.zarr");
    let mut c = Collected {
        files: Vec::new(),
        features: Vec::new(),
        annotations: BTreeMap::new(),
        responses: None,
        growth: None,
        combo: None,
        view: None,
        combo_view: None,
        drugs: Vec::new(),
        pubchem: HashMap::new(),
        provided_auc: HashMap::new(),
        curves: BTreeMap::new(),
    };
    let mut recorded = Vec::new();
    let mut done = 0u64;
    for (path, kind) in inputs.iter().zip(&kinds) {
        let name = input_name(path);
        let scratch = session.scratch.path().join(format!("t{}", recorded.len()));
        let tick = |b: u64| bar.set_position(done + b);
        let input = match kind {
            Kind::Response => read_responses(path, &name, &scratch, opts, &mut c, tick)?,
            Kind::Growth => read_growth(path, &name, &scratch, opts, &mut c, tick)?,
            Kind::Annotation { header } => {
                read_annotation(path, &name, *header, &scratch, opts, &mut c, tick)?
            }
            Kind::Combo => read_combo(path, &name, &scratch, opts, &mut c, tick)?,
            Kind::Rnaseq | Kind::Descriptors | Kind::Mordred | Kind::Fingerprints { .. } => {
                let layout = match kind {
                    Kind::Rnaseq => FeatureLayout {
                        entity: "sample",
                        key: Key::Named("Sample"),
                        prefix: None,
                        row_attributes: &["Cancer_type_id"],
                        coerce_non_numeric: false,
                    },
                    Kind::Descriptors => FeatureLayout {
                        entity: "drug",
                        key: Key::Named("NAME"),
                        prefix: None,
                        row_attributes: &[],
                        coerce_non_numeric: false,
                    },
                    Kind::Mordred => FeatureLayout {
                        entity: "drug",
                        key: Key::First,
                        prefix: None,
                        row_attributes: &[],
                        coerce_non_numeric: true,
                    },
                    Kind::Fingerprints { prefix } => FeatureLayout {
                        entity: "drug",
                        key: Key::HeaderLess,
                        prefix: Some(prefix.clone()),
                        row_attributes: &[],
                        coerce_non_numeric: false,
                    },
                    _ => unreachable!("matched above"),
                };
                let mut r = open(path)?;
                let table = tables::table_name(&name);
                let (summary, rows, cols) = features::write_table(
                    &zstore,
                    "data/features.zarr",
                    &table,
                    &name,
                    &mut r,
                    &layout,
                    opts.feature_row_chunk,
                    opts.feature_col_chunk,
                    tick,
                )
                .await?;
                c.features.push((summary, rows, cols));
                finish_hash(path, r)?
            }
        };
        done += input.size;
        bar.set_position(done);
        recorded.push(input);
    }
    bar.finish_and_clear();

    // Parquet files into the bag.
    let bar = progress::count_bar(common.progress, c.files.len() as u64, "writing");
    for f in &c.files {
        let bytes = std::fs::read(&f.scratch)
            .with_context(|| format!("cannot read {}", f.scratch.display()))?;
        session.staging.put(&f.path, Bytes::from(bytes)).await?;
        let _ = std::fs::remove_file(&f.scratch);
        bar.inc(1);
    }
    bar.finish_and_clear();

    // Features: label tables and the root group.
    let mut feature_summaries = Vec::new();
    for (s, rows, cols) in &c.features {
        session
            .staging
            .put(&s.rows_table, Bytes::from(plain_parquet(rows)?))
            .await?;
        session
            .staging
            .put(&s.columns_table, Bytes::from(plain_parquet(cols)?))
            .await?;
        feature_summaries.push(s.clone());
    }
    if !c.features.is_empty() {
        let mut g = GroupBuilder::new().build(zstore.clone(), "/")?;
        if let Value::Object(m) = json!({
            "title": "CANDLE-UNO feature matrices (entity x feature, float32, NaN = missing)",
            "arrays": feature_summaries.iter().map(|s| s.table.clone()).collect::<Vec<_>>(),
            "labels": "data/features/<array>/rows.parquet and columns.parquet",
        }) {
            *g.attributes_mut() = m;
        }
        g.async_store_metadata().await?;
    }

    // The split.
    let split_summary = if c.responses.is_some() {
        let (table, summary) = split::drug_split(&c.drugs, &c.pubchem, &opts.split)?;
        session
            .staging
            .put(
                "data/splits/drugs.parquet",
                Bytes::from(plain_parquet(&table)?),
            )
            .await?;
        Some(summary)
    } else {
        None
    };

    // Recomputed fits.
    let agreement = if opts.recompute_auc && !c.curves.is_empty() {
        let (table, agreement) = recompute(&c, common.progress)?;
        session
            .staging
            .put(
                "data/recomputed/responses.parquet",
                Bytes::from(plain_parquet(&table)?),
            )
            .await?;
        Some(agreement)
    } else {
        None
    };

    // Views.
    let views: Vec<&View> = c.view.iter().chain(c.combo_view.iter()).collect();
    if !views.is_empty() {
        session
            .staging
            .put(
                "data/views.json",
                Bytes::from(serde_json::to_vec_pretty(&json!({ "views": views }))?),
            )
            .await?;
    }

    let options = json!({
        "dataset": common.dataset,
        "rows_per_file": opts.rows_per_file,
        "feature_chunk": [opts.feature_row_chunk, opts.feature_col_chunk],
        "split": opts.split,
        "quality_filter": QUALITY_FILTER,
        "combo_filter": COMBO_FILTER,
        "recompute_auc": opts.recompute_auc,
        "missing_value_markers": super::tsv::MISSING,
        "parquet": "zstd level 3, page statistics, row groups of 262144 rows",
    });
    let fetch = inputs
        .iter()
        .filter_map(|p| p.parent())
        .find_map(|d| super::fetch::read_provenance(d).ok().flatten());
    let provenance = json!({
        "source": "candle",
        "dataset": common.dataset,
        "description": "CANDLE Pilot1 drug dose-response, molecular and drug feature tables to the CANDLE-UNO benchmark layout",
        "inputs": recorded,
        "fetch": fetch,
        "options": options,
        "tables": {
            "responses": c.responses,
            "growth": c.growth,
            "combo_growth": c.combo,
            "annotations": c.annotations,
        },
        "features": feature_summaries,
        "views": views,
        "split": split_summary,
        "auc_recomputation": agreement,
        "transforms": [
            {"output": "data/responses/SOURCE=*/part-*.parquet", "method": "combined_single_response_agg streamed; SOURCE, CELL, DRUG, STUDY utf8; AUC..DSS1 float32 (uno_data dtypes); missing markers null; input row order kept; no row dropped"},
            {"output": "data/growth/SOURCE=*/part-*.parquet", "method": "rescaled_combined_single_drug_growth streamed; LOG_CONCENTRATION and GROWTH float32, other columns utf8; input row order kept"},
            {"output": "data/combo_growth/SOURCE=ALMANAC.*/part-*.parquet", "method": "ComboDrugGrowth_Nov2017.csv (comma separated, quoted fields allowed) streamed; SOURCE = 'ALMANAC.' + SCREENER names the hive partition (SCREENER is also kept); CELLNAME, NSC1, NSC2, VALID, SCREENER, STUDY utf8, CONC1, CONC2, PERCENTGROWTH float32 (uno_data dtypes); other columns kept with types inferred over the file (int64, else float64, else utf8); missing markers null (NSC2/CONC2 empty on single-drug rows); raw CONC values, no DOSE column derived; input row order kept; no row dropped (not even VALID != 'Y')"},
            {"output": "data/features.zarr/extended_combined_mordred_descriptors", "method": "Mordred descriptors as 2-D float32 (drug x feature); the first column is the drug id (uno_data: DRUG), the others features; values that are not numbers become NaN and are counted (pd.to_numeric(errors='coerce')), True/False read as 1/0 as pandas does"},
            {"output": "data/annotations/<file>/part-0.parquet", "method": "lookup tables; column types inferred (int64, else float64, else utf8); missing markers null"},
            {"output": "data/features.zarr/<file>", "method": "wide tables as 2-D float32 (entity x feature) in input row and column order; missing -> NaN; Cancer_type_id kept as a row attribute; fingerprint files: first line skipped, columns <PFP|ECFP>.<i>"},
            {"output": "data/splits/drugs.parquet", "method": "ShuffleSplit over drug groups (PubChem CID via drug_info when given), groups in order of first appearance among quality-view rows with an AUC"},
            {"output": "data/views.json", "method": format!("named view 'quality': {QUALITY_FILTER} on data/responses; named view 'combo_valid': {COMBO_FILTER} on {COMBO_TABLE}; rows counted, none dropped")},
            {"output": "data/recomputed/responses.parquet", "method": "per (SOURCE, CELLNAME, DRUG_ID, EXPID): Hill fit of clip(GROWTH/200 + 0.5, 0, 1) against -LOG_CONCENTRATION within bounds einf [0,1], ec50 [0,12], hs [0,4]; AUC over doses 4..10 (sources.md 3.2); only with --recompute-auc"},
        ],
        "reference": "ECP-CANDLE/Benchmarks@f6a3da8818308c9edcd9fedbcf831dd5968efcdd Pilot1/Uno (uno_data.py), levinas/curve@6f0df5603e03ec63f4401bc83dc6a7dac1455369 curve.py (see docs/sources/candle.md)",
    });
    session
        .finish(
            "candle",
            "Argonne National Laboratory (CANDLE Pilot1 benchmark data)",
            &provenance,
            recorded,
            options,
        )
        .await
}

/// Adds one to `key`'s count (allocating the key only the first time it is seen).
fn count(counts: &mut BTreeMap<String, u64>, key: &str) {
    match counts.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            counts.insert(key.to_string(), 1);
        }
    }
}

/// Bytes of the response table parsed as one block (whole lines).
const BLOCK_BYTES: usize = 4 << 20;

/// Reads about `target` bytes of whole lines (the last line completed); `None` at the end.
/// Returns the bytes and the number of lines they hold (a last line without a newline
/// counts, as the line reader counts it).
fn read_block<R: std::io::BufRead>(input: &mut R, target: usize) -> Result<Option<(Vec<u8>, u64)>> {
    use std::io::Read;
    let mut buf = Vec::with_capacity(target + (64 << 10));
    input.by_ref().take(target as u64).read_to_end(&mut buf)?;
    if buf.is_empty() {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        input.read_until(b'\n', &mut buf)?;
    }
    let mut lines = buf.iter().filter(|b| **b == b'\n').count() as u64;
    if buf.last() != Some(&b'\n') {
        lines += 1;
    }
    Ok(Some((buf, lines)))
}

/// Counts per name, kept in order of first appearance.
#[derive(Default)]
struct FirstSeen {
    order: Vec<(String, u64)>,
    index: HashMap<String, usize>,
}

impl FirstSeen {
    fn add(&mut self, name: &str, n: u64) {
        match self.index.get(name) {
            Some(i) => self.order[*i].1 += n,
            None => {
                self.index.insert(name.to_string(), self.order.len());
                self.order.push((name.to_string(), n));
            }
        }
    }
}

/// Column positions of the response table used for its counts.
struct Cols {
    src: usize,
    cell: usize,
    drug: usize,
    study: usize,
    auc: usize,
    r2: usize,
    se: usize,
    recompute: bool,
}

/// The counts of one block of the response table.
#[derive(Default)]
struct RowStats {
    by_source: BTreeMap<String, u64>,
    quality: u64,
    with_auc: u64,
    q_by_source: BTreeMap<String, u64>,
    /// Drugs of quality rows with an AUC, in order of first appearance, with their rows.
    drugs: FirstSeen,
    /// Provided AUCs by curve, in input order (a later row wins, as in a map insert).
    auc: Vec<(CurveKey, f32)>,
}

impl RowStats {
    fn row<R: std::io::BufRead>(&mut self, r: &TsvReader<R>, c: &Cols) -> Result<()> {
        count(&mut self.by_source, r.field(c.src));
        let r2 = r.f32_at(c.r2)?;
        let se = r.f32_at(c.se)?;
        // NaN compares false, as in pandas.
        if r2.is_some_and(|v| v >= MIN_R2FIT) && se.is_some_and(|v| v <= MAX_EC50SE) {
            self.quality += 1;
            count(&mut self.q_by_source, r.field(c.src));
            if r.f32_at(c.auc)?.is_some_and(|v| !v.is_nan()) {
                self.with_auc += 1;
                self.drugs.add(r.field(c.drug), 1);
            }
        }
        if c.recompute
            && let Some(a) = r.f32_at(c.auc)?
        {
            self.auc.push((
                (
                    r.field(c.src).to_string(),
                    r.field(c.cell).to_string(),
                    r.field(c.drug).to_string(),
                    r.field(c.study).to_string(),
                ),
                a,
            ));
        }
        Ok(())
    }
}

fn read_responses(
    path: &Path,
    name: &str,
    scratch: &Path,
    opts: &CandleOptions,
    c: &mut Collected,
    mut tick: impl FnMut(u64),
) -> Result<InputFile> {
    if c.responses.is_some() {
        bail!("{name}: given twice");
    }
    let mut input = open(path)?;
    let (r, _) = TsvReader::new(name, &mut input, 0, true)?;
    let types = tables::bind(name, r.header(), &tables::response_schema())?;
    let h = r.header().to_vec();
    let idx = |n: &str| h.iter().position(|c| c == n).unwrap_or_default();
    let (i_src, i_cell, i_drug, i_study) = (idx("SOURCE"), idx("CELL"), idx("DRUG"), idx("STUDY"));
    let (i_auc, i_r2, i_se) = (idx("AUC"), idx("R2fit"), idx("EC50se"));
    let cols: Vec<(String, ColType)> = h.iter().cloned().zip(types).collect();
    let mut w = LongTableWriter::new(
        "data/responses",
        scratch,
        cols,
        Some(i_src),
        opts.rows_per_file,
    )?;
    let mut counts = TableCounts::default();
    let (mut quality, mut with_auc) = (0u64, 0u64);
    let mut q_by_source: BTreeMap<String, u64> = BTreeMap::new();
    let mut drugs = FirstSeen::default();
    let mut lines_before = r.line();
    let mut consumed = r.bytes();
    drop(r);
    // The rest of the file is cut into blocks of whole lines, parsed on all cores and
    // appended in input order (so the files and every count are as if read row by row).
    let cols = Cols {
        src: i_src,
        cell: i_cell,
        drug: i_drug,
        study: i_study,
        auc: i_auc,
        r2: i_r2,
        se: i_se,
        recompute: opts.recompute_auc,
    };
    let per_round = rayon::current_num_threads().max(1);
    // Reads the next round of blocks (one per core).
    let read_round = |input: &mut BufReader<HashingReader<File>>| -> Result<Vec<(Vec<u8>, u64)>> {
        let mut blocks = Vec::with_capacity(per_round);
        for _ in 0..per_round {
            match read_block(input, BLOCK_BYTES)? {
                Some(b) => blocks.push(b),
                None => break,
            }
        }
        Ok(blocks)
    };
    let mut next = read_round(&mut input)
        .with_context(|| format!("{name}: read error after line {lines_before}"))?;
    while !next.is_empty() {
        let blocks = std::mem::take(&mut next);
        let mut starts = Vec::with_capacity(blocks.len());
        for (bytes, lines) in &blocks {
            starts.push(lines_before);
            lines_before += lines;
            consumed += bytes.len() as u64;
        }
        // This round is parsed on all cores while the next one is read.
        let w_ref = &w;
        let (parsed, read) = rayon::join(
            || -> Vec<Result<(Block, RowStats)>> {
                use rayon::prelude::*;
                blocks
                    .par_iter()
                    .zip(starts)
                    .map(|((bytes, _), start)| {
                        let mut rr = TsvReader::continuation(name, &bytes[..], h.clone(), start);
                        let mut st = RowStats::default();
                        let block = w_ref.parse_block(&mut rr, |r| st.row(r, &cols))?;
                        Ok((block, st))
                    })
                    .collect()
            },
            || read_round(&mut input),
        );
        for p in parsed {
            let (block, st) = p?;
            counts.rows += block.rows;
            w.append(block)?;
            for (k, n) in st.by_source {
                *counts.by_source.entry(k).or_default() += n;
            }
            for (k, n) in st.q_by_source {
                *q_by_source.entry(k).or_default() += n;
            }
            quality += st.quality;
            with_auc += st.with_auc;
            for (d, n) in &st.drugs.order {
                drugs.add(d, *n);
            }
            c.provided_auc.extend(st.auc);
        }
        tick(consumed);
        // Errors in this round's lines come first; then a read error of the next round.
        next = read.with_context(|| format!("{name}: read error after line {lines_before}"))?;
    }
    c.drugs = drugs.order;
    c.files.extend(w.finish()?);
    let table = "read_parquet('data/responses/*/*.parquet', hive_partitioning=true)";
    c.view = Some(View {
        name: "quality".into(),
        table: "data/responses".into(),
        filter: QUALITY_FILTER.into(),
        rows: quality,
        rows_with_auc: Some(with_auc),
        rows_total: counts.rows,
        by_source: q_by_source,
        duckdb: format!("SELECT * FROM {table} WHERE {QUALITY_FILTER}"),
        pandas: "df[(df.R2fit >= 0.3) & (df.EC50se <= 3)]".into(),
        reference_frame_duckdb: None,
    });
    c.responses = Some(counts);
    finish_hash(path, input)
}

fn read_growth(
    path: &Path,
    name: &str,
    scratch: &Path,
    opts: &CandleOptions,
    c: &mut Collected,
    mut tick: impl FnMut(u64),
) -> Result<InputFile> {
    if c.growth.is_some() {
        bail!("{name}: given twice");
    }
    let mut input = open(path)?;
    let (mut r, _) = TsvReader::new(name, &mut input, 0, true)?;
    let types = tables::bind(name, r.header(), &tables::growth_schema())?;
    let h = r.header().to_vec();
    let idx = |n: &str| h.iter().position(|c| c == n).unwrap_or_default();
    let (i_src, i_drug, i_cell, i_exp) =
        (idx("SOURCE"), idx("DRUG_ID"), idx("CELLNAME"), idx("EXPID"));
    let (i_conc, i_growth) = (idx("LOG_CONCENTRATION"), idx("GROWTH"));
    let cols: Vec<(String, ColType)> = h.iter().cloned().zip(types).collect();
    let mut w = LongTableWriter::new(
        "data/growth",
        scratch,
        cols,
        Some(i_src),
        opts.rows_per_file,
    )?;
    let mut counts = TableCounts::default();
    while r.next_row()? {
        w.push(&r)?;
        counts.rows += 1;
        count(&mut counts.by_source, r.field(i_src));
        if opts.recompute_auc
            && let (Some(lc), Some(g)) = (r.f32_at(i_conc)?, r.f32_at(i_growth)?)
        {
            c.curves
                .entry((
                    r.field(i_src).to_string(),
                    r.field(i_cell).to_string(),
                    r.field(i_drug).to_string(),
                    r.field(i_exp).to_string(),
                ))
                .or_default()
                .push((-f64::from(lc), auc::normalise_growth(f64::from(g))));
        }
        if counts.rows.is_multiple_of(65_536) {
            tick(r.bytes());
        }
    }
    drop(r);
    c.files.extend(w.finish()?);
    c.growth = Some(counts);
    finish_hash(path, input)
}

fn read_combo(
    path: &Path,
    name: &str,
    scratch: &Path,
    opts: &CandleOptions,
    c: &mut Collected,
    mut tick: impl FnMut(u64),
) -> Result<InputFile> {
    if c.combo.is_some() {
        bail!("{name}: given twice");
    }
    let reader = || -> Result<BufReader<File>> {
        let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        Ok(BufReader::with_capacity(1 << 20, f))
    };
    // The header: the nine columns the reference reads must be there.
    let h = TsvReader::csv(name, reader()?)?.header().to_vec();
    tables::bind_combo(name, &h, &[])?;
    let inferred_columns: Vec<String> = h
        .iter()
        .filter(|n| !tables::COMBO_COLUMNS.iter().any(|(c, _)| c == *n))
        .cloned()
        .collect();
    // Pass 1 (only when the file has more columns): their types.
    let others = if inferred_columns.is_empty() {
        Vec::new()
    } else {
        let mut r = TsvReader::csv(name, reader()?)?;
        infer_types(&mut r)?.0
    };
    let types = tables::bind_combo(name, &h, &others)?;
    // Pass 2: write (and hash).
    let mut input = open(path)?;
    let mut r = TsvReader::csv(name, &mut input)?;
    let idx = |n: &str| h.iter().position(|c| c == n).unwrap_or_default();
    let (i_scr, i_valid, i_nsc2) = (idx("SCREENER"), idx("VALID"), idx("NSC2"));
    let cols: Vec<(String, ColType)> = h.iter().cloned().zip(types).collect();
    let mut w = LongTableWriter::derived_partition(
        COMBO_TABLE,
        scratch,
        cols.clone(),
        i_scr,
        "SOURCE",
        "ALMANAC.",
        opts.rows_per_file,
    )?;
    let mut counts = ComboCounts {
        columns: cols,
        inferred_columns,
        ..Default::default()
    };
    // Per SCREENER: (rows, valid rows).
    let mut by_screener: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    while r.next_row()? {
        w.push(&r)?;
        counts.rows += 1;
        let valid = r.field(i_valid) == "Y";
        let scr = r.field(i_scr);
        let e = match by_screener.get_mut(scr) {
            Some(e) => e,
            None => by_screener.entry(scr.to_string()).or_default(),
        };
        e.0 += 1;
        if valid {
            e.1 += 1;
            counts.valid_rows += 1;
        }
        if super::tsv::is_missing(r.field(i_nsc2)) {
            counts.single_drug_rows += 1;
        }
        if counts.rows.is_multiple_of(65_536) {
            tick(r.bytes());
        }
    }
    drop(r);
    c.files.extend(w.finish()?);
    counts.by_source = by_screener
        .iter()
        .map(|(k, v)| (format!("ALMANAC.{k}"), v.0))
        .collect();
    let table = format!("read_parquet('{COMBO_TABLE}/*/*.parquet', hive_partitioning=true)");
    c.combo_view = Some(View {
        name: "combo_valid".into(),
        table: COMBO_TABLE.into(),
        filter: COMBO_FILTER.into(),
        rows: counts.valid_rows,
        rows_with_auc: None,
        rows_total: counts.rows,
        by_source: by_screener
            .iter()
            .map(|(k, v)| (format!("ALMANAC.{k}"), v.1))
            .collect(),
        duckdb: format!("SELECT * FROM {table} WHERE {COMBO_FILTER}"),
        pandas: "df[df.VALID == 'Y']".into(),
        reference_frame_duckdb: Some(format!(
            "SELECT c.SOURCE, m.\"NCI60.ID\" AS CELL, 'NSC.' || c.NSC1 AS DRUG1, \
             -log10(c.CONC1) AS DOSE1, 'NSC.' || c.NSC2 AS DRUG2, -log10(c.CONC2) AS DOSE2, \
             c.PERCENTGROWTH / 100 AS GROWTH, c.STUDY FROM {table} c \
             LEFT JOIN read_parquet('data/annotations/NCI60_CELLNAME_to_Combo/part-0.parquet') m \
             ON m.Name = c.CELLNAME WHERE c.{COMBO_FILTER}"
        )),
    });
    c.combo = Some(counts);
    finish_hash(path, input)
}

fn read_annotation(
    path: &Path,
    name: &str,
    header: bool,
    scratch: &Path,
    opts: &CandleOptions,
    c: &mut Collected,
    mut tick: impl FnMut(u64),
) -> Result<InputFile> {
    // Pass 1: types.
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let (mut r, _) = TsvReader::new(name, BufReader::new(f), 0, header)?;
    let (types, _) = infer_types(&mut r)?;
    let h = r.header().to_vec();
    drop(r);
    // Pass 2: write (and hash).
    let mut input = open(path)?;
    let (mut r, _) = TsvReader::new(name, &mut input, 0, header)?;
    let cols: Vec<(String, ColType)> = h.iter().cloned().zip(types).collect();
    let table = tables::table_name(name);
    let mut w = LongTableWriter::new(
        &format!("data/annotations/{table}"),
        scratch,
        cols.clone(),
        None,
        opts.rows_per_file,
    )?;
    let (i_id, i_pub) = (
        h.iter().position(|c| c == "ID"),
        h.iter().position(|c| c == "PUBCHEM"),
    );
    let mut rows = 0u64;
    while r.next_row()? {
        w.push(&r)?;
        rows += 1;
        if name == "drug_info"
            && let (Some(i), Some(p)) = (i_id, i_pub)
        {
            let (id, cid) = (r.field(i), r.field(p));
            // drop_duplicates(['ID']) keeps the first; a missing PUBCHEM maps to nothing.
            if !super::tsv::is_missing(cid) && !c.pubchem.contains_key(id) {
                c.pubchem
                    .insert(id.to_string(), format!("PubChem.CID.{cid}"));
            }
        }
        if rows.is_multiple_of(65_536) {
            tick(r.bytes());
        }
    }
    drop(r);
    c.files.extend(w.finish()?);
    c.annotations.insert(table, cols);
    finish_hash(path, input)
}

fn recompute(c: &Collected, show: bool) -> Result<(RecordBatch, AucAgreement)> {
    let bar = progress::count_bar(show, c.curves.len() as u64, "fitting");
    let keys: Vec<&CurveKey> = c.curves.keys().collect();
    use rayon::prelude::*;
    let fits: Vec<Option<auc::Metrics>> = keys
        .par_iter()
        .map(|k| {
            let pts = &c.curves[*k];
            let xs: Vec<f64> = pts.iter().map(|p| p.0).collect();
            let ys: Vec<f64> = pts.iter().map(|p| p.1).collect();
            let m = auc::fit_metrics(&xs, &ys);
            bar.inc(1);
            m
        })
        .collect();
    bar.finish_and_clear();
    let mut agreement = AucAgreement::default();
    let mut diffs = Vec::new();
    for (k, m) in keys.iter().zip(&fits) {
        match m {
            Some(m) => {
                agreement.curves_fitted += 1;
                if let Some(a) = c.provided_auc.get(*k) {
                    let d = (m.AUC - f64::from(*a)).abs();
                    diffs.push(d);
                    agreement.within_0_01 += u64::from(d <= 0.01);
                }
            }
            None => agreement.curves_not_fitted += 1,
        }
    }
    agreement.matched_with_provided = diffs.len() as u64;
    if !diffs.is_empty() {
        agreement.mean_abs_diff = Some(diffs.iter().sum::<f64>() / diffs.len() as f64);
        agreement.max_abs_diff = Some(diffs.iter().cloned().fold(0.0, f64::max));
    }
    let s = |f: fn(&CurveKey) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(keys.iter().map(|k| f(k))))
    };
    let metric = |f: fn(&auc::Metrics) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from(
            fits.iter().map(|m| m.as_ref().map(f)).collect::<Vec<_>>(),
        ))
    };
    let names = [
        "AUC", "IC50", "EC50", "EC50se", "R2fit", "Einf", "HS", "AAC1", "AUC1", "DSS1",
    ];
    let getters: [fn(&auc::Metrics) -> f64; 10] = [
        |m| m.AUC,
        |m| m.IC50,
        |m| m.EC50,
        |m| m.EC50se,
        |m| m.R2fit,
        |m| m.Einf,
        |m| m.HS,
        |m| m.AAC1,
        |m| m.AUC1,
        |m| m.DSS1,
    ];
    let mut fields = vec![
        Field::new("SOURCE", DataType::Utf8, false),
        Field::new("CELL", DataType::Utf8, false),
        Field::new("DRUG", DataType::Utf8, false),
        Field::new("STUDY", DataType::Utf8, false),
        Field::new("points", DataType::Int64, false),
    ];
    let mut cols: Vec<ArrayRef> = vec![
        s(|k| &k.0),
        s(|k| &k.1),
        s(|k| &k.2),
        s(|k| &k.3),
        Arc::new(Int64Array::from_iter_values(
            keys.iter().map(|k| c.curves[*k].len() as i64),
        )),
    ];
    for (n, g) in names.iter().zip(getters) {
        fields.push(Field::new(*n, DataType::Float64, true));
        cols.push(metric(g));
    }
    fields.push(Field::new("AUC_provided", DataType::Float32, true));
    cols.push(Arc::new(arrow::array::Float32Array::from(
        keys.iter()
            .map(|k| c.provided_auc.get(*k).copied())
            .collect::<Vec<_>>(),
    )));
    Ok((
        RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?,
        agreement,
    ))
}

/// A small table as one Parquet file.
pub fn plain_parquet(batch: &RecordBatch) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut w =
        parquet::arrow::ArrowWriter::try_new(&mut buf, batch.schema(), Some(writer_properties()?))?;
    w.write(batch)?;
    w.close()?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_whole_lines_and_count_them_as_the_line_reader_does() {
        let mut text = String::from("a\tb\n");
        for i in 0..500 {
            text.push_str(&format!("{i}\t{}\n", i * 7));
            if i % 97 == 0 {
                text.push('\n'); // blank lines count too
            }
        }
        text.push_str("last\t1"); // no final newline
        let mut input = std::io::Cursor::new(text.as_bytes());
        let (r, _) = TsvReader::new("t", &mut input, 0, true).expect("header");
        let (header, mut line) = (r.header().to_vec(), r.line());
        drop(r);
        let mut joined = b"a\tb\n".to_vec();
        let mut rows = 0;
        while let Some((bytes, lines)) = read_block(&mut input, 100).expect("block") {
            assert!(bytes.ends_with(b"\n") || bytes.ends_with(b"last\t1"));
            let mut rr = TsvReader::continuation("t", &bytes[..], header.clone(), line);
            while rr.next_row().expect("row") {
                rows += 1;
                // Each row's line number is its line in the whole file.
                let want = text.lines().nth(rr.line() as usize - 1).expect("line");
                assert_eq!(want, format!("{}\t{}", rr.field(0), rr.field(1)));
            }
            assert_eq!(rr.line(), line + lines);
            line += lines;
            joined.extend_from_slice(&bytes);
        }
        assert_eq!(joined, text.as_bytes());
        assert_eq!(rows, 501);
        assert_eq!(line, text.lines().count() as u64);
    }
}

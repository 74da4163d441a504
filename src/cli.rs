//! The command line: argument parsing and dispatch only; the work lives in the library.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};

use crate::address::{Address, parse_version};
use crate::ingest::IngestCommon;
use crate::sources::usgs;
use crate::verify::VerifyOptions;
use crate::{demo, diff, inspect, report, verify};

/// Turn raw scientific sources into FAIR, versioned, verifiable ML benchmark datasets.
///
/// A version is an immutable BagIt bag of Zarr v3 arrays and Parquet tables, named by the
/// SHA-256 digest of its payload manifest. Versions are addressed as
/// <repository>/<dataset>@<version>, e.g. ./repo/tevolop@1.0.0.
#[derive(Debug, Parser)]
#[command(name = "sciml-data", version, max_term_width = 100)]
pub struct Cli {
    /// Never show progress bars (they are shown only on a terminal anyway).
    #[arg(long, global = true)]
    pub no_progress: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole pipeline offline on built-in synthetic data (start here).
    ///
    /// Synthesizes a realistic ComCat earthquake catalogue, ingests two versions into a
    /// local repository, and shows log, info, verify and diff on them; then synthesizes and
    /// ingests CANDLE-UNO, STEMDL (CBED) and CloudMask (SLSTR) sources and scores the
    /// baseline models on the demo versions.
    Demo {
        /// Working directory for the raw files and the repository.
        #[arg(long, default_value = "sciml-demo")]
        dir: PathBuf,
        /// Number of events in the first synthetic catalogue.
        #[arg(long, default_value_t = 60_000)]
        events: usize,
        /// Leave out a step (repeatable): candle, cbed (STEMDL), slstr (CloudMask, the
        /// slowest: two full-size scenes) or score (the baseline scores).
        #[arg(long, value_name = "STEP", value_parser = ["candle", "cbed", "slstr", "score"])]
        skip: Vec<String>,
    },
    /// Download raw source files.
    #[command(subcommand)]
    Fetch(FetchSource),
    /// Convert raw source files into a new immutable version in a local repository.
    #[command(subcommand)]
    Ingest(IngestSource),
    /// List the versions of a dataset: sciml-data log ./repo/tevolop
    Log {
        /// <repository>/<dataset>
        dataset: String,
        /// Print JSON (the version records).
        #[arg(long)]
        json: bool,
    },
    /// Show a version's record, inputs and contents: sciml-data info ./repo/tevolop@1.0.0
    Info {
        /// <repository>/<dataset>@<version>
        version: String,
        #[arg(long)]
        json: bool,
    },
    /// Re-hash every file of a version; exit 0 only if every byte matches.
    ///
    /// Reports missing, extra and corrupt files by name and exits with status 1 on any
    /// mismatch. --fast checks presence and sizes only.
    Verify {
        /// <repository>/<dataset>@<version>
        version: String,
        /// Check presence and sizes only (no hashing of payload files). The default for
        /// remote repositories, where it also compares the SHA-256 stored with each object.
        #[arg(long, conflicts_with = "full")]
        fast: bool,
        /// Re-hash every byte (the default for local versions; for remote ones it streams
        /// every object).
        #[arg(long)]
        full: bool,
        /// Print the report as JSON; with a FILE, write it there instead (with --score: the
        /// score result record, schemas/score-result.schema.json).
        #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "-")]
        json: Option<PathBuf>,
        /// After verifying, run the benchmark's baseline ONNX model on the evaluation split
        /// and print the metric, the catalog's target and reference result, pass or fail,
        /// throughput and latency.
        ///
        /// Example: sciml-data verify ./repo/candle-uno@1.0.0 --score --ep cpu --json result.json
        #[arg(long)]
        score: bool,
        /// Score this ONNX model instead of the catalog's baseline (its SHA-256 is recorded).
        #[arg(long, value_name = "FILE", requires = "score")]
        model: Option<PathBuf>,
        /// Execution provider: auto tries TensorRT, then CUDA, then CPU and says why it skipped
        /// any; an explicit provider that cannot load is an error. ONNX Runtime is found
        /// through ORT_DYLIB_PATH, SCIML_DATA_ORT_DIR, the executable's folder, or the
        /// onnxruntime Python package ($VIRTUAL_ENV, ./.venv, python3).
        #[arg(long, value_enum, default_value = "auto", requires = "score")]
        ep: crate::scoring::Ep,
        /// Split to evaluate (default: the catalog's evaluation split; `all` = every split).
        #[arg(long, requires = "score")]
        split: Option<String>,
        /// Samples per model call.
        #[arg(long, default_value_t = 64, requires = "score")]
        batch: usize,
        /// ONNX Runtime intra-op threads (0 = ONNX Runtime's default).
        #[arg(long, default_value_t = 0, requires = "score")]
        threads: usize,
        /// Write every prediction with its observed value and keys to this Parquet file.
        #[arg(long, value_name = "FILE", requires = "score")]
        predictions: Option<PathBuf>,
    },
    /// List added, removed and changed objects between two versions.
    ///
    /// Example: sciml-data diff ./repo/tevolop@1.0.0 1.1.0
    Diff {
        /// <repository>/<dataset>@<version>
        from: String,
        /// Another version of the same dataset (1.1.0) or a full address.
        to: String,
        #[arg(long)]
        json: bool,
    },
    /// Publish a local version to an object store, atomically and resumably.
    ///
    /// Example: sciml-data publish ./repo/tevolop@1.0.0 --to s3://sciml-datasets/science
    ///
    /// S3 settings come from the standard AWS variables (AWS_ENDPOINT_URL, AWS_REGION,
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_VIRTUAL_HOSTED_STYLE_REQUEST); credentials
    /// are never printed. Re-running a killed publish resumes it; publishing the same content
    /// again uploads nothing.
    Publish {
        /// <repository>/<dataset>@<version> (a local version)
        version: String,
        /// Target repository URL: s3://bucket/prefix, gs://…, az://…, file:///path
        #[arg(long, value_name = "URL")]
        to: String,
        /// Publish even where the store ignores conditional writes (the record will say so).
        #[arg(long)]
        unsafe_no_conditional_writes: bool,
        /// Parallel uploads.
        #[arg(long, default_value_t = 8)]
        jobs: usize,
        #[arg(long)]
        json: bool,
    },
    /// Download a version, or only the part you ask for, verifying every object.
    ///
    /// Examples:
    ///   sciml-data pull s3://bucket/science/tevolop@1.0.0 --to ./data --table events --where 'year>=2010'
    ///   sciml-data pull s3://bucket/science/tevolop@1.0.0 --to ./data --select 'daily/n_shock[0:365, :, :]'
    ///   sciml-data pull https://host/science/tevolop@1.0.0 --to ./data
    ///
    /// The result is a local repository holding a (partial) copy with the same layout, which
    /// `sciml-data verify ./data/<dataset>@<version>` checks.
    Pull {
        /// <repository URL>/<dataset>@<version>
        version: String,
        /// Local repository directory to pull into.
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
        /// Only these tables (e.g. events; a Parquet dataset directory or file stem).
        #[arg(long)]
        table: Vec<String>,
        /// Only these arrays (e.g. n_shock or daily/n_shock).
        #[arg(long)]
        array: Vec<String>,
        /// Only objects of this split (paths with a split=<name> partition).
        #[arg(long)]
        split: Vec<String>,
        /// Partition filter on hive keys, e.g. 'year>=2010' (repeatable; all must hold).
        #[arg(long = "where", value_name = "KEY OP VALUE")]
        wheres: Vec<String>,
        /// Index ranges of an array, e.g. 'daily/n_shock[0:365, :, :]' (only the chunks that
        /// intersect are fetched).
        #[arg(long)]
        select: Vec<String>,
        /// Print what would be fetched and stop.
        #[arg(long)]
        dry_run: bool,
        /// Parallel downloads.
        #[arg(long, default_value_t = 8)]
        jobs: usize,
        #[arg(long)]
        json: bool,
    },
    /// Export a version to the layouts that existing reference code reads.
    Export {
        /// <repository>/<dataset>@<version>
        version: String,
        /// Write the TEvolOp notebook's SC_*.multi.csv files into this directory.
        #[arg(long, value_name = "DIR")]
        reference_csv: PathBuf,
    },
    /// Write synthetic raw source files (the generators the demo and benchmarks use).
    #[command(subcommand)]
    Synth(SynthSource),
    /// Print a version's DataCite 4.6 or Croissant 1.1 metadata; register it with DataCite.
    ///
    /// Example: sciml-data metadata ./repo/tevolop@1.0.0 --format datacite
    Metadata(crate::metadata::command::MetadataArgs),
    /// The benchmark catalog: list, show, render (Markdown) and check its entries.
    #[command(subcommand)]
    Catalog(crate::catalog::CatalogCommand),
}

#[derive(Debug, Subcommand)]
pub enum FetchSource {
    /// The USGS ComCat catalogue from the FDSN event service (CSV pages, resumable).
    Usgs(FetchUsgs),
    /// The CANDLE Pilot1 files (HTTPS, parallel, resumable with HTTP Range, SHA-256 recorded).
    Candle(FetchCandle),
}

#[derive(Debug, Args)]
pub struct FetchUsgs {
    /// Output directory for the CSV pages and usgs-fetch.json (the queries made).
    #[arg(long, default_value = "raw")]
    pub out: PathBuf,
    /// First day (inclusive).
    #[arg(long, default_value = "1950-01-01")]
    pub start: NaiveDate,
    /// Last day (exclusive); default: tomorrow (UTC), so today is included.
    #[arg(long)]
    pub end: Option<NaiveDate>,
    #[arg(long, default_value_t = 32.0, allow_hyphen_values = true)]
    pub min_latitude: f64,
    #[arg(long, default_value_t = 36.0, allow_hyphen_values = true)]
    pub max_latitude: f64,
    #[arg(long, default_value_t = -120.0, allow_hyphen_values = true)]
    pub min_longitude: f64,
    #[arg(long, default_value_t = -114.0, allow_hyphen_values = true)]
    pub max_longitude: f64,
    #[arg(long, allow_hyphen_values = true)]
    pub min_magnitude: Option<f64>,
    /// Days per request window (windows over the service's 20,000-event limit are split).
    #[arg(long, default_value_t = 365)]
    pub window_days: u32,
    /// The FDSN event query endpoint.
    #[arg(long, default_value = usgs::fetch::DEFAULT_BASE_URL)]
    pub base_url: String,
}

#[derive(Debug, Subcommand)]
pub enum IngestSource {
    /// USGS ComCat CSV (22- or 15-column) to the TEvolOp dataset `tevolop`.
    ///
    /// Example: sciml-data ingest usgs --input raw/*.csv --repo ./repo --version 1.0.0 --message "1950-2025 SoCal"
    Usgs(IngestUsgs),
    /// CANDLE Pilot1 TSV files (a directory or files) to the CANDLE-UNO dataset `candle-uno`.
    ///
    /// Example: sciml-data ingest candle --input raw/ --repo ./repo --version 1.0.0
    Candle(IngestCandle),
    /// ORNL CBED HDF5 batch files (or the preprocessed .npz samples) to the STEMDL dataset `stemdl`.
    ///
    /// Example: sciml-data ingest cbed --input /data/cbed/batch_{train,dev,test}_*.h5 --repo ./repo --version 1.0.0
    Cbed(IngestCbed),
    /// Sentinel-3 SLSTR Level-1 products (SAFE folders or the preprocessed .hdf files) to the
    /// CloudMask dataset `cloudmask`.
    ///
    /// Example: sciml-data ingest slstr --input /data/S3A_SL_1_RBT____*.SEN3 --repo ./repo --version 1.0.0
    Slstr(IngestSlstr),
}

#[derive(Debug, Args)]
pub struct IngestCbed {
    /// HDF5 batch files batch_<train|dev|test>_<k>.h5, or directories of them, or directories
    /// of .npz samples named train/training, dev/validation, test/testing, inference.
    #[arg(long, short, num_args = 1.., required = true)]
    pub input: Vec<PathBuf>,
    #[command(flatten)]
    pub common: CommonIngest,
    /// Dataset name.
    #[arg(long, default_value = crate::sources::cbed::ingest::DATASET)]
    pub dataset: String,
    /// Samples per shard object (memory holds one shard: about 3 MiB per sample).
    #[arg(long, default_value_t = 256)]
    pub shard_samples: u64,
}

#[derive(Debug, Args)]
pub struct CommonIngest {
    /// Local repository directory (created if missing).
    #[arg(long)]
    pub repo: String,
    /// The new version (semver, e.g. 1.0.0). Versions are immutable.
    #[arg(long)]
    pub version: String,
    /// A message recorded with the version.
    #[arg(long, short, default_value = "")]
    pub message: String,
}

#[derive(Debug, Args)]
pub struct IngestUsgs {
    /// ComCat CSV files (the pages of `fetch usgs`, or feed exports).
    #[arg(long, short, num_args = 1.., required = true)]
    pub input: Vec<PathBuf>,
    #[command(flatten)]
    pub common: CommonIngest,
    /// Dataset name.
    #[arg(long, default_value = usgs::ingest::DATASET)]
    pub dataset: String,
    /// Skip and count malformed rows instead of stopping at the first one.
    #[arg(long)]
    pub skip_bad_rows: bool,
    /// First day of the grid (default: January 1st of the first benchmark event's year).
    #[arg(long)]
    pub grid_start: Option<NaiveDate>,
    /// Last day of the grid (default: the day of the last benchmark event).
    #[arg(long)]
    pub grid_end: Option<NaiveDate>,
    /// Seed of the train/validation location shuffle.
    #[arg(long, default_value_t = 2020)]
    pub split_seed: u64,
}

#[derive(Debug, Subcommand)]
pub enum SynthSource {
    /// A synthetic ComCat CSV catalogue of Southern California.
    Usgs {
        /// Output CSV file.
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 60_000)]
        events: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long, default_value_t = 1990)]
        start_year: i32,
        #[arg(long, default_value_t = 2019)]
        end_year: i32,
        /// Write the older 15-column layout.
        #[arg(long)]
        legacy: bool,
    },
    /// A synthetic CANDLE Pilot1 file set (real file names and columns, Hill-model curves).
    Candle {
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 2018)]
        seed: u64,
        /// Cell lines per source (5 sources).
        #[arg(long, default_value_t = 12)]
        cells_per_source: usize,
        /// Drugs per source.
        #[arg(long, default_value_t = 10)]
        drugs_per_source: usize,
        /// Noise (standard deviation) on normalised growth; 0 for exact Hill curves.
        #[arg(long, default_value_t = 0.03)]
        noise: f64,
        /// Write only a response table of this many rows (benchmark input).
        #[arg(long)]
        response_rows: Option<u64>,
        /// RNA-seq genes per cell line (the benchmark's LINCS1000 landmark set has 942).
        #[arg(long, default_value_t = 64)]
        genes: usize,
        /// Dragon7 descriptors per drug (the benchmark's files have 5,270).
        #[arg(long, default_value_t = 120)]
        descriptors: usize,
    },
    /// Synthetic ORNL CBED HDF5 batch files (real group and attribute layout, Bragg-disk patterns).
    Cbed {
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 2019)]
        seed: u64,
        /// Sample groups per file.
        #[arg(long, default_value_t = 16)]
        samples: usize,
        /// Training files.
        #[arg(long, default_value_t = 2)]
        train_files: usize,
        /// Dev files.
        #[arg(long, default_value_t = 1)]
        dev_files: usize,
        /// Test files.
        #[arg(long, default_value_t = 1)]
        test_files: usize,
    },
    /// Synthetic SLSTR Level-1 RBT products in the real SAFE layout (netCDF-4, full size by
    /// default), optionally with their preprocessed .hdf form.
    Slstr {
        /// Output directory (one <name>.SEN3 folder per scene; .hdf files under hdf/day, hdf/night).
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 3)]
        scenes: usize,
        #[arg(long, default_value_t = 2019)]
        seed: u64,
        /// The 1 km grid ROWSxCOLUMNS (the 500 m grid is twice that).
        #[arg(long, default_value = "1200x1500", value_parser = parse_grid)]
        grid: (u64, u64),
        /// A small grid (120x150) for quick tests; overrides --grid.
        #[arg(long)]
        small: bool,
        /// Name the first N scenes after products of the reference's test list.
        #[arg(long, default_value_t = 0)]
        test_names: usize,
        /// Also write the preprocessed .hdf form of every scene.
        #[arg(long)]
        hdf: bool,
        /// Deflate level of the netCDF variables (0 = none).
        #[arg(long, default_value_t = 1)]
        deflate: u8,
    },
}

#[derive(Debug, Args)]
pub struct FetchCandle {
    /// Output directory for the files and candle-fetch.json (sizes and SHA-256).
    #[arg(long, default_value = "raw")]
    pub out: PathBuf,
    /// The directory the files are read from.
    #[arg(long, default_value = crate::sources::candle::fetch::DEFAULT_BASE_URL)]
    pub base_url: String,
    /// Fetch only these files (repeatable); default: the files of the Uno AUC benchmark.
    #[arg(long = "file", value_name = "NAME")]
    pub files: Vec<String>,
    /// Files downloaded at the same time.
    #[arg(long, default_value_t = 4)]
    pub parallel: usize,
}

#[derive(Debug, Args)]
pub struct IngestSlstr {
    /// SAFE product folders (*.SEN3), preprocessed *.hdf files, or directories searched for
    /// either (one form per version).
    #[arg(long, short, num_args = 1.., required = true)]
    pub input: Vec<PathBuf>,
    #[command(flatten)]
    pub common: CommonIngest,
    /// Dataset name.
    #[arg(long, default_value = crate::sources::slstr::ingest::DATASET)]
    pub dataset: String,
    /// The 1 km grid ROWSxCOLUMNS every product must have (the 500 m grid is twice that).
    #[arg(long, default_value = "1200x1500", value_parser = parse_grid)]
    pub grid: (u64, u64),
    /// Seed of the train/validation split (the reference's random_state).
    #[arg(long, default_value_t = 42)]
    pub split_seed: u32,
}

/// Parses `ROWSxCOLUMNS`.
pub fn parse_grid(s: &str) -> std::result::Result<(u64, u64), String> {
    let (r, c) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("{s:?}: expected ROWSxCOLUMNS, e.g. 1200x1500"))?;
    let p = |v: &str| {
        v.trim()
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("{s:?}: {v:?} is not a positive number"))
    };
    Ok((p(r)?, p(c)?))
}

#[derive(Debug, Args)]
pub struct IngestCandle {
    /// A directory of CANDLE files (e.g. the output of `fetch candle`) or single files.
    #[arg(long, short, num_args = 1.., required = true)]
    pub input: Vec<PathBuf>,
    #[command(flatten)]
    pub common: CommonIngest,
    /// Dataset name.
    #[arg(long, default_value = crate::sources::candle::ingest::DATASET)]
    pub dataset: String,
    /// Seed of the ShuffleSplit over drug groups.
    #[arg(long, default_value_t = 2018)]
    pub split_seed: u32,
    /// Share of drug groups held out for validation.
    #[arg(long, default_value_t = 0.2)]
    pub validation_fraction: f64,
    /// Refit every growth curve (Hill model) and write data/recomputed/responses.parquet.
    #[arg(long)]
    pub recompute_auc: bool,
    /// Rows per Parquet file before a partition rolls over to the next part.
    #[arg(long, default_value_t = 5_000_000)]
    pub rows_per_file: u64,
}

fn print_json<T: serde::Serialize>(v: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// Runs the command line; returns the process exit code.
pub async fn run(cli: Cli) -> Result<ExitCode> {
    let progress = !cli.no_progress && std::io::stderr().is_terminal();
    match cli.command {
        Command::Demo { dir, events, skip } => {
            demo::run(&demo::DemoOptions {
                dir,
                events,
                progress,
                skip,
            })
            .await?;
        }
        Command::Fetch(FetchSource::Usgs(a)) => {
            let defaults = usgs::fetch::FetchOptions::default();
            let opts = usgs::fetch::FetchOptions {
                out: a.out,
                base_url: a.base_url,
                start: a.start,
                end: a.end.unwrap_or(defaults.end),
                min_latitude: a.min_latitude,
                max_latitude: a.max_latitude,
                min_longitude: a.min_longitude,
                max_longitude: a.max_longitude,
                min_magnitude: a.min_magnitude,
                window_days: a.window_days,
                progress,
                ..defaults
            };
            let prov = usgs::fetch::fetch(&opts).await?;
            let rows: u64 = prov.pages.iter().map(|p| p.rows).sum();
            println!(
                "fetched {rows} events in {} pages into {} (queries recorded in {})",
                prov.pages.len(),
                opts.out.display(),
                opts.out.join(usgs::fetch::PROVENANCE_FILE).display()
            );
        }
        Command::Ingest(IngestSource::Usgs(a)) => {
            let common = IngestCommon {
                repo: a.common.repo,
                dataset: a.dataset,
                version: parse_version(&a.common.version)?,
                message: a.common.message,
                progress,
            };
            let opts = usgs::ingest::UsgsOptions {
                inputs: a.input,
                skip_bad_rows: a.skip_bad_rows,
                grid_start: a.grid_start,
                grid_end: a.grid_end,
                split: usgs::split::SplitOptions {
                    seed: a.split_seed,
                    ..Default::default()
                },
                ..Default::default()
            };
            let result = usgs::ingest::ingest(&common, &opts).await?;
            print!("{}", report::ingest(&result));
        }
        Command::Fetch(FetchSource::Candle(a)) => {
            use crate::sources::candle::fetch;
            let defaults = fetch::FetchOptions::default();
            let opts = fetch::FetchOptions {
                out: a.out,
                base_url: a.base_url,
                files: if a.files.is_empty() {
                    defaults.files.clone()
                } else {
                    a.files
                },
                parallel: a.parallel,
                progress,
                ..defaults
            };
            let prov = fetch::fetch(&opts).await?;
            let bytes: u64 = prov.files.iter().map(|f| f.size).sum();
            println!(
                "fetched {} files ({}) into {} (sizes and SHA-256 in {})",
                prov.files.len(),
                report::bytes(bytes),
                opts.out.display(),
                opts.out.join(fetch::PROVENANCE_FILE).display()
            );
        }
        Command::Ingest(IngestSource::Candle(a)) => {
            use crate::sources::candle::{ingest, split};
            let common = IngestCommon {
                repo: a.common.repo,
                dataset: a.dataset,
                version: parse_version(&a.common.version)?,
                message: a.common.message,
                progress,
            };
            let opts = ingest::CandleOptions {
                inputs: a.input,
                split: split::SplitOptions {
                    seed: a.split_seed,
                    validation_fraction: a.validation_fraction,
                },
                recompute_auc: a.recompute_auc,
                rows_per_file: a.rows_per_file,
                ..Default::default()
            };
            let result = ingest::ingest(&common, &opts).await?;
            print!("{}", report::ingest(&result));
        }
        Command::Ingest(IngestSource::Cbed(a)) => {
            use crate::sources::cbed::ingest;
            let common = IngestCommon {
                repo: a.common.repo,
                dataset: a.dataset,
                version: parse_version(&a.common.version)?,
                message: a.common.message,
                progress,
            };
            let opts = ingest::CbedOptions {
                inputs: a.input,
                shard_samples: a.shard_samples,
            };
            let result = ingest::ingest(&common, &opts).await?;
            print!("{}", report::ingest(&result));
        }
        Command::Synth(SynthSource::Cbed {
            out,
            seed,
            samples,
            train_files,
            dev_files,
            test_files,
        }) => {
            use crate::sources::cbed::synth;
            let stats = synth::synthesize(
                &synth::SynthOptions {
                    seed,
                    files: [train_files, dev_files, test_files],
                    samples_per_file: samples,
                },
                &out,
            )?;
            println!(
                "wrote {} files to {} ({} samples)",
                stats.files.len(),
                out.display(),
                stats.samples
            );
        }
        Command::Synth(SynthSource::Candle {
            out,
            seed,
            cells_per_source,
            drugs_per_source,
            noise,
            response_rows,
            genes,
            descriptors,
        }) => {
            use crate::sources::candle::synth;
            if let Some(rows) = response_rows {
                std::fs::create_dir_all(&out)
                    .with_context(|| format!("cannot create {}", out.display()))?;
                let p = out.join("combined_single_response_agg");
                synth::write_large_responses(&p, rows, seed)?;
                println!("wrote {rows} response rows to {}", p.display());
            } else {
                let stats = synth::synthesize(
                    &synth::SynthOptions {
                        seed,
                        cells_per_source,
                        drugs_per_source,
                        noise,
                        genes,
                        descriptors,
                        ..Default::default()
                    },
                    &out,
                )?;
                println!(
                    "wrote {} files to {} ({} responses, {} growth rows, {} drug-pair rows, {} cells, {} drugs)",
                    stats.files.len(),
                    out.display(),
                    stats.responses,
                    stats.growth_rows,
                    stats.combo_rows,
                    stats.cells,
                    stats.drugs
                );
            }
        }
        Command::Ingest(IngestSource::Slstr(a)) => {
            use crate::sources::slstr::{ingest, split};
            let common = IngestCommon {
                repo: a.common.repo,
                dataset: a.dataset,
                version: parse_version(&a.common.version)?,
                message: a.common.message,
                progress,
            };
            let opts = ingest::SlstrOptions {
                inputs: a.input,
                grid: a.grid,
                split: split::SplitOptions {
                    seed: a.split_seed,
                    ..Default::default()
                },
            };
            let result = ingest::ingest(&common, &opts).await?;
            print!("{}", report::ingest(&result));
        }
        Command::Synth(SynthSource::Slstr {
            out,
            scenes,
            seed,
            grid,
            small,
            test_names,
            hdf,
            deflate,
        }) => {
            use crate::sources::slstr::synth;
            let grid = if small { (120, 150) } else { grid };
            let stats = synth::synthesize(
                &synth::SynthOptions {
                    scenes,
                    seed,
                    grid: (grid.0 as usize, grid.1 as usize),
                    test_names,
                    hdf,
                    deflate,
                },
                &out,
            )?;
            println!(
                "wrote {} SAFE products{} to {} ({})",
                stats.products.len(),
                if hdf {
                    format!(" and {} .hdf files", stats.hdf_files.len())
                } else {
                    String::new()
                },
                out.display(),
                report::bytes(stats.bytes)
            );
        }
        Command::Log { dataset, json } => {
            let addr = Address::parse(&dataset)?;
            let versions = inspect::log(&addr).await?;
            if json {
                print_json(&versions)?;
            } else {
                print!("{}", report::log(&addr.dataset, &versions));
            }
        }
        Command::Info { version, json } => {
            let addr = Address::parse(&version)?;
            let info = inspect::info(&addr).await?;
            if json {
                print_json(&info)?;
            } else {
                print!("{}", report::info(&info));
            }
        }
        Command::Verify {
            version,
            fast,
            full,
            json,
            score,
            model,
            ep,
            split,
            batch,
            threads,
            predictions,
        } => {
            let addr = Address::parse(&version)?;
            if score {
                let opts = crate::scoring::ScoreOptions {
                    model,
                    ep,
                    split,
                    batch,
                    threads,
                    predictions,
                    progress,
                };
                // Any error of scoring itself (bad model, missing runtime, ...) is status 2,
                // apart from 1 (data did not verify) and 3 (target not met).
                let (r, rec) = match crate::scoring::score_address(&addr, &opts).await {
                    Ok(x) => x,
                    Err(e) => {
                        eprintln!("error: {e:#}");
                        return Ok(ExitCode::from(2));
                    }
                };
                let Some(rec) = rec else {
                    print!("{}", report::verify(&addr.to_string(), &r));
                    eprintln!("not scored: the data did not verify");
                    return Ok(ExitCode::from(1));
                };
                match json.as_deref() {
                    Some(p) if p == std::path::Path::new("-") => {
                        print_json(&crate::scoring::record_json(&rec)?)?
                    }
                    Some(p) => {
                        crate::scoring::write_record(p, &rec)?;
                        print!("{}", report::verify(&addr.to_string(), &r));
                        print!("{}", crate::scoring::summary(&rec));
                        println!("   record   {}", p.display());
                    }
                    None => {
                        print!("{}", report::verify(&addr.to_string(), &r));
                        print!("{}", crate::scoring::summary(&rec));
                    }
                }
                return Ok(if rec.target.pass {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(3)
                });
            }
            let fast = if crate::remote::is_remote(&addr.repository) {
                !full
            } else {
                fast
            };
            let r = verify::verify_address(&addr, VerifyOptions { fast, progress }).await?;
            if let Some(p) = json.as_deref().filter(|p| *p != std::path::Path::new("-")) {
                std::fs::write(p, serde_json::to_vec_pretty(&r)?)
                    .with_context(|| format!("cannot write {}", p.display()))?;
                print!("{}", report::verify(&addr.to_string(), &r));
            } else if json.is_some() {
                print_json(&r)?;
            } else {
                print!("{}", report::verify(&addr.to_string(), &r));
            }
            if !r.ok() {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Diff { from, to, json } => {
            let a = Address::parse(&from)?;
            let d = diff::diff_addresses(&a, &to).await?;
            if json {
                print_json(&d)?;
            } else {
                print!("{}", report::diff(&d));
            }
        }
        Command::Publish {
            version,
            to,
            unsafe_no_conditional_writes,
            jobs,
            json,
        } => {
            let addr = Address::parse(&version)?;
            let r = crate::publish::publish(
                &addr,
                &to,
                &crate::publish::PublishOptions {
                    unsafe_no_conditional_writes,
                    jobs,
                    progress,
                },
            )
            .await?;
            if json {
                print_json(&r)?;
            } else {
                print!("{}", report::publish(&r));
            }
        }
        Command::Pull {
            version,
            to,
            table,
            array,
            split,
            wheres,
            select,
            dry_run,
            jobs,
            json,
        } => {
            let addr = Address::parse(&version)?;
            let selection = crate::pull::Selection {
                tables: table,
                arrays: array,
                splits: split,
                wheres: wheres
                    .iter()
                    .map(|w| crate::pull::Predicate::parse(w))
                    .collect::<Result<_>>()?,
                selects: select
                    .iter()
                    .map(|s| crate::pull::ArraySelect::parse(s))
                    .collect::<Result<_>>()?,
            };
            let r = crate::pull::pull(
                &addr,
                &to,
                &crate::pull::PullOptions {
                    selection,
                    dry_run,
                    jobs,
                    progress,
                },
            )
            .await?;
            if json {
                print_json(&r)?;
            } else {
                print!("{}", report::pull(&r));
            }
        }
        Command::Export {
            version,
            reference_csv,
        } => {
            let addr = Address::parse(&version)?;
            let r = verify::verify_address(
                &addr,
                VerifyOptions {
                    fast: true,
                    progress,
                },
            )
            .await?;
            if !r.ok() {
                eprint!("{}", report::verify(&addr.to_string(), &r));
                anyhow::bail!("{addr} failed verification; not exporting");
            }
            let repo = crate::repository::Repository::open(&addr.repository)?;
            let bag = repo.bag_dir(&addr.dataset, addr.require_version()?);
            let files = usgs::export::reference_csv(&bag, &reference_csv, progress).await?;
            for f in files {
                println!("wrote {}", f.display());
            }
        }
        Command::Metadata(a) => return crate::metadata::command::run(a).await,
        Command::Catalog(c) => return crate::catalog::run_command(c).await,
        Command::Synth(SynthSource::Usgs {
            out,
            events,
            seed,
            start_year,
            end_year,
            legacy,
        }) => {
            let f = std::fs::File::create(&out)
                .with_context(|| format!("cannot create {}", out.display()))?;
            let mut w = std::io::BufWriter::new(f);
            let stats = usgs::synth::synthesize(
                &usgs::synth::SynthOptions {
                    seed,
                    start_year,
                    end_year,
                    events,
                    layout: if legacy {
                        usgs::synth::CsvLayout::Legacy15
                    } else {
                        usgs::synth::CsvLayout::Current22
                    },
                },
                &mut w,
            )?;
            std::io::Write::flush(&mut w)?;
            println!("wrote {} events to {}", stats.events, out.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }
}

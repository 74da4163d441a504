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
    /// local repository, and shows log, info, verify and diff on them.
    Demo {
        /// Working directory for the raw files and the repository.
        #[arg(long, default_value = "sciml-demo")]
        dir: PathBuf,
        /// Number of events in the first synthetic catalogue.
        #[arg(long, default_value_t = 60_000)]
        events: usize,
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
        /// Check presence and sizes only (no hashing of payload files).
        #[arg(long)]
        fast: bool,
        #[arg(long)]
        json: bool,
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
}

#[derive(Debug, Subcommand)]
pub enum FetchSource {
    /// The USGS ComCat catalogue from the FDSN event service (CSV pages, resumable).
    Usgs(FetchUsgs),
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
}

fn print_json<T: serde::Serialize>(v: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// Runs the command line; returns the process exit code.
pub async fn run(cli: Cli) -> Result<ExitCode> {
    let progress = !cli.no_progress && std::io::stderr().is_terminal();
    match cli.command {
        Command::Demo { dir, events } => {
            demo::run(&demo::DemoOptions {
                dir,
                events,
                progress,
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
            json,
        } => {
            let addr = Address::parse(&version)?;
            let r = verify::verify_address(&addr, VerifyOptions { fast, progress }).await?;
            if json {
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

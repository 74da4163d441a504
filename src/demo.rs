//! `sciml-data demo`: the main job on an embedded default, offline. It synthesizes a
//! realistic ComCat catalogue, ingests two versions into a local repository, and shows
//! log, info, verify and diff on them.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::address::Address;
use crate::ingest::IngestCommon;
use crate::sources::usgs::ingest::{UsgsOptions, ingest};
use crate::sources::usgs::synth::{CsvLayout, SynthOptions, synthesize};
use crate::verify::{VerifyOptions, verify_address};
use crate::{diff, inspect, report};

/// Demo settings.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Working directory (raw files and the repository go inside).
    pub dir: PathBuf,
    /// Events in the first catalogue.
    pub events: usize,
    pub progress: bool,
    /// Steps to leave out: `candle`, `cbed`, `slstr`, `score`.
    pub skip: Vec<String>,
}

fn synth_file(path: &Path, opts: &SynthOptions) -> Result<()> {
    if path.is_file() {
        return Ok(());
    }
    let tmp = path.with_extension("csv.part");
    let f =
        std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let mut w = std::io::BufWriter::new(f);
    synthesize(opts, &mut w)?;
    w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Runs the demo, printing as it goes.
pub async fn run(opts: &DemoOptions) -> Result<()> {
    let raw = opts.dir.join("raw");
    let repo = opts.dir.join("repo");
    std::fs::create_dir_all(&raw).with_context(|| format!("cannot create {}", raw.display()))?;
    println!(
        "sciml-data demo: a synthetic Southern California catalogue, offline, in {}\n",
        opts.dir.display()
    );

    // Two releases of the same catalogue: 1990-2019 and, later, 1990-2021.
    let releases = [
        ("1.0.0", 2019, opts.events, "synthetic ComCat 1990-2019"),
        (
            "1.1.0",
            2021,
            opts.events + opts.events / 15,
            "synthetic ComCat 1990-2021",
        ),
    ];
    let mut addresses = Vec::new();
    for (version, end_year, events, message) in releases {
        let file = raw.join(format!("comcat_1990-{end_year}.csv"));
        println!("1. synthesize {events} events -> {}", file.display());
        synth_file(
            &file,
            &SynthOptions {
                seed: 42,
                start_year: 1990,
                end_year,
                events,
                layout: CsvLayout::Current22,
            },
        )?;
        println!(
            "2. sciml-data ingest usgs --input {} --repo {} --version {version}",
            file.display(),
            repo.display()
        );
        let result = ingest(
            &IngestCommon {
                repo: repo.display().to_string(),
                dataset: "tevolop".into(),
                version: semver::Version::parse(version)?,
                message: message.into(),
                progress: opts.progress,
            },
            &UsgsOptions {
                inputs: vec![file],
                ..Default::default()
            },
        )
        .await?;
        print!("{}", indent(&report::ingest(&result)));
        addresses.push(result.address);
    }
    let dataset = Address::parse(&format!("{}/tevolop", repo.display()))?;
    println!("\n3. sciml-data log {dataset}");
    print!(
        "{}",
        indent(&report::log("tevolop", &inspect::log(&dataset).await?))
    );
    let latest = &addresses[1];
    println!("\n4. sciml-data info {latest}");
    print!("{}", indent(&report::info(&inspect::info(latest).await?)));
    println!("\n5. sciml-data verify {latest}");
    let v = verify_address(
        latest,
        VerifyOptions {
            fast: false,
            progress: opts.progress,
        },
    )
    .await?;
    print!("{}", indent(&report::verify(&latest.to_string(), &v)));
    anyhow::ensure!(v.ok(), "verification failed");
    println!("\n6. sciml-data diff {} 1.1.0", addresses[0]);
    let d = diff::diff_addresses(&addresses[0], "1.1.0").await?;
    let text = report::diff(&d);
    let lines: Vec<&str> = text.lines().collect();
    for l in lines.iter().take(12) {
        println!("   {l}");
    }
    if lines.len() > 13 {
        println!("   … ({} more lines)", lines.len() - 13);
        println!("   {}", lines[lines.len() - 1]);
    }
    let bag = repo.join("tevolop/1.1.0");
    println!(
        "\nWhere things are:\n   raw catalogues   {}\n   repository       {}\n   version 1.1.0    {} (a BagIt bag)\n",
        raw.display(),
        repo.display(),
        bag.display()
    );
    println!("Try next:");
    println!(
        "   cd {} && sha256sum -c manifest-sha256.txt       # no sciml-data needed",
        bag.display()
    );
    println!(
        "   python3 -c \"import xarray as xr; print(xr.open_zarr('{}/data/grid.zarr', group='daily'))\"",
        bag.display()
    );
    println!(
        "   duckdb -c \"SELECT year, count(*) FROM read_parquet('{}/data/events/*/*.parquet', hive_partitioning=true) GROUP BY year ORDER BY year\"",
        bag.display()
    );
    println!(
        "   sciml-data export {latest} --reference-csv {}/reference-csv",
        opts.dir.display()
    );
    println!("   sciml-data fetch usgs --out raw/    # the real catalogue (needs internet)");
    let skip = |s: &str| opts.skip.iter().any(|k| k == s);
    if !skip("candle") {
        candle_step(opts, &repo).await?;
    }
    if !skip("cbed") {
        cbed_step(opts, &repo).await?;
    }
    if !skip("slstr") {
        cloudmask_step(opts, &repo).await?;
    }
    if !skip("score") {
        score_step(opts, &repo, &skip).await?;
    }
    Ok(())
}

/// The STEMDL step: synthesize three small CBED batch files (train, dev, test) and ingest
/// them as stemdl@1.0.0.
async fn cbed_step(opts: &DemoOptions, repo: &Path) -> Result<()> {
    use crate::sources::cbed::{ingest as cbed_ingest, synth};
    let raw = opts.dir.join("raw-cbed");
    println!("\nSTEMDL (CBED space groups):");
    println!(
        "10. sciml-data synth cbed --out {} --train-files 1",
        raw.display()
    );
    let stats = synth::synthesize(
        &synth::SynthOptions {
            files: [1, 1, 1],
            ..Default::default()
        },
        &raw,
    )?;
    println!("   {} files, {} samples", stats.files.len(), stats.samples);
    println!(
        "11. sciml-data ingest cbed --input {} --repo {} --version 1.0.0",
        raw.display(),
        repo.display()
    );
    let result = cbed_ingest::ingest(
        &IngestCommon {
            repo: repo.display().to_string(),
            dataset: cbed_ingest::DATASET.into(),
            version: semver::Version::parse("1.0.0")?,
            message: "synthetic ORNL CBED batch files".into(),
            progress: opts.progress,
        },
        &cbed_ingest::CbedOptions {
            inputs: vec![raw.clone()],
            shard_samples: 16,
        },
    )
    .await?;
    print!("{}", indent(&report::ingest(&result)));
    println!(
        "   python3 -c \"import zarr; print(zarr.open_group('{}/data/cbed.zarr')['data'])\"",
        result.bag_dir.display()
    );
    Ok(())
}

/// The scoring step: the shipped baseline models score the demo versions (`verify --score`).
/// Without ONNX Runtime on this machine the step says how to get it and is skipped.
async fn score_step(opts: &DemoOptions, repo: &Path, skip: &dyn Fn(&str) -> bool) -> Result<()> {
    use crate::scoring::{self, Ep, ScoreOptions};
    println!("\nBaseline scores (ONNX Runtime through ort):");
    if let Err(e) = scoring::runtime::find_library() {
        println!("   skipped: {e:#}");
        return Ok(());
    }
    let versions = [
        ("usgs", "tevolop@1.1.0"),
        ("candle", "candle-uno@1.0.0"),
        ("cbed", "stemdl@1.0.0"),
        ("slstr", "cloudmask@1.0.0"),
    ];
    for (i, (_, v)) in versions.iter().filter(|(s, _)| !skip(s)).enumerate() {
        let addr = crate::address::Address::parse(&format!("{}/{v}", repo.display()))?;
        println!("{}. sciml-data verify {addr} --score", 15 + i);
        let scored = scoring::score_address(
            &addr,
            &ScoreOptions {
                ep: Ep::Auto,
                progress: opts.progress,
                ..Default::default()
            },
        )
        .await;
        match scored {
            Ok((_, Some(rec))) => print!("{}", indent(&scoring::summary(&rec))),
            Ok((_, None)) => anyhow::bail!("{addr} did not verify"),
            // A small demo (--events) can leave a split empty: say so and go on.
            Err(e) => println!("   not scored: {e:#}"),
        }
    }
    println!(
        "   (small demo models trained on these data: they show the pipeline, not the published baselines)"
    );
    Ok(())
}

/// The CANDLE-UNO step: synthesize a small CANDLE file set, ingest it as
/// candle-uno@1.0.0 (refitting every growth curve) and verify it.
async fn candle_step(opts: &DemoOptions, repo: &Path) -> Result<()> {
    use crate::sources::candle::{ingest as candle_ingest, synth};
    let raw = opts.dir.join("raw-candle");
    println!("\nCANDLE-UNO (drug response):");
    println!("7. sciml-data synth candle --out {}", raw.display());
    let stats = synth::synthesize(&synth::SynthOptions::default(), &raw)?;
    println!(
        "   {} files: {} responses, {} growth rows, {} drug-pair rows, {} cells, {} drugs",
        stats.files.len(),
        stats.responses,
        stats.growth_rows,
        stats.combo_rows,
        stats.cells,
        stats.drugs
    );
    println!(
        "8. sciml-data ingest candle --input {} --repo {} --version 1.0.0 --recompute-auc",
        raw.display(),
        repo.display()
    );
    let result = candle_ingest::ingest(
        &IngestCommon {
            repo: repo.display().to_string(),
            dataset: candle_ingest::DATASET.into(),
            version: semver::Version::parse("1.0.0")?,
            message: "synthetic CANDLE Pilot1 files".into(),
            progress: opts.progress,
        },
        &candle_ingest::CandleOptions {
            inputs: vec![raw.clone()],
            recompute_auc: true,
            ..Default::default()
        },
    )
    .await?;
    print!("{}", indent(&report::ingest(&result)));
    verify_step(9, &result.address, opts).await?;
    println!(
        "   python3 -c \"import pyarrow.dataset as ds; print(ds.dataset('{}/data/responses', partitioning='hive').to_table().num_rows)\"",
        result.bag_dir.display()
    );
    Ok(())
}

/// The CloudMask step: synthesize two full-size SLSTR SAFE products (kept if already
/// there), ingest them as cloudmask@1.0.0 and verify it.
async fn cloudmask_step(opts: &DemoOptions, repo: &Path) -> Result<()> {
    use crate::sources::slstr::{ingest as slstr_ingest, synth as slstr_synth};
    let raw = opts.dir.join("raw-slstr");
    let synth_opts = slstr_synth::SynthOptions {
        scenes: 2,
        ..Default::default()
    };
    println!("\nCloudMask (Sentinel-3 SLSTR cloud segmentation):");
    println!(
        "12. sciml-data synth slstr --out {} --scenes {}",
        raw.display(),
        synth_opts.scenes
    );
    let existing: Vec<PathBuf> = std::fs::read_dir(&raw)
        .map(|it| {
            it.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "SEN3"))
                .collect()
        })
        .unwrap_or_default();
    if existing.len() == synth_opts.scenes {
        println!("   {} products already there", existing.len());
    } else {
        let _ = std::fs::remove_dir_all(&raw);
        let stats = slstr_synth::synthesize(&synth_opts, &raw)?;
        println!(
            "   {} SAFE products (2400 x 3000 radiances, 1200 x 1500 thermal and flags), {}",
            stats.products.len(),
            report::bytes(stats.bytes)
        );
    }
    println!(
        "13. sciml-data ingest slstr --input {}/*.SEN3 --repo {} --version 1.0.0",
        raw.display(),
        repo.display()
    );
    let result = slstr_ingest::ingest(
        &IngestCommon {
            repo: repo.display().to_string(),
            dataset: slstr_ingest::DATASET.into(),
            version: semver::Version::parse("1.0.0")?,
            message: "synthetic Sentinel-3 SLSTR products".into(),
            progress: opts.progress,
        },
        &slstr_ingest::SlstrOptions {
            inputs: vec![raw.clone()],
            ..Default::default()
        },
    )
    .await?;
    print!("{}", indent(&report::ingest(&result)));
    verify_step(14, &result.address, opts).await?;
    println!(
        "   python3 -c \"import xarray as xr; print(xr.open_zarr('{}/data/cloudmask.zarr').S1_radiance_an)\"",
        result.bag_dir.display()
    );
    Ok(())
}

/// Step `n`: a full verify of a version just created, printed; a failure stops the demo.
async fn verify_step(n: u32, addr: &crate::address::Address, opts: &DemoOptions) -> Result<()> {
    println!("{n}. sciml-data verify {addr}");
    let v = verify_address(
        addr,
        VerifyOptions {
            fast: false,
            progress: opts.progress,
        },
    )
    .await?;
    print!("{}", indent(&report::verify(&addr.to_string(), &v)));
    anyhow::ensure!(v.ok(), "verification of {addr} failed");
    Ok(())
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("   {l}\n")).collect()
}

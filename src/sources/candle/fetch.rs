//! `sciml-data fetch candle --out raw/`: the named files of the public CANDLE Pilot1
//! benchmark directory, over HTTPS.
//!
//! * **Resumable.** A file is downloaded into `<name>.part`. When a `.part` exists (an
//!   interrupted run, or a transfer cut off mid-way), the next request asks for the rest
//!   with `Range: bytes=<size>-`; a `206` answer is appended, a `200` starts over.
//!   Completed files are renamed into place, so a final name is always a whole file.
//! * **Checksummed.** Size and SHA-256 of every file are recorded in
//!   `<out>/candle-fetch.json` ([`PROVENANCE_FILE`]), rewritten atomically after each
//!   file. A file already recorded there with the same size and hash is not fetched again.
//! * **Parallel** (`parallel` files at a time) with one progress bar over all bytes, and
//!   retries with exponential backoff on 5xx, 429, timeouts and cut-off transfers.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use chrono::{SecondsFormat, Utc};
use futures::StreamExt;
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Mutex;

/// The public CANDLE Pilot1 "combo" directory (`uno_data.DATA_URL`, over HTTPS).
pub const DEFAULT_BASE_URL: &str =
    "https://ftp.mcs.anl.gov/pub/candle/public/benchmarks/Pilot1/combo/";
/// Name of the provenance document written into the output directory.
pub const PROVENANCE_FILE: &str = "candle-fetch.json";
/// The files the Uno benchmark reads (sources.md 3.2): every one is fetched by `uno_data.py`
/// from `DATA_URL` (`get_file(DATA_URL + name)`), the drug-pair table by
/// `load_combo_dose_response` and the Mordred table by `load_mordred_descriptors`.
pub const DEFAULT_FILES: [&str; 16] = [
    "combined_single_response_agg",
    "rescaled_combined_single_drug_growth",
    "combined_rnaseq_data_lincs1000_source_scale",
    "Combined_PubChem_dragon7_descriptors.tsv",
    "NCI60_dragon7_descriptors.tsv",
    "Combined_PubChem_dragon7_PFP.tsv",
    "Combined_PubChem_dragon7_ECFP.tsv",
    "NCI60_dragon7_PFP.tsv",
    "NCI60_dragon7_ECFP.tsv",
    "drug_info",
    "cl_metadata",
    "cl_mapping",
    "NCI_IOA_AOA_drugs",
    "NCI60_CELLNAME_to_Combo.txt",
    "ComboDrugGrowth_Nov2017.csv",
    "extended_combined_mordred_descriptors",
];

/// What to fetch and how.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    pub out: PathBuf,
    pub base_url: String,
    pub files: Vec<String>,
    /// Files downloaded at the same time.
    pub parallel: usize,
    pub max_retries: u32,
    pub retry_base_delay: Duration,
    pub progress: bool,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            out: PathBuf::from("raw"),
            base_url: DEFAULT_BASE_URL.to_string(),
            files: DEFAULT_FILES.iter().map(|s| s.to_string()).collect(),
            parallel: 4,
            max_retries: 5,
            retry_base_delay: Duration::from_millis(500),
            progress: false,
        }
    }
}

/// One downloaded file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FetchedFile {
    pub name: String,
    pub url: String,
    pub size: u64,
    pub sha256: String,
    /// Bytes that were already present (from a `.part`) when the last transfer started.
    pub resumed_from: u64,
    pub fetched_at: String,
}

/// Contents of [`PROVENANCE_FILE`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FetchProvenance {
    pub service: String,
    pub base_url: String,
    /// Sorted by name.
    pub files: Vec<FetchedFile>,
}

/// Reads `<dir>/candle-fetch.json`; `Ok(None)` when there is none.
pub fn read_provenance(dir: &Path) -> Result<Option<FetchProvenance>> {
    let path = dir.join(PROVENANCE_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    Ok(Some(serde_json::from_str(&text).with_context(|| {
        format!("{} is not a valid fetch provenance", path.display())
    })?))
}

async fn write_provenance(dir: &Path, p: &FetchProvenance) -> Result<()> {
    let path = dir.join(PROVENANCE_FILE);
    let part = dir.join(format!("{PROVENANCE_FILE}.part"));
    tokio::fs::write(&part, serde_json::to_vec_pretty(p)?)
        .await
        .with_context(|| format!("writing {}", part.display()))?;
    tokio::fs::rename(&part, &path)
        .await
        .with_context(|| format!("renaming {}", part.display()))
}

fn url_of(base: &str, name: &str) -> String {
    if base.ends_with('/') {
        format!("{base}{name}")
    } else {
        format!("{base}/{name}")
    }
}

/// Size and SHA-256 of a local file.
async fn hash_path(path: &Path) -> Result<(u64, String)> {
    let mut f = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("cannot open {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf).await?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((n, hex::encode(h.finalize())))
}

/// Downloads the files of `opts` into `opts.out`; returns (and writes) the provenance.
pub async fn fetch(opts: &FetchOptions) -> Result<FetchProvenance> {
    if opts.files.is_empty() {
        bail!("no files to fetch");
    }
    for f in &opts.files {
        if f.is_empty() || f.contains('/') || f.contains('\\') || f.starts_with('.') {
            bail!("{f:?} is not a plain file name");
        }
    }
    tokio::fs::create_dir_all(&opts.out)
        .await
        .with_context(|| format!("creating {}", opts.out.display()))?;
    let earlier = read_provenance(&opts.out)?.unwrap_or_default();
    let prov = Arc::new(Mutex::new(FetchProvenance {
        service: "candle-pilot1".into(),
        base_url: opts.base_url.clone(),
        files: Vec::new(),
    }));
    let client = reqwest::Client::builder()
        .user_agent(concat!("sciml-data/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(Duration::from_secs(120))
        .build()
        .context("building the HTTP client")?;
    let bar = crate::progress::bytes_bar(opts.progress, 0, "fetching");
    let mut names = opts.files.clone();
    names.sort();
    names.dedup();
    let results: Vec<Result<()>> = futures::stream::iter(names.iter())
        .map(|name| {
            let (client, prov, bar, earlier) = (&client, prov.clone(), &bar, &earlier);
            async move {
                let file = fetch_one(client, opts, name, earlier, bar)
                    .await
                    .with_context(|| format!("fetching {}", url_of(&opts.base_url, name)))?;
                let mut p = prov.lock().await;
                p.files.push(file);
                p.files.sort_by(|a, b| a.name.cmp(&b.name));
                write_provenance(&opts.out, &p).await
            }
        })
        .buffer_unordered(opts.parallel.max(1))
        .collect()
        .await;
    bar.finish_and_clear();
    let errors: Vec<String> = results
        .into_iter()
        .filter_map(|r| r.err().map(|e| format!("{e:#}")))
        .collect();
    if !errors.is_empty() {
        bail!(
            "{} of {} files failed (the others are saved; run again to resume):\n  {}",
            errors.len(),
            names.len(),
            errors.join("\n  ")
        );
    }
    let p = prov.lock().await.clone();
    Ok(p)
}

enum Attempt {
    Transient(anyhow::Error),
    Fatal(anyhow::Error),
}

async fn fetch_one(
    client: &reqwest::Client,
    opts: &FetchOptions,
    name: &str,
    earlier: &FetchProvenance,
    bar: &ProgressBar,
) -> Result<FetchedFile> {
    let url = url_of(&opts.base_url, name);
    let dest = opts.out.join(name);
    let part = opts.out.join(format!("{name}.part"));
    if let Some(prev) = earlier
        .files
        .iter()
        .find(|f| f.name == name && f.url == url)
        && tokio::fs::metadata(&dest)
            .await
            .is_ok_and(|m| m.len() == prev.size)
    {
        let (size, sha) = hash_path(&dest).await?;
        if size == prev.size && sha == prev.sha256 {
            bar.inc_length(size);
            bar.inc(size);
            return Ok(prev.clone());
        }
    }
    let mut attempt = 0u32;
    loop {
        match attempt_one(client, &url, &part, bar).await {
            Ok((resumed_from, size, sha256)) => {
                tokio::fs::rename(&part, &dest)
                    .await
                    .with_context(|| format!("renaming {}", part.display()))?;
                return Ok(FetchedFile {
                    name: name.to_string(),
                    url,
                    size,
                    sha256,
                    resumed_from,
                    fetched_at: Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
                });
            }
            Err(Attempt::Fatal(e)) => return Err(e),
            Err(Attempt::Transient(e)) => {
                if attempt >= opts.max_retries {
                    return Err(e.context(format!("giving up after {} attempts", attempt + 1)));
                }
                let delay = opts
                    .retry_base_delay
                    .saturating_mul(1u32 << attempt.min(16))
                    .min(Duration::from_secs(300));
                tracing::warn!("{name}: {e:#}; resuming in {delay:?}");
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
        }
    }
}

/// The total size from `Content-Range: bytes a-b/total`.
fn content_range_total(v: &str) -> Option<u64> {
    v.rsplit_once('/').and_then(|(_, t)| t.trim().parse().ok())
}

/// One request: returns (bytes already present, final size, sha256) when complete.
async fn attempt_one(
    client: &reqwest::Client,
    url: &str,
    part: &Path,
    bar: &ProgressBar,
) -> Result<(u64, u64, String), Attempt> {
    let have = tokio::fs::metadata(part)
        .await
        .map(|m| m.len())
        .unwrap_or(0);
    let mut req = client.get(url);
    if have > 0 {
        req = req.header(reqwest::header::RANGE, format!("bytes={have}-"));
    }
    let resp = req
        .send()
        .await
        .map_err(|e| Attempt::Transient(anyhow!(e).context(format!("requesting {url}"))))?;
    let status = resp.status();
    let header = |h: reqwest::header::HeaderName| {
        resp.headers()
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (append, expected) = match status.as_u16() {
        206 => {
            let cr = header(reqwest::header::CONTENT_RANGE).unwrap_or_default();
            if !cr.starts_with(&format!("bytes {have}-")) {
                return Err(Attempt::Fatal(anyhow!(
                    "HTTP 206 with Content-Range {cr:?} for a request from byte {have}"
                )));
            }
            (true, content_range_total(&cr))
        }
        200 => (false, resp.content_length()),
        416 if have > 0 => {
            // Nothing left to send: the part may already be complete.
            let total =
                header(reqwest::header::CONTENT_RANGE).and_then(|v| content_range_total(&v));
            if total == Some(have) {
                let (size, sha) = hash_path(part).await.map_err(Attempt::Fatal)?;
                return Ok((have, size, sha));
            }
            let _ = tokio::fs::remove_file(part).await;
            return Err(Attempt::Transient(anyhow!(
                "HTTP 416 for a partial file of {have} bytes; starting over"
            )));
        }
        s if s == 429 || s >= 500 => {
            return Err(Attempt::Transient(anyhow!("HTTP {status} from {url}")));
        }
        _ => return Err(Attempt::Fatal(anyhow!("HTTP {status} from {url}"))),
    };
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut file = if append {
        // Hash what is already there, then append.
        let mut f = tokio::fs::File::open(part)
            .await
            .map_err(|e| Attempt::Fatal(e.into()))?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let k = f
                .read(&mut buf)
                .await
                .map_err(|e| Attempt::Fatal(e.into()))?;
            if k == 0 {
                break;
            }
            hasher.update(&buf[..k]);
            size += k as u64;
        }
        tokio::fs::OpenOptions::new()
            .append(true)
            .open(part)
            .await
            .map_err(|e| Attempt::Fatal(e.into()))?
    } else {
        tokio::fs::File::create(part)
            .await
            .map_err(|e| Attempt::Fatal(e.into()))?
    };
    let resumed_from = size;
    if let Some(total) = expected {
        bar.inc_length(total.saturating_sub(resumed_from));
    }
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                let _ = file.flush().await;
                return Err(Attempt::Transient(
                    anyhow!(e).context(format!("transfer of {url} cut off after {size} bytes")),
                ));
            }
        };
        hasher.update(&chunk);
        size += chunk.len() as u64;
        bar.inc(chunk.len() as u64);
        file.write_all(&chunk)
            .await
            .map_err(|e| Attempt::Fatal(e.into()))?;
    }
    file.flush().await.map_err(|e| Attempt::Fatal(e.into()))?;
    file.sync_all()
        .await
        .map_err(|e| Attempt::Fatal(e.into()))?;
    if let Some(total) = expected
        && size != total
    {
        return Err(Attempt::Transient(anyhow!(
            "{url}: got {size} of {total} bytes"
        )));
    }
    Ok((resumed_from, size, hex::encode(hasher.finalize())))
}

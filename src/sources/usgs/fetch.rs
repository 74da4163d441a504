//! `sciml-data fetch usgs --out raw/`: download the USGS ComCat catalogue.
//!
//! The catalogue is read from the FDSN event web service (`format=csv`) one time window
//! at a time. Every window becomes one page file
//! `<out>/usgs_<startYYYYMMDDTHHMMSS>_<endYYYYMMDDTHHMMSS>.csv`, and after every page the
//! provenance document `<out>/usgs-fetch.json` ([`PROVENANCE_FILE`]) is rewritten, so an
//! interrupted fetch resumes where it stopped.
//!
//! Guarantees:
//! * **No truncated answers.** The service refuses (HTTP 400, "exceeds search limit")
//!   or would cut off a query matching more than [`SERVICE_LIMIT`] events. A window whose
//!   answer is refused, or holds `max_events_per_request` rows or more, is split into two
//!   halves (down to one minute) which are fetched instead.
//! * **Atomic pages.** A page is streamed into `<file>.part` and renamed when complete, so
//!   a killed fetch never leaves a half page under its final name. The provenance file is
//!   replaced the same way.
//! * **Hashed on the fly.** SHA-256, size and row count are computed while the body
//!   streams in; files are never re-read to hash them (except to verify a page recorded
//!   by an earlier run before skipping it).
//! * **Retries.** HTTP 5xx, 429, timeouts and connection errors are retried with
//!   exponential backoff; any other HTTP error stops the fetch with the URL, the status
//!   and the first lines of the body.
//!
//! Window semantics: windows are meant to be half-open `[start, end)`. Note that FDSN
//! defines `endtime` as inclusive, so an event stamped *exactly* on a window boundary
//! (to the millisecond) can appear in two adjacent pages; consumers should de-duplicate
//! events by `id`.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use chrono::{Days, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, TimeDelta, Utc};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The USGS FDSN event web service.
pub const DEFAULT_BASE_URL: &str = "https://earthquake.usgs.gov/fdsnws/event/1/query";

/// The most events the USGS service returns for one query.
pub const SERVICE_LIMIT: usize = 20_000;

/// Name of the provenance document written into the output directory.
pub const PROVENANCE_FILE: &str = "usgs-fetch.json";

/// Value of [`FetchProvenance::service`].
pub const SERVICE_NAME: &str = "usgs-comcat-fdsnws-event";

/// Time format of `starttime`/`endtime` in URLs and in [`FetchedPage`].
const URL_TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";
/// Time format used in page file names.
const FILE_TIME_FORMAT: &str = "%Y%m%dT%H%M%S";
/// Windows are never split below this length.
const MIN_WINDOW: TimeDelta = TimeDelta::minutes(1);
/// Connect timeout of the HTTP client.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait for the next bytes of a response.
const READ_TIMEOUT: Duration = Duration::from_secs(120);
/// Upper bound of a single backoff delay (also caps `Retry-After`).
const MAX_RETRY_DELAY: Duration = Duration::from_secs(300);
/// At most this much of an error body is read.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// Marker of the service's "too many events" answer (compared case-insensitively).
const LIMIT_MARKER: &str = "exceeds search limit";
/// First day of the default time range.
const DEFAULT_START: NaiveDate = match NaiveDate::from_ymd_opt(1950, 1, 1) {
    Some(date) => date,
    None => panic!("1950-01-01 is a valid date"),
};

/// What to fetch, where to, and how persistently.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Output directory (created if missing).
    pub out: PathBuf,
    /// Service endpoint; [`DEFAULT_BASE_URL`] by default.
    pub base_url: String,
    /// First day (inclusive); default 1950-01-01.
    pub start: NaiveDate,
    /// Last day (exclusive); default tomorrow (UTC), so that today is included.
    pub end: NaiveDate,
    /// Southern edge of the region, degrees (default 32).
    pub min_latitude: f64,
    /// Northern edge of the region, degrees (default 36).
    pub max_latitude: f64,
    /// Western edge of the region, degrees (default -120).
    pub min_longitude: f64,
    /// Eastern edge of the region, degrees (default -114).
    pub max_longitude: f64,
    /// Optional lower magnitude bound passed to the service.
    pub min_magnitude: Option<f64>,
    /// Initial window length in days (default 365).
    pub window_days: u32,
    /// A page with this many rows or more is split (default [`SERVICE_LIMIT`]).
    pub max_events_per_request: usize,
    /// Retries of a request after a transient failure (default 5).
    pub max_retries: u32,
    /// First backoff delay; attempt `n` waits `retry_base_delay * 2^n` (default 500 ms).
    pub retry_base_delay: Duration,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

impl Default for FetchOptions {
    fn default() -> Self {
        let today = Utc::now().date_naive();
        Self {
            out: PathBuf::from("raw"),
            base_url: DEFAULT_BASE_URL.to_string(),
            start: DEFAULT_START,
            end: today.checked_add_days(Days::new(1)).unwrap_or(today),
            min_latitude: 32.0,
            max_latitude: 36.0,
            min_longitude: -120.0,
            max_longitude: -114.0,
            min_magnitude: None,
            window_days: 365,
            max_events_per_request: SERVICE_LIMIT,
            max_retries: 5,
            retry_base_delay: Duration::from_millis(500),
            progress: false,
        }
    }
}

impl FetchOptions {
    /// The region as `[min_lat, max_lat, min_lon, max_lon]`.
    pub fn region(&self) -> [f64; 4] {
        [
            self.min_latitude,
            self.max_latitude,
            self.min_longitude,
            self.max_longitude,
        ]
    }

    /// Rejects options the service (or this module) cannot work with.
    fn validate(&self) -> Result<()> {
        if self.start >= self.end {
            bail!(
                "start {} must be before end {} (end is exclusive)",
                self.start,
                self.end
            );
        }
        if self.window_days == 0 {
            bail!("window length must be at least one day");
        }
        if self.max_events_per_request == 0 {
            bail!("max events per request must be at least 1");
        }
        let lat_ok = |v: f64| (-90.0..=90.0).contains(&v);
        let lon_ok = |v: f64| (-360.0..=360.0).contains(&v);
        if !(lat_ok(self.min_latitude)
            && lat_ok(self.max_latitude)
            && self.min_latitude < self.max_latitude)
        {
            bail!(
                "invalid latitude range {}..{} (need -90 <= min < max <= 90)",
                self.min_latitude,
                self.max_latitude
            );
        }
        if !(lon_ok(self.min_longitude)
            && lon_ok(self.max_longitude)
            && self.min_longitude < self.max_longitude)
        {
            bail!(
                "invalid longitude range {}..{} (need -360 <= min < max <= 360)",
                self.min_longitude,
                self.max_longitude
            );
        }
        if self.min_magnitude.is_some_and(|m| !m.is_finite()) {
            bail!("minimum magnitude must be a finite number");
        }
        if self.base_url.trim().is_empty() {
            bail!("base URL is empty");
        }
        Ok(())
    }
}

/// One saved answer of the service.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FetchedPage {
    /// The exact URL requested.
    pub url: String,
    /// File name inside the output directory; empty when the answer had no body.
    pub file: String,
    /// Window start, `YYYY-MM-DDTHH:MM:SS` (UTC).
    pub starttime: String,
    /// Window end, `YYYY-MM-DDTHH:MM:SS` (UTC, exclusive).
    pub endtime: String,
    /// Data rows (lines after the header that are not blank).
    pub rows: u64,
    /// Size of the body in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256 of the body.
    pub sha256: String,
    /// When the page was received (RFC 3339, UTC).
    pub fetched_at: String,
}

/// Contents of [`PROVENANCE_FILE`]: what was asked for and every page received.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FetchProvenance {
    /// Always [`SERVICE_NAME`].
    pub service: String,
    /// Service endpoint used.
    pub base_url: String,
    /// `[min_lat, max_lat, min_lon, max_lon]`.
    pub region: [f64; 4],
    /// First day, `YYYY-MM-DD` (inclusive).
    pub start: String,
    /// Last day, `YYYY-MM-DD` (exclusive).
    pub end: String,
    /// Lower magnitude bound, if any.
    pub min_magnitude: Option<f64>,
    /// Pages in time order.
    pub pages: Vec<FetchedPage>,
}

impl FetchProvenance {
    /// An empty provenance for `opts`.
    fn new(opts: &FetchOptions) -> Self {
        Self {
            service: SERVICE_NAME.to_string(),
            base_url: opts.base_url.clone(),
            region: opts.region(),
            start: opts.start.to_string(),
            end: opts.end.to_string(),
            min_magnitude: opts.min_magnitude,
            pages: Vec::new(),
        }
    }

    /// Total data rows over all pages.
    pub fn total_rows(&self) -> u64 {
        self.pages.iter().map(|p| p.rows).sum()
    }

    /// Why pages recorded here cannot be reused for `new`, if they cannot.
    ///
    /// The end date may differ (the default end moves every day): windows are laid out
    /// from `start`, so all windows that ended before the old end are still valid.
    fn incompatibility(&self, new: &FetchProvenance) -> Option<String> {
        if self.service != new.service {
            return Some(format!("service {:?} vs {:?}", self.service, new.service));
        }
        if self.base_url != new.base_url {
            return Some(format!("base URL {} vs {}", self.base_url, new.base_url));
        }
        if self.region != new.region {
            return Some(format!("region {:?} vs {:?}", self.region, new.region));
        }
        if self.start != new.start {
            return Some(format!("start {} vs {}", self.start, new.start));
        }
        if self.min_magnitude != new.min_magnitude {
            return Some(format!(
                "minimum magnitude {:?} vs {:?}",
                self.min_magnitude, new.min_magnitude
            ));
        }
        None
    }
}

/// Reads `<dir>/usgs-fetch.json`; `Ok(None)` when there is none.
pub fn read_provenance(dir: &Path) -> Result<Option<FetchProvenance>> {
    let path = dir.join(PROVENANCE_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let provenance = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a valid fetch provenance", path.display()))?;
    Ok(Some(provenance))
}

/// Replaces `<dir>/usgs-fetch.json` atomically (write `.part`, then rename).
async fn write_provenance(dir: &Path, provenance: &FetchProvenance) -> Result<()> {
    let path = dir.join(PROVENANCE_FILE);
    let part = part_path(&path);
    let json = serde_json::to_vec_pretty(provenance).context("serialising fetch provenance")?;
    tokio::fs::write(&part, json)
        .await
        .with_context(|| format!("writing {}", part.display()))?;
    tokio::fs::rename(&part, &path)
        .await
        .with_context(|| format!("renaming {} to {}", part.display(), path.display()))
}

/// `<path>.part`, the temporary name a file is written under before its rename.
fn part_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(".part");
    PathBuf::from(name)
}

/// A time window `[start, end)` queried with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Window {
    start: NaiveDateTime,
    end: NaiveDateTime,
}

impl Window {
    /// The initial windows of `window_days` days covering `[start, end)`.
    fn plan(start: NaiveDate, end: NaiveDate, window_days: u32) -> Vec<Window> {
        let (start, end) = (start.and_time(NaiveTime::MIN), end.and_time(NaiveTime::MIN));
        let step = TimeDelta::try_days(i64::from(window_days.max(1))).unwrap_or(TimeDelta::MAX);
        let mut windows = Vec::new();
        let mut t = start;
        while t < end {
            let next = t.checked_add_signed(step).map_or(end, |n| n.min(end));
            windows.push(Window {
                start: t,
                end: next,
            });
            t = next;
        }
        windows
    }

    /// The window's two halves (split on a whole second), or `None` when a half would
    /// be shorter than [`MIN_WINDOW`].
    fn halves(&self) -> Option<(Window, Window)> {
        let length = self.end - self.start;
        if length < MIN_WINDOW * 2 {
            return None;
        }
        let mid = self.start + TimeDelta::seconds(length.num_seconds() / 2);
        Some((
            Window {
                start: self.start,
                end: mid,
            },
            Window {
                start: mid,
                end: self.end,
            },
        ))
    }

    /// Length in whole seconds (progress bar units).
    fn seconds(&self) -> u64 {
        u64::try_from((self.end - self.start).num_seconds()).unwrap_or(0)
    }

    /// `starttime` as sent to the service.
    fn starttime(&self) -> String {
        self.start.format(URL_TIME_FORMAT).to_string()
    }

    /// `endtime` as sent to the service.
    fn endtime(&self) -> String {
        self.end.format(URL_TIME_FORMAT).to_string()
    }

    /// File name of the window's page.
    fn file_name(&self) -> String {
        format!(
            "usgs_{}_{}.csv",
            self.start.format(FILE_TIME_FORMAT),
            self.end.format(FILE_TIME_FORMAT)
        )
    }

    /// The query URL of this window.
    fn url(&self, opts: &FetchOptions) -> String {
        let separator = if opts.base_url.contains('?') {
            '&'
        } else {
            '?'
        };
        let mut url = format!(
            "{}{separator}format=csv&orderby=time-asc&starttime={}&endtime={}\
             &minlatitude={}&maxlatitude={}&minlongitude={}&maxlongitude={}",
            opts.base_url,
            self.starttime(),
            self.endtime(),
            opts.min_latitude,
            opts.max_latitude,
            opts.min_longitude,
            opts.max_longitude,
        );
        if let Some(m) = opts.min_magnitude {
            url.push_str(&format!("&minmagnitude={m}"));
        }
        url
    }

    /// The window a recorded page was fetched for, if its times parse.
    fn of_page(page: &FetchedPage) -> Option<Window> {
        let parse = |s: &str| NaiveDateTime::parse_from_str(s, URL_TIME_FORMAT).ok();
        Some(Window {
            start: parse(&page.starttime)?,
            end: parse(&page.endtime)?,
        })
    }
}

/// Pages recorded by an earlier run into the same directory.
struct Resume {
    dir: PathBuf,
    pages: BTreeMap<Window, FetchedPage>,
}

impl Resume {
    /// Loads the recorded pages, refusing a provenance written for other options.
    fn load(opts: &FetchOptions, fresh: &FetchProvenance) -> Result<Self> {
        let mut pages = BTreeMap::new();
        if let Some(old) = read_provenance(&opts.out)? {
            if let Some(difference) = old.incompatibility(fresh) {
                bail!(
                    "{} holds a fetch made with different options ({difference}); \
                     use another --out directory (or delete that directory to start over)",
                    opts.out.display()
                );
            }
            for page in old.pages {
                match Window::of_page(&page) {
                    Some(window) => {
                        pages.insert(window, page);
                    }
                    None => tracing::warn!(
                        "ignoring recorded page with unreadable times {:?}..{:?}",
                        page.starttime,
                        page.endtime
                    ),
                }
            }
        }
        Ok(Self {
            dir: opts.out.clone(),
            pages,
        })
    }

    /// The recorded page of exactly `window`, if its file is still intact.
    async fn reusable(&self, window: &Window) -> Result<Option<FetchedPage>> {
        let Some(page) = self.pages.get(window) else {
            return Ok(None);
        };
        if page_is_intact(&self.dir, page).await? {
            Ok(Some(page.clone()))
        } else {
            tracing::info!(
                "page {} is missing or changed; fetching it again",
                page.file
            );
            Ok(None)
        }
    }

    /// Whether an earlier run had to split `window`: its recorded pages tile the window
    /// exactly, without being the window itself. (A last window cut short by an earlier
    /// end date does not tile the longer window, so it is fetched, not split.)
    fn was_split(&self, window: &Window) -> bool {
        let from = Window {
            start: window.start,
            end: window.start,
        };
        let mut covered = window.start;
        for (w, _) in self
            .pages
            .range(from..)
            .take_while(|(w, _)| w.start < window.end)
        {
            if w == window || w.start != covered || w.end > window.end {
                return false;
            }
            covered = w.end;
        }
        covered == window.end
    }

    /// Deletes the files of recorded pages that `current` no longer lists (after the end
    /// date moved or the windows changed), so the directory holds exactly the pages of
    /// the provenance.
    async fn remove_stale_files(&self, current: &FetchProvenance) -> Result<()> {
        let listed: std::collections::HashSet<&str> =
            current.pages.iter().map(|p| p.file.as_str()).collect();
        for page in self.pages.values() {
            if page.file.is_empty()
                || listed.contains(page.file.as_str())
                || !is_plain_name(&page.file)
            {
                continue;
            }
            let path = self.dir.join(&page.file);
            match tokio::fs::remove_file(&path).await {
                Ok(()) => tracing::info!("removed stale page {}", path.display()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
            }
        }
        Ok(())
    }

    /// Recorded pages starting at or after `t` (not yet revisited by this run).
    fn after(&self, t: NaiveDateTime) -> impl Iterator<Item = &FetchedPage> {
        self.pages
            .iter()
            .filter(move |(w, _)| w.start >= t)
            .map(|(_, page)| page)
    }
}

/// Whether `name` is a bare file name: a provenance must not point outside its directory.
fn is_plain_name(name: &str) -> bool {
    Path::new(name).file_name() == Some(std::ffi::OsStr::new(name))
}

/// Whether a recorded page's file still has the recorded size and SHA-256.
async fn page_is_intact(dir: &Path, page: &FetchedPage) -> Result<bool> {
    if page.file.is_empty() {
        return Ok(page.size == 0 && page.rows == 0);
    }
    if !is_plain_name(&page.file) {
        return Ok(false);
    }
    let path = dir.join(&page.file);
    let mut file = match tokio::fs::File::open(&path).await {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
    };
    let size = file.metadata().await?.len();
    if size != page.size {
        return Ok(false);
    }
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = file
            .read(&mut buffer)
            .await
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hex::encode(hasher.finalize()) == page.sha256)
}

/// Counts data rows of a CSV body fed in arbitrary chunks.
///
/// The first line is the header; every later line that is not blank is one row. This
/// relies on ComCat never putting a newline inside a field (it quotes `place`, which
/// may contain commas, but never line breaks).
#[derive(Debug, Default)]
struct RowCounter {
    header_done: bool,
    line_has_content: bool,
    rows: u64,
}

impl RowCounter {
    /// Accounts for the next chunk of the body.
    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match b {
                b'\n' => {
                    if !self.header_done {
                        self.header_done = true;
                    } else if self.line_has_content {
                        self.rows += 1;
                    }
                    self.line_has_content = false;
                }
                b'\r' | b' ' | b'\t' => {}
                _ => self.line_has_content = true,
            }
        }
    }

    /// Complete rows seen so far (a lower bound of the final count).
    fn rows(&self) -> u64 {
        self.rows
    }

    /// The final count, including a last row without a trailing newline.
    fn finish(&self) -> u64 {
        self.rows + u64::from(self.header_done && self.line_has_content)
    }
}

/// What one window produced.
enum Outcome {
    /// The page was saved (or, without body, recorded).
    Saved(FetchedPage),
    /// The window matches too many events and must be split.
    TooMany,
}

/// Why one attempt failed.
enum AttemptError {
    /// Worth another try, after at least `retry_after` if given.
    Transient {
        error: anyhow::Error,
        retry_after: Option<Duration>,
    },
    /// Retrying cannot help.
    Fatal(anyhow::Error),
}

impl From<std::io::Error> for AttemptError {
    fn from(e: std::io::Error) -> Self {
        AttemptError::Fatal(e.into())
    }
}

/// Downloads the catalogue described by `opts` into `opts.out` and returns (and writes)
/// its provenance.
///
/// Pages recorded by an earlier run with the same options are reused when their files
/// are intact; the end date may differ between runs (the windows are laid out from the
/// start date, so earlier windows stay valid). Page files of the earlier run that the
/// new provenance does not list any more are deleted at the end.
pub async fn fetch(opts: &FetchOptions) -> Result<FetchProvenance> {
    opts.validate()?;
    tokio::fs::create_dir_all(&opts.out)
        .await
        .with_context(|| format!("creating {}", opts.out.display()))?;
    let mut run = Run::start(opts)?;
    let mut pending: VecDeque<Window> = Window::plan(opts.start, opts.end, opts.window_days).into();
    while let Some(window) = pending.pop_front() {
        if let Some((first, second)) = run.process(&window).await? {
            pending.push_front(second);
            pending.push_front(first);
        }
    }
    run.finish().await
}

/// The state of one [`fetch`].
struct Run<'a> {
    opts: &'a FetchOptions,
    client: reqwest::Client,
    resume: Resume,
    progress: Progress,
    /// Pages completed so far, in time order.
    provenance: FetchProvenance,
}

impl<'a> Run<'a> {
    /// Loads what an earlier run recorded and prepares the HTTP client.
    fn start(opts: &'a FetchOptions) -> Result<Self> {
        let provenance = FetchProvenance::new(opts);
        Ok(Self {
            opts,
            resume: Resume::load(opts, &provenance)?,
            client: build_client()?,
            progress: Progress::new(opts),
            provenance,
        })
    }

    /// Completes `window` (reusing or fetching its page), or returns its two halves
    /// when it holds too many events.
    async fn process(&mut self, window: &Window) -> Result<Option<(Window, Window)>> {
        if let Some(page) = self.resume.reusable(window).await? {
            tracing::debug!("reusing {}", page.file);
            self.complete(window, page);
            return Ok(None);
        }
        let outcome = if self.resume.was_split(window) {
            Outcome::TooMany
        } else {
            fetch_window(&self.client, self.opts, window).await?
        };
        match outcome {
            Outcome::Saved(page) => {
                tracing::info!("{} rows from {}", page.rows, page.url);
                self.complete(window, page);
                self.save_snapshot(window).await?;
                Ok(None)
            }
            Outcome::TooMany => split(window, self.opts).map(Some),
        }
    }

    /// Records the page of `window`.
    fn complete(&mut self, window: &Window, page: FetchedPage) {
        self.progress.done(window, page.rows);
        self.provenance.pages.push(page);
    }

    /// Writes the provenance so far, plus the recorded pages after `window` that this
    /// run has not reached yet (so that an interruption does not forget them).
    async fn save_snapshot(&self, window: &Window) -> Result<()> {
        let mut snapshot = self.provenance.clone();
        snapshot
            .pages
            .extend(self.resume.after(window.end).cloned());
        write_provenance(&self.opts.out, &snapshot).await
    }

    /// Writes the final provenance and removes pages it no longer lists.
    async fn finish(self) -> Result<FetchProvenance> {
        write_provenance(&self.opts.out, &self.provenance).await?;
        self.resume.remove_stale_files(&self.provenance).await?;
        self.progress.finish(self.provenance.total_rows());
        Ok(self.provenance)
    }
}

/// The halves of a window that holds too many events; an error below one minute.
fn split(window: &Window, opts: &FetchOptions) -> Result<(Window, Window)> {
    window.halves().ok_or_else(|| {
        anyhow!(
            "the window {}..{} is only {} seconds long and still holds too many events \
             (the service refused it, or it had {} rows or more); \
             raise the minimum magnitude or narrow the region",
            window.starttime(),
            window.endtime(),
            window.seconds(),
            opts.max_events_per_request,
        )
    })
}

/// The HTTP client: identifies itself, and gives up on silent connections.
fn build_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("sciml-data/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .build()
        .context("building the HTTP client")
}

/// Fetches one window, retrying transient failures with exponential backoff.
async fn fetch_window(
    client: &reqwest::Client,
    opts: &FetchOptions,
    window: &Window,
) -> Result<Outcome> {
    let url = window.url(opts);
    let mut attempt: u32 = 0;
    loop {
        match attempt_window(client, opts, window, &url).await {
            Ok(outcome) => return Ok(outcome),
            Err(AttemptError::Fatal(error)) => return Err(error),
            Err(AttemptError::Transient { error, retry_after }) => {
                if attempt >= opts.max_retries {
                    bail!(
                        "giving up on {url} after {} attempt(s): {error:#}",
                        attempt + 1
                    );
                }
                let delay = backoff(opts.retry_base_delay, attempt)
                    .max(retry_after.unwrap_or_default())
                    .min(MAX_RETRY_DELAY);
                tracing::warn!("{error:#}; retrying in {delay:?}");
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
        }
    }
}

/// `base * 2^attempt`, saturating.
fn backoff(base: Duration, attempt: u32) -> Duration {
    base.saturating_mul(1u32.checked_shl(attempt).unwrap_or(u32::MAX))
}

/// One request for `window`: saves the page, or says the window is too large.
async fn attempt_window(
    client: &reqwest::Client,
    opts: &FetchOptions,
    window: &Window,
    url: &str,
) -> Result<Outcome, AttemptError> {
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| transport_error(url, e))?;
    let status = response.status();
    if !status.is_success() {
        return failed_response(url, response).await;
    }
    let dest = opts.out.join(window.file_name());
    let part = part_path(&dest);
    let result = save_body(response, opts.max_events_per_request, &part, &dest).await;
    if !matches!(result, Ok(Some(_))) {
        // Nothing (or nothing useful) was renamed into place: drop the temporary file.
        let _ = tokio::fs::remove_file(&part).await;
    }
    let Some(body) = result.map_err(|e| e.within(url))? else {
        return Ok(Outcome::TooMany);
    };
    Ok(Outcome::Saved(FetchedPage {
        url: url.to_string(),
        file: if body.size == 0 {
            String::new()
        } else {
            window.file_name()
        },
        starttime: window.starttime(),
        endtime: window.endtime(),
        rows: body.rows,
        size: body.size,
        sha256: body.sha256,
        fetched_at: Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
    }))
}

impl AttemptError {
    /// Adds the URL to the error message.
    fn within(self, url: &str) -> Self {
        match self {
            AttemptError::Transient { error, retry_after } => AttemptError::Transient {
                error: error.context(format!("reading {url}")),
                retry_after,
            },
            AttemptError::Fatal(error) => {
                AttemptError::Fatal(error.context(format!("saving {url}")))
            }
        }
    }
}

/// Classifies a request that failed below HTTP (connection, timeout, ...).
fn transport_error(url: &str, e: reqwest::Error) -> AttemptError {
    let fatal = e.is_builder() || e.is_redirect();
    let error = anyhow::Error::new(e).context(format!("requesting {url}"));
    if fatal {
        AttemptError::Fatal(error)
    } else {
        AttemptError::Transient {
            error,
            retry_after: None,
        }
    }
}

/// Interprets a non-success HTTP answer.
async fn failed_response(url: &str, response: reqwest::Response) -> Result<Outcome, AttemptError> {
    let status = response.status();
    let retry_after = retry_after(&response);
    let body = read_error_body(response).await;
    if status == StatusCode::BAD_REQUEST && body.to_ascii_lowercase().contains(LIMIT_MARKER) {
        return Ok(Outcome::TooMany);
    }
    let error = anyhow!("HTTP {status} from {url}: {}", summarize(&body));
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        Err(AttemptError::Transient { error, retry_after })
    } else {
        Err(AttemptError::Fatal(error))
    }
}

/// The `Retry-After` delay in seconds, if the server sent one.
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?;
    let seconds: u64 = value.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds))
}

/// Up to [`MAX_ERROR_BODY`] bytes of an error body, lossily decoded; empty on failure.
async fn read_error_body(response: reqwest::Response) -> String {
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        body.extend_from_slice(&chunk);
        if body.len() >= MAX_ERROR_BODY {
            body.truncate(MAX_ERROR_BODY);
            break;
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

/// The first line of an error body, with the next non-blank line when the first one
/// is only a title (USGS answers "Error 400: Bad Request", a blank line, then details).
fn summarize(body: &str) -> String {
    let mut lines = body.lines().map(str::trim).filter(|l| !l.is_empty());
    let summary = match (lines.next(), lines.next()) {
        (None, _) => "(empty body)".to_string(),
        (Some(first), None) => first.to_string(),
        (Some(first), Some(second)) => format!("{first} — {second}"),
    };
    summary.chars().take(400).collect()
}

/// Size, SHA-256 and row count of a body saved by [`save_body`].
struct SavedBody {
    size: u64,
    sha256: String,
    rows: u64,
}

/// Streams the body into `part`, hashing and counting as it goes, then renames it to
/// `dest`. Returns `None` (leaving `part` for the caller to remove) as soon as the body
/// holds `limit` rows. An empty body is not written at all (`size` 0, no file).
async fn save_body(
    response: reqwest::Response,
    limit: usize,
    part: &Path,
    dest: &Path,
) -> Result<Option<SavedBody>, AttemptError> {
    let limit = u64::try_from(limit).unwrap_or(u64::MAX);
    // Created with the first bytes, so that an empty body leaves no file behind.
    let mut file: Option<tokio::fs::File> = None;
    let mut hasher = Sha256::new();
    let mut counter = RowCounter::default();
    let mut size: u64 = 0;
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| AttemptError::Transient {
            error: e.into(),
            retry_after: None,
        })?;
        hasher.update(&chunk);
        counter.feed(&chunk);
        size += chunk.len() as u64;
        if counter.rows() >= limit {
            return Ok(None);
        }
        let file = match &mut file {
            Some(file) => file,
            None => file.insert(tokio::fs::File::create(part).await?),
        };
        file.write_all(&chunk).await?;
    }
    let rows = counter.finish();
    if rows >= limit {
        return Ok(None);
    }
    if let Some(mut file) = file {
        file.flush().await?;
        file.sync_all().await?;
        drop(file);
        tokio::fs::rename(part, dest).await?;
    }
    Ok(Some(SavedBody {
        size,
        sha256: hex::encode(hasher.finalize()),
        rows,
    }))
}

/// The progress bar over the fetched time span (hidden unless asked for).
struct Progress {
    bar: ProgressBar,
    events: u64,
}

impl Progress {
    /// A bar over the whole span of `opts`, in seconds.
    fn new(opts: &FetchOptions) -> Self {
        let bar = if opts.progress {
            let total = (opts.end - opts.start).num_seconds().max(0) as u64;
            let bar = ProgressBar::new(total);
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} usgs [{elapsed_precise}] {wide_bar} {percent:>3}% {msg}",
            ) {
                bar.set_style(style);
            }
            bar
        } else {
            ProgressBar::hidden()
        };
        Self { bar, events: 0 }
    }

    /// Marks `window` as complete, with its `rows`.
    fn done(&mut self, window: &Window, rows: u64) {
        self.events += rows;
        self.bar.inc(window.seconds());
        self.bar.set_message(format!(
            "{} events, up to {}",
            self.events,
            window.end.date()
        ));
    }

    /// Ends the bar with the total.
    fn finish(&self, events: u64) {
        self.bar.finish_with_message(format!("{events} events"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    #[test]
    fn row_counter_handles_chunks_blank_lines_and_missing_newline() {
        let body = b"time,mag\n2023-01-01,1.0\n\n2023-01-02,\"a, b\"\r\n2023-01-03,2";
        for split in 0..body.len() {
            let mut counter = RowCounter::default();
            counter.feed(&body[..split]);
            counter.feed(&body[split..]);
            assert_eq!(counter.finish(), 3, "split at {split}");
        }
        let mut header_only = RowCounter::default();
        header_only.feed(b"time,mag\n");
        assert_eq!(header_only.finish(), 0);
    }

    #[test]
    fn plan_covers_the_range_without_gaps() {
        let windows = Window::plan(date(2023, 1, 1), date(2023, 1, 20), 7);
        assert_eq!(windows.len(), 3);
        assert_eq!(
            windows[0].start,
            date(2023, 1, 1).and_time(Default::default())
        );
        assert_eq!(
            windows[2].end,
            date(2023, 1, 20).and_time(Default::default())
        );
        assert!(windows.windows(2).all(|w| w[0].end == w[1].start));
    }

    #[test]
    fn halves_stop_at_one_minute() {
        let start = date(2023, 1, 1).and_time(Default::default());
        let two_minutes = Window {
            start,
            end: start + TimeDelta::minutes(2),
        };
        let (a, b) = two_minutes.halves().expect("splittable");
        assert_eq!((a.end - a.start, b.end - b.start), (MIN_WINDOW, MIN_WINDOW));
        assert!(a.halves().is_none());
    }

    #[test]
    fn url_and_file_name_follow_the_documented_format() {
        let opts = FetchOptions {
            base_url: "http://x/q".into(),
            min_magnitude: Some(2.5),
            ..FetchOptions::default()
        };
        let w = Window::plan(date(2023, 3, 18), date(2023, 3, 19), 1)[0];
        assert_eq!(
            w.url(&opts),
            "http://x/q?format=csv&orderby=time-asc&starttime=2023-03-18T00:00:00\
             &endtime=2023-03-19T00:00:00&minlatitude=32&maxlatitude=36\
             &minlongitude=-120&maxlongitude=-114&minmagnitude=2.5"
        );
        assert_eq!(w.file_name(), "usgs_20230318T000000_20230319T000000.csv");
    }

    #[test]
    fn summary_skips_the_title_line() {
        let body = "Error 400: Bad Request\n\nBad Request: too many\n\nUsage...";
        assert_eq!(
            summarize(body),
            "Error 400: Bad Request — Bad Request: too many"
        );
    }
}

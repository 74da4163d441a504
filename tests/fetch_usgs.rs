//! `sciml-data fetch usgs` against a loopback imitation of the ComCat FDSN service.
//!
//! The server answers from a recorded month of the real catalogue
//! (`shared/realdata/usgs/all_month_2023-03-18_2023-04-17.csv`), honouring the query's
//! time window, region and minimum magnitude, so the pages a fetch saves can be compared
//! row for row with the recording.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use sciml_data::sources::usgs::fetch::{
    FetchOptions, FetchProvenance, FetchedPage, PROVENANCE_FILE, fetch, read_provenance,
};
use sha2::{Digest, Sha256};

/// One month of the real catalogue, newest first, as USGS served it.
const RECORDED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/realdata/usgs/all_month_2023-03-18_2023-04-17.csv"
);

// ---------------------------------------------------------------------------------------
// The recorded catalogue
// ---------------------------------------------------------------------------------------

/// One recorded event: its raw CSV line and the fields the server filters on.
struct Row {
    time: String,
    lat: f64,
    lon: f64,
    mag: Option<f64>,
    line: String,
}

/// The recorded catalogue, sorted by time (stable).
struct Catalogue {
    header: String,
    rows: Vec<Row>,
}

/// The recording, parsed once per test binary.
fn catalogue() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        let text = std::fs::read_to_string(RECORDED).expect("recorded ComCat month is readable");
        let mut lines = text.lines();
        let header = lines.next().expect("header line").to_string();
        let mut rows: Vec<Row> = lines
            .filter(|l| !l.trim().is_empty())
            .map(parse_row)
            .collect();
        rows.sort_by(|a, b| a.time.cmp(&b.time));
        Catalogue { header, rows }
    })
}

/// Parses one raw line (ComCat lines never contain newlines, so one line = one record).
fn parse_row(line: &str) -> Row {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(line.as_bytes());
    let record = reader
        .records()
        .next()
        .expect("one record per line")
        .expect("valid CSV line");
    assert_eq!(record.len(), 22, "recorded line has 22 fields: {line}");
    Row {
        time: record[0].to_string(),
        lat: record[1].parse().expect("latitude"),
        lon: record[2].parse().expect("longitude"),
        mag: record[4].parse().ok(),
        line: line.to_string(),
    }
}

/// What the service would select for a query's parameters.
fn select<'a>(catalogue: &'a Catalogue, params: &HashMap<String, String>) -> Vec<&'a Row> {
    let num = |key: &str, default: f64| {
        params
            .get(key)
            .map_or(default, |v| v.parse().expect("numeric parameter"))
    };
    let start = params.get("starttime").expect("starttime");
    let end = params.get("endtime").expect("endtime");
    let (lat0, lat1) = (num("minlatitude", -90.0), num("maxlatitude", 90.0));
    let (lon0, lon1) = (num("minlongitude", -180.0), num("maxlongitude", 180.0));
    let min_mag = params
        .get("minmagnitude")
        .map(|v| v.parse::<f64>().expect("mag"));
    catalogue
        .rows
        .iter()
        // Times compare as strings: "…T00:00:00.123Z" sorts after "…T00:00:00".
        .filter(|r| r.time.as_str() >= start.as_str() && r.time.as_str() < end.as_str())
        .filter(|r| (lat0..=lat1).contains(&r.lat) && (lon0..=lon1).contains(&r.lon))
        .filter(|r| min_mag.is_none_or(|m| r.mag.is_some_and(|x| x >= m)))
        .collect()
}

/// The query parameters of a fetch's whole range (for the expected rows).
fn range_params(opts: &FetchOptions) -> HashMap<String, String> {
    let mut params = HashMap::from([
        ("starttime".to_string(), format!("{}T00:00:00", opts.start)),
        ("endtime".to_string(), format!("{}T00:00:00", opts.end)),
        ("minlatitude".to_string(), opts.min_latitude.to_string()),
        ("maxlatitude".to_string(), opts.max_latitude.to_string()),
        ("minlongitude".to_string(), opts.min_longitude.to_string()),
        ("maxlongitude".to_string(), opts.max_longitude.to_string()),
    ]);
    if let Some(m) = opts.min_magnitude {
        params.insert("minmagnitude".to_string(), m.to_string());
    }
    params
}

/// The raw lines the service holds for the whole range of `opts`, in time order.
fn expected_lines(opts: &FetchOptions) -> Vec<String> {
    select(catalogue(), &range_params(opts))
        .into_iter()
        .map(|r| r.line.clone())
        .collect()
}

// ---------------------------------------------------------------------------------------
// The loopback server
// ---------------------------------------------------------------------------------------

/// A request as the handler sees it.
struct Request {
    /// 0 for the first request the server answered, 1 for the next, ...
    index: usize,
    params: HashMap<String, String>,
}

/// The handler's answer.
struct Reply {
    status: u16,
    body: String,
    /// Data rows in the body (for the request log).
    rows: usize,
}

/// One answered request.
#[derive(Debug, Clone)]
struct Served {
    target: String,
    status: u16,
    rows: usize,
}

type Handler = Box<dyn Fn(&Request) -> Reply + Send>;

/// A single-threaded HTTP/1.1 server on 127.0.0.1 that stops when dropped, after
/// [`MAX_REQUESTS`] requests, or after [`SERVER_LIFETIME`], whichever comes first.
struct Server {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<Served>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

const MAX_REQUESTS: usize = 1_000;
const SERVER_LIFETIME: Duration = Duration::from_secs(120);

impl Server {
    fn start(handler: impl Fn(&Request) -> Reply + Send + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("local address");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::spawn({
            let (log, stop) = (Arc::clone(&log), Arc::clone(&stop));
            move || serve(listener, Box::new(handler), log, stop)
        });
        Server {
            addr,
            log,
            stop,
            thread: Some(thread),
        }
    }

    fn base_url(&self) -> String {
        format!("http://{}/fdsnws/event/1/query", self.addr)
    }

    fn served(&self) -> Vec<Served> {
        self.log.lock().expect("log lock").clone()
    }

    fn requests(&self) -> usize {
        self.log.lock().expect("log lock").len()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The accept loop (bounded in requests and time).
fn serve(
    listener: TcpListener,
    handler: Handler,
    log: Arc<Mutex<Vec<Served>>>,
    stop: Arc<AtomicBool>,
) {
    let deadline = Instant::now() + SERVER_LIFETIME;
    let mut answered = 0;
    while answered < MAX_REQUESTS && Instant::now() < deadline && !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                answered += 1;
                let _ = answer(stream, &handler, &log);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(_) => break,
        }
    }
}

/// Reads one request, answers it and closes the connection.
fn answer(
    mut stream: TcpStream,
    handler: &Handler,
    log: &Mutex<Vec<Served>>,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
    }
    let target = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    let index = log.lock().expect("log lock").len();
    let reply = handler(&Request {
        index,
        params: query_params(&target),
    });
    log.lock().expect("log lock").push(Served {
        target,
        status: reply.status,
        rows: reply.rows,
    });
    let reason = match reply.status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        404 => "Not Found",
        503 => "Service Unavailable",
        _ => "Other",
    };
    let mut head = format!(
        "HTTP/1.1 {} {reason}\r\nConnection: close\r\n",
        reply.status
    );
    if reply.status != 204 {
        head.push_str(&format!(
            "Content-Type: text/csv\r\nContent-Length: {}\r\n",
            reply.body.len()
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(reply.body.as_bytes())?;
    stream.flush()?;
    stream.shutdown(std::net::Shutdown::Write)
}

/// The decoded query parameters of a request target.
fn query_params(target: &str) -> HashMap<String, String> {
    let query = target.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_string(), v.replace("%3A", ":").replace("%3a", ":")))
        .collect()
}

/// How the imitation answers a query without events.
#[derive(Clone, Copy)]
enum NoData {
    /// HTTP 204 without body (the service's default, `nodata=204`).
    NoContent,
    /// HTTP 200 with only the header line.
    HeaderOnly,
}

/// The catalogue answer for `params`: rows in time order, or "no data".
fn catalogue_reply(params: &HashMap<String, String>, no_data: NoData) -> Reply {
    let cat = catalogue();
    let rows = select(cat, params);
    if rows.is_empty() && matches!(no_data, NoData::NoContent) {
        return Reply {
            status: 204,
            body: String::new(),
            rows: 0,
        };
    }
    let mut body = format!("{}\n", cat.header);
    for row in &rows {
        body.push_str(&row.line);
        body.push('\n');
    }
    Reply {
        status: 200,
        body,
        rows: rows.len(),
    }
}

/// The service's refusal of a query matching more than `limit` events.
fn limit_reply(matching: usize, limit: usize) -> Reply {
    Reply {
        status: 400,
        body: format!(
            "Error 400: Bad Request\n\nBad Request: {matching} matching events exceeds search \
             limit of {limit}. Modify the search to match fewer events.\n\nUsage details are \
             available from https://earthquake.usgs.gov/fdsnws/event/1\n"
        ),
        rows: 0,
    }
}

/// A well-behaved service.
fn comcat() -> impl Fn(&Request) -> Reply + Send {
    |req: &Request| catalogue_reply(&req.params, NoData::NoContent)
}

/// A service that refuses queries matching more than `limit` events, as USGS does.
fn limited(limit: usize) -> impl Fn(&Request) -> Reply + Send {
    move |req: &Request| {
        let matching = select(catalogue(), &req.params).len();
        if matching > limit {
            limit_reply(matching, limit)
        } else {
            catalogue_reply(&req.params, NoData::NoContent)
        }
    }
}

/// A service that answers `failures` requests with 503 before recovering.
fn flaky(failures: usize) -> impl Fn(&Request) -> Reply + Send {
    move |req: &Request| {
        if req.index < failures {
            Reply {
                status: 503,
                body: "Error 503: Service Unavailable\n".to_string(),
                rows: 0,
            }
        } else {
            catalogue_reply(&req.params, NoData::NoContent)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

/// Options for the recorded month, the whole world, 7-day windows, fast retries.
fn month_options(server: &Server, out: &Path) -> FetchOptions {
    FetchOptions {
        out: out.to_path_buf(),
        base_url: server.base_url(),
        start: date(2023, 3, 18),
        end: date(2023, 4, 18),
        min_latitude: -90.0,
        max_latitude: 90.0,
        min_longitude: -180.0,
        max_longitude: 180.0,
        min_magnitude: None,
        window_days: 7,
        max_events_per_request: 20_000,
        max_retries: 3,
        retry_base_delay: Duration::from_millis(10),
        progress: false,
    }
}

/// The data lines of all pages, in provenance order; checks each page's header.
fn page_lines(dir: &Path, provenance: &FetchProvenance) -> Vec<String> {
    let mut lines = Vec::new();
    for page in provenance.pages.iter().filter(|p| !p.file.is_empty()) {
        let text = std::fs::read_to_string(dir.join(&page.file)).expect("page file readable");
        let mut page_lines = text.lines();
        assert_eq!(
            page_lines.next(),
            Some(catalogue().header.as_str()),
            "{}",
            page.file
        );
        lines.extend(page_lines.filter(|l| !l.is_empty()).map(str::to_string));
    }
    lines
}

/// SHA-256 of a file, computed independently of the library.
fn sha256_of(path: &Path) -> String {
    hex::encode(Sha256::digest(
        std::fs::read(path).expect("page file readable"),
    ))
}

/// Asserts that the pages tile `[start, end)` in time order without gaps or overlaps.
fn assert_contiguous(provenance: &FetchProvenance, start: &str, end: &str) {
    let pages = &provenance.pages;
    assert_eq!(pages.first().map(|p| p.starttime.as_str()), Some(start));
    assert_eq!(pages.last().map(|p| p.endtime.as_str()), Some(end));
    for pair in pages.windows(2) {
        assert_eq!(
            pair[0].endtime, pair[1].starttime,
            "pages must be contiguous"
        );
    }
}

/// Files in `dir` whose name ends with `suffix`.
fn files_ending_with(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .expect("readable dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect()
}

fn as_json(pages: &[FetchedPage]) -> serde_json::Value {
    serde_json::to_value(pages).expect("pages serialise")
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

/// (a) Weekly pages over the recorded month hold exactly the recorded rows.
#[tokio::test]
async fn weekly_pages_hold_every_recorded_row() {
    let server = Server::start(comcat());
    let dir = tempfile::tempdir().expect("temp dir");
    let opts = month_options(&server, dir.path());

    let provenance = fetch(&opts).await.expect("fetch succeeds");

    // 31 days in 7-day windows: 5 pages, 5 requests.
    assert_eq!(provenance.pages.len(), 5);
    assert_eq!(server.requests(), 5);
    assert_contiguous(&provenance, "2023-03-18T00:00:00", "2023-04-18T00:00:00");
    assert_eq!(
        provenance.pages[0].file,
        "usgs_20230318T000000_20230325T000000.csv"
    );

    // Row for row, the pages are the recording in time order.
    let expected = expected_lines(&opts);
    assert_eq!(
        expected.len(),
        catalogue().rows.len(),
        "the month lies in the window"
    );
    assert!(expected.len() > 10_000);
    assert_eq!(page_lines(dir.path(), &provenance), expected);
    assert_eq!(provenance.total_rows(), expected.len() as u64);

    // Every requested URL is listed, once, in the provenance.
    let requested: BTreeSet<String> = server
        .served()
        .iter()
        .map(|s| format!("http://{}{}", server.addr, s.target))
        .collect();
    let listed: BTreeSet<String> = provenance.pages.iter().map(|p| p.url.clone()).collect();
    assert_eq!(requested, listed);

    // Size, hash and row count of every page match the saved file.
    for page in &provenance.pages {
        let path = dir.path().join(&page.file);
        assert_eq!(sha256_of(&path), page.sha256, "{}", page.file);
        assert_eq!(std::fs::metadata(&path).expect("page").len(), page.size);
        let rows = std::fs::read_to_string(&path)
            .expect("page")
            .lines()
            .count()
            - 1;
        assert_eq!(rows as u64, page.rows, "{}", page.file);
    }

    // The provenance on disk is the one returned, and no temporary file is left.
    let on_disk = read_provenance(dir.path())
        .expect("readable")
        .expect("written");
    assert_eq!(
        serde_json::to_value(&on_disk).expect("json"),
        serde_json::to_value(&provenance).expect("json")
    );
    assert_eq!(on_disk.region, [-90.0, 90.0, -180.0, 180.0]);
    assert_eq!(
        (on_disk.start.as_str(), on_disk.end.as_str()),
        ("2023-03-18", "2023-04-18")
    );
    assert!(dir.path().join(PROVENANCE_FILE).is_file());
    assert!(files_ending_with(dir.path(), ".part").is_empty());
}

/// The region and the minimum magnitude reach the service.
#[tokio::test]
async fn region_and_minimum_magnitude_are_sent() {
    let server = Server::start(comcat());
    let dir = tempfile::tempdir().expect("temp dir");
    let opts = FetchOptions {
        min_latitude: 32.0,
        max_latitude: 36.0,
        min_longitude: -120.0,
        max_longitude: -114.0,
        min_magnitude: Some(1.0),
        window_days: 10,
        ..month_options(&server, dir.path())
    };

    let provenance = fetch(&opts).await.expect("fetch succeeds");

    let expected = expected_lines(&opts);
    assert!(!expected.is_empty() && expected.len() < catalogue().rows.len() / 5);
    assert_eq!(page_lines(dir.path(), &provenance), expected);
    assert_eq!(provenance.min_magnitude, Some(1.0));
    assert!(
        provenance
            .pages
            .iter()
            .all(|p| p.url.contains("&minmagnitude=1&") || p.url.ends_with("&minmagnitude=1"))
    );
}

/// (b) Windows the service refuses ("exceeds search limit") are split until they fit.
#[tokio::test]
async fn refused_windows_are_split() {
    const LIMIT: usize = 500;
    let server = Server::start(limited(LIMIT));
    let dir = tempfile::tempdir().expect("temp dir");
    let opts = FetchOptions {
        max_events_per_request: LIMIT,
        ..month_options(&server, dir.path())
    };

    let provenance = fetch(&opts).await.expect("fetch succeeds");

    let served = server.served();
    assert!(served.iter().any(|s| s.status == 400), "the limit was hit");
    assert!(
        served.iter().all(|s| s.rows <= LIMIT),
        "no answer over the limit"
    );
    assert!(
        provenance.pages.len() > 20,
        "{} pages",
        provenance.pages.len()
    );
    assert!(provenance.pages.iter().all(|p| p.rows < LIMIT as u64));
    assert_contiguous(&provenance, "2023-03-18T00:00:00", "2023-04-18T00:00:00");
    assert_eq!(page_lines(dir.path(), &provenance), expected_lines(&opts));

    // Resuming a split fetch costs no request: recorded halves are found again.
    let again = fetch(&opts).await.expect("resume succeeds");
    assert_eq!(server.requests(), served.len());
    assert_eq!(as_json(&again.pages), as_json(&provenance.pages));
}

/// Pages reaching `max_events_per_request` rows are split even if the service sent them.
#[tokio::test]
async fn full_pages_are_split_by_the_client() {
    const LIMIT: usize = 400;
    let server = Server::start(comcat());
    let dir = tempfile::tempdir().expect("temp dir");
    let opts = FetchOptions {
        max_events_per_request: LIMIT,
        ..month_options(&server, dir.path())
    };

    let provenance = fetch(&opts).await.expect("fetch succeeds");

    assert!(
        server.served().iter().any(|s| s.rows >= LIMIT),
        "some answers were too full"
    );
    assert!(provenance.pages.iter().all(|p| p.rows < LIMIT as u64));
    assert_contiguous(&provenance, "2023-03-18T00:00:00", "2023-04-18T00:00:00");
    assert_eq!(page_lines(dir.path(), &provenance), expected_lines(&opts));
    let listed: BTreeSet<&str> = provenance.pages.iter().map(|p| p.file.as_str()).collect();
    for csv in files_ending_with(dir.path(), ".csv") {
        let name = csv
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 name");
        assert!(listed.contains(name), "unlisted page {name} left behind");
    }
    assert!(files_ending_with(dir.path(), ".part").is_empty());
}

/// A window that cannot be split below one minute is a clear error.
#[tokio::test]
async fn unsplittable_window_is_an_error() {
    let server = Server::start(limited(0));
    let dir = tempfile::tempdir().expect("temp dir");
    let opts = FetchOptions {
        start: date(2023, 4, 1),
        end: date(2023, 4, 2),
        max_events_per_request: 1,
        ..month_options(&server, dir.path())
    };

    let error = fetch(&opts)
        .await
        .expect_err("cannot fit one event per request");

    let message = format!("{error:#}");
    assert!(message.contains("still holds too many events"), "{message}");
    assert!(server.requests() < 100, "splitting stops at one minute");
}

/// (c) 503 answers are retried; with too few retries the error names the status.
#[tokio::test]
async fn transient_errors_are_retried() {
    let server = Server::start(flaky(2));
    let dir = tempfile::tempdir().expect("temp dir");
    let opts = FetchOptions {
        window_days: 40,
        ..month_options(&server, dir.path())
    };

    let provenance = fetch(&opts).await.expect("third attempt succeeds");

    let statuses: Vec<u16> = server.served().iter().map(|s| s.status).collect();
    assert_eq!(statuses, [503, 503, 200]);
    assert_eq!(provenance.pages.len(), 1);
    assert_eq!(page_lines(dir.path(), &provenance), expected_lines(&opts));

    let server = Server::start(flaky(2));
    let dir = tempfile::tempdir().expect("temp dir");
    let opts = FetchOptions {
        max_retries: 1,
        ..month_options(&server, dir.path())
    };

    let error = fetch(&opts)
        .await
        .expect_err("two failures exhaust one retry");

    let message = format!("{error:#}");
    assert!(message.contains("503"), "{message}");
    assert!(message.contains("2 attempt"), "{message}");
    assert_eq!(server.requests(), 2);
    assert!(files_ending_with(dir.path(), ".csv").is_empty());
    assert!(files_ending_with(dir.path(), ".part").is_empty());
}

/// Other client errors are not retried and are reported with URL, status and body.
#[tokio::test]
async fn client_errors_are_fatal_and_explained() {
    let server = Server::start(|_: &Request| Reply {
        status: 404,
        body: "Error 404: Not Found\n\nNo such endpoint\n".to_string(),
        rows: 0,
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let opts = month_options(&server, dir.path());

    let error = fetch(&opts).await.expect_err("404 is fatal");

    let message = format!("{error:#}");
    assert!(message.contains("404"), "{message}");
    assert!(message.contains("Error 404: Not Found"), "{message}");
    assert!(message.contains(&server.base_url()), "{message}");
    assert_eq!(server.requests(), 1, "no retry of a 404");
}

/// (d) A second run makes no request; a deleted page is fetched again, alone.
#[tokio::test]
async fn fetch_resumes_from_recorded_pages() {
    let server = Server::start(comcat());
    let dir = tempfile::tempdir().expect("temp dir");
    let opts = month_options(&server, dir.path());

    let first = fetch(&opts).await.expect("first run");
    let after_first = server.requests();
    assert_eq!(after_first, first.pages.len());

    let second = fetch(&opts).await.expect("second run");
    assert_eq!(
        server.requests(),
        after_first,
        "second run makes no request"
    );
    assert_eq!(as_json(&second.pages), as_json(&first.pages));

    let victim = &first.pages[2];
    std::fs::remove_file(dir.path().join(&victim.file)).expect("delete a page");
    let third = fetch(&opts).await.expect("third run");
    let served = server.served();
    assert_eq!(served.len(), after_first + 1, "exactly one request");
    assert_eq!(
        format!("http://{}{}", server.addr, served[after_first].target),
        victim.url
    );
    assert_eq!(third.pages.len(), first.pages.len());
    for (i, (old, new)) in first.pages.iter().zip(&third.pages).enumerate() {
        assert_eq!(
            (&old.file, &old.sha256, old.rows),
            (&new.file, &new.sha256, new.rows)
        );
        if i != 2 {
            assert_eq!(old.fetched_at, new.fetched_at, "page {i} was reused");
        }
    }
    assert_eq!(page_lines(dir.path(), &third), expected_lines(&opts));

    // A corrupted page is noticed by its hash, and fetched again.
    let victim = dir.path().join(&first.pages[0].file);
    let mut bytes = std::fs::read(&victim).expect("page");
    let last = bytes.len() - 2;
    bytes[last] = if bytes[last] == b'x' { b'y' } else { b'x' };
    std::fs::write(&victim, bytes).expect("corrupt a page");
    fetch(&opts).await.expect("fourth run");
    assert_eq!(server.requests(), after_first + 2);
    assert_eq!(sha256_of(&victim), first.pages[0].sha256);
}

/// A fetch stopped by an error keeps its finished pages; the next run fetches only the
/// rest.
#[tokio::test]
async fn interrupted_fetch_resumes_where_it_stopped() {
    // The third request fails for good (404 is not retried); later ones succeed.
    let server = Server::start(|req: &Request| {
        if req.index == 2 {
            Reply {
                status: 404,
                body: "Error 404: Not Found\n".to_string(),
                rows: 0,
            }
        } else {
            catalogue_reply(&req.params, NoData::NoContent)
        }
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let opts = month_options(&server, dir.path());

    fetch(&opts).await.expect_err("the third window fails");
    let partial = read_provenance(dir.path())
        .expect("readable")
        .expect("written after each page");
    assert_eq!(partial.pages.len(), 2);
    assert_eq!(files_ending_with(dir.path(), ".csv").len(), 2);
    assert!(files_ending_with(dir.path(), ".part").is_empty());

    let complete = fetch(&opts).await.expect("second run");
    assert_eq!(server.requests(), 3 + 3, "only the three missing windows");
    assert_eq!(as_json(&complete.pages[..2]), as_json(&partial.pages));
    assert_eq!(page_lines(dir.path(), &complete), expected_lines(&opts));
}

/// A later end date (the default end moves every day) reuses the earlier windows,
/// fetches the rest, and removes the page the new windows replace.
#[tokio::test]
async fn moving_end_date_reuses_earlier_windows() {
    let server = Server::start(comcat());
    let dir = tempfile::tempdir().expect("temp dir");
    let early = FetchOptions {
        end: date(2023, 4, 10),
        ..month_options(&server, dir.path())
    };
    let first = fetch(&early).await.expect("first run");
    // [03-18, 03-25), [03-25, 04-01), [04-01, 04-08), [04-08, 04-10)
    assert_eq!(first.pages.len(), 4);
    let replaced = dir.path().join(&first.pages[3].file);
    assert!(replaced.is_file());

    let late = month_options(&server, dir.path());
    let second = fetch(&late).await.expect("second run");

    // Three windows reused; [04-08, 04-15) and [04-15, 04-18) fetched.
    assert_eq!(server.requests(), 4 + 2);
    assert_eq!(as_json(&second.pages[..3]), as_json(&first.pages[..3]));
    assert_contiguous(&second, "2023-03-18T00:00:00", "2023-04-18T00:00:00");
    assert!(!replaced.exists(), "the replaced page is removed");
    assert_eq!(
        files_ending_with(dir.path(), ".csv").len(),
        second.pages.len()
    );
    assert_eq!(page_lines(dir.path(), &second), expected_lines(&late));
    assert_eq!(second.end, "2023-04-18");
}

/// A directory fetched with other options is refused, without any request.
#[tokio::test]
async fn different_options_need_another_directory() {
    let server = Server::start(comcat());
    let dir = tempfile::tempdir().expect("temp dir");
    let opts = FetchOptions {
        window_days: 40,
        ..month_options(&server, dir.path())
    };
    fetch(&opts).await.expect("first run");
    let before = server.requests();

    let other = FetchOptions {
        min_magnitude: Some(2.5),
        ..opts.clone()
    };
    let error = fetch(&other).await.expect_err("options differ");

    let message = format!("{error:#}");
    assert!(message.contains("--out"), "{message}");
    assert!(message.contains("magnitude"), "{message}");
    assert_eq!(server.requests(), before);
}

/// Empty windows are recorded: 204 as a page without file, a bare header as a file.
#[tokio::test]
async fn empty_windows_are_recorded() {
    for (no_data, expect_file) in [(NoData::NoContent, false), (NoData::HeaderOnly, true)] {
        let server = Server::start(move |req: &Request| catalogue_reply(&req.params, no_data));
        let dir = tempfile::tempdir().expect("temp dir");
        let opts = FetchOptions {
            start: date(2023, 5, 1),
            end: date(2023, 5, 10),
            ..month_options(&server, dir.path())
        };

        let provenance = fetch(&opts).await.expect("fetch succeeds");

        assert_eq!(provenance.pages.len(), 2);
        assert_contiguous(&provenance, "2023-05-01T00:00:00", "2023-05-10T00:00:00");
        for page in &provenance.pages {
            assert_eq!(page.rows, 0);
            assert_eq!(!page.file.is_empty(), expect_file);
            if expect_file {
                let path = dir.path().join(&page.file);
                assert_eq!(page.size, catalogue().header.len() as u64 + 1);
                assert_eq!(sha256_of(&path), page.sha256);
            } else {
                assert_eq!(page.size, 0);
                assert_eq!(page.sha256, hex::encode(Sha256::digest(b"")));
            }
        }
        assert_eq!(
            files_ending_with(dir.path(), ".csv").len(),
            if expect_file { 2 } else { 0 }
        );

        fetch(&opts).await.expect("resume");
        assert_eq!(server.requests(), 2, "empty pages are reused too");
    }
}

/// The fetch future can be spawned on a multi-threaded runtime.
#[test]
fn fetch_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let opts = FetchOptions::default();
    let future = fetch(&opts);
    assert_send(&future);
}

/// Invalid options are rejected before any request.
#[tokio::test]
async fn invalid_options_are_rejected() {
    let server = Server::start(comcat());
    let dir = tempfile::tempdir().expect("temp dir");
    let base = month_options(&server, dir.path());
    let cases = [
        FetchOptions {
            end: base.start,
            ..base.clone()
        },
        FetchOptions {
            window_days: 0,
            ..base.clone()
        },
        FetchOptions {
            min_latitude: 40.0,
            max_latitude: 30.0,
            ..base.clone()
        },
        FetchOptions {
            min_magnitude: Some(f64::NAN),
            ..base.clone()
        },
    ];
    for opts in cases {
        assert!(fetch(&opts).await.is_err(), "{opts:?}");
    }
    assert_eq!(server.requests(), 0);
}

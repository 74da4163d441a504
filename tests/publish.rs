//! Publish, remote verify and pull against a real S3 API server (moto) on loopback, with a
//! fault-injecting proxy in between where a test needs faults.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::Ordering;

use common::s3::{Moto, Proxy};
use common::*;

const BUCKET: &str = "sciml-datasets";

fn bin(endpoint: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sciml-data"));
    c.env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing-key-id")
        .env("AWS_SECRET_ACCESS_KEY", "testing-secret-do-not-print")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_ENDPOINT");
    c
}

fn run(endpoint: &str, args: &[&str]) -> Output {
    bin(endpoint).args(args).output().unwrap()
}

fn out(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", out(o)))
}

/// A local repository with tevolop 1.0.0 (and 1.1.0 with different content).
fn local_repo(dir: &Path) -> String {
    let repo = dir.join("repo");
    for (v, n) in [("1.0.0", 400), ("1.1.0", 450)] {
        let input = write(dir, &format!("in-{v}.csv"), &small_catalogue(n));
        let o = Command::new(env!("CARGO_BIN_EXE_sciml-data"))
            .args([
                "ingest",
                "usgs",
                "--input",
                input.to_str().unwrap(),
                "--repo",
                repo.to_str().unwrap(),
                "--version",
                v,
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", out(&o));
    }
    repo.display().to_string()
}

#[test]
fn publish_verify_log_and_republish() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = local_repo(tmp.path());
    let moto = Moto::start();
    moto.create_bucket(BUCKET);
    let ep = moto.endpoint();
    let url = format!("s3://{BUCKET}/science");

    let o = run(
        &ep,
        &[
            "publish",
            &format!("{repo}/tevolop@1.0.0"),
            "--to",
            &url,
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", out(&o));
    assert!(!out(&o).contains("testing-secret-do-not-print"));
    let r = json(&o);
    let objects = r["objects"].as_u64().unwrap();
    assert!(objects > 10);
    assert_eq!(r["uploaded"].as_u64().unwrap(), objects);

    // Readers see it.
    let o = run(&ep, &["log", &format!("{url}/tevolop")]);
    assert!(o.status.success(), "{}", out(&o));
    assert!(out(&o).contains("1.0.0"));
    let o = run(&ep, &["info", &format!("{url}/tevolop@1.0.0")]);
    assert!(
        o.status.success() && out(&o).contains("data/events"),
        "{}",
        out(&o)
    );

    // Fast remote verify: HEAD per object, no GET of payload.
    let proxy = Proxy::start(moto.port);
    let o = run(
        &proxy.endpoint(),
        &["verify", &format!("{url}/tevolop@1.0.0"), "--json"],
    );
    assert!(o.status.success(), "{}", out(&o));
    let v = json(&o);
    assert_eq!(v["mode"], "fast");
    assert_eq!(
        v["files_checked"].as_u64().unwrap(),
        objects - 1,
        "every object but the tag manifest"
    );
    let gets_of_payload = proxy
        .requests()
        .iter()
        .filter(|r| r.starts_with("GET") && r.contains("/data/"))
        .count();
    assert_eq!(
        gets_of_payload,
        0,
        "fast verify downloaded payload: {:?}",
        proxy.requests()
    );
    let o = run(&ep, &["verify", &format!("{url}/tevolop@1.0.0"), "--full"]);
    assert!(o.status.success(), "{}", out(&o));

    // The same content again uploads nothing.
    let o = run(
        &ep,
        &[
            "publish",
            &format!("{repo}/tevolop@1.0.0"),
            "--to",
            &url,
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", out(&o));
    assert_eq!(json(&o)["already_published"], true);

    // Different content under the published number: refused, the published version intact.
    let v11 = Path::new(&repo).join("tevolop");
    std::fs::rename(v11.join("1.0.0"), v11.join("1.0.0.orig")).unwrap();
    std::fs::rename(v11.join("versions/1.0.0.json"), tmp.path().join("rec.json")).unwrap();
    let other = write(tmp.path(), "other.csv", &small_catalogue(300));
    let o = Command::new(env!("CARGO_BIN_EXE_sciml-data"))
        .args([
            "ingest",
            "usgs",
            "--input",
            other.to_str().unwrap(),
            "--repo",
            &repo,
            "--version",
            "1.0.0",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", out(&o));
    let o = run(
        &ep,
        &["publish", &format!("{repo}/tevolop@1.0.0"), "--to", &url],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        out(&o).contains("already exists with digest") && out(&o).contains("immutable"),
        "{}",
        out(&o)
    );
    let o = run(&ep, &["verify", &format!("{url}/tevolop@1.0.0"), "--full"]);
    assert!(o.status.success(), "{}", out(&o));
}

#[test]
fn racing_publishers_exactly_one_wins() {
    let tmp = tempfile::tempdir().unwrap();
    // Two local repositories with different content under the same version number.
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let repo_a = local_repo(&a);
    let input = write(&b, "b.csv", &small_catalogue(999));
    let repo_b = b.join("repo").display().to_string();
    let o = Command::new(env!("CARGO_BIN_EXE_sciml-data"))
        .args([
            "ingest",
            "usgs",
            "--input",
            input.to_str().unwrap(),
            "--repo",
            &repo_b,
            "--version",
            "1.0.0",
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    let moto = Moto::start();
    moto.create_bucket(BUCKET);
    let ep = moto.endpoint();
    let url = format!("s3://{BUCKET}/race");
    let pa = bin(&ep)
        .args(["publish", &format!("{repo_a}/tevolop@1.0.0"), "--to", &url])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pb = bin(&ep)
        .args(["publish", &format!("{repo_b}/tevolop@1.0.0"), "--to", &url])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (oa, ob) = (
        pa.wait_with_output().unwrap(),
        pb.wait_with_output().unwrap(),
    );
    let wins = [&oa, &ob].iter().filter(|o| o.status.success()).count();
    assert_eq!(wins, 1, "A: {}\nB: {}", out(&oa), out(&ob));
    let loser = if oa.status.success() { &ob } else { &oa };
    let msg = out(loser);
    assert!(
        msg.contains("another publisher")
            || msg.contains("already exists with digest")
            || msg.contains("published by someone else"),
        "{msg}"
    );
    // What is visible is exactly the winner's version.
    let o = run(
        &ep,
        &[
            "verify",
            &format!("{url}/tevolop@1.0.0"),
            "--full",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", out(&o));
}

#[test]
fn a_killed_publish_resumes_without_reuploading() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let input = write(tmp.path(), "big.csv", &small_catalogue(20));
    // A version with many objects: the grid of a long catalogue (daily chunks per year).
    let text = std::fs::read_to_string(&input).unwrap();
    let mut long = text.clone();
    for year in 1990..2020 {
        for line in text.lines().skip(1) {
            long.push_str(&line.replacen("2020-", &format!("{year}-"), 2).replacen(
                ",ci0",
                &format!(",ci{year}"),
                1,
            ));
            long.push('\n');
        }
    }
    std::fs::write(&input, long).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_sciml-data"))
        .args([
            "ingest",
            "usgs",
            "--input",
            input.to_str().unwrap(),
            "--repo",
            repo.to_str().unwrap(),
            "--version",
            "1.0.0",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", out(&o));
    let moto = Moto::start();
    moto.create_bucket(BUCKET);
    // Slow responses so that the kill lands mid-publish.
    let proxy = Proxy::start(moto.port);
    proxy.faults.delay_ms.store(15, Ordering::Relaxed);
    let url = format!("s3://{BUCKET}/resume");
    let addr = format!("{}/tevolop@1.0.0", repo.display());
    let mut child = bin(&proxy.endpoint())
        .args(["publish", &addr, "--to", &url, "--jobs", "2"])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the publish finished before it could be killed; make the version larger"
    );
    // Not visible yet.
    let o = run(
        &moto.endpoint(),
        &["verify", &format!("{url}/tevolop@1.0.0")],
    );
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(out(&o).contains("no such version"), "{}", out(&o));
    // Resume.
    let o = run(
        &moto.endpoint(),
        &["publish", &addr, "--to", &url, "--json"],
    );
    assert!(o.status.success(), "{}", out(&o));
    let r = json(&o);
    assert!(
        r["skipped"].as_u64().unwrap() > 0,
        "nothing was resumed: {r}"
    );
    assert!(r["uploaded"].as_u64().unwrap() < r["objects"].as_u64().unwrap());
    let o = run(
        &moto.endpoint(),
        &["verify", &format!("{url}/tevolop@1.0.0"), "--full"],
    );
    assert!(o.status.success(), "{}", out(&o));
}

#[test]
fn stores_without_conditional_writes_are_refused_unless_unsafe() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = local_repo(tmp.path());
    let moto = Moto::start();
    moto.create_bucket(BUCKET);
    let proxy = Proxy::start(moto.port);
    proxy
        .faults
        .strip_if_none_match
        .store(true, Ordering::Relaxed);
    let url = format!("s3://{BUCKET}/lying");
    let o = run(
        &proxy.endpoint(),
        &["publish", &format!("{repo}/tevolop@1.0.0"), "--to", &url],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        out(&o).contains("ignores conditional writes"),
        "{}",
        out(&o)
    );
    // Remembered: the second attempt does not probe again.
    let before = proxy.requests().len();
    let o = run(
        &proxy.endpoint(),
        &["publish", &format!("{repo}/tevolop@1.0.0"), "--to", &url],
    );
    assert_eq!(o.status.code(), Some(1));
    let probes = proxy.requests()[before..]
        .iter()
        .filter(|r| r.contains("probe-"))
        .count();
    assert_eq!(probes, 0);
    let o = run(
        &proxy.endpoint(),
        &[
            "publish",
            &format!("{repo}/tevolop@1.0.0"),
            "--to",
            &url,
            "--unsafe-no-conditional-writes",
        ],
    );
    assert!(o.status.success(), "{}", out(&o));
    let o = run(
        &moto.endpoint(),
        &["log", &format!("{url}/tevolop"), "--json"],
    );
    assert!(o.status.success(), "{}", out(&o));
    assert!(
        json(&o)[0]["unsafe_publish"]
            .as_str()
            .unwrap()
            .contains("conditional writes"),
        "{}",
        out(&o)
    );
}

#[test]
fn transient_faults_are_retried_and_corruption_is_never_accepted() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = local_repo(tmp.path());
    let moto = Moto::start();
    moto.create_bucket(BUCKET);
    let proxy = Proxy::start(moto.port);
    let url = format!("s3://{BUCKET}/faults");
    proxy.faults.fail_next.store(3, Ordering::Relaxed);
    let o = run(
        &proxy.endpoint(),
        &["publish", &format!("{repo}/tevolop@1.0.0"), "--to", &url],
    );
    assert!(o.status.success(), "503s were not retried: {}", out(&o));

    // An upload whose bytes were flipped on the way is caught by its ETag (moto does not
    // check x-amz-checksum-sha256 itself), read back, found damaged and uploaded again; the
    // result verifies in full.
    let url2 = format!("s3://{BUCKET}/damaged-upload");
    proxy.faults.corrupt_next_puts.store(1, Ordering::Relaxed);
    let o = run(
        &proxy.endpoint(),
        &["publish", &format!("{repo}/tevolop@1.0.0"), "--to", &url2],
    );
    assert!(o.status.success(), "{}", out(&o));
    assert_eq!(proxy.faults.corrupt_next_puts.load(Ordering::Relaxed), 0);
    let puts: Vec<String> = proxy
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("PUT") && r.contains("damaged-upload/tevolop/1.0.0/data/"))
        .collect();
    let distinct: std::collections::BTreeSet<&String> = puts.iter().collect();
    assert_eq!(
        puts.len(),
        distinct.len() + 1,
        "exactly the damaged object is uploaded twice: {puts:?}"
    );
    let o = run(
        &proxy.endpoint(),
        &["verify", &format!("{url2}/tevolop@1.0.0"), "--full"],
    );
    assert!(
        o.status.success(),
        "a damaged upload was accepted: {}",
        out(&o)
    );

    // A download whose bytes were flipped in transit is refused, then retried and accepted.
    let dest = tmp.path().join("pulled");
    proxy.faults.corrupt_next_gets.store(1, Ordering::Relaxed);
    proxy.faults.truncate_next_gets.store(1, Ordering::Relaxed);
    let o = run(
        &proxy.endpoint(),
        &[
            "pull",
            &format!("{url}/tevolop@1.0.0"),
            "--to",
            dest.to_str().unwrap(),
            "--table",
            "events",
        ],
    );
    assert!(o.status.success(), "{}", out(&o));
    let o = run(
        &proxy.endpoint(),
        &["verify", &format!("{}/tevolop@1.0.0", dest.display())],
    );
    assert!(o.status.success(), "{}", out(&o));

    // A store that keeps serving corrupt bytes: the pull fails and nothing lands.
    let dest2 = tmp.path().join("pulled2");
    proxy
        .faults
        .corrupt_next_gets
        .store(1000, Ordering::Relaxed);
    let o = run(
        &proxy.endpoint(),
        &[
            "pull",
            &format!("{url}/tevolop@1.0.0"),
            "--to",
            dest2.to_str().unwrap(),
            "--table",
            "events",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("do not match"), "{}", out(&o));
    assert!(!dest2.join("tevolop/versions/1.0.0.json").exists());
}

#[test]
fn pull_fetches_only_the_selection() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    // Three years of events.
    let base = small_catalogue(60);
    let mut text = base.clone();
    for year in ["2018", "2019"] {
        for line in base.lines().skip(1) {
            text.push_str(&line.replacen("2020-", &format!("{year}-"), 2).replacen(
                ",ci0",
                &format!(",ci{year}"),
                1,
            ));
            text.push('\n');
        }
    }
    let input = write(tmp.path(), "three.csv", &text);
    let o = Command::new(env!("CARGO_BIN_EXE_sciml-data"))
        .args([
            "ingest",
            "usgs",
            "--input",
            input.to_str().unwrap(),
            "--repo",
            repo.to_str().unwrap(),
            "--version",
            "1.0.0",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", out(&o));
    let moto = Moto::start();
    moto.create_bucket(BUCKET);
    let url = format!("s3://{BUCKET}/sel");
    let o = run(
        &moto.endpoint(),
        &[
            "publish",
            &format!("{}/tevolop@1.0.0", repo.display()),
            "--to",
            &url,
        ],
    );
    assert!(o.status.success(), "{}", out(&o));

    let proxy = Proxy::start(moto.port);
    let dest = tmp.path().join("data");
    let addr = format!("{url}/tevolop@1.0.0");
    // Dry run: says what, fetches nothing.
    let o = run(
        &proxy.endpoint(),
        &[
            "pull",
            &addr,
            "--to",
            dest.to_str().unwrap(),
            "--table",
            "events",
            "--where",
            "year>=2019",
            "--dry-run",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", out(&o));
    let r = json(&o);
    assert_eq!(r["selected_objects"], 2);
    assert!(!dest.join("tevolop").exists());
    assert_eq!(
        proxy
            .requests()
            .iter()
            .filter(|r| r.contains("/data/"))
            .count(),
        0
    );

    let o = run(
        &proxy.endpoint(),
        &[
            "pull",
            &addr,
            "--to",
            dest.to_str().unwrap(),
            "--table",
            "events",
            "--where",
            "year>=2019",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", out(&o));
    let r = json(&o);
    assert_eq!(r["downloaded_objects"], 2);
    let data_gets: Vec<String> = proxy
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("GET") && r.contains("/data/"))
        .collect();
    assert_eq!(data_gets.len(), 2, "{data_gets:?}");
    let bag = dest.join("tevolop/1.0.0");
    assert!(bag.join("data/events/year=2019/part-0.parquet").is_file());
    assert!(bag.join("data/events/year=2020/part-0.parquet").is_file());
    assert!(!bag.join("data/events/year=2018").exists());
    let o = run(
        &moto.endpoint(),
        &[
            "verify",
            &format!("{}/tevolop@1.0.0", dest.display()),
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", out(&o));
    let v = json(&o);
    assert!(v["not_pulled"].as_u64().unwrap() > 0);
    assert!(v["missing"].as_array().unwrap().is_empty());
    // A pulled file that is damaged later is reported.
    let f = bag.join("data/events/year=2019/part-0.parquet");
    let mut b = std::fs::read(&f).unwrap();
    b[10] ^= 1;
    std::fs::write(&f, &b).unwrap();
    let o = run(
        &moto.endpoint(),
        &["verify", &format!("{}/tevolop@1.0.0", dest.display())],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        out(&o).contains("corrupt  data/events/year=2019/part-0.parquet"),
        "{}",
        out(&o)
    );
    b[10] ^= 1;
    std::fs::write(&f, &b).unwrap();

    // An index range of an array: only the intersecting chunk plus the metadata on its path.
    let before = proxy.requests().len();
    let o = run(
        &proxy.endpoint(),
        &[
            "pull",
            &addr,
            "--to",
            dest.to_str().unwrap(),
            "--select",
            "daily/n_shock[0:10, :, :]",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", out(&o));
    let gets: Vec<String> = proxy.requests()[before..]
        .iter()
        .filter(|r| r.starts_with("GET") && r.contains("/data/"))
        .cloned()
        .collect();
    assert!(
        gets.iter().any(|g| g.contains("daily/n_shock/c/0/0/0")),
        "{gets:?}"
    );
    assert!(
        !gets.iter().any(|g| g.contains("daily/n_shock/c/1/")),
        "{gets:?}"
    );
    assert!(bag.join("data/grid.zarr/zarr.json").is_file());
    assert!(bag.join("data/grid.zarr/daily/zarr.json").is_file());
    assert!(bag.join("data/grid.zarr/daily/n_shock/zarr.json").is_file());

    // Pulling again fetches nothing new (resume).
    let o = run(
        &proxy.endpoint(),
        &[
            "pull",
            &addr,
            "--to",
            dest.to_str().unwrap(),
            "--table",
            "events",
            "--where",
            "year>=2019",
            "--json",
        ],
    );
    assert_eq!(json(&o)["downloaded_objects"], 0);

    // The whole version, over plain HTTP from a static file server.
    let store_dir = tmp.path().join("static");
    let o = run(
        &moto.endpoint(),
        &[
            "publish",
            &format!("{}/tevolop@1.0.0", repo.display()),
            "--to",
            &format!("file://{}", store_dir.display()),
        ],
    );
    assert!(o.status.success(), "{}", out(&o));
    let port = common::s3::free_port();
    let mut server = Command::new("python3")
        .args([
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--directory",
            store_dir.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
        && start.elapsed().as_secs() < 20
    {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let http_dest = tmp.path().join("http");
    let o = run(
        &moto.endpoint(),
        &[
            "pull",
            &format!("http://127.0.0.1:{port}/tevolop@1.0.0"),
            "--to",
            http_dest.to_str().unwrap(),
        ],
    );
    let _ = server.kill();
    let _ = server.wait();
    assert!(o.status.success(), "{}", out(&o));
    let o = run(
        &moto.endpoint(),
        &["verify", &format!("{}/tevolop@1.0.0", http_dest.display())],
    );
    assert!(o.status.success(), "{}", out(&o));
    assert!(
        !std::fs::read_dir(http_dest.join("tevolop"))
            .unwrap()
            .any(|e| e.unwrap().file_name() == "partial")
    );
}

#[test]
fn multipart_uploads_are_checked_by_their_etag() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = local_repo(tmp.path());
    let moto = Moto::start();
    moto.create_bucket(BUCKET);
    let proxy = Proxy::start(moto.port);
    let url = format!("s3://{BUCKET}/multipart");
    let publish = || {
        bin(&proxy.endpoint())
            // Every object above 4 KiB goes up as a multipart upload.
            .env("SCIML_DATA_MULTIPART_THRESHOLD", "4096")
            .env("SCIML_DATA_MULTIPART_PART_SIZE", "5242880")
            .args(["publish", &format!("{repo}/tevolop@1.0.0"), "--to", &url])
            .output()
            .unwrap()
    };
    // A part damaged on the way: the multipart ETag (MD5 of the parts' MD5s) differs, the
    // read-back confirms it, the publish fails and no version appears.
    proxy.faults.corrupt_next_puts.store(1, Ordering::Relaxed);
    let o = publish();
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(
        out(&o).contains("the store holds other bytes than were uploaded"),
        "{}",
        out(&o)
    );
    assert!(
        proxy
            .requests()
            .iter()
            .any(|r| r.starts_with("POST") && r.contains("uploads")),
        "no multipart upload was started: {:?}",
        proxy.requests()
    );
    let o = run(&proxy.endpoint(), &["log", &format!("{url}/tevolop")]);
    assert!(!out(&o).contains("1.0.0"), "{}", out(&o));
    // The next publish resumes, replaces the damaged object and the version verifies in full.
    let o = publish();
    assert!(o.status.success(), "{}", out(&o));
    let o = run(
        &proxy.endpoint(),
        &["verify", &format!("{url}/tevolop@1.0.0"), "--full"],
    );
    assert!(o.status.success(), "{}", out(&o));
}

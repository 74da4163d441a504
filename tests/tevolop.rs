//! The TEvolOp dataset end to end on the real ComCat file, plus immutability, determinism
//! and bad-input behaviour.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, BooleanArray, Int64Array, StringArray, TimestampMillisecondArray};
use common::*;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sciml_data::address::Address;
use sciml_data::repository::CommitOutcome;
use sciml_data::verify::{VerifyOptions, verify_address};

/// Independent reading of the raw CSV: (id, time text, lat, lon, depth, mag, type).
struct Row {
    id: String,
    time: String,
    lat: f64,
    lon: f64,
    depth: Option<f64>,
    mag: Option<f64>,
    kind: String,
}

fn raw_rows(path: &Path) -> Vec<Row> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let h = r.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|c| c == n).unwrap();
    let (ti, la, lo, de, ma, id, ty) = (
        col("time"),
        col("latitude"),
        col("longitude"),
        col("depth"),
        col("mag"),
        col("id"),
        col("type"),
    );
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            let f = |i: usize| rec.get(i).unwrap().to_string();
            Row {
                id: f(id),
                time: f(ti),
                lat: f(la).parse().unwrap(),
                lon: f(lo).parse().unwrap(),
                depth: f(de).parse().ok(),
                mag: f(ma).parse().ok(),
                kind: f(ty),
            }
        })
        .collect()
}

fn pixel(lat: f64, lon: f64) -> Option<usize> {
    let x = ((lon + 120.0) * 10.0).floor();
    let y = ((36.0 - lat) * 10.0).floor();
    ((0.0..60.0).contains(&x) && (0.0..40.0).contains(&y)).then(|| x as usize + 60 * y as usize)
}

fn read_parquet_dir(dir: &Path) -> Vec<arrow::record_batch::RecordBatch> {
    let mut out = Vec::new();
    let mut parts: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    parts.sort();
    for part in parts {
        let f = std::fs::File::open(part.join("part-0.parquet")).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(f)
            .unwrap()
            .build()
            .unwrap();
        out.extend(reader.map(|b| b.unwrap()));
    }
    out
}

async fn read_zarr_f32(bag: &Path, array: &str) -> (Vec<u64>, Vec<f32>) {
    let fs =
        object_store::local::LocalFileSystem::new_with_prefix(bag.join("data/grid.zarr")).unwrap();
    let store = Arc::new(zarrs_object_store::AsyncObjectStore::new(fs));
    let a = zarrs::array::Array::async_open(store, array).await.unwrap();
    let shape = a.shape().to_vec();
    let v: Vec<f32> = a
        .async_retrieve_array_subset(&a.subset_all())
        .await
        .unwrap();
    (shape, v)
}

#[tokio::test(flavor = "multi_thread")]
async fn real_catalogue_matches_an_independent_computation() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let result = ingest_files(&repo, "1.0.0", vec![real_csv()])
        .await
        .unwrap();
    assert_eq!(result.outcome, CommitOutcome::Created);
    let bag = &result.bag_dir;

    let rows = raw_rows(&real_csv());
    let batches = read_parquet_dir(&bag.join("data/events"));
    let n: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(n, rows.len(), "every event is kept");

    // Flags and ids agree with the independent computation.
    let expect_bench: HashMap<&str, bool> = rows
        .iter()
        .map(|r| {
            (
                r.id.as_str(),
                r.kind == "earthquake" && r.mag.is_some() && pixel(r.lat, r.lon).is_some(),
            )
        })
        .collect();
    let mut seen = 0;
    for b in &batches {
        let ids = b
            .column_by_name("id")
            .unwrap()
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        let bench = b
            .column_by_name("benchmark")
            .unwrap()
            .as_any()
            .downcast_ref::<BooleanArray>()
            .unwrap();
        let time = b
            .column_by_name("time")
            .unwrap()
            .as_any()
            .downcast_ref::<TimestampMillisecondArray>()
            .unwrap();
        for i in 0..b.num_rows() {
            assert_eq!(
                bench.value(i),
                expect_bench[ids.value(i)],
                "benchmark flag of {}",
                ids.value(i)
            );
            if i > 0 {
                assert!(time.value(i - 1) <= time.value(i), "sorted by time");
            }
            seen += 1;
        }
    }
    assert_eq!(seen, rows.len());
    let in_region = rows
        .iter()
        .filter(|r| pixel(r.lat, r.lon).is_some())
        .count();
    assert!(in_region > 100, "the file has Southern California events");

    // Grid sums: per pixel totals of benchmark events, and log_eng of the busiest cell-day.
    let bench: Vec<&Row> = rows
        .iter()
        .filter(|r| r.kind == "earthquake" && r.mag.is_some() && pixel(r.lat, r.lon).is_some())
        .collect();
    let (shape, counts) = read_zarr_f32(bag, "/daily/n_shock").await;
    assert_eq!(&shape[1..], &[40, 60]);
    let first = bench.iter().map(|r| &r.time[..10]).min().unwrap();
    let last = bench.iter().map(|r| &r.time[..10]).max().unwrap();
    let d0 =
        chrono::NaiveDate::parse_from_str(&format!("{}-01-01", &first[..4]), "%Y-%m-%d").unwrap();
    let d1 = chrono::NaiveDate::parse_from_str(last, "%Y-%m-%d").unwrap();
    assert_eq!(shape[0] as i64, (d1 - d0).num_days() + 1);
    let total: f64 = counts.iter().map(|v| *v as f64).sum();
    assert_eq!(total as usize, bench.len());
    // (day, pixel) -> [(magnitude, depth)]
    type Cells = BTreeMap<(i64, usize), Vec<(f64, Option<f64>)>>;
    let mut per_cell: Cells = BTreeMap::new();
    for r in &bench {
        let day =
            (chrono::NaiveDate::parse_from_str(&r.time[..10], "%Y-%m-%d").unwrap() - d0).num_days();
        per_cell
            .entry((day, pixel(r.lat, r.lon).unwrap()))
            .or_default()
            .push((r.mag.unwrap(), r.depth));
    }
    let (_, log_eng) = read_zarr_f32(bag, "/daily/log_eng").await;
    let (_, w_depth) = read_zarr_f32(bag, "/daily/w_depth").await;
    let (_, big) = read_zarr_f32(bag, "/daily/n_shock_mag_3_29").await;
    for ((day, p), evs) in &per_cell {
        let idx = *day as usize * 2400 + p;
        assert_eq!(counts[idx] as usize, evs.len());
        assert_eq!(
            big[idx] as usize,
            evs.iter().filter(|(m, _)| *m > 3.29).count()
        );
        let e: f64 = evs.iter().map(|(m, _)| 10f64.powf(1.5 * m)).sum();
        assert!(
            (log_eng[idx] as f64 - e.log10() / 1.5).abs() < 1e-4,
            "log_eng at {day},{p}"
        );
        let (num, den) = evs
            .iter()
            .filter_map(|(m, d)| d.map(|d| (10f64.powf(1.5 * m) * d, 10f64.powf(1.5 * m))))
            .fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
        if den > 0.0 {
            assert!(
                (w_depth[idx] as f64 - num / den).abs() < 1e-3 * (1.0 + (num / den).abs()),
                "w_depth at {day},{p}"
            );
        }
    }
    // Fortnights: skip days % 14 at the start and sum the rest.
    let (fshape, fcounts) = read_zarr_f32(bag, "/fortnightly/n_shock").await;
    let skip = shape[0] % 14;
    assert_eq!(fshape[0], shape[0] / 14);
    let expected_f: usize = per_cell
        .iter()
        .filter(|((d, _), _)| *d as u64 >= skip)
        .map(|(_, e)| e.len())
        .sum();
    assert_eq!(
        fcounts.iter().map(|v| *v as f64).sum::<f64>() as usize,
        expected_f
    );

    // The locations table agrees with the grid.
    let f = std::fs::File::open(bag.join("data/splits/locations.parquet")).unwrap();
    let loc: Vec<_> = ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect();
    let loc = arrow::compute::concat_batches(&loc[0].schema(), &loc).unwrap();
    assert_eq!(loc.num_rows(), 2400);
    let n_events = loc
        .column_by_name("n_events")
        .unwrap()
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    assert_eq!(
        n_events.iter().map(|v| v.unwrap()).sum::<i64>() as usize,
        bench.len()
    );

    // And the whole thing verifies.
    let addr = Address::parse(&format!("{}/tevolop@1.0.0", repo.display())).unwrap();
    let report = verify_address(&addr, VerifyOptions::default())
        .await
        .unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(
        report.files_checked as usize,
        // tag files: bagit.txt, bag-info.txt, manifest-sha256.txt, metadata/{provenance.json,
        // sizes.txt, datacite.json, croissant.json}
        result.record.payload.files as usize + 7
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn same_input_gives_byte_identical_payload_and_digest() {
    let tmp = tempfile::tempdir().unwrap();
    let a = ingest_files(&tmp.path().join("a"), "1.0.0", vec![real_csv()])
        .await
        .unwrap();
    let b = ingest_files(&tmp.path().join("b"), "1.0.0", vec![real_csv()])
        .await
        .unwrap();
    assert_eq!(a.record.digest, b.record.digest);
    assert_eq!(
        snapshot(&a.bag_dir.join("data")),
        snapshot(&b.bag_dir.join("data"))
    );
    assert_eq!(
        std::fs::read(a.bag_dir.join("manifest-sha256.txt")).unwrap(),
        std::fs::read(b.bag_dir.join("manifest-sha256.txt")).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn versions_are_immutable() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let input = write(tmp.path(), "a.csv", &small_catalogue(300));
    let first = ingest_files(&repo, "1.0.0", vec![input.clone()])
        .await
        .unwrap();
    assert_eq!(first.outcome, CommitOutcome::Created);
    assert_eq!(first.record.parent, None);

    // The same ingest again: the same digest, nothing changes.
    let before = visible(&repo);
    let again = ingest_files(&repo, "1.0.0", vec![input.clone()])
        .await
        .unwrap();
    assert_eq!(again.outcome, CommitOutcome::AlreadyExists);
    assert_eq!(again.record.digest, first.record.digest);
    assert_eq!(visible(&repo), before);

    // Different content under the same number: a clear error, nothing changes.
    let other = write(tmp.path(), "b.csv", &small_catalogue(301));
    let err = ingest_files(&repo, "1.0.0", vec![other.clone()])
        .await
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("already exists") && msg.contains("immutable"),
        "{msg}"
    );
    assert_eq!(visible(&repo), before);

    // A new number works and names its parent.
    let next = ingest_files(&repo, "1.1.0", vec![other]).await.unwrap();
    assert_eq!(next.record.parent.as_deref(), Some("1.0.0"));
    assert_ne!(next.record.digest, first.record.digest);
    // No debris is left in staging.
    assert!(
        staging_debris(&repo).is_empty(),
        "{:?}",
        staging_debris(&repo)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_inputs_give_clear_errors_and_leave_the_repository_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let good = write(tmp.path(), "good.csv", &small_catalogue(50));
    ingest_files(&repo, "1.0.0", vec![good]).await.unwrap();
    let before = visible(&repo);

    let full = small_catalogue(20);
    let truncated = &full[..full.len() - 40];
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "truncated.csv",
            truncated.to_string(),
            "truncated.csv:21: expected 22 fields",
        ),
        (
            "header.csv",
            "when,where,what\n1,2,3\n".into(),
            "header.csv:1: not a ComCat CSV header: missing column(s) 'time'",
        ),
        (
            "mag.csv",
            full.replacen(",1.00,ml,", ",big,ml,", 1),
            "mag.csv:2: column 'mag': \"big\" is not a number",
        ),
        ("empty.csv", String::new(), "empty.csv: the file is empty"),
    ];
    for (name, text, expected) in cases {
        let p = write(tmp.path(), name, &text);
        let err = ingest_files(&repo, "2.0.0", vec![p]).await.unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains(expected), "{name}: {msg}");
        assert_eq!(visible(&repo), before, "{name} changed the repository");
        assert!(
            staging_debris(&repo).is_empty(),
            "{name} left debris: {:?}",
            staging_debris(&repo)
        );
    }

    // A missing input is named.
    let err = ingest_files(&repo, "2.0.0", vec![tmp.path().join("nope.csv")])
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("nope.csv"), "{err:#}");

    // A read-only repository.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&repo, std::fs::Permissions::from_mode(0o555)).unwrap();
    let good = write(tmp.path(), "good2.csv", &small_catalogue(60));
    let err = ingest_files(&repo, "2.0.0", vec![good]).await.unwrap_err();
    std::fs::set_permissions(&repo, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(format!("{err:#}").contains("read-only"), "{err:#}");
    assert_eq!(visible(&repo), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn skip_bad_rows_counts_them() {
    let tmp = tempfile::tempdir().unwrap();
    let text = small_catalogue(40).replacen(",1.00,ml,", ",big,ml,", 1);
    let p = write(tmp.path(), "x.csv", &text);
    let r = sciml_data::sources::usgs::ingest::ingest(
        &common(&tmp.path().join("repo"), "1.0.0"),
        &sciml_data::sources::usgs::ingest::UsgsOptions {
            inputs: vec![p],
            skip_bad_rows: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let prov: serde_json::Value =
        serde_json::from_slice(&std::fs::read(r.bag_dir.join("metadata/provenance.json")).unwrap())
            .unwrap();
    assert_eq!(prov["counts"]["bad_rows_skipped"], 1);
    assert_eq!(prov["counts"]["rows"], 39);
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_15_column_files_ingest() {
    let tmp = tempfile::tempdir().unwrap();
    let legacy: String = small_catalogue(30)
        .lines()
        .map(|l| {
            let mut rec = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(l.as_bytes());
            let r = rec.records().next().unwrap().unwrap();
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(r.iter().take(15)).unwrap();
            String::from_utf8(w.into_inner().unwrap()).unwrap()
        })
        .collect();
    let p = write(tmp.path(), "old.csv", &legacy);
    let r = ingest_files(&tmp.path().join("repo"), "1.0.0", vec![p])
        .await
        .unwrap();
    let batches = read_parquet_dir(&r.bag_dir.join("data/events"));
    let b = &batches[0];
    assert_eq!(b.num_rows(), 30);
    assert_eq!(b.column_by_name("magSource").unwrap().null_count(), 30);
    assert_eq!(b.column_by_name("mag").unwrap().null_count(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn flipping_any_payload_byte_fails_verify_and_names_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let r = ingest_files(&repo, "1.0.0", vec![real_csv()])
        .await
        .unwrap();
    let addr = Address::parse(&format!("{}/tevolop@1.0.0", repo.display())).unwrap();
    let manifest = std::fs::read_to_string(r.bag_dir.join("manifest-sha256.txt")).unwrap();
    let paths: Vec<String> = manifest
        .lines()
        .map(|l| l.split_once("  ").unwrap().1.to_string())
        .collect();
    assert!(paths.len() >= 10);
    for path in &paths {
        let file = r.bag_dir.join(path);
        let original = std::fs::read(&file).unwrap();
        let mut flipped = original.clone();
        let at = flipped.len() / 2;
        flipped[at] ^= 0x01;
        std::fs::write(&file, &flipped).unwrap();
        let report = verify_address(&addr, VerifyOptions::default())
            .await
            .unwrap();
        assert!(!report.ok());
        assert_eq!(report.corrupt.len(), 1, "{path}");
        assert_eq!(&report.corrupt[0].path, path);
        // --fast does not hash: same size, so it passes.
        let fast = verify_address(
            &addr,
            VerifyOptions {
                fast: true,
                progress: false,
            },
        )
        .await
        .unwrap();
        assert!(fast.ok(), "{fast:?}");
        std::fs::write(&file, &original).unwrap();
    }
    assert!(
        verify_address(&addr, VerifyOptions::default())
            .await
            .unwrap()
            .ok()
    );

    // Missing, extra and resized files.
    let victim = r.bag_dir.join(&paths[0]);
    let original = std::fs::read(&victim).unwrap();
    std::fs::write(&victim, &original[..original.len() - 1]).unwrap();
    let fast = verify_address(
        &addr,
        VerifyOptions {
            fast: true,
            progress: false,
        },
    )
    .await
    .unwrap();
    assert_eq!(fast.wrong_size.len(), 1);
    assert_eq!(fast.wrong_size[0].path, paths[0]);
    std::fs::remove_file(&victim).unwrap();
    std::fs::write(r.bag_dir.join("data/intruder.bin"), b"x").unwrap();
    let full = verify_address(&addr, VerifyOptions::default())
        .await
        .unwrap();
    assert_eq!(full.missing, vec![paths[0].clone()]);
    assert_eq!(full.extra, vec!["data/intruder.bin".to_string()]);
    assert!(
        !full.problems.is_empty(),
        "Payload-Oxum mismatch is reported"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tampered_manifest_breaks_the_digest() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let input = write(tmp.path(), "a.csv", &small_catalogue(100));
    let r = ingest_files(&repo, "1.0.0", vec![input]).await.unwrap();
    let addr = Address::parse(&format!("{}/tevolop@1.0.0", repo.display())).unwrap();
    // Rewrite a payload file AND its manifest line consistently: the digest still catches it.
    let mpath = r.bag_dir.join("manifest-sha256.txt");
    let manifest = std::fs::read_to_string(&mpath).unwrap();
    let (hash, path) = manifest.lines().next().unwrap().split_once("  ").unwrap();
    let new = b"tampered".to_vec();
    std::fs::write(r.bag_dir.join(path), &new).unwrap();
    let new_hash = sciml_data::hashing::sha256_hex(&new);
    std::fs::write(&mpath, manifest.replacen(hash, &new_hash, 1)).unwrap();
    let report = verify_address(&addr, VerifyOptions::default())
        .await
        .unwrap();
    assert!(!report.ok());
    assert!(
        report
            .corrupt
            .iter()
            .any(|m| m.path == "manifest-sha256.txt"),
        "{report:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn diff_lists_changes_with_sizes() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let a = write(tmp.path(), "a.csv", &small_catalogue(100));
    let b = write(
        tmp.path(),
        "b.csv",
        &small_catalogue(100).replace("2020-02-", "2021-02-"),
    );
    ingest_files(&repo, "1.0.0", vec![a]).await.unwrap();
    ingest_files(&repo, "1.1.0", vec![b]).await.unwrap();
    let addr = Address::parse(&format!("{}/tevolop@1.0.0", repo.display())).unwrap();
    let d = sciml_data::diff::diff_addresses(&addr, "1.1.0")
        .await
        .unwrap();
    use sciml_data::diff::Change;
    let find = |p: &str| {
        d.entries
            .iter()
            .find(|e| e.path == p)
            .unwrap_or_else(|| panic!("{p} not in {d:?}"))
    };
    let removed = find("data/events/year=2020/part-0.parquet");
    assert_eq!(removed.change, Change::Removed);
    assert!(removed.old_size.unwrap() > 0);
    assert_eq!(
        find("data/events/year=2021/part-0.parquet").change,
        Change::Added
    );
    // The same events one year later: per-pixel totals, hence the split table, are unchanged.
    assert!(
        d.entries
            .iter()
            .all(|e| e.path != "data/splits/locations.parquet")
    );
    assert!(d.unchanged >= 1);
    assert_eq!(
        find("data/grid.zarr/daily/time/c/0").change,
        Change::Changed
    );
}

//! DataCite 4.6 and Croissant 1.1 metadata written into every new version at ingest time:
//! schema validity, agreement with the manifest and the data, lineage (digest and parent
//! everywhere, the changelog), and registration against a loopback DataCite endpoint.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::Command;

use common::*;
use sciml_data::bag;
use sciml_data::metadata::{self, MetadataOptions, Registration, ni_uri};
use serde_json::Value;

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn datacite_schema_errors(attributes: &Value) -> Vec<String> {
    let schema: Value =
        serde_json::from_str(include_str!("../schemas/datacite-v4.6.json")).unwrap();
    let v = jsonschema::validator_for(&schema).unwrap();
    v.iter_errors(attributes)
        .map(|e| format!("{}: {e}", e.instance_path().as_str()))
        .collect()
}

fn manifest(bag_dir: &Path) -> BTreeMap<String, String> {
    let t = std::fs::read_to_string(bag_dir.join(bag::MANIFEST)).unwrap();
    bag::parse_manifest(&t, "m").unwrap()
}

#[tokio::test]
async fn ingest_writes_datacite_and_croissant_covered_by_the_tag_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let r = ingest_files(&repo, "1.0.0", vec![real_csv()])
        .await
        .unwrap();
    let b = &r.bag_dir;

    // Both documents exist and the tag manifest covers them with their true hashes.
    let tags = bag::parse_manifest(
        &std::fs::read_to_string(b.join(bag::TAGMANIFEST)).unwrap(),
        "t",
    )
    .unwrap();
    for f in [metadata::DATACITE_FILE, metadata::CROISSANT_FILE] {
        let bytes = std::fs::read(b.join(f)).unwrap();
        assert_eq!(tags[f], sciml_data::hashing::sha256_hex(&bytes), "{f}");
    }
    // The digest is unchanged by the metadata: still the hash of the payload manifest.
    let m = std::fs::read(b.join(bag::MANIFEST)).unwrap();
    assert_eq!(r.record.digest, bag::digest_of_manifest(&m));
    let report = sciml_data::verify::verify_bag(b, &r.record, Default::default(), None).unwrap();
    assert!(report.ok(), "{report:?}");

    // DataCite: valid against the vendored 4.6 schema, no identifier without a DOI.
    let dc = read_json(&b.join(metadata::DATACITE_FILE));
    assert_eq!(dc["data"]["type"], "dois");
    let a = &dc["data"]["attributes"];
    let errors = datacite_schema_errors(a);
    assert!(errors.is_empty(), "{errors:#?}");
    assert!(a.get("doi").is_none() && a.get("identifiers").is_none());
    assert_eq!(a["version"], "1.0.0");
    assert_eq!(a["types"]["resourceTypeGeneral"], "Dataset");
    let formats: Vec<&str> = a["formats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(
        formats,
        [
            "application/vnd.zarr; version=3",
            "application/vnd.apache.parquet"
        ]
    );
    let sizes: Vec<&str> = a["sizes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(sizes.contains(&format!("{} bytes", r.record.payload.bytes).as_str()));
    assert!(
        sizes.contains(&"2400 rows in table splits/locations"),
        "{sizes:?}"
    );
    // The ComCat source is U.S. public domain (LicenseRef) and the reference data states none.
    let rights = a["rightsList"].as_array().unwrap();
    assert!(rights.iter().any(|x| {
        x["rights"]
            .as_str()
            .unwrap()
            .starts_with("LicenseRef-USGS-Public-Domain")
    }));
    assert!(rights.iter().any(|x| {
        x["rights"]
            .as_str()
            .unwrap()
            .starts_with("No licence stated")
    }));
    let kinds: Vec<&str> = a["descriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["descriptionType"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["Abstract", "Methods", "TechnicalInfo"]);
    let methods = a["descriptions"][1]["description"].as_str().unwrap();
    assert!(methods.contains(&r.record.inputs[0].sha256), "{methods}");
    let tech = a["descriptions"][2]["description"].as_str().unwrap();
    assert!(tech.contains(&r.record.digest));
    let rel = a["relatedIdentifiers"].as_array().unwrap();
    let has = |relation: &str, id: &str| {
        rel.iter()
            .any(|x| x["relationType"] == relation && x["relatedIdentifier"] == id)
    };
    assert!(
        has("HasMetadata", &ni_uri(&r.record.digest)),
        "manifest link"
    );
    let c_bytes = std::fs::read(b.join(metadata::CROISSANT_FILE)).unwrap();
    assert!(
        has(
            "HasMetadata",
            &ni_uri(&sciml_data::hashing::sha256_hex(&c_bytes))
        ),
        "croissant link"
    );
    assert!(has(
        "IsDerivedFrom",
        "https://earthquake.usgs.gov/fdsnws/event/1/"
    ));
    assert!(has("IsDocumentedBy", "10.3390/geohazards3020011"));
    assert!(
        rel.iter().all(|x| x["relationType"] != "IsNewVersionOf"),
        "no parent yet"
    );
    // The grid box from zarr.json.
    let geo = a["geoLocations"].as_array().unwrap();
    let grid = geo
        .iter()
        .find(|g| {
            g["geoLocationPlace"]
                .as_str()
                .unwrap()
                .contains("grid.zarr")
        })
        .unwrap();
    assert_eq!(grid["geoLocationBox"]["northBoundLatitude"], 36.0);
    assert_eq!(grid["geoLocationBox"]["westBoundLongitude"], -120.0);

    // Croissant: every payload file, with the manifest's SHA-256 and the true size.
    let cr = read_json(&b.join(metadata::CROISSANT_FILE));
    assert_eq!(cr["conformsTo"], "http://mlcommons.org/croissant/1.1");
    assert_eq!(cr["@type"], "sc:Dataset");
    let man = manifest(b);
    let objects: BTreeMap<String, &Value> = cr["distribution"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["@type"] == "cr:FileObject")
        .map(|d| (d["@id"].as_str().unwrap().to_string(), d))
        .collect();
    assert_eq!(
        objects.keys().collect::<Vec<_>>(),
        man.keys().collect::<Vec<_>>()
    );
    for (p, h) in &man {
        assert_eq!(objects[p]["sha256"], h.as_str(), "{p}");
        let size = std::fs::metadata(b.join(p)).unwrap().len();
        assert_eq!(objects[p]["contentSize"], format!("{size} B"));
        assert_eq!(objects[p]["contentUrl"], format!("../{p}"));
        assert!(
            b.join("metadata")
                .join(objects[p]["contentUrl"].as_str().unwrap())
                .is_file()
        );
    }
    // One record set per Parquet table, one field per column (plus the partition key).
    let rs: Vec<&str> = cr["recordSet"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["@id"].as_str().unwrap())
        .collect();
    assert_eq!(rs, ["events", "splits_locations"]);
    let ev = &cr["recordSet"][0]["field"];
    let time = ev
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "time")
        .unwrap();
    assert_eq!(time["dataType"], "sc:DateTime");
    assert_eq!(ev.as_array().unwrap().last().unwrap()["name"], "year");
    assert_eq!(cr["recordSet"][1]["field"].as_array().unwrap().len(), 10);
    // Zarr arrays are described as files with their shapes.
    let log_eng = objects["data/grid.zarr/daily/log_eng/zarr.json"]["description"]
        .as_str()
        .unwrap();
    let zj = read_json(&b.join("data/grid.zarr/daily/log_eng/zarr.json"));
    let shape: Vec<String> = zj["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.to_string())
        .collect();
    assert!(
        log_eng.contains(&format!("shape ({})", shape.join(", "))),
        "{log_eng}"
    );
    assert!(log_eng.contains("cannot describe Zarr records"));
}

#[tokio::test]
async fn digest_and_parent_agree_in_record_bag_info_datacite_and_croissant() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let a = write(dir.path(), "a.csv", &small_catalogue(300));
    let b = write(dir.path(), "b.csv", &small_catalogue(420));
    let v1 = ingest_files(&repo, "1.0.0", vec![a]).await.unwrap();
    let v2 = ingest_files(&repo, "1.1.0", vec![b]).await.unwrap();
    let r1 = &v1.record;
    let r2 = &v2.record;
    assert_eq!(r2.parent.as_deref(), Some("1.0.0"));

    let info =
        bag::BagInfo::parse(&std::fs::read_to_string(v2.bag_dir.join(bag::BAG_INFO)).unwrap())
            .unwrap();
    assert_eq!(
        info.get("External-Identifier"),
        Some(format!("tevolop@1.1.0 {}", r2.digest).as_str())
    );
    assert_eq!(
        info.get("Parent"),
        Some(format!("tevolop@1.0.0 {}", r1.digest).as_str())
    );
    let info1 =
        bag::BagInfo::parse(&std::fs::read_to_string(v1.bag_dir.join(bag::BAG_INFO)).unwrap())
            .unwrap();
    assert_eq!(info1.get("Parent"), None);

    let dc = read_json(&v2.bag_dir.join(metadata::DATACITE_FILE));
    let at = &dc["data"]["attributes"];
    assert!(datacite_schema_errors(at).is_empty());
    assert_eq!(
        at["alternateIdentifiers"][0]["alternateIdentifier"],
        r2.digest.as_str()
    );
    let rel = at["relatedIdentifiers"].as_array().unwrap();
    let parent_links: Vec<&Value> = rel
        .iter()
        .filter(|x| x["relationType"] == "IsNewVersionOf")
        .collect();
    assert_eq!(parent_links.len(), 1);
    assert_eq!(parent_links[0]["relatedIdentifier"], ni_uri(&r1.digest));
    let tech = at["descriptions"][2]["description"].as_str().unwrap();
    assert!(
        tech.contains(&format!("Parent version: tevolop@1.0.0 ({})", r1.digest)),
        "{tech}"
    );

    let cr = read_json(&v2.bag_dir.join(metadata::CROISSANT_FILE));
    assert!(
        cr["identifier"]
            .as_array()
            .unwrap()
            .contains(&Value::from(r2.digest.as_str()))
    );
    assert!(cr["description"].as_str().unwrap().contains(&r2.digest));
    let based = cr["isBasedOn"].as_array().unwrap();
    let parent = based.iter().find(|x| x["version"] == "1.0.0").unwrap();
    assert!(
        parent["identifier"]
            .as_array()
            .unwrap()
            .contains(&Value::from(r1.digest.as_str()))
    );

    // The changelog compares with the parent: 300 -> 420 events in one 2020 partition.
    let log = std::fs::read_to_string(v2.bag_dir.join(metadata::CHANGELOG_FILE)).unwrap();
    assert!(log.contains(&format!("- digest: {}", r2.digest)));
    assert!(log.contains(&format!("- parent digest: {}", r1.digest)));
    assert!(
        log.contains("| events | changed | 300 | 420 | 1 | unchanged |"),
        "{log}"
    );
    assert!(log.contains("| splits/locations |"), "{log}");
    assert!(!v1.bag_dir.join(metadata::CHANGELOG_FILE).exists());

    // Printed later, 1.0.0's DataCite names its successor.
    let addr =
        sciml_data::address::Address::parse(&format!("{}/tevolop@1.0.0", repo.display())).unwrap();
    let doc = metadata::for_address(
        &addr,
        metadata::Format::Datacite,
        &MetadataOptions::default(),
    )
    .await
    .unwrap();
    let rel = doc["data"]["attributes"]["relatedIdentifiers"]
        .as_array()
        .unwrap();
    assert!(
        rel.iter()
            .any(|x| x["relationType"] == "IsPreviousVersionOf"
                && x["relatedIdentifier"] == ni_uri(&r2.digest).as_str())
    );
    // With a DOI and a URL the document is regenerated, valid, and carries them.
    let opts = MetadataOptions {
        doi: Some("10.12345/tevolop.v1".into()),
        concept_doi: Some("10.12345/tevolop".into()),
        url: Some("https://data.example.org/repo".into()),
        ..Default::default()
    };
    let doc = metadata::for_address(&addr, metadata::Format::Datacite, &opts)
        .await
        .unwrap();
    let at = &doc["data"]["attributes"];
    assert!(
        datacite_schema_errors(at).is_empty(),
        "{:?}",
        datacite_schema_errors(at)
    );
    assert_eq!(at["doi"], "10.12345/tevolop.v1");
    assert_eq!(at["url"], "https://data.example.org/repo/tevolop/1.0.0/");
    let rel = at["relatedIdentifiers"].as_array().unwrap();
    assert!(rel.iter().any(
        |x| x["relationType"] == "IsVersionOf" && x["relatedIdentifier"] == "10.12345/tevolop"
    ));
    assert!(
        rel.iter()
            .any(|x| x["relationType"] == "IsPreviousVersionOf"
                && x["relatedIdentifier"] == "https://data.example.org/repo/tevolop/1.1.0/")
    );
    let cr = metadata::for_address(&addr, metadata::Format::Croissant, &opts)
        .await
        .unwrap();
    assert_eq!(cr["url"], "https://doi.org/10.12345/tevolop.v1");
    assert!(
        cr["distribution"][0]["contentUrl"]
            .as_str()
            .unwrap()
            .starts_with("https://data.example.org/repo/tevolop/1.0.0/data/")
    );
}

#[tokio::test]
async fn collected_dates_and_sizes_come_from_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    // small_catalogue(n): events on 2020-02-01 .. 2020-02-28 (day = 1 + i % 28).
    let a = write(dir.path(), "a.csv", &small_catalogue(56));
    let v = ingest_files(&repo, "1.0.0", vec![a]).await.unwrap();
    let at = read_json(&v.bag_dir.join(metadata::DATACITE_FILE))["data"]["attributes"].clone();
    let collected = at["dates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["dateType"] == "Collected")
        .unwrap();
    assert_eq!(collected["date"], "2020-02-01/2020-02-28");
    let sizes: Vec<&str> = at["sizes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(sizes.contains(&"56 rows in table events"), "{sizes:?}");
    // The events' extent: latitudes 33.0 + (i % 17) * 0.11, longitudes -118.0 + (i % 13) * 0.13.
    let geo = at["geoLocations"].as_array().unwrap();
    let ext = geo
        .iter()
        .find(|g| {
            g["geoLocationPlace"]
                .as_str()
                .unwrap()
                .contains("table events")
        })
        .unwrap();
    assert_eq!(ext["geoLocationBox"]["southBoundLatitude"], 33.0);
    assert_eq!(ext["geoLocationBox"]["northBoundLatitude"], 34.76);
    assert_eq!(ext["geoLocationBox"]["westBoundLongitude"], -118.0);
    assert_eq!(ext["geoLocationBox"]["eastBoundLongitude"], -116.44);
}

/// One request as the loopback server saw it: request line, headers (lower-case names), body.
type Seen = (String, BTreeMap<String, String>, Value);

/// A one-shot HTTP server on 127.0.0.1 that records each request and answers 201.
fn loopback(requests: usize) -> (String, std::thread::JoinHandle<Vec<Seen>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let h = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for _ in 0..requests {
            let (mut s, _) = listener.accept().unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            let mut headers = BTreeMap::new();
            loop {
                let mut h = String::new();
                r.read_line(&mut h).unwrap();
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                let (k, v) = h.split_once(':').unwrap();
                headers.insert(k.to_ascii_lowercase(), v.trim().to_string());
            }
            let n: usize = headers
                .get("content-length")
                .map(|v| v.parse().unwrap())
                .unwrap_or(0);
            let mut body = vec![0; n];
            r.read_exact(&mut body).unwrap();
            let body: Value = serde_json::from_slice(&body).unwrap();
            let answer = serde_json::json!({"data": {"id": body["data"]["attributes"]["doi"], "type": "dois",
                "attributes": {"doi": body["data"]["attributes"]["doi"], "state": if body["data"]["attributes"]["event"] == "publish" {"findable"} else {"draft"}}}})
            .to_string();
            write!(s, "HTTP/1.1 201 Created\r\nContent-Type: application/vnd.api+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}", answer.len()).unwrap();
            seen.push((line.trim_end().to_string(), headers, body));
        }
        seen
    });
    (url, h)
}

#[tokio::test]
async fn register_posts_a_draft_then_a_published_record() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let a = write(dir.path(), "a.csv", &small_catalogue(100));
    ingest_files(&repo, "1.0.0", vec![a]).await.unwrap();
    let addr =
        sciml_data::address::Address::parse(&format!("{}/tevolop@1.0.0", repo.display())).unwrap();
    let opts = MetadataOptions {
        doi: Some("10.80000/tevolop-1".into()),
        url: Some("https://data.example.org/repo".into()),
        ..Default::default()
    };
    let doc = metadata::for_address(&addr, metadata::Format::Datacite, &opts)
        .await
        .unwrap();
    let (url, server) = loopback(2);
    for publish in [false, true] {
        let answer = metadata::register(
            &doc,
            &Registration {
                api: url.clone(),
                user: "SCIML.TEST".into(),
                password: "s3cret-pw".into(),
                publish,
            },
        )
        .await
        .unwrap();
        assert_eq!(
            answer["data"]["attributes"]["state"],
            if publish { "findable" } else { "draft" }
        );
    }
    let seen = server.join().unwrap();
    for (i, (line, headers, body)) in seen.iter().enumerate() {
        assert_eq!(line, "POST /dois HTTP/1.1");
        assert_eq!(headers["content-type"], "application/vnd.api+json");
        // Basic base64("SCIML.TEST:s3cret-pw").
        assert_eq!(
            headers["authorization"],
            "Basic U0NJTUwuVEVTVDpzM2NyZXQtcHc="
        );
        assert_eq!(body["data"]["type"], "dois");
        assert_eq!(body["data"]["attributes"]["doi"], "10.80000/tevolop-1");
        if i == 0 {
            assert!(
                body["data"]["attributes"].get("event").is_none(),
                "a draft has no event"
            );
        } else {
            assert_eq!(body["data"]["attributes"]["event"], "publish");
        }
        let mut at = body["data"]["attributes"].clone();
        at.as_object_mut().unwrap().remove("event");
        assert!(datacite_schema_errors(&at).is_empty());
    }

    // The command line reads the credentials from the environment and never prints them.
    let (url, server) = loopback(1);
    let out = Command::new(env!("CARGO_BIN_EXE_sciml-data"))
        .args([
            "metadata",
            &addr.to_string(),
            "--format",
            "datacite",
            "--doi",
            "10.80000/tevolop-1",
            "--register",
            "--api",
            &url,
        ])
        .env("DATACITE_USER", "SCIML.TEST")
        .env("DATACITE_PASSWORD", "s3cret-pw")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("10.80000/tevolop-1 (draft)"), "{stdout}");
    assert!(!stdout.contains("s3cret") && !stderr.contains("s3cret"));
    let seen = server.join().unwrap();
    assert!(seen[0].2["data"]["attributes"].get("event").is_none());

    // Without credentials: a clear error, nothing sent.
    let out = Command::new(env!("CARGO_BIN_EXE_sciml-data"))
        .args([
            "metadata",
            &addr.to_string(),
            "--doi",
            "10.80000/x",
            "--register",
            "--api",
            "http://127.0.0.1:9",
        ])
        .env_remove("DATACITE_USER")
        .env_remove("DATACITE_PASSWORD")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("DATACITE_USER"));
    // Publishing needs a landing page.
    let err = metadata::register(
        &doc_without_url(&doc),
        &Registration {
            api: "http://127.0.0.1:9".into(),
            user: "u".into(),
            password: "p".into(),
            publish: true,
        },
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("--url"), "{err}");
}

fn doc_without_url(doc: &Value) -> Value {
    let mut d = doc.clone();
    d["data"]["attributes"]
        .as_object_mut()
        .unwrap()
        .remove("url");
    d
}

#[tokio::test]
async fn diff_names_changed_chunks_and_row_counts() {
    use sciml_data::diff::NodeChange;
    use sciml_data::sources::usgs::ingest::{UsgsOptions, ingest};
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    // v2 = v1 plus 5 events on 2020-02-28, the last grid day (2020-01-01 + 58 days).
    let base = small_catalogue(300);
    let mut more = base.clone();
    for k in 0..5 {
        more.push_str(&format!(
            "2020-02-28T20:0{k}:00.000Z,33.500,-117.500,6.0,3.50,ml,12,50,0.1,0.2,ci,ciextra{k},2020-03-01T00:00:00.000Z,\"near Y, CA\",earthquake,0.3,0.5,0.1,8,reviewed,ci,ci\n"
        ));
    }
    let opts = |f| UsgsOptions {
        inputs: vec![f],
        daily_chunk: 10,
        ..Default::default()
    };
    ingest(
        &common(&repo, "1.0.0"),
        &opts(write(dir.path(), "a.csv", &base)),
    )
    .await
    .unwrap();
    let v2 = ingest(
        &common(&repo, "2.0.0"),
        &opts(write(dir.path(), "b.csv", &more)),
    )
    .await
    .unwrap();
    let d = sciml_data::diff::diff_addresses(
        &sciml_data::address::Address::parse(&format!("{}/tevolop@1.0.0", repo.display())).unwrap(),
        "2.0.0",
    )
    .await
    .unwrap();
    let events = d.tables.iter().find(|t| t.name == "events").unwrap();
    assert_eq!(
        (events.old_rows, events.new_rows, events.change),
        (Some(300), Some(305), NodeChange::Changed)
    );
    assert!(events.columns_added.is_empty() && events.columns_retyped.is_empty());
    // 59 days in chunks of 10: day 58 is in chunk 5, the only one that changes.
    let n_shock = d
        .arrays
        .iter()
        .find(|a| a.path == "data/grid.zarr/daily/n_shock")
        .unwrap();
    assert_eq!(n_shock.old_shape, Some(vec![59, 40, 60]));
    assert_eq!(n_shock.chunks_changed, ["c/5/0/0"]);
    assert_eq!(n_shock.chunks_unchanged, 5);
    assert!(n_shock.chunks_added.is_empty() && !n_shock.metadata_changed);
    let lat = d
        .arrays
        .iter()
        .find(|a| a.path == "data/grid.zarr/daily/lat")
        .unwrap();
    assert_eq!(lat.change, NodeChange::Unchanged);
    // The same facts in the stored changelog and in the human diff.
    let log = std::fs::read_to_string(v2.bag_dir.join(metadata::CHANGELOG_FILE)).unwrap();
    assert!(
        log.contains("| events | changed | 300 | 305 | 1 | unchanged |"),
        "{log}"
    );
    assert!(log.contains("| data/grid.zarr/daily/n_shock | changed | (59, 40, 60) | (59, 40, 60) | 0 | 0 | 1 | 5 |"), "{log}");
    let human = sciml_data::report::diff(&d);
    assert!(
        human.contains("table events                   changed: rows 300 -> 305"),
        "{human}"
    );
    assert!(human.contains("chunks c/5/0/0\n"), "{human}");
}

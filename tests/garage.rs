//! Publishing to a real distributed S3-compatible store: a three-node Garage cluster with
//! replication 3 on loopback. Garage ignores If-None-Match on PutObject, so it is also the
//! real-store test of the conditional-write probe.

mod common;

use std::process::{Command, Output};

use common::garage::Cluster;
use common::*;

fn run(c: &Cluster, node: usize, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sciml-data"))
        .env("AWS_ENDPOINT_URL", c.endpoint(node))
        .env("AWS_ACCESS_KEY_ID", &c.key_id)
        .env("AWS_SECRET_ACCESS_KEY", &c.secret)
        .env("AWS_REGION", "garage")
        .env_remove("AWS_ENDPOINT")
        .args(args)
        .output()
        .unwrap()
}

fn out(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn garage_cluster_publish_survives_a_node_loss() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cluster = Cluster::start(&tmp.path().join("garage"), "sciml");
    let repo = tmp.path().join("repo");
    let input = write(tmp.path(), "in.csv", &small_catalogue(500));
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
    let addr = format!("{}/tevolop@1.0.0", repo.display());
    let url = "s3://sciml/science";

    // Garage silently overwrites on If-None-Match: the probe notices and publishing is refused.
    let o = run(&cluster, 0, &["publish", &addr, "--to", url]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(
        out(&o).contains("ignores conditional writes"),
        "{}",
        out(&o)
    );
    assert!(!out(&o).contains(&cluster.secret));

    // Explicitly unsafe: published, and the record says so.
    let o = run(
        &cluster,
        0,
        &[
            "publish",
            &addr,
            "--to",
            url,
            "--unsafe-no-conditional-writes",
        ],
    );
    assert!(o.status.success(), "{}", out(&o));
    let o = run(&cluster, 1, &["log", &format!("{url}/tevolop"), "--json"]);
    assert!(o.status.success(), "{}", out(&o));
    let log: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(log[0]["unsafe_publish"].is_string());

    // Fast verify uses the SHA-256 stored with each object.
    let o = run(
        &cluster,
        1,
        &["verify", &format!("{url}/tevolop@1.0.0"), "--json"],
    );
    assert!(o.status.success(), "{}", out(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v["notes"].as_array().unwrap().is_empty(),
        "objects without stored checksums: {v}"
    );

    // One node down: pull and full verification still succeed through another node.
    cluster.stop_node(2);
    let dest = tmp.path().join("pulled");
    let o = run(
        &cluster,
        0,
        &[
            "pull",
            &format!("{url}/tevolop@1.0.0"),
            "--to",
            dest.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", out(&o));
    let o = run(
        &cluster,
        1,
        &["verify", &format!("{url}/tevolop@1.0.0"), "--full"],
    );
    assert!(o.status.success(), "{}", out(&o));
    let o = Command::new(env!("CARGO_BIN_EXE_sciml-data"))
        .args(["verify", &format!("{}/tevolop@1.0.0", dest.display())])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", out(&o));
}

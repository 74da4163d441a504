//! A three-node Garage cluster (replication 3) on loopback, for the tests that need a real
//! distributed S3-compatible store. `scripts/test.sh` installs the `garage` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::s3::free_port;

/// The `garage` binary: $GARAGE_BIN, else ~/.cargo/bin/garage, else PATH.
pub fn garage_bin() -> PathBuf {
    if let Ok(p) = std::env::var("GARAGE_BIN") {
        return PathBuf::from(p);
    }
    let home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cargo")
        });
    let p = home.join("bin/garage");
    if p.exists() {
        return p;
    }
    PathBuf::from("garage")
}

pub struct Node {
    pub config: PathBuf,
    pub s3_port: u16,
    pub rpc_port: u16,
    child: Option<Child>,
}

/// A running cluster; every node is killed on drop.
pub struct Cluster {
    pub nodes: Vec<Node>,
    pub key_id: String,
    pub secret: String,
    pub bucket: String,
}

fn garage(config: &Path, args: &[&str]) -> String {
    let o = Command::new(garage_bin())
        .arg("-c")
        .arg(config)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {}: {e} (scripts/test.sh installs it)",
                garage_bin().display()
            )
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "garage {args:?} failed: {text}");
    text
}

fn retry_garage(config: &Path, args: &[&str]) -> String {
    let start = Instant::now();
    loop {
        let o = Command::new(garage_bin())
            .arg("-c")
            .arg(config)
            .args(args)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        if o.status.success() {
            return text;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "garage {args:?} kept failing: {text}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

impl Cluster {
    /// Starts three nodes under `dir`, lays them out in one zone with replication 3, creates
    /// `bucket` and a key allowed to read and write it.
    pub fn start(dir: &Path, bucket: &str) -> Cluster {
        let secret: String = (0..32)
            .map(|i| format!("{:02x}", (i * 37 + 11) % 256))
            .collect();
        let mut nodes = Vec::new();
        for i in 0..3 {
            let (s3_port, rpc_port) = (free_port(), free_port());
            let ndir = dir.join(format!("node{i}"));
            std::fs::create_dir_all(ndir.join("meta")).unwrap();
            std::fs::create_dir_all(ndir.join("data")).unwrap();
            let config = ndir.join("garage.toml");
            std::fs::write(
                &config,
                format!(
                    "metadata_dir = \"{m}\"\ndata_dir = \"{d}\"\ndb_engine = \"sqlite\"\nreplication_factor = 3\n\
                     rpc_bind_addr = \"127.0.0.1:{rpc_port}\"\nrpc_public_addr = \"127.0.0.1:{rpc_port}\"\nrpc_secret = \"{secret}\"\n\
                     [s3_api]\ns3_region = \"garage\"\napi_bind_addr = \"127.0.0.1:{s3_port}\"\nroot_domain = \".s3.garage.localhost\"\n",
                    m = ndir.join("meta").display(),
                    d = ndir.join("data").display()
                ),
            )
            .unwrap();
            nodes.push(Node {
                config,
                s3_port,
                rpc_port,
                child: None,
            });
        }
        let mut cluster = Cluster {
            nodes,
            key_id: String::new(),
            secret: String::new(),
            bucket: bucket.to_string(),
        };
        for i in 0..3 {
            cluster.start_node(i);
        }
        let ids: Vec<String> = cluster
            .nodes
            .iter()
            .map(|n| {
                retry_garage(&n.config, &["node", "id", "-q"])
                    .trim()
                    .to_string()
            })
            .collect();
        for id in &ids[1..] {
            retry_garage(&cluster.nodes[0].config, &["node", "connect", id]);
        }
        let c0 = cluster.nodes[0].config.clone();
        for id in &ids {
            let short = id.split('@').next().unwrap();
            retry_garage(
                &c0,
                &["layout", "assign", "-z", "dc1", "-c", "1G", &short[..16]],
            );
        }
        retry_garage(&c0, &["layout", "apply", "--version", "1"]);
        retry_garage(&c0, &["bucket", "create", bucket]);
        let key = garage(&c0, &["key", "create", "sciml-test"]);
        for line in key.lines() {
            let l = line.trim();
            if l.starts_with("Key ID:") {
                cluster.key_id = l.rsplit(' ').next().unwrap().to_string();
            }
            if l.starts_with("Secret key:") {
                cluster.secret = l.rsplit(' ').next().unwrap().to_string();
            }
        }
        assert!(
            cluster.key_id.starts_with("GK") && !cluster.secret.is_empty(),
            "unexpected key output: {key}"
        );
        garage(
            &c0,
            &[
                "bucket",
                "allow",
                "--read",
                "--write",
                "--owner",
                bucket,
                "--key",
                "sciml-test",
            ],
        );
        cluster
    }

    pub fn start_node(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        let log = std::fs::File::create(n.config.with_file_name("garage.log")).unwrap();
        n.child = Some(
            Command::new(garage_bin())
                .arg("-c")
                .arg(&n.config)
                .arg("server")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("cannot start garage"),
        );
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", n.s3_port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "garage node {i} did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn stop_node(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn endpoint(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.nodes[i].s3_port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.stop_node(i);
        }
    }
}

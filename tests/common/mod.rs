//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod azurite;
pub mod garage;
pub mod gcs;
pub mod s3;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sciml_data::ingest::{IngestCommon, IngestResult};
use sciml_data::sources::usgs::ingest::{UsgsOptions, ingest};

/// The real ComCat file (shared/realdata/README.md: USGS ComCat CSV, global one-month feed
/// export 2023-03-18..2023-04-17, public domain; from github.com/Chetan-Aggarwal/EarthQuake_Prediction).
pub fn real_csv() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/realdata/usgs/all_month_2023-03-18_2023-04-17.csv"
    ))
}

pub fn common(repo: &Path, version: &str) -> IngestCommon {
    IngestCommon {
        repo: repo.display().to_string(),
        dataset: "tevolop".into(),
        version: semver::Version::parse(version).unwrap(),
        message: "test".into(),
        progress: false,
    }
}

pub async fn ingest_files(
    repo: &Path,
    version: &str,
    inputs: Vec<PathBuf>,
) -> anyhow::Result<IngestResult> {
    ingest(
        &common(repo, version),
        &UsgsOptions {
            inputs,
            ..Default::default()
        },
    )
    .await
}

/// Every file under `dir` with its bytes (to show that a failed command changed nothing).
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    fn walk(base: &Path, d: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(d) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.insert(
                    p.strip_prefix(base).unwrap().to_path_buf(),
                    b"<dir>".to_vec(),
                );
                walk(base, &p, out);
            } else {
                out.insert(
                    p.strip_prefix(base).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

/// Files of the repository that a reader sees (everything but `.staging`).
pub fn visible(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    snapshot(dir)
        .into_iter()
        .filter(|(p, _)| !p.starts_with(".staging"))
        .collect()
}

/// Writes `text` to `dir/name`.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

pub const HEADER22: &str = "time,latitude,longitude,depth,mag,magType,nst,gap,dmin,rms,net,id,updated,place,type,horizontalError,depthError,magError,magNst,status,locationSource,magSource";

/// A small valid catalogue inside the region.
pub fn small_catalogue(n: usize) -> String {
    let mut s = format!("{HEADER22}\n");
    for i in 0..n {
        let day = 1 + (i % 28);
        let lat = 33.0 + (i % 17) as f64 * 0.11;
        let lon = -118.0 + (i % 13) as f64 * 0.13;
        let mag = 1.0 + (i % 30) as f64 * 0.1;
        s.push_str(&format!(
            "2020-02-{day:02}T10:{:02}:00.000Z,{lat:.3},{lon:.3},{:.1},{mag:.2},ml,12,50,0.1,0.2,ci,ci{i:08},2020-03-01T00:00:00.000Z,\"near X, CA\",earthquake,0.3,0.5,0.1,8,reviewed,ci,ci\n",
            i % 60,
            5.0 + (i % 7) as f64
        ));
    }
    s
}

/// Entries of `.staging` other than the commit locks.
pub fn staging_debris(repo: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(repo.join(".staging"))
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.file_name().is_some_and(|n| n != "locks"))
                .collect()
        })
        .unwrap_or_default()
}

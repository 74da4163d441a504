//! `sciml-data export --reference-csv`: the four `SC_*.multi.csv` files in exactly the
//! layout the reference notebook reads, so existing notebooks run on a published version.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use object_store::local::LocalFileSystem;
use zarrs::array::Array;

use super::grid::{NPIX, QUANTITIES};

/// Writes the reference CSV files for the daily grid of the bag at `bag_dir` into `out`.
/// Returns the paths written.
pub async fn reference_csv(bag_dir: &Path, out: &Path, progress: bool) -> Result<Vec<PathBuf>> {
    let grid = bag_dir.join("data/grid.zarr");
    if !grid.join("zarr.json").is_file() {
        bail!(
            "{} has no TEvolOp grid (data/grid.zarr); is this a tevolop version?",
            bag_dir.display()
        );
    }
    let fs = LocalFileSystem::new_with_prefix(&grid)?;
    let store = Arc::new(zarrs_object_store::AsyncObjectStore::new(fs));
    let root = zarrs::group::Group::async_open(store.clone(), "/").await?;
    let attrs = root.attributes();
    let first: String = attrs
        .get("first_day")
        .and_then(|v| v.as_str())
        .context("grid attribute first_day is missing")?
        .to_string();
    let last: String = attrs
        .get("last_day")
        .and_then(|v| v.as_str())
        .context("grid attribute last_day is missing")?
        .to_string();
    let (y0, y1) = (&first[..4], &last[..4]);
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut written = Vec::new();
    for (name, suffix, _, _) in QUANTITIES {
        let array = Array::async_open(store.clone(), &format!("/daily/{name}")).await?;
        let shape = array.shape().to_vec();
        let days = shape[0];
        anyhow::ensure!(
            shape[1] * shape[2] == NPIX as u64,
            "daily/{name} has shape {shape:?}, expected (days, 40, 60)"
        );
        let file = out.join(format!(
            "SC_{y0}-{y1}.freq-D-{days}x{NPIX}-{suffix}.multi.csv"
        ));
        let tmp = file.with_extension("csv.part");
        let mut w = std::io::BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(&tmp)
                .with_context(|| format!("cannot create {}", tmp.display()))?,
        );
        let mut header = String::with_capacity(NPIX * 5);
        for p in 0..NPIX {
            header.push(',');
            header.push_str(&p.to_string());
        }
        writeln!(w, "{header}")?;
        let bar = crate::progress::count_bar(progress, days, suffix);
        let step = 365u64;
        let mut day = 0u64;
        while day < days {
            let end = (day + step).min(days);
            let values: Vec<f32> = array
                .async_retrieve_array_subset(&[day..end, 0..shape[1], 0..shape[2]])
                .await?;
            let mut line = String::with_capacity(NPIX * 4);
            for (i, row) in values.chunks(NPIX).enumerate() {
                line.clear();
                line.push_str(&(day + i as u64).to_string());
                for v in row {
                    line.push(',');
                    line.push_str(&v.to_string());
                }
                line.push('\n');
                w.write_all(line.as_bytes())?;
            }
            bar.inc(end - day);
            day = end;
        }
        bar.finish_and_clear();
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, &file)?;
        written.push(file);
    }
    Ok(written)
}

//! The facts of one version that every metadata form is built from, read from the files
//! themselves: the Parquet tables (row counts, schemas, value ranges from the footers'
//! statistics), the Zarr arrays (shapes, types, chunks from each `zarr.json`), the groups'
//! attributes and `metadata/provenance.json`. Nothing here is typed in by hand.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use arrow::datatypes::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::file::statistics::Statistics;
use serde::Serialize;
use serde_json::Value;

use crate::bag::Inventory;

/// One column of a Parquet table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnFacts {
    pub name: String,
    /// The Arrow type as Arrow prints it, e.g. `Timestamp(ms, "UTC")`, `Float64`, `Utf8`.
    pub data_type: String,
    pub nullable: bool,
}

/// A closed range of values of one column, over every row group of every file of a table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

/// A Parquet table: one file, or several hive partitions (`key=value/` directories).
#[derive(Debug, Clone, Serialize)]
pub struct TableFacts {
    /// The path under `data/` without partition directories and file name, e.g. `events`,
    /// `splits/locations`.
    pub name: String,
    /// Payload paths of the table's files, sorted.
    pub files: Vec<String>,
    /// Glob (relative to the bag root) that matches exactly the table's files.
    pub glob: String,
    /// Hive partition keys, outermost first (their values are in the paths, not the files).
    pub partition_keys: Vec<String>,
    pub rows: u64,
    pub bytes: u64,
    /// The schema of the first file (all files of a table written by sciml-data share it).
    pub columns: Vec<ColumnFacts>,
    /// Per column, the range of its values where the footers carry statistics (numeric and
    /// timestamp columns; timestamps in milliseconds since the epoch).
    pub ranges: BTreeMap<String, Range>,
}

/// A Zarr v3 array.
#[derive(Debug, Clone, Serialize)]
pub struct ArrayFacts {
    /// The array's directory, e.g. `data/grid.zarr/daily/log_eng`.
    pub path: String,
    pub shape: Vec<u64>,
    pub data_type: String,
    pub chunk_shape: Vec<u64>,
    pub dimension_names: Vec<Option<String>>,
    /// Payload paths of the chunk (or shard) objects, sorted.
    pub chunks: Vec<String>,
    pub bytes: u64,
    pub attributes: Value,
}

/// A Zarr v3 group and its attributes.
#[derive(Debug, Clone, Serialize)]
pub struct GroupFacts {
    pub path: String,
    pub attributes: Value,
}

/// What the payload holds, read from the files.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Layout {
    pub tables: Vec<TableFacts>,
    pub arrays: Vec<ArrayFacts>,
    pub groups: Vec<GroupFacts>,
    /// Payload files that belong to neither.
    pub other_files: Vec<String>,
}

/// A geographic box in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GeoBox {
    pub west: f64,
    pub east: f64,
    pub south: f64,
    pub north: f64,
}

impl Layout {
    /// Reads the layout of the payload `payload` whose files lie under `root` (a bag or a
    /// staging directory).
    pub fn read(root: &Path, payload: &Inventory) -> Result<Layout> {
        let mut layout = Layout::default();
        let mut tables: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
        let mut zarr_nodes: Vec<String> = Vec::new();
        for path in payload.keys() {
            if path.ends_with(".parquet") {
                let (name, keys) = table_name(path);
                tables
                    .entry(name)
                    .or_insert_with(|| (Vec::new(), keys))
                    .0
                    .push(path.clone());
            } else if path == "zarr.json" || path.ends_with("/zarr.json") {
                zarr_nodes.push(path.clone());
            }
        }
        for (name, (files, keys)) in tables {
            layout
                .tables
                .push(read_table(root, payload, name, files, keys)?);
        }
        let mut claimed: std::collections::BTreeSet<String> = layout
            .tables
            .iter()
            .flat_map(|t| t.files.iter().cloned())
            .collect();
        for node in &zarr_nodes {
            let file = root.join(node);
            let text =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let meta: Value = serde_json::from_slice(&text)
                .with_context(|| format!("{} is not JSON", file.display()))?;
            let dir = node.trim_end_matches("zarr.json").trim_end_matches('/');
            claimed.insert(node.clone());
            match meta["node_type"].as_str() {
                Some("array") => {
                    let prefix = format!("{dir}/");
                    let chunks: Vec<String> = payload
                        .keys()
                        .filter(|p| p.starts_with(&prefix) && !p.ends_with("/zarr.json"))
                        .cloned()
                        .collect();
                    let bytes = chunks.iter().map(|c| payload[c].size).sum();
                    claimed.extend(chunks.iter().cloned());
                    let u64s = |v: &Value| -> Vec<u64> {
                        v.as_array()
                            .map(|a| a.iter().filter_map(Value::as_u64).collect())
                            .unwrap_or_default()
                    };
                    layout.arrays.push(ArrayFacts {
                        path: dir.to_string(),
                        shape: u64s(&meta["shape"]),
                        data_type: meta["data_type"].as_str().unwrap_or("unknown").to_string(),
                        chunk_shape: u64s(&meta["chunk_grid"]["configuration"]["chunk_shape"]),
                        dimension_names: meta["dimension_names"]
                            .as_array()
                            .map(|a| a.iter().map(|d| d.as_str().map(String::from)).collect())
                            .unwrap_or_default(),
                        chunks,
                        bytes,
                        attributes: meta["attributes"].clone(),
                    });
                }
                _ => layout.groups.push(GroupFacts {
                    path: dir.to_string(),
                    attributes: meta["attributes"].clone(),
                }),
            }
        }
        layout.other_files = payload
            .keys()
            .filter(|p| !claimed.contains(*p))
            .cloned()
            .collect();
        Ok(layout)
    }

    /// Whether any table or array exists (the formats DataCite lists).
    pub fn formats(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if !self.arrays.is_empty() || !self.groups.is_empty() {
            out.push(super::ZARR_MEDIA_TYPE);
        }
        if !self.tables.is_empty() {
            out.push(super::PARQUET_MEDIA_TYPE);
        }
        out
    }

    /// The time range of the observations: the range of a timestamp column named `time`
    /// (else the first timestamp column) over the tables, in ms since the epoch.
    pub fn time_range(&self) -> Option<Range> {
        let mut best: Option<Range> = None;
        for t in &self.tables {
            let col = t
                .columns
                .iter()
                .find(|c| c.name == "time" && c.data_type.starts_with("Timestamp"))
                .or_else(|| {
                    t.columns
                        .iter()
                        .find(|c| c.data_type.starts_with("Timestamp"))
                });
            if let Some(r) = col.and_then(|c| t.ranges.get(&c.name)) {
                best = Some(match best {
                    None => *r,
                    Some(b) => Range {
                        min: b.min.min(r.min),
                        max: b.max.max(r.max),
                    },
                });
            }
        }
        best
    }

    /// Geographic boxes with a label: every group attribute `region` with north/south/west/east
    /// (e.g. the TEvolOp grid) and every entry of a group attribute `regions` (a list of such
    /// boxes with a `title`, e.g. one per SLSTR scene), then the extent of every table with latitude/longitude columns.
    pub fn geo_boxes(&self) -> Vec<(String, GeoBox)> {
        let mut out = Vec::new();
        let as_box = |r: &Value| match (
            r["north"].as_f64(),
            r["south"].as_f64(),
            r["west"].as_f64(),
            r["east"].as_f64(),
        ) {
            (Some(n), Some(s), Some(w), Some(e)) => Some(GeoBox {
                west: w,
                east: e,
                south: s,
                north: n,
            }),
            _ => None,
        };
        for g in &self.groups {
            let title = g.attributes["title"].as_str().unwrap_or(&g.path);
            if let Some(b) = as_box(&g.attributes["region"]) {
                out.push((format!("{title} ({})", g.path), b));
            }
            // Several labelled boxes (e.g. one per SLSTR scene).
            for r in g.attributes["regions"].as_array().into_iter().flatten() {
                if let Some(b) = as_box(r) {
                    let label = r["title"].as_str().unwrap_or(title);
                    out.push((format!("{label} ({})", g.path), b));
                }
            }
        }
        for t in &self.tables {
            let get = |names: &[&str]| names.iter().find_map(|n| t.ranges.get(*n).copied());
            if let (Some(lat), Some(lon)) = (get(&["latitude", "lat"]), get(&["longitude", "lon"]))
            {
                out.push((
                    format!("extent of the {} rows of table {}", t.rows, t.name),
                    GeoBox {
                        west: lon.min,
                        east: lon.max,
                        south: lat.min,
                        north: lat.max,
                    },
                ));
            }
        }
        out
    }
}

/// `data/events/year=2023/part-0.parquet` -> (`events`, [`year`]);
/// `data/splits/locations.parquet` -> (`splits/locations`, []).
pub fn table_name(path: &str) -> (String, Vec<String>) {
    let rel = path.strip_prefix(crate::bag::PAYLOAD_DIR).unwrap_or(path);
    let segs: Vec<&str> = rel.split('/').collect();
    let keys: Vec<String> = segs
        .iter()
        .filter(|s| s.contains('='))
        .filter_map(|s| s.split('=').next().map(String::from))
        .collect();
    match segs.iter().position(|s| s.contains('=')) {
        Some(i) if i > 0 => (segs[..i].join("/"), keys),
        _ => (
            rel.strip_suffix(".parquet").unwrap_or(rel).to_string(),
            keys,
        ),
    }
}

fn read_table(
    root: &Path,
    payload: &Inventory,
    name: String,
    files: Vec<String>,
    keys: Vec<String>,
) -> Result<TableFacts> {
    let mut rows = 0u64;
    let mut columns = Vec::new();
    let mut ranges: BTreeMap<String, Range> = BTreeMap::new();
    for (i, f) in files.iter().enumerate() {
        let path = root.join(f);
        let file = std::fs::File::open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new())
            .with_context(|| format!("{} is not a readable Parquet file", path.display()))?;
        let schema = meta.schema();
        if i == 0 {
            columns = schema
                .fields()
                .iter()
                .map(|fd| ColumnFacts {
                    name: fd.name().clone(),
                    data_type: fd.data_type().to_string(),
                    nullable: fd.is_nullable(),
                })
                .collect();
        }
        let pq = meta.metadata();
        rows += pq.file_metadata().num_rows().max(0) as u64;
        for rg in pq.row_groups() {
            for (c, chunk) in rg.columns().iter().enumerate() {
                let Some(field) = schema.fields().get(c) else {
                    continue;
                };
                let scale = match field.data_type() {
                    DataType::Timestamp(TimeUnit::Second, _) => 1000.0,
                    DataType::Timestamp(TimeUnit::Millisecond, _) => 1.0,
                    DataType::Timestamp(TimeUnit::Microsecond, _) => 1e-3,
                    DataType::Timestamp(TimeUnit::Nanosecond, _) => 1e-6,
                    DataType::Float32 | DataType::Float64 => 1.0,
                    DataType::Int32 | DataType::Int64 => 1.0,
                    _ => continue,
                };
                let range = match chunk.statistics() {
                    Some(Statistics::Int64(s)) => s
                        .min_opt()
                        .zip(s.max_opt())
                        .map(|(a, b)| (*a as f64, *b as f64)),
                    Some(Statistics::Int32(s)) => s
                        .min_opt()
                        .zip(s.max_opt())
                        .map(|(a, b)| (*a as f64, *b as f64)),
                    Some(Statistics::Double(s)) => {
                        s.min_opt().zip(s.max_opt()).map(|(a, b)| (*a, *b))
                    }
                    Some(Statistics::Float(s)) => s
                        .min_opt()
                        .zip(s.max_opt())
                        .map(|(a, b)| (*a as f64, *b as f64)),
                    _ => None,
                };
                if let Some((lo, hi)) = range {
                    let (lo, hi) = (lo * scale, hi * scale);
                    if lo.is_nan() || hi.is_nan() {
                        continue;
                    }
                    ranges
                        .entry(field.name().clone())
                        .and_modify(|r| {
                            r.min = r.min.min(lo);
                            r.max = r.max.max(hi);
                        })
                        .or_insert(Range { min: lo, max: hi });
                }
            }
        }
    }
    let glob = match files.as_slice() {
        [one] if keys.is_empty() => one.clone(),
        _ => {
            // Replace each partition value by `*`: data/events/year=*/part-0.parquet.
            let first = &files[0];
            let segs: Vec<String> = first
                .split('/')
                .map(|s| match s.split_once('=') {
                    Some((k, _)) => format!("{k}=*"),
                    None => s.to_string(),
                })
                .collect();
            let mut g = segs.join("/");
            if !files.iter().all(|f| glob_match(&g, f)) {
                g = format!("{}{name}/**/*.parquet", crate::bag::PAYLOAD_DIR);
            }
            g
        }
    };
    let bytes = files.iter().map(|f| payload[f].size).sum();
    Ok(TableFacts {
        name,
        files,
        glob,
        partition_keys: keys,
        rows,
        bytes,
        columns,
        ranges,
    })
}

/// `*` matches within one path segment (enough for the globs built above).
fn glob_match(glob: &str, path: &str) -> bool {
    let g: Vec<&str> = glob.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    g.len() == p.len()
        && g.iter().zip(&p).all(|(g, p)| match g.split_once('*') {
            Some((a, b)) => p.len() >= a.len() + b.len() && p.starts_with(a) && p.ends_with(b),
            None => g == p,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_drop_partitions_and_file_names() {
        assert_eq!(
            table_name("data/events/year=2023/part-0.parquet"),
            ("events".to_string(), vec!["year".to_string()])
        );
        assert_eq!(
            table_name("data/splits/locations.parquet"),
            ("splits/locations".to_string(), vec![])
        );
        assert!(glob_match(
            "data/events/year=*/part-0.parquet",
            "data/events/year=1999/part-0.parquet"
        ));
        assert!(!glob_match(
            "data/events/year=*/part-0.parquet",
            "data/events/year=1999/x/part-0.parquet"
        ));
    }
}

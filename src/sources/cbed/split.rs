//! Splits, space groups and crystal systems.
//!
//! The split of a sample is the split of its input: `batch_<train|dev|test>_<k>.h5` for the
//! ORNL batch files, the parent directory (`train`/`training`, `dev`/`validation`,
//! `test`/`testing`, `inference`) for the `.npz` files. Inputs are ordered split by split
//! (train, dev, test, inference), then by file name in natural order, so the samples of a
//! split are contiguous in the arrays.

use std::cmp::Ordering;
use std::path::Path;

use anyhow::{Result, bail};

/// The splits, in array order.
pub const SPLITS: [&str; 4] = ["train", "dev", "test", "inference"];

/// The split of an ORNL batch file, from its name (`batch_dev_3.h5` -> `dev`).
pub fn split_of_batch(name: &str) -> Option<&'static str> {
    let rest = name.strip_prefix("batch_")?;
    SPLITS[..3]
        .iter()
        .find(|s| {
            rest.strip_prefix(**s)
                .is_some_and(|r| r.starts_with('_') || r.starts_with('.'))
        })
        .copied()
}

/// The split of a directory of `.npz` files, from its name.
pub fn split_of_dir(dir: &str) -> Option<&'static str> {
    match dir.to_ascii_lowercase().as_str() {
        "train" | "training" => Some("train"),
        "dev" | "validation" | "val" => Some("dev"),
        "test" | "testing" => Some("test"),
        "inference" => Some("inference"),
        _ => None,
    }
}

/// The split of an input file of either form.
pub fn split_of(path: &Path) -> Result<&'static str> {
    let name = crate::ingest::input_name(path);
    if let Some(s) = split_of_batch(&name) {
        return Ok(s);
    }
    if name.ends_with(".npz")
        && let Some(s) = path
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|d| split_of_dir(&d.to_string_lossy()))
    {
        return Ok(s);
    }
    bail!(
        "cannot tell the split of {}: expected batch_<train|dev|test>_<k>.h5, or a .npz file in a directory named train/training, dev/validation, test/testing or inference",
        path.display()
    )
}

/// Position of a split in [`SPLITS`].
pub fn split_rank(split: &str) -> usize {
    SPLITS
        .iter()
        .position(|s| *s == split)
        .unwrap_or(SPLITS.len())
}

/// Natural order of names: runs of digits compare as numbers (`sample_2_0` < `sample_10_0`).
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    loop {
        match (x.first(), y.first()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let nx = x.iter().take_while(|c| c.is_ascii_digit()).count();
                let ny = y.iter().take_while(|c| c.is_ascii_digit()).count();
                let (dx, dy) = (&x[..nx], &y[..ny]);
                let tx = dx.iter().skip_while(|c| **c == b'0').count();
                let ty = dy.iter().skip_while(|c| **c == b'0').count();
                let o = tx
                    .cmp(&ty)
                    .then_with(|| dx[nx - tx..].cmp(&dy[ny - ty..]))
                    .then_with(|| nx.cmp(&ny));
                if o != Ordering::Equal {
                    return o;
                }
                x = &x[nx..];
                y = &y[ny..];
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(d);
                }
                x = &x[1..];
                y = &y[1..];
            }
        }
    }
}

/// A space group number from its text (`b"14"` in the files): an integer in 1..=230.
pub fn parse_space_group(text: &str) -> Result<u8> {
    let t = text.trim();
    match t.parse::<u32>() {
        Ok(v) if (1..=230).contains(&v) => Ok(v as u8),
        Ok(v) => bail!("space_group {v} is outside 1..230"),
        Err(_) => bail!("space_group {text:?} is not a number"),
    }
}

/// The crystal system of a space group (International Tables ranges).
pub fn crystal_system(sg: u8) -> &'static str {
    match sg {
        1..=2 => "triclinic",
        3..=15 => "monoclinic",
        16..=74 => "orthorhombic",
        75..=142 => "tetragonal",
        143..=167 => "trigonal",
        168..=194 => "hexagonal",
        _ => "cubic",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_from_names() {
        assert_eq!(split_of_batch("batch_train_223.h5"), Some("train"));
        assert_eq!(split_of_batch("batch_dev_0.h5"), Some("dev"));
        assert_eq!(split_of_batch("batch_test_9.h5"), Some("test"));
        assert_eq!(split_of_batch("batch_testing_9.h5"), None);
        assert_eq!(split_of_dir("validation"), Some("dev"));
        assert_eq!(
            split_of(Path::new("/d/testing/sample-3.npz")).expect("split"),
            "test"
        );
        assert!(split_of(Path::new("/d/other/sample-3.npz")).is_err());
    }

    #[test]
    fn natural_order_and_space_groups() {
        let mut v = vec!["sample_10_0", "sample_2_0", "sample_2_1", "sample_1_0"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, ["sample_1_0", "sample_2_0", "sample_2_1", "sample_10_0"]);
        assert_eq!(parse_space_group(" 14").expect("sg"), 14);
        assert!(parse_space_group("231").is_err());
        assert!(parse_space_group("P21/c").is_err());
        assert_eq!(crystal_system(14), "monoclinic");
        assert_eq!(crystal_system(194), "hexagonal");
        assert_eq!(crystal_system(225), "cubic");
    }
}

//! The Sentinel-3 SLSTR Level-1 `SL_1_RBT` SAFE product: its folder name and the files and
//! variables a CloudMask scene is made of (shared/reference/sources.md 1.2).

use anyhow::{Result, bail};
use serde::Serialize;

/// The suffix of a SAFE product folder.
pub const SAFE_SUFFIX: &str = ".SEN3";
/// The product type field of an SLSTR Level-1 RBT product name (11 characters).
pub const PRODUCT_TYPE: &str = "SL_1_RBT___";

/// The fields of a SAFE product name, e.g.
/// `S3A_SL_1_RBT____20191001T113221_20191001T113521_20191002T153211_0179_050_023_1980_LN2_O_NT_003`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SafeName {
    /// The product name without `.SEN3`.
    pub product: String,
    /// `S3A` or `S3B`.
    pub platform: String,
    /// `SL_1_RBT___`.
    pub product_type: String,
    /// Sensing start, `YYYYMMDDTHHMMSS`.
    pub start: String,
    /// Sensing stop.
    pub stop: String,
    /// Product creation.
    pub creation: String,
    /// Duration in seconds (`0179`).
    pub duration_s: u32,
    /// Orbit cycle number.
    pub cycle: u32,
    /// Relative orbit number.
    pub relative_orbit: u32,
    /// Frame along-track coordinate (`1980`), or `____` for a stripe.
    pub frame: String,
    /// Generating centre (`LN2`, `MAR`, `SVL`).
    pub centre: String,
    /// Platform mode: `O` operational, `F` reference, `D` development, `R` reprocessing.
    pub mode: String,
    /// Timeliness: `NR` near real time, `ST` short, `NT` non-time-critical.
    pub timeliness: String,
    /// Collection/baseline (`003`).
    pub baseline: String,
}

fn is_stamp(s: &str) -> bool {
    s.len() == 15
        && s.char_indices()
            .all(|(i, c)| if i == 8 { c == 'T' } else { c.is_ascii_digit() })
}

fn number(field: &str, what: &str, name: &str) -> Result<u32> {
    if field.is_empty() || !field.chars().all(|c| c.is_ascii_digit()) {
        bail!("SAFE product name {name:?}: {what} {field:?} is not a number");
    }
    Ok(field.parse()?)
}

/// Parses a product name (with or without `.SEN3` or `.hdf`).
pub fn parse(name: &str) -> Result<SafeName> {
    let product = name
        .strip_suffix(SAFE_SUFFIX)
        .or_else(|| name.strip_suffix(".hdf"))
        .unwrap_or(name);
    let bad = |why: &str| -> anyhow::Error {
        anyhow::anyhow!(
            "{name:?} is not a Sentinel-3 SLSTR Level-1 RBT product name ({why}); expected e.g. S3A_SL_1_RBT____20191001T113221_20191001T113521_20191002T153211_0179_050_023_1980_LN2_O_NT_003"
        )
    };
    if !product.is_ascii() || product.len() < 17 {
        return Err(bad("too short"));
    }
    let platform = &product[..3];
    if !matches!(platform, "S3A" | "S3B" | "S3C" | "S3D") || &product[3..4] != "_" {
        return Err(bad("mission is not S3A/S3B/S3C/S3D"));
    }
    let product_type = &product[4..15];
    if product_type != PRODUCT_TYPE || &product[15..16] != "_" {
        return Err(bad("product type is not SL_1_RBT___"));
    }
    let f: Vec<&str> = product[16..].split('_').collect();
    if f.len() != 11 {
        return Err(bad("expected 11 fields after the product type"));
    }
    for (i, what) in [(0, "start"), (1, "stop"), (2, "creation")] {
        if !is_stamp(f[i]) {
            return Err(bad(&format!("{what} {:?} is not YYYYMMDDTHHMMSS", f[i])));
        }
    }
    if f[3].len() != 4 || f[4].len() != 3 || f[5].len() != 3 || f[6].len() != 4 {
        return Err(bad("duration/cycle/orbit/frame have the wrong width"));
    }
    if f[7].len() != 3 || f[8].len() != 1 || f[9].len() != 2 || f[10].len() != 3 {
        return Err(bad("centre/mode/timeliness/baseline have the wrong width"));
    }
    Ok(SafeName {
        product: product.to_string(),
        platform: platform.to_string(),
        product_type: product_type.to_string(),
        start: f[0].to_string(),
        stop: f[1].to_string(),
        creation: f[2].to_string(),
        duration_s: number(f[3], "duration", name)?,
        cycle: number(f[4], "cycle", name)?,
        relative_orbit: number(f[5], "relative orbit", name)?,
        frame: f[6].to_string(),
        centre: f[7].to_string(),
        mode: f[8].to_string(),
        timeliness: f[9].to_string(),
        baseline: f[10].to_string(),
    })
}

/// The grid a variable lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Grid {
    /// 500 m stripe A nadir (2400 x 3000 for a frame).
    An,
    /// 1 km thermal infrared nadir (1200 x 1500 for a frame).
    In,
    /// Nadir tie-point grid.
    Tn,
    /// One value per detector (solar irradiance).
    Detectors,
}

impl Grid {
    /// The dimension names the Zarr arrays use (suffixed so that the grids of one group
    /// never share a dimension name of different length).
    pub fn dimension_names(self) -> &'static [&'static str] {
        match self {
            Grid::An => &["rows_an", "columns_an"],
            Grid::In => &["rows_in", "columns_in"],
            Grid::Tn => &["rows_tn", "columns_tn"],
            Grid::Detectors => &["detectors"],
        }
    }
}

/// One variable of a scene: its file, its name and its grid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VarSpec {
    pub file: String,
    pub variable: String,
    pub grid: Grid,
}

/// Every variable a CloudMask scene is made of (sources.md 1.2: what the STFC loader
/// reads), in a fixed order.
pub fn variables() -> Vec<VarSpec> {
    let mut v = Vec::new();
    let mut add = |file: String, variable: String, grid| {
        v.push(VarSpec {
            file,
            variable,
            grid,
        })
    };
    for n in 1..=6 {
        add(
            format!("S{n}_radiance_an.nc"),
            format!("S{n}_radiance_an"),
            Grid::An,
        );
    }
    for n in 7..=9 {
        add(format!("S{n}_BT_in.nc"), format!("S{n}_BT_in"), Grid::In);
    }
    for f in ["bayes_in", "confidence_in", "cloud_in"] {
        add("flags_in.nc".into(), f.into(), Grid::In);
    }
    for g in ["an", "in"] {
        let grid = if g == "an" { Grid::An } else { Grid::In };
        for c in ["latitude", "longitude"] {
            add(format!("geodetic_{g}.nc"), format!("{c}_{g}"), grid);
        }
    }
    for n in 1..=6 {
        add(
            format!("S{n}_quality_an.nc"),
            format!("S{n}_solar_irradiance_an"),
            Grid::Detectors,
        );
    }
    add("geometry_tn.nc".into(), "solar_zenith_tn".into(), Grid::Tn);
    v
}

/// The netCDF files a scene needs, in order, without repetition.
pub fn files() -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in variables() {
        if !out.contains(&v.file) {
            out.push(v.file);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_reference_example() {
        let n = parse("S3A_SL_1_RBT____20191001T113221_20191001T113521_20191002T153211_0179_050_023_1980_LN2_O_NT_003.SEN3").unwrap();
        assert_eq!(n.platform, "S3A");
        assert_eq!(n.start, "20191001T113221");
        assert_eq!(n.stop, "20191001T113521");
        assert_eq!(n.creation, "20191002T153211");
        assert_eq!(n.duration_s, 179);
        assert_eq!(n.cycle, 50);
        assert_eq!(n.relative_orbit, 23);
        assert_eq!(n.frame, "1980");
        assert_eq!(n.centre, "LN2");
        assert_eq!(n.mode, "O");
        assert_eq!(n.timeliness, "NT");
        assert_eq!(n.baseline, "003");
        assert_eq!(
            n.product,
            "S3A_SL_1_RBT____20191001T113221_20191001T113521_20191002T153211_0179_050_023_1980_LN2_O_NT_003"
        );
    }

    #[test]
    fn rejects_other_names() {
        for bad in [
            "S3A_OL_1_EFR____20191001T113221_20191001T113521_20191002T153211_0179_050_023_1980_LN2_O_NT_003",
            "S3A_SL_1_RBT____2019100XT113221_20191001T113521_20191002T153211_0179_050_023_1980_LN2_O_NT_003",
            "S3A_SL_1_RBT____20191001T113221_20191001T113521_20191002T153211_0179_050_023_1980_LN2_O_NT",
            "S3A_SL_1_RBT____20191001T113221_20191001T113521_20191002T153211_01x9_050_023_1980_LN2_O_NT_003",
            "foo.SEN3",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_test_product_of_the_reference_parses() {
        let list = include_str!("test-products.txt");
        let names: Vec<&str> = list
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .collect();
        assert_eq!(names.len(), 100);
        for n in names {
            parse(n).unwrap();
        }
    }
}

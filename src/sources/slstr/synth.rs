//! Synthetic SLSTR Level-1 RBT products in the real SAFE layout, for the demo, the tests
//! and the benchmark.
//!
//! Each scene is a `<name>.SEN3/` folder of netCDF-4 files written with the `netcdf` crate:
//! the file, variable and dimension names (`rows`, `columns`) of sources.md 1.2, radiances
//! and brightness temperatures packed as int16 with per-channel `scale_factor`,
//! `add_offset` and `_FillValue`, flag variables with `flag_masks`/`flag_meanings`, int32
//! geolocation, the solar irradiances, `solar_zenith_tn` on a tie-point grid and the global
//! attributes (start/stop time, orbit, product name). The scene is made of smooth
//! multi-octave value noise (cloud decks over ocean with some land), not white noise, so
//! compression and cloud scores behave like real data. Full size (2400 x 3000 and
//! 1200 x 1500) by default. Optionally the preprocessed `.hdf` form of the same scene is
//! written too (sources.md 1.3), with `hdf5-metno`. Same options, same values.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use hdf5_metno as hdf5;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::ingest::FRAME_GRID;
use super::safe;

/// Generator settings.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    pub scenes: usize,
    pub seed: u64,
    /// The 1 km grid (rows, columns); the 500 m grid is twice that.
    pub grid: (usize, usize),
    /// Name the first scenes after products of the reference's test list.
    pub test_names: usize,
    /// Also write the preprocessed `.hdf` form into `<out>/hdf/`.
    pub hdf: bool,
    /// Deflate level of the netCDF variables (real products are compressed); 0 = none.
    pub deflate: u8,
}

impl Default for SynthOptions {
    fn default() -> Self {
        SynthOptions {
            scenes: 3,
            seed: 2019,
            grid: (FRAME_GRID.0 as usize, FRAME_GRID.1 as usize),
            test_names: 0,
            hdf: false,
            deflate: 1,
        }
    }
}

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct SynthStats {
    pub products: Vec<PathBuf>,
    pub hdf_files: Vec<PathBuf>,
    pub bytes: u64,
}

/// Radiance channels S1-S6: (scale_factor, clear ocean, land, cloud) radiance at mu0 = 1
/// in mW.m-2.sr-1.nm-1.
const RADIANCE: [(f64, f64, f64, f64); 6] = [
    (0.02, 45.0, 60.0, 420.0),
    (0.018, 28.0, 55.0, 380.0),
    (0.015, 12.0, 110.0, 260.0),
    (0.005, 0.4, 0.8, 55.0),
    (0.004, 2.5, 70.0, 95.0),
    (0.0015, 0.8, 35.0, 30.0),
];
/// Solar irradiance per channel (mW.m-2.nm-1).
const IRRADIANCE: [f32; 6] = [1837.4, 1525.1, 956.2, 366.1, 248.5, 78.6];
const BT_SCALE: f64 = 0.01;
const BT_OFFSET: f64 = 283.73;
const FILL16: i16 = i16::MIN;
const FILL32: i32 = i32::MIN;
const DETECTORS: usize = 4;
/// The grid geometry global attributes the files carry (`track_offset`, `resolution`;
/// `start_offset` is 0): the 1 km and 500 m files, and the tie-point grid.
const TRACK_OFFSET: i32 = 998;
const TN_TRACK_OFFSET: i32 = 64;
/// Tie-point spacing across track, in 1 km columns (`resolution` "[ 16000 1000 ]").
const TN_STEP: f64 = 16.0;

const BAYES: [(&str, u8); 4] = [
    ("single_low", 1),
    ("single_moderate", 2),
    ("dual_low", 4),
    ("dual_moderate", 8),
];
const CLOUD: [(&str, u16); 13] = [
    ("visible", 1),
    ("1.37_threshold", 2),
    ("1.6_small_histogram", 4),
    ("1.6_large_histogram", 8),
    ("2.25_small_histogram", 16),
    ("2.25_large_histogram", 32),
    ("11_spatial_coherence", 64),
    ("gross_cloud", 128),
    ("thin_cirrus", 256),
    ("medium_high", 512),
    ("fog_low_stratus", 1024),
    ("11_12_view_difference", 2048),
    ("3.7_11_view_difference", 4096),
];
const CONFIDENCE: [(&str, u16); 14] = [
    ("coastline", 1),
    ("ocean", 2),
    ("tidal", 4),
    ("land", 8),
    ("inland_water", 16),
    ("unfilled", 32),
    ("cosmetic", 256),
    ("duplicate", 512),
    ("day", 1024),
    ("twilight", 2048),
    ("sun_glint", 4096),
    ("snow", 8192),
    ("summary_cloud", 16384),
    ("summary_pointing", 32768),
];

/// Smooth value noise in 0..1 (sum of `octaves` bilinear lattices, smoothstep-weighted).
fn fbm(rng: &mut ChaCha8Rng, rows: usize, cols: usize, cells: usize, octaves: usize) -> Vec<f32> {
    let lattices: Vec<(usize, Vec<f32>)> = (0..octaves)
        .map(|o| {
            let n = cells << o;
            let v = (0..(n + 2) * (n + 2))
                .map(|_| rng.random::<f32>())
                .collect();
            (n, v)
        })
        .collect();
    let norm: f32 = (0..octaves).map(|o| 0.5f32.powi(o as i32)).sum();
    let scale = rows.max(cols) as f32;
    let mut out = vec![0f32; rows * cols];
    out.par_chunks_mut(cols).enumerate().for_each(|(r, row)| {
        for (o, (n, lat)) in lattices.iter().enumerate() {
            let amp = 0.5f32.powi(o as i32) / norm;
            let y = r as f32 / scale * *n as f32;
            let iy = y as usize;
            let fy = y - iy as f32;
            let sy = fy * fy * (3.0 - 2.0 * fy);
            let w = n + 2;
            for (c, v) in row.iter_mut().enumerate() {
                let x = c as f32 / scale * *n as f32;
                let ix = x as usize;
                let fx = x - ix as f32;
                let sx = fx * fx * (3.0 - 2.0 * fx);
                let a = lat[iy * w + ix];
                let b = lat[iy * w + ix + 1];
                let cc = lat[(iy + 1) * w + ix];
                let d = lat[(iy + 1) * w + ix + 1];
                let top = a + (b - a) * sx;
                let bot = cc + (d - cc) * sx;
                *v += amp * (top + (bot - top) * sy);
            }
        }
    });
    out
}

/// Bilinear 2x upsampling of a 1 km field to the 500 m grid.
fn upsample(f: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let (r2, c2) = (rows * 2, cols * 2);
    let mut out = vec![0f32; r2 * c2];
    out.par_chunks_mut(c2).enumerate().for_each(|(r, row)| {
        let y = ((r as f32 + 0.5) / 2.0 - 0.5).clamp(0.0, (rows - 1) as f32);
        let iy = (y as usize).min(rows.saturating_sub(2));
        let fy = y - iy as f32;
        let iy1 = (iy + 1).min(rows - 1);
        for (c, v) in row.iter_mut().enumerate() {
            let x = ((c as f32 + 0.5) / 2.0 - 0.5).clamp(0.0, (cols - 1) as f32);
            let ix = (x as usize).min(cols.saturating_sub(2));
            let fx = x - ix as f32;
            let ix1 = (ix + 1).min(cols - 1);
            let top = f[iy * cols + ix] + (f[iy * cols + ix1] - f[iy * cols + ix]) * fx;
            let bot = f[iy1 * cols + ix] + (f[iy1 * cols + ix1] - f[iy1 * cols + ix]) * fx;
            *v = top + (bot - top) * fy;
        }
    });
    out
}

/// One scene's fields, packed as the product stores them.
struct Scene {
    name: String,
    day: bool,
    rows: usize,
    cols: usize,
    tie_cols: usize,
    start: chrono::NaiveDateTime,
    orbit: i32,
    radiance: Vec<Vec<i16>>,
    bt: Vec<Vec<i16>>,
    bayes: Vec<u8>,
    cloud: Vec<u16>,
    confidence: Vec<u16>,
    geo_an: (Vec<i32>, Vec<i32>),
    geo_in: (Vec<i32>, Vec<i32>),
    sza_tn: Vec<f64>,
    sza_in: Vec<f64>,
    irradiance: Vec<Vec<f32>>,
}

fn scene_name(k: usize, opts: &SynthOptions) -> (String, chrono::NaiveDateTime, i32) {
    let tests: Vec<&str> = super::split::test_products().into_iter().collect();
    let base = chrono::NaiveDate::from_ymd_opt(2019, 10, 15)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default();
    if k < opts.test_names
        && let Some(t) = tests.get(k)
        && let Ok(n) = safe::parse(t)
        && let Ok(start) = chrono::NaiveDateTime::parse_from_str(&n.start, "%Y%m%dT%H%M%S")
    {
        return (t.to_string(), start, 19_500 + k as i32);
    }
    // Alternating day (descending, ~10:30 local) and night frames, 3 minutes each.
    let start = base + chrono::Duration::seconds(k as i64 * 50 * 60 + 10 * 3600 + 321);
    let stop = start + chrono::Duration::seconds(180);
    let creation = start + chrono::Duration::hours(26);
    let f = |t: chrono::NaiveDateTime| t.format("%Y%m%dT%H%M%S").to_string();
    let name = format!(
        "S3A_SL_1_RBT____{}_{}_{}_0179_050_{:03}_{:04}_LN2_O_NT_003",
        f(start),
        f(stop),
        f(creation),
        (23 + 7 * k) % 385,
        (1980 + 180 * k) % 6000
    );
    (name, start, 19_800 + k as i32)
}

fn make_scene(k: usize, opts: &SynthOptions) -> Scene {
    let (rows, cols) = opts.grid;
    let (name, start, orbit) = scene_name(k, opts);
    let mut rng =
        ChaCha8Rng::seed_from_u64(opts.seed.wrapping_mul(1_000_003).wrapping_add(k as u64));
    let day = k.is_multiple_of(2);
    let threshold = 0.42 + 0.12 * rng.random::<f32>();
    let cloud_field = fbm(&mut rng, rows, cols, 5, 5);
    let land_field = fbm(&mut rng, rows, cols, 2, 3);
    let texture = fbm(&mut rng, rows, cols, 24, 2);
    let cover = |v: f32| ((v - threshold) * 5.0).clamp(0.0, 1.0);
    let land = |v: f32| v > 0.6;
    // Solar zenith angle varies across the swath.
    let sza0: f32 = if day { 35.0 } else { 115.0 };
    let sza_at = |c: f32, ncols: f32| sza0 + 20.0 * (c / ncols - 0.5);
    // The same angle as a smooth function of the 1 km position (row, column), from which
    // both the tie-point grid and the 1 km angles of the .hdf form are taken: interpolating
    // the tie points with the files' geometry attributes gives the 1 km angles back.
    let sza_fn = |r: f64, c: f64| f64::from(sza0) + 20.0 * (c / cols as f64 - 0.5) + 0.002 * r;
    let mu0 = |s: f32| {
        if s < 90.0 {
            (s.to_radians()).cos()
        } else {
            0.0
        }
    };

    // 500 m radiances.
    let cloud_an = upsample(&cloud_field, rows, cols);
    let land_an = upsample(&land_field, rows, cols);
    let tex_an = upsample(&texture, rows, cols);
    let (r2, c2) = (rows * 2, cols * 2);
    let radiance: Vec<Vec<i16>> = RADIANCE
        .iter()
        .map(|(scale, ocean, land_r, cloud_r)| {
            let mut v = vec![0i16; r2 * c2];
            v.par_chunks_mut(c2).enumerate().for_each(|(r, row)| {
                for (c, out) in row.iter_mut().enumerate() {
                    if c < 2 {
                        *out = FILL16; // the swath edge is fill, as in real frames
                        continue;
                    }
                    let i = r * c2 + c;
                    let cv = cover(cloud_an[i]);
                    let base = if land(land_an[i]) { *land_r } else { *ocean };
                    let m = f64::from(mu0(sza_at(c as f32, c2 as f32)));
                    let rad = m
                        * (base * (1.0 - f64::from(cv)) + cloud_r * f64::from(cv))
                        * (0.9 + 0.2 * f64::from(tex_an[i]));
                    *out = (rad / scale).round().clamp(-32767.0, 32767.0) as i16;
                }
            });
            v
        })
        .collect();
    drop((cloud_an, land_an, tex_an));

    // 1 km thermal channels and flags.
    let n = rows * cols;
    let mut bt = vec![vec![0i16; n]; 3];
    let mut bayes = vec![0u8; n];
    let mut cloud = vec![0u16; n];
    let mut confidence = vec![0u16; n];
    let mut sza_in = vec![0f64; n];
    for i in 0..n {
        let (r, c) = (i / cols, i % cols);
        let cv = cover(cloud_field[i]);
        let is_land = land(land_field[i]);
        sza_in[i] = sza_fn(r as f64, c as f64);
        let sza = sza_in[i] as f32;
        let surface = if is_land {
            if day { 295.0 } else { 278.0 }
        } else {
            283.0 + 6.0 * f64::from(land_field[i])
        };
        let top = 290.0 - 65.0 * f64::from(cloud_field[i]);
        let t = surface * (1.0 - f64::from(cv))
            + top.min(surface) * f64::from(cv)
            + 0.8 * f64::from(texture[i]);
        let t7 = t + if day { 6.0 * f64::from(mu0(sza)) } else { -1.5 };
        let t9 = t - 0.7 - 1.8 * f64::from(cv);
        let pack = |x: f64| ((x - BT_OFFSET) / BT_SCALE).round() as i16;
        bt[0][i] = pack(t7);
        bt[1][i] = pack(t);
        bt[2][i] = pack(t9);
        if r == 0 && c < 3 {
            bt[0][i] = FILL16; // a few unfilled pixels
        }
        let mut b = 0u8;
        if cv > 0.5 {
            b |= 1 | 4;
        }
        if cv > 0.8 {
            b |= 2 | 8;
        }
        bayes[i] = b;
        let mut cl = 0u16;
        if cv > 0.4 {
            cl |= 64;
        }
        if cv > 0.6 {
            cl |= 128;
        }
        if cv > 0.2 && cv <= 0.6 {
            cl |= 256;
        }
        cloud[i] = cl;
        let mut cf = if is_land { 8u16 } else { 2u16 };
        if (land_field[i] - 0.6).abs() < 0.004 {
            cf |= 1;
        }
        if sza < 85.0 {
            cf |= 1024;
        } else if sza < 95.0 {
            cf |= 2048;
        }
        if cv > 0.45 {
            cf |= 16384;
        }
        confidence[i] = cf;
    }

    // Geolocation: a descending frame over the North Atlantic.
    let lat0 = 48.0 + 2.5 * k as f64;
    let lon0 = -25.0 + 4.0 * k as f64;
    let geo = |nr: usize, nc: usize, step: f64| {
        let mut lat = vec![0i32; nr * nc];
        let mut lon = vec![0i32; nr * nc];
        for r in 0..nr {
            for c in 0..nc {
                let dr = (nr as f64 / 2.0 - r as f64) * step;
                let dc = (c as f64 - nc as f64 / 2.0) * step;
                let la = lat0 + dr * 0.009 - dc * 0.001;
                let lo = lon0 + dc * 0.014 / la.to_radians().cos().max(0.2) * 0.7 + dr * 0.002;
                lat[r * nc + c] = (la * 1e6).round() as i32;
                lon[r * nc + c] = (lo * 1e6).round() as i32;
            }
        }
        (lat, lon)
    };
    let geo_an = geo(r2, c2, 0.5);
    let geo_in = geo(rows, cols, 1.0);
    let tie_cols = cols.div_ceil(16) + 36;
    let mut sza_tn = vec![0f64; rows * tie_cols];
    for r in 0..rows {
        for t in 0..tie_cols {
            // Tie-point column t lies at 1 km column (t - 64) * 16 + 998 (the inverse of the
            // STFC mapping with the files' track_offset and resolution attributes).
            let c = (t as f64 - f64::from(TN_TRACK_OFFSET)) * TN_STEP + f64::from(TRACK_OFFSET);
            sza_tn[r * tie_cols + t] = sza_fn(r as f64, c);
        }
    }
    let irradiance = IRRADIANCE
        .iter()
        .map(|e| {
            (0..DETECTORS)
                .map(|d| e * (1.0 + 0.0007 * d as f32))
                .collect()
        })
        .collect();
    Scene {
        name,
        day,
        rows,
        cols,
        tie_cols,
        start,
        orbit,
        radiance,
        bt,
        bayes,
        cloud,
        confidence,
        geo_an,
        geo_in,
        sza_tn,
        sza_in,
        irradiance,
    }
}

fn nc_err(path: &Path) -> impl Fn(netcdf::Error) -> anyhow::Error + '_ {
    move |e| anyhow::anyhow!("cannot write {}: {e}", path.display())
}

fn globals(f: &mut netcdf::FileMut, s: &Scene, file: &str, resolution: &str) -> netcdf::Result<()> {
    let stop = s.start + chrono::Duration::seconds(180);
    let fmt = |t: chrono::NaiveDateTime| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    f.add_attribute("absolute_orbit_number", s.orbit)?;
    f.add_attribute("comment", " ")?;
    f.add_attribute("contact", "eosupport@copernicus.esa.int")?;
    f.add_attribute("creation_time", fmt(s.start + chrono::Duration::hours(26)))?;
    f.add_attribute(
        "history",
        "synthetic product written by sciml-data synth slstr",
    )?;
    f.add_attribute(
        "institution",
        "sciml-data (synthetic; layout of ESA Sentinel-3 SLSTR L1 RBT)",
    )?;
    f.add_attribute("netCDF_version", "4.2 of Mar 13 2018 17:08:03 $")?;
    f.add_attribute("product_name", format!("{}{}", s.name, safe::SAFE_SUFFIX))?;
    f.add_attribute(
        "references",
        "S3IPF PDS 005.1 - i2r9 - Product Data Format Specification - SLSTR Level 1",
    )?;
    f.add_attribute("resolution", resolution)?;
    f.add_attribute("source", "IPF-SL-1 06.17")?;
    f.add_attribute("start_offset", 0i32)?;
    f.add_attribute("start_time", fmt(s.start))?;
    f.add_attribute("stop_time", fmt(stop))?;
    f.add_attribute("title", format!("SLSTR Level 1 Product, {file}"))?;
    f.add_attribute(
        "track_offset",
        if resolution.contains("16000") {
            TN_TRACK_OFFSET
        } else {
            TRACK_OFFSET
        },
    )?;
    Ok(())
}

fn flag_attrs<T: Into<netcdf::AttributeValue> + Copy>(
    v: &mut netcdf::VariableMut,
    flags: &[(&str, T)],
    masks: netcdf::AttributeValue,
) -> netcdf::Result<()> {
    v.put_attribute("flag_masks", masks)?;
    v.put_attribute(
        "flag_meanings",
        flags.iter().map(|f| f.0).collect::<Vec<_>>().join(" "),
    )?;
    Ok(())
}

fn write_safe(s: &Scene, dir: &Path, deflate: u8) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let (r2, c2) = (s.rows * 2, s.cols * 2);
    let chunk_an = [r2.div_ceil(4), c2.div_ceil(4)];
    let chunk_in = [s.rows.div_ceil(4), s.cols.div_ceil(4)];
    let new_file = |file: &str, rows: usize, cols: usize, res: &str| -> Result<netcdf::FileMut> {
        let p = dir.join(file);
        let mut f = netcdf::create(&p).map_err(nc_err(&p))?;
        f.add_dimension("rows", rows).map_err(nc_err(&p))?;
        f.add_dimension("columns", cols).map_err(nc_err(&p))?;
        globals(&mut f, s, file, res).map_err(nc_err(&p))?;
        Ok(f)
    };
    let compress = |v: &mut netcdf::VariableMut, chunk: &[usize]| -> netcdf::Result<()> {
        v.set_chunking(chunk)?;
        if deflate > 0 {
            v.set_compression(i32::from(deflate), true)?;
        }
        Ok(())
    };
    for (ch, data) in s.radiance.iter().enumerate() {
        let n = ch + 1;
        let file = format!("S{n}_radiance_an.nc");
        let p = dir.join(&file);
        let mut f = new_file(&file, r2, c2, "[ 500 500 ]")?;
        let (scale, ..) = RADIANCE[ch];
        (|| -> netcdf::Result<()> {
            let mut v =
                f.add_variable::<i16>(&format!("S{n}_radiance_an"), &["rows", "columns"])?;
            compress(&mut v, &chunk_an)?;
            v.set_fill_value(FILL16)?;
            v.put_attribute(
                "long_name",
                format!("TOA radiance for channel S{n} (A stripe grid, nadir view)"),
            )?;
            v.put_attribute("standard_name", "toa_upwelling_spectral_radiance")?;
            v.put_attribute("units", "mW.m-2.sr-1.nm-1")?;
            v.put_attribute("scale_factor", scale)?;
            v.put_attribute("add_offset", 0.0f64)?;
            v.put_values(data, ..)?;
            Ok(())
        })()
        .map_err(nc_err(&p))?;
        f.close().map_err(nc_err(&p))?;

        let file = format!("S{n}_quality_an.nc");
        let p = dir.join(&file);
        let mut f = netcdf::create(&p).map_err(nc_err(&p))?;
        (|| -> netcdf::Result<()> {
            f.add_dimension("detectors", DETECTORS)?;
            globals(&mut f, s, &file, "[ 500 500 ]")?;
            let mut v =
                f.add_variable::<f32>(&format!("S{n}_solar_irradiance_an"), &["detectors"])?;
            v.put_attribute(
                "long_name",
                format!("Solar irradiance for channel S{n}, A stripe, nadir view"),
            )?;
            v.put_attribute("units", "mW.m-2.nm-1")?;
            v.put_values(&s.irradiance[ch], ..)?;
            Ok(())
        })()
        .map_err(nc_err(&p))?;
        f.close().map_err(nc_err(&p))?;
    }
    for (ch, data) in s.bt.iter().enumerate() {
        let n = ch + 7;
        let file = format!("S{n}_BT_in.nc");
        let p = dir.join(&file);
        let mut f = new_file(&file, s.rows, s.cols, "[ 1000 1000 ]")?;
        (|| -> netcdf::Result<()> {
            let mut v = f.add_variable::<i16>(&format!("S{n}_BT_in"), &["rows", "columns"])?;
            compress(&mut v, &chunk_in)?;
            v.set_fill_value(FILL16)?;
            v.put_attribute("long_name", format!("Gridded pixel brightness temperature for channel S{n} (1km TIR grid, nadir view)"))?;
            v.put_attribute("standard_name", "toa_brightness_temperature")?;
            v.put_attribute("units", "K")?;
            v.put_attribute("scale_factor", BT_SCALE)?;
            v.put_attribute("add_offset", BT_OFFSET)?;
            v.put_values(data, ..)?;
            Ok(())
        })()
        .map_err(nc_err(&p))?;
        f.close().map_err(nc_err(&p))?;
    }
    {
        let file = "flags_in.nc";
        let p = dir.join(file);
        let mut f = new_file(file, s.rows, s.cols, "[ 1000 1000 ]")?;
        (|| -> netcdf::Result<()> {
            let mut v = f.add_variable::<u8>("bayes_in", &["rows", "columns"])?;
            compress(&mut v, &chunk_in)?;
            v.put_attribute(
                "long_name",
                "Bayesian cloud mask (1km TIR grid, nadir view)",
            )?;
            flag_attrs(
                &mut v,
                &BAYES,
                BAYES.iter().map(|f| f.1).collect::<Vec<u8>>().into(),
            )?;
            v.put_values(&s.bayes, ..)?;
            let mut v = f.add_variable::<u16>("cloud_in", &["rows", "columns"])?;
            compress(&mut v, &chunk_in)?;
            v.put_attribute("long_name", "Cloud mask (1km TIR grid, nadir view)")?;
            flag_attrs(
                &mut v,
                &CLOUD,
                CLOUD.iter().map(|f| f.1).collect::<Vec<u16>>().into(),
            )?;
            v.put_values(&s.cloud, ..)?;
            let mut v = f.add_variable::<u16>("confidence_in", &["rows", "columns"])?;
            compress(&mut v, &chunk_in)?;
            v.put_attribute("long_name", "Confidence flags (1km TIR grid, nadir view)")?;
            flag_attrs(
                &mut v,
                &CONFIDENCE,
                CONFIDENCE.iter().map(|f| f.1).collect::<Vec<u16>>().into(),
            )?;
            v.put_values(&s.confidence, ..)?;
            Ok(())
        })()
        .map_err(nc_err(&p))?;
        f.close().map_err(nc_err(&p))?;
    }
    for (g, (lat, lon), rows, cols, chunk, res) in [
        ("an", &s.geo_an, r2, c2, chunk_an, "[ 500 500 ]"),
        ("in", &s.geo_in, s.rows, s.cols, chunk_in, "[ 1000 1000 ]"),
    ] {
        let file = format!("geodetic_{g}.nc");
        let p = dir.join(&file);
        let mut f = new_file(&file, rows, cols, res)?;
        (|| -> netcdf::Result<()> {
            for (name, data, units, std) in [
                ("latitude", lat, "degrees_north", "latitude"),
                ("longitude", lon, "degrees_east", "longitude"),
            ] {
                let mut v = f.add_variable::<i32>(&format!("{name}_{g}"), &["rows", "columns"])?;
                compress(&mut v, &chunk)?;
                v.set_fill_value(FILL32)?;
                v.put_attribute(
                    "long_name",
                    format!("{std} of detector FOV centre on the earth's surface"),
                )?;
                v.put_attribute("standard_name", std)?;
                v.put_attribute("units", units)?;
                v.put_attribute("scale_factor", 1e-6f64)?;
                v.put_attribute("add_offset", 0.0f64)?;
                v.put_values(data, ..)?;
            }
            Ok(())
        })()
        .map_err(nc_err(&p))?;
        f.close().map_err(nc_err(&p))?;
    }
    {
        let file = "geometry_tn.nc";
        let p = dir.join(file);
        let mut f = new_file(file, s.rows, s.tie_cols, "[ 16000 1000 ]")?;
        (|| -> netcdf::Result<()> {
            let mut v = f.add_variable::<f64>("solar_zenith_tn", &["rows", "columns"])?;
            v.put_attribute("long_name", "Solar zenith angle")?;
            v.put_attribute("standard_name", "solar_zenith_angle")?;
            v.put_attribute("units", "degrees")?;
            v.put_values(&s.sza_tn, ..)?;
            Ok(())
        })()
        .map_err(nc_err(&p))?;
        f.close().map_err(nc_err(&p))?;
    }
    let manifest = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<xfdu:XFDU xmlns:xfdu=\"urn:ccsds:schema:xfdu:1\" version=\"esa/safe/sentinel/1.0/sentinel-3/slstr/level-1/RBT\">\n  <!-- synthetic product written by sciml-data synth slstr -->\n  <metadataSection><productName>{}{}</productName></metadataSection>\n  <dataObjectSection>\n{}  </dataObjectSection>\n</xfdu:XFDU>\n",
        s.name,
        safe::SAFE_SUFFIX,
        safe::files()
            .iter()
            .map(|f| format!("    <dataObject><fileLocation href=\"./{f}\"/></dataObject>\n"))
            .collect::<String>()
    );
    std::fs::write(dir.join("xfdumanifest.xml"), manifest)
        .with_context(|| format!("cannot write {}", dir.join("xfdumanifest.xml").display()))?;
    Ok(())
}

/// The preprocessed form of a scene, as `convert_netcdf.py` builds it from the decoded
/// variables: `bts` float32 (NaN at fill), `rads` float64 radiances resampled to 1 km
/// (2x2 mean of the valid 500 m pixels), `refs` float64 reflectances
/// `rad / (irradiance * mu0) * pi` (mu0 = cos SZA if SZA < 90 else 1), `bayes` uint8 and
/// `summary` uint8 (the summary_cloud bit).
fn write_hdf(s: &Scene, path: &Path) -> Result<()> {
    let (rows, cols) = (s.rows, s.cols);
    let c2 = cols * 2;
    let n = rows * cols;
    let mut bts = vec![0f32; n * 3];
    let mut rads = vec![0f64; n * 6];
    let mut refs = vec![0f64; n * 6];
    for i in 0..n {
        let (r, c) = (i / cols, i % cols);
        for ch in 0..3 {
            let v = s.bt[ch][i];
            bts[i * 3 + ch] = if v == FILL16 {
                f32::NAN
            } else {
                (f64::from(v) * BT_SCALE + BT_OFFSET) as f32
            };
        }
        let sza = s.sza_in[i];
        let mu0 = if sza < 90.0 {
            (sza * 0.017453292).cos()
        } else {
            1.0
        };
        for ch in 0..6 {
            let scale = RADIANCE[ch].0;
            let mut sum = 0.0;
            let mut cnt = 0;
            for (dr, dc) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                let v = s.radiance[ch][(2 * r + dr) * c2 + 2 * c + dc];
                if v != FILL16 {
                    sum += f64::from(v) * scale;
                    cnt += 1;
                }
            }
            let rad = if cnt > 0 {
                sum / f64::from(cnt)
            } else {
                f64::NAN
            };
            rads[i * 6 + ch] = rad;
            refs[i * 6 + ch] = rad / (f64::from(s.irradiance[ch][0]) * mu0) * std::f64::consts::PI;
        }
    }
    let summary: Vec<u8> = s
        .confidence
        .iter()
        .map(|v| u8::from(v & 16384 != 0))
        .collect();
    let f =
        hdf5::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let put = |name: &str, res: hdf5::Result<hdf5::Dataset>| -> Result<()> {
        res.map(|_| ())
            .with_context(|| format!("cannot write dataset {name} of {}", path.display()))
    };
    put(
        "bts",
        f.new_dataset_builder()
            .with_data(&ndarray::Array3::from_shape_vec((rows, cols, 3), bts)?)
            .create("bts"),
    )?;
    put(
        "rads",
        f.new_dataset_builder()
            .with_data(&ndarray::Array3::from_shape_vec((rows, cols, 6), rads)?)
            .create("rads"),
    )?;
    put(
        "refs",
        f.new_dataset_builder()
            .with_data(&ndarray::Array3::from_shape_vec((rows, cols, 6), refs)?)
            .create("refs"),
    )?;
    put(
        "bayes",
        f.new_dataset_builder()
            .with_data(&ndarray::Array3::from_shape_vec(
                (rows, cols, 1),
                s.bayes.clone(),
            )?)
            .create("bayes"),
    )?;
    put(
        "summary",
        f.new_dataset_builder()
            .with_data(&ndarray::Array3::from_shape_vec((rows, cols, 1), summary)?)
            .create("summary"),
    )?;
    f.close()
        .with_context(|| format!("cannot close {}", path.display()))?;
    Ok(())
}

fn dir_bytes(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .map(|it| {
            it.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Writes `opts.scenes` products under `out` (and `out/hdf/` with `opts.hdf`).
pub fn synthesize(opts: &SynthOptions, out: &Path) -> Result<SynthStats> {
    anyhow::ensure!(
        opts.grid.0 >= 2 && opts.grid.1 >= 2,
        "the grid must be at least 2 x 2"
    );
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut stats = SynthStats::default();
    for k in 0..opts.scenes {
        let s = make_scene(k, opts);
        let dir = out.join(format!("{}{}", s.name, safe::SAFE_SUFFIX));
        write_safe(&s, &dir, opts.deflate)?;
        stats.bytes += dir_bytes(&dir);
        stats.products.push(dir);
        if opts.hdf {
            let sub = out.join("hdf").join(if s.day { "day" } else { "night" });
            std::fs::create_dir_all(&sub)
                .with_context(|| format!("cannot create {}", sub.display()))?;
            let p = sub.join(format!("{}.hdf", s.name));
            write_hdf(&s, &p)?;
            stats.bytes += std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
            stats.hdf_files.push(p);
        }
    }
    Ok(stats)
}

//! Synthetic ORNL CBED batch files, for the demo, the tests and the benchmark.
//!
//! The files follow the real layout (sources.md 2.2): `batch_<split>_<k>.h5`, one group
//! `sample_<i>_0` per sample with the float32 dataset `cbed_stack` (3, 512, 512) and the
//! attributes `space_group` (bytes), `material` (bytes), `formula` (UTF-8), `energy_keV`
//! (int), `z_dirs` (1, 3, 3) int, `y_dirs` (1, 3, 3), `semi_angles_rad`, `d_hkls_angstrom`,
//! `abc_angstrom`, `angles_degree` (3,) float64.
//!
//! Labels are drawn from the real per-split class distribution (`distribution.csv`, a
//! verbatim copy of shared/realdata/stemdl/distribution.csv from
//! emilyjcosta5/datachallenge2@3c770b0443f7c92f0761ec95ad057b3ecf5c6574). Each pattern is a
//! 2-d reciprocal lattice of Bragg disks whose metric follows the space group's crystal
//! system (square, rectangular, hexagonal, oblique), with centring extinctions for
//! odd-numbered groups; disk intensities fall off over about eight orders of magnitude
//! around a bright central disk, over a faint diffuse background that reaches zero at the
//! corners. Materials never cross splits. Same options, byte-identical files.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use hdf5::types::{FixedAscii, VarLenUnicode};
use hdf5_metno as hdf5;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::h5::{STACK_LEN, STACK_SHAPE};
use super::split::crystal_system;

/// The real per-space-group counts (columns "", Dev, Overall, Test, Train).
pub const DISTRIBUTION_CSV: &str = include_str!("distribution.csv");

/// Generator settings.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    pub seed: u64,
    /// Files per split: train, dev, test.
    pub files: [usize; 3],
    /// Sample groups per file.
    pub samples_per_file: usize,
}

impl Default for SynthOptions {
    fn default() -> Self {
        SynthOptions {
            seed: 2019,
            files: [2, 1, 1],
            samples_per_file: 16,
        }
    }
}

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct SynthStats {
    pub files: Vec<PathBuf>,
    pub samples: usize,
}

/// Per split (train, dev, test), the weight of each space group 1..=230.
pub fn class_weights() -> Result<[Vec<f64>; 3]> {
    let mut lines = DISTRIBUTION_CSV.lines();
    let header: Vec<&str> = lines
        .next()
        .context("distribution.csv is empty")?
        .split(',')
        .collect();
    let col = |n: &str| {
        header
            .iter()
            .position(|h| h.trim() == n)
            .with_context(|| format!("distribution.csv has no {n} column"))
    };
    let cols = [col("Train")?, col("Dev")?, col("Test")?];
    let mut w: [Vec<f64>; 3] = [vec![0.0; 230], vec![0.0; 230], vec![0.0; 230]];
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(',').collect();
        let sg: usize = f[0]
            .trim()
            .trim_start_matches("Space Group ")
            .parse()
            .with_context(|| format!("distribution.csv: bad row {line:?}"))?;
        if !(1..=230).contains(&sg) {
            bail!("distribution.csv: space group {sg} out of range");
        }
        for (k, c) in cols.iter().enumerate() {
            let v: f64 = f
                .get(*c)
                .with_context(|| format!("distribution.csv: short row {line:?}"))?
                .trim()
                .parse()
                .with_context(|| format!("distribution.csv: bad count in {line:?}"))?;
            w[k][sg - 1] = v;
        }
    }
    Ok(w)
}

fn draw(rng: &mut ChaCha8Rng, weights: &[f64]) -> u8 {
    let total: f64 = weights.iter().sum();
    let mut x = rng.random_range(0.0..total);
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return (i + 1) as u8;
        }
        x -= w;
    }
    weights.iter().rposition(|w| *w > 0.0).unwrap_or(0) as u8 + 1
}

/// Lattice parameters (a, b, c in Angstrom; alpha, beta, gamma in degrees) for a system.
fn lattice(rng: &mut ChaCha8Rng, system: &str) -> ([f64; 3], [f64; 3]) {
    let mut l = || rng.random_range(3.0..12.0f64);
    let (a, b, c) = (l(), l(), l());
    let mut ang = || rng.random_range(70.0..110.0f64);
    match system {
        "cubic" => ([a, a, a], [90.0, 90.0, 90.0]),
        "tetragonal" => ([a, a, c], [90.0, 90.0, 90.0]),
        "hexagonal" | "trigonal" => ([a, a, c], [90.0, 90.0, 120.0]),
        "orthorhombic" => ([a, b, c], [90.0, 90.0, 90.0]),
        "monoclinic" => ([a, b, c], [90.0, ang(), 90.0]),
        _ => ([a, b, c], [ang(), ang(), ang()]),
    }
}

const ELEMENTS: [&str; 16] = [
    "Fe", "O", "F", "Li", "Mn", "Co", "Ni", "Si", "Al", "Mg", "Ti", "S", "Cu", "Zn", "Na", "P",
];

/// Renders one pattern into `out` (side x side).
#[allow(clippy::too_many_arguments)]
fn render(
    out: &mut [f32],
    side: usize,
    sg: u8,
    spacing: (f64, f64),
    gamma_deg: f64,
    rotation: f64,
    radius: f64,
    rng: &mut ChaCha8Rng,
) {
    let c = side as f64 / 2.0;
    // Diffuse background, zero beyond a radius (so the log floor is exercised).
    for y in 0..side {
        for x in 0..side {
            let r = ((x as f64 - c).powi(2) + (y as f64 - c).powi(2)).sqrt();
            out[y * side + x] = if r < 0.95 * c {
                (1e-7 * (-(r / (0.3 * c))).exp()) as f32
            } else {
                0.0
            };
        }
    }
    let g = gamma_deg.to_radians();
    let (ca, sa) = (rotation.cos(), rotation.sin());
    let a1 = (spacing.0 * ca, spacing.0 * sa);
    let a2 = (
        spacing.1 * (rotation + g).cos(),
        spacing.1 * (rotation + g).sin(),
    );
    let reach = (1.5 * c / spacing.0.min(spacing.1)).ceil() as i64 + 1;
    let sigma = 0.32 * c;
    let centred = sg % 2 == 1 && sg > 2;
    let phase = f64::from(sg) * 0.37;
    for h in -reach..=reach {
        for k in -reach..=reach {
            if centred && (h + k) % 2 != 0 {
                continue;
            }
            let px = c + h as f64 * a1.0 + k as f64 * a2.0;
            let py = c + h as f64 * a1.1 + k as f64 * a2.1;
            if px < -radius
                || py < -radius
                || px > side as f64 + radius
                || py > side as f64 + radius
            {
                continue;
            }
            let d2 = (px - c).powi(2) + (py - c).powi(2);
            let peak = if h == 0 && k == 0 {
                1.0e3
            } else {
                // Structure-factor-like modulation that depends on the space group.
                let m = 0.55 + 0.45 * ((h as f64 * 1.3 + k as f64 * 0.7 + phase).sin());
                1.0e2 * (-d2 / (2.0 * sigma * sigma)).exp() * m * rng.random_range(0.5..1.0)
            };
            if peak < 1e-6 {
                continue;
            }
            let (x0, x1) = (
                (px - radius - 2.0).max(0.0) as usize,
                ((px + radius + 2.0).ceil() as usize).min(side),
            );
            let (y0, y1) = (
                (py - radius - 2.0).max(0.0) as usize,
                ((py + radius + 2.0).ceil() as usize).min(side),
            );
            for y in y0..y1 {
                for x in x0..x1 {
                    let r = ((x as f64 - px).powi(2) + (y as f64 - py).powi(2)).sqrt();
                    let edge = 0.5 * (1.0 - ((r - radius) / 0.8).tanh());
                    // Weak intensity variation inside the disk (rocking-curve-like fringes).
                    let inner = 1.0 + 0.2 * (r * 0.6 + phase).cos();
                    out[y * side + x] += (peak * edge * inner) as f32;
                }
            }
        }
    }
}

/// Writes the batch files into `dir`.
pub fn synthesize(opts: &SynthOptions, dir: &Path) -> Result<SynthStats> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let weights = class_weights()?;
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut stats = SynthStats::default();
    let side = STACK_SHAPE[1];
    let mut stack = vec![0.0f32; STACK_LEN];
    let mut material = 763_000u64;
    for (si, split) in ["train", "dev", "test"].iter().enumerate() {
        for k in 0..opts.files[si] {
            let path = dir.join(format!("batch_{split}_{k}.h5"));
            let tmp = dir.join(format!("batch_{split}_{k}.h5.part"));
            {
                // No object timestamps, so the same options give the same bytes.
                let file = hdf5::File::with_options()
                    .with_fcpl(|p| p.obj_track_times(false))
                    .create(&tmp)
                    .with_context(|| format!("cannot create {}", tmp.display()))?;
                let mut i = 0;
                while i < opts.samples_per_file {
                    // One material, one to three energies (consecutive groups).
                    let sg = draw(&mut rng, &weights[si]);
                    let system = crystal_system(sg);
                    let (abc, angles) = lattice(&mut rng, system);
                    let formula = (0..rng.random_range(1..4usize))
                        .map(|_| {
                            format!(
                                "{}{}",
                                ELEMENTS[rng.random_range(0..ELEMENTS.len())],
                                rng.random_range(1..16u32)
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(" ");
                    material += 1 + rng.random_range(0..40u64);
                    let energies = rng.random_range(1..4usize);
                    for e in 0..energies {
                        if i >= opts.samples_per_file {
                            break;
                        }
                        let energy = 100 + 10 * ((e as i64 * 3 + rng.random_range(0..3i64)) % 10);
                        let mut z = [[0i64; 3]; 3];
                        let mut yd = [[0f64; 3]; 3];
                        let mut semi = [0f64; 3];
                        let mut dh = [0f64; 3];
                        for o in 0..3 {
                            for j in 0..3 {
                                z[o][j] = rng.random_range(-3..4i64);
                                yd[o][j] =
                                    (rng.random_range(-2.0..2.0f64) * 1000.0).round() / 1000.0;
                            }
                            if z[o] == [0, 0, 0] {
                                z[o][2] = 1;
                            }
                            semi[o] = rng.random_range(0.0025..0.0040f64);
                            dh[o] = rng.random_range(1.5..4.0f64);
                            let s = &mut stack[o * side * side..(o + 1) * side * side];
                            let spacing =
                                (60.0 * 2.0 / dh[o], 60.0 * 2.0 / dh[o] * abc[1] / abc[0]);
                            let gamma = match system {
                                "hexagonal" | "trigonal" => 60.0,
                                "cubic" | "tetragonal" | "orthorhombic" => 90.0,
                                _ => angles[1].max(angles[2]).min(110.0),
                            };
                            let rotation = rng.random_range(0.0..std::f64::consts::PI);
                            let radius = semi[o] * 4000.0;
                            render(s, side, sg, spacing, gamma, rotation, radius, &mut rng);
                        }
                        let g = file
                            .create_group_builder()
                            .obj_track_times(false)
                            .create(format!("sample_{i}_0").as_str())
                            .with_context(|| format!("{}: cannot create group", tmp.display()))?;
                        g.new_dataset::<f32>()
                            .shape(STACK_SHAPE)
                            .create("cbed_stack")?
                            .write_raw(&stack)?;
                        write_bytes(&g, "space_group", &sg.to_string())?;
                        write_bytes(&g, "material", &format!("mp-{material}"))?;
                        let f: VarLenUnicode =
                            formula.parse().map_err(|e| anyhow::anyhow!("{e:?}"))?;
                        g.new_attr::<VarLenUnicode>()
                            .shape(())
                            .create("formula")?
                            .write_scalar(&f)?;
                        g.new_attr::<i64>()
                            .shape(())
                            .create("energy_keV")?
                            .write_scalar(&energy)?;
                        let zf: Vec<i64> = z.iter().flatten().copied().collect();
                        g.new_attr::<i64>()
                            .shape([1, 3, 3])
                            .create("z_dirs")?
                            .write_raw(&zf)?;
                        let yf: Vec<f64> = yd.iter().flatten().copied().collect();
                        g.new_attr::<f64>()
                            .shape([1, 3, 3])
                            .create("y_dirs")?
                            .write_raw(&yf)?;
                        for (name, v) in [
                            ("semi_angles_rad", semi),
                            ("d_hkls_angstrom", dh),
                            ("abc_angstrom", abc),
                            ("angles_degree", angles),
                        ] {
                            g.new_attr::<f64>().shape([3]).create(name)?.write_raw(&v)?;
                        }
                        i += 1;
                        stats.samples += 1;
                    }
                }
                file.flush()?;
            }
            std::fs::rename(&tmp, &path)
                .with_context(|| format!("cannot rename {}", tmp.display()))?;
            stats.files.push(path);
        }
    }
    Ok(stats)
}

/// A byte-string attribute as h5py writes `b'...'` (fixed-length ASCII).
fn write_bytes(g: &hdf5::Group, name: &str, value: &str) -> Result<()> {
    let v = FixedAscii::<32>::from_ascii(value.as_bytes())
        .map_err(|e| anyhow::anyhow!("{name}: {e:?}"))?;
    g.new_attr::<FixedAscii<32>>()
        .shape(())
        .create(name)?
        .write_scalar(&v)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_distribution_is_the_real_file() {
        // sha256 of shared/realdata/stemdl/distribution.csv (shared/realdata/README.md).
        assert_eq!(
            crate::hashing::sha256_hex(DISTRIBUTION_CSV.as_bytes()),
            "5f64a59dabe9eceaa5b19b9dc968a2cf0d341d8548d7a4639bba3d4286b27c0b"
        );
        let w = class_weights().expect("weights");
        let sums: Vec<f64> = w.iter().map(|v| v.iter().sum()).collect();
        assert_eq!(sums, vec![148_006.0, 20_400.0, 18_749.0]);
        assert_eq!(w[0][13], 11_764.0);
    }

    #[test]
    fn labels_follow_the_weights() {
        let w = class_weights().expect("weights");
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..2000 {
            let sg = draw(&mut rng, &w[0]);
            assert!(w[0][usize::from(sg) - 1] > 0.0, "drew an empty class {sg}");
        }
    }
}

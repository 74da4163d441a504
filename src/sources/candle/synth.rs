//! A synthetic CANDLE Pilot1 file set, for the demo, the tests and the benchmark.
//!
//! The files carry the real names and columns (sources.md 3.2) and realistic values:
//! IDs in the real namespaces (`CCLE.22RV1`, `NCI60.IGR-OV1`, `NSC.757440`, ...), growth
//! curves drawn from the Hill model of [`super::auc`] at each source's doses (percent
//! growth in about -100..100, optional noise), and a response table whose AUC, EC50,
//! Einf, HS, IC50, AUC1, AAC1, DSS1 are the definition evaluated at the *true* curve
//! parameters, and whose R2fit and EC50se are computed against the noisy points. Same
//! options, byte-identical files.

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::auc;

/// Generator settings.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    pub seed: u64,
    /// Cell lines per source.
    pub cells_per_source: usize,
    /// Drugs per source.
    pub drugs_per_source: usize,
    /// Probability that a (cell, drug) pair of a source was screened.
    pub coverage: f64,
    /// Gene columns of the RNA-seq table (the real table has 942).
    pub genes: usize,
    /// Descriptor columns (the real tables have 5,270).
    pub descriptors: usize,
    /// Bits per fingerprint file.
    pub fingerprint_bits: usize,
    /// Standard deviation of the noise on normalised growth (0 = exact Hill curves).
    pub noise: f64,
}

impl Default for SynthOptions {
    fn default() -> Self {
        SynthOptions {
            seed: 2018,
            cells_per_source: 12,
            drugs_per_source: 10,
            coverage: 0.6,
            genes: 64,
            descriptors: 120,
            fingerprint_bits: 128,
            noise: 0.03,
        }
    }
}

/// What was written.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SynthStats {
    pub files: Vec<PathBuf>,
    pub responses: u64,
    pub growth_rows: u64,
    pub cells: usize,
    pub drugs: usize,
}

/// (source, dose count, lowest dose, highest dose in -log10 M, study id base).
const SOURCES: [(&str, usize, f64, f64, u32); 5] = [
    ("CCLE", 8, 5.1, 8.6, 1000),
    ("CTRP", 16, 5.0, 8.9, 2000),
    ("GDSC", 9, 4.6, 8.8, 3000),
    ("NCI60", 5, 4.0, 8.0, 4000),
    ("gCSI", 9, 5.5, 9.3, 241_830),
];

/// Real cell-line names (used under every source prefix).
const CELL_NAMES: [&str; 24] = [
    "22RV1", "HCC-1438", "IGR-OV1", "LOXIMVI", "A549", "MCF7", "HT29", "PC-3", "K562", "HELA",
    "SW620", "U251", "OVCAR-3", "SK-MEL-5", "NCI-H460", "HCT116", "T47D", "DU145", "BT-549",
    "HS578T", "ACHN", "CAKI-1", "SF-295", "UACC-62",
];

/// Real LINCS landmark gene symbols (the first columns of the RNA-seq table).
const GENES: [&str; 16] = [
    "AARS", "ABCB6", "ABCC5", "ABCF1", "ABCF3", "ABHD4", "ABHD6", "ABL1", "ACAA1", "ACAT2",
    "ACBD3", "ACD", "ACLY", "ACOT9", "ADAM10", "ADAT1",
];

/// Real Dragon7 descriptor names (the first columns of the descriptor tables).
const DESCRIPTORS: [&str; 12] = [
    "MW", "AMW", "Sv", "Se", "Sp", "Si", "Mv", "Me", "Mp", "Mi", "GD", "nTA",
];

fn drug_id(source: &str, i: usize) -> String {
    match source {
        "NCI60" => format!("NSC.{}", 757_440 + 37 * i),
        s => format!("{s}.{}", i + 1),
    }
}

/// Formats like Python's `f"{x:.4g}"` (what `curve.py` wrote).
pub fn fmt_g4(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x == 0.0 {
        return "0".into();
    }
    let exp = x.abs().log10().floor() as i32;
    // Round first: 9.9996 must become 10 with the next exponent.
    let s = format!("{:.3e}", x);
    let (mant, e) = s.split_once('e').unwrap_or((&s, "0"));
    let e: i32 = e.parse().unwrap_or(exp);
    if !(-4..4).contains(&e) {
        let mant = mant.trim_end_matches('0').trim_end_matches('.');
        return format!("{mant}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    }
    let decimals = (3 - e).max(0) as usize;
    let t = format!("{:.*}", decimals, x);
    if t.contains('.') {
        t.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        t
    }
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("synth.part");
    let mut f =
        std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Writes the synthetic file set into `dir` (created if missing).
pub fn synthesize(opts: &SynthOptions, dir: &Path) -> Result<SynthStats> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut stats = SynthStats::default();
    let mut agg = String::from(
        "SOURCE\tCELL\tDRUG\tSTUDY\tAUC\tIC50\tEC50\tEC50se\tR2fit\tEinf\tHS\tAAC1\tAUC1\tDSS1\n",
    );
    let mut growth =
        String::from("SOURCE\tDRUG_ID\tCELLNAME\tCONCUNIT\tLOG_CONCENTRATION\tEXPID\tGROWTH\n");
    let mut cells: Vec<String> = Vec::new();
    let mut drugs: Vec<String> = Vec::new();
    for (si, (source, ndose, lo, hi, study0)) in SOURCES.iter().enumerate() {
        let src_cells: Vec<String> = (0..opts.cells_per_source)
            .map(|i| {
                let base = CELL_NAMES[(i + 3 * si) % CELL_NAMES.len()];
                if i < CELL_NAMES.len() {
                    format!("{source}.{base}")
                } else {
                    format!("{source}.{base}-{}", i / CELL_NAMES.len())
                }
            })
            .collect();
        let src_drugs: Vec<String> = (0..opts.drugs_per_source)
            .map(|i| drug_id(source, i))
            .collect();
        let doses: Vec<f64> = (0..*ndose)
            .map(|k| lo + (hi - lo) * k as f64 / (*ndose as f64 - 1.0))
            .collect();
        for (ci, cell) in src_cells.iter().enumerate() {
            for (di, drug) in src_drugs.iter().enumerate() {
                if !rng.random_bool(opts.coverage.clamp(0.0, 1.0)) {
                    continue;
                }
                let study = format!("{}", study0 + (ci * 7 + di) as u32 % 3);
                // The transition lies inside the measured doses, so that the curve (and
                // its AUC over the fixed window 4..10) is identifiable from the points;
                // weak responders keep most of their growth (einf near 1).
                let active = rng.random_bool(0.85);
                let p = [
                    if active {
                        rng.random_range(0.0..0.6f64)
                    } else {
                        rng.random_range(0.75..0.95f64)
                    },
                    rng.random_range(lo + 0.6..hi - 0.6),
                    rng.random_range(0.5..2.0f64),
                ];
                let noisy = opts.noise > 0.0 && rng.random_bool(0.1);
                let sd = if noisy { opts.noise * 8.0 } else { opts.noise };
                let mut xs = Vec::with_capacity(doses.len());
                let mut ys = Vec::with_capacity(doses.len());
                for d in &doses {
                    let y = auc::response_curve(*d, p[0], p[1], p[2]) + sd * normal(&mut rng);
                    let pct = (y - 0.5) * 200.0;
                    let pct_txt = format!("{pct:.2}");
                    let pct_read: f64 = pct_txt.parse().unwrap_or(pct);
                    let lc = format!("{:.6}", -d);
                    let _ = writeln!(
                        growth,
                        "{source}\t{drug}\t{cell}\tM\t{lc}\t{study}\t{pct_txt}"
                    );
                    xs.push(-lc.parse::<f64>().unwrap_or(-d));
                    ys.push(auc::normalise_growth(pct_read));
                    stats.growth_rows += 1;
                }
                let m = auc::metrics_at(&xs, &ys, &p);
                let v = [
                    m.AUC, m.IC50, m.EC50, m.EC50se, m.R2fit, m.Einf, m.HS, m.AAC1, m.AUC1, m.DSS1,
                ];
                let vals: Vec<String> = v
                    .iter()
                    .map(|x| fmt_g4((x * 1e4).round_ties_even() / 1e4))
                    .collect();
                let _ = writeln!(
                    agg,
                    "{source}\t{cell}\t{drug}\t{study}\t{}",
                    vals.join("\t")
                );
                stats.responses += 1;
            }
        }
        cells.extend(src_cells);
        drugs.extend(src_drugs);
    }
    stats.cells = cells.len();
    stats.drugs = drugs.len();

    // RNA-seq: Sample + genes (source-scaled expression, roughly standard normal).
    let gene_names: Vec<String> = (0..opts.genes)
        .map(|i| {
            GENES
                .get(i)
                .map_or_else(|| format!("LMG{i:04}"), |g| g.to_string())
        })
        .collect();
    let mut rna = format!("Sample\t{}\n", gene_names.join("\t"));
    for c in &cells {
        rna.push_str(c);
        for _ in 0..opts.genes {
            let _ = write!(rna, "\t{:.4}", normal(&mut rng));
        }
        rna.push('\n');
    }
    // Dragon7 descriptors with `na` and `-` holes.
    let desc_names: Vec<String> = (0..opts.descriptors)
        .map(|i| {
            DESCRIPTORS
                .get(i)
                .map_or_else(|| format!("D7_{i:04}"), |d| d.to_string())
        })
        .collect();
    let mut desc = format!("NAME\t{}\n", desc_names.join("\t"));
    for d in &drugs {
        desc.push_str(d);
        for j in 0..opts.descriptors {
            let u: f64 = rng.random();
            if u < 0.02 {
                desc.push_str("\tna");
            } else if u < 0.03 {
                desc.push_str("\t-");
            } else if j % 5 == 0 {
                let _ = write!(desc, "\t{}", rng.random_range(0..40u32));
            } else {
                let _ = write!(desc, "\t{:.3}", rng.random_range(-5.0..500.0f64));
            }
        }
        desc.push('\n');
    }
    // Fingerprints: a first line the reader skips, then drug + bits, no header.
    let mut fps = Vec::new();
    for fp in ["PFP", "ECFP"] {
        let mut t = format!(
            "{}\n",
            (0..=opts.fingerprint_bits)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join("\t")
        );
        for d in &drugs {
            t.push_str(d);
            for _ in 0..opts.fingerprint_bits {
                t.push_str(if rng.random_bool(0.12) { "\t1" } else { "\t0" });
            }
            t.push('\n');
        }
        fps.push((fp, t));
    }
    // drug_info: ID, NAME, CLEAN_NAME, PUBCHEM; some drugs of different sources share a CID.
    let mut info = String::from("ID\tNAME\tCLEAN_NAME\tPUBCHEM\n");
    for (i, d) in drugs.iter().enumerate() {
        let cid = if i % 4 == 0 {
            (1000 + (i % opts.drugs_per_source.max(1))).to_string()
        } else if i % 4 == 1 {
            String::new()
        } else {
            (5_000_000 + i).to_string()
        };
        let _ = writeln!(info, "{d}\tdrug-{i}\tDRUG{i}\t{cid}");
    }

    let files = [
        ("combined_single_response_agg", agg),
        ("rescaled_combined_single_drug_growth", growth),
        ("combined_rnaseq_data_lincs1000_source_scale", rna),
        ("NCI60_dragon7_descriptors.tsv", desc),
        ("drug_info", info),
    ];
    for (name, text) in files.iter() {
        let p = dir.join(name);
        write_file(&p, text)?;
        stats.files.push(p);
    }
    for (fp, text) in fps {
        let p = dir.join(format!("NCI60_dragon7_{fp}.tsv"));
        write_file(&p, &text)?;
        stats.files.push(p);
    }
    Ok(stats)
}

/// Writes a large response table alone (the benchmark's input): `rows` rows.
pub fn write_large_responses(path: &Path, rows: u64, seed: u64) -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let tmp = path.with_extension("synth.part");
    let f =
        std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    writeln!(
        w,
        "SOURCE\tCELL\tDRUG\tSTUDY\tAUC\tIC50\tEC50\tEC50se\tR2fit\tEinf\tHS\tAAC1\tAUC1\tDSS1"
    )?;
    // Sources in blocks, in the proportions of the real table (NCI60 largest).
    let shares = [
        ("CCLE", 0.01),
        ("CTRP", 0.22),
        ("GDSC", 0.07),
        ("NCI60", 0.68),
        ("gCSI", 0.02),
    ];
    let mut written = 0u64;
    for (k, (source, share)) in shares.iter().enumerate() {
        let n = if k + 1 == shares.len() {
            rows - written
        } else {
            ((rows as f64) * share) as u64
        };
        for i in 0..n {
            let cell = CELL_NAMES[(i % 24) as usize];
            let drug = drug_id(source, (i / 24 % 5000) as usize);
            let p = [
                rng.random_range(0.0..0.6f64),
                rng.random_range(3.0..10.0f64),
                rng.random_range(0.3..4.0f64),
            ];
            let a = auc::auc(p[0], p[1], p[2]);
            let vals = [
                a,
                p[1] - 0.2,
                p[1],
                rng.random_range(0.0..5.0f64),
                rng.random_range(-0.2..1.0f64),
                p[0],
                p[2],
                1.0 - a,
                a,
                rng.random_range(0.0..0.5f64),
            ];
            write!(w, "{source}\t{source}.{cell}\t{drug}\t{}", 1000 + i % 7)?;
            for v in vals {
                write!(w, "\t{}", fmt_g4((v * 1e4).round_ties_even() / 1e4))?;
            }
            writeln!(w)?;
        }
        written += n;
    }
    w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// A standard normal draw (Box-Muller).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g4_formatting_matches_python() {
        // Expected strings from Python: f"{x:.4g}".
        for (x, s) in [
            (0.4575, "0.4575"),
            (7.7636, "7.764"),
            (5.66, "5.66"),
            (4.0, "4"),
            (0.00012345, "0.0001234"),
            (0.000012345, "1.234e-05"),
            (12345.0, "1.234e+04"),
            (-0.0238, "-0.0238"),
            (9.99996, "10"),
            (0.0, "0"),
        ] {
            assert_eq!(fmt_g4(x), s, "{x}");
        }
    }
}

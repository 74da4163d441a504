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
    /// NCI ALMANAC cell lines of `ComboDrugGrowth_Nov2017.csv` (at most 16).
    pub combo_cells: usize,
    /// Drug pairs per cell line of the combo table (3 x 3 doses + 2 x 3 single-drug rows each).
    pub combo_pairs: usize,
    /// Mordred descriptor columns (the real table has about 1,800).
    pub mordred_descriptors: usize,
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
            combo_cells: 8,
            combo_pairs: 6,
            mordred_descriptors: 96,
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
    /// Rows of `ComboDrugGrowth_Nov2017.csv`.
    pub combo_rows: u64,
}

/// NCI ALMANAC cell names (`CELLNAME` of the combo table, NCI DTP spelling) and the CANDLE
/// IDs `NCI60_CELLNAME_to_Combo.txt` maps them to (`Name` -> `NCI60.ID`).
pub const ALMANAC_CELLS: [(&str, &str); 16] = [
    ("786-0", "NCI60.786-0"),
    ("A549/ATCC", "NCI60.A549"),
    ("IGROV1", "NCI60.IGR-OV1"),
    ("LOX IMVI", "NCI60.LOXIMVI"),
    ("MCF7", "NCI60.MCF7"),
    ("HT29", "NCI60.HT29"),
    ("PC-3", "NCI60.PC-3"),
    ("SK-MEL-5", "NCI60.SK-MEL-5"),
    ("NCI-H460", "NCI60.NCI-H460"),
    ("HCT-116", "NCI60.HCT116"),
    ("T-47D", "NCI60.T47D"),
    ("DU-145", "NCI60.DU145"),
    ("MDA-MB-231/ATCC", "NCI60.MDA-MB-231"),
    ("HL-60(TB)", "NCI60.HL-60"),
    ("NCI/ADR-RES", "NCI60.NCI-ADR-RES"),
    ("SF-295", "NCI60.SF-295"),
];

/// NCI60 panels of [`ALMANAC_CELLS`] (the combo table's `PANEL`, `PANELNBR`).
const PANELS: [(&str, u32); 16] = [
    ("Renal Cancer", 9),
    ("Non-Small Cell Lung Cancer", 1),
    ("Ovarian Cancer", 5),
    ("Melanoma", 7),
    ("Breast Cancer", 12),
    ("Colon Cancer", 4),
    ("Prostate Cancer", 10),
    ("Melanoma", 7),
    ("Non-Small Cell Lung Cancer", 1),
    ("Colon Cancer", 4),
    ("Breast Cancer", 12),
    ("Prostate Cancer", 10),
    ("Breast Cancer", 12),
    ("Leukemia", 6),
    ("Ovarian Cancer", 5),
    ("CNS Cancer", 3),
];

/// Real NSC numbers of ALMANAC drugs (methotrexate, busulfan, thioguanine, ...).
const ALMANAC_NSC: [u32; 12] = [
    740, 750, 752, 3088, 119_875, 123_127, 125_973, 613_327, 718_781, 752_840, 761_431, 256_439,
];

/// The columns of `ComboDrugGrowth_Nov2017.csv` (NCI ALMANAC release, Nov 2017).
pub const COMBO_HEADER: &str = "COMBODRUGSEQ,SCREENER,STUDY,TESTDATE,PLATE,PANELNBR,CELLNBR,\
PREFIX1,NSC1,SAMPLE1,CONCINDEX1,CONC1,CONCUNIT1,PREFIX2,NSC2,SAMPLE2,CONCINDEX2,CONC2,CONCUNIT2,\
PERCENTGROWTH,PERCENTGROWTHNOTZ,TESTVALUE,CONTROLVALUE,TZVALUE,EXPECTEDGROWTH,SCORE,VALID,PANEL,\
CELLNAME";

/// Real Mordred descriptor names (the first columns; `Lipinski` and `GhoseFilter` are
/// booleans written `True`/`False`).
const MORDRED: [&str; 16] = [
    "ABC",
    "ABCGG",
    "nAcid",
    "nBase",
    "SpAbs_A",
    "SpMax_A",
    "SpDiam_A",
    "SpAD_A",
    "SpMAD_A",
    "LogEE_A",
    "VE1_A",
    "nAromAtom",
    "nAtom",
    "Lipinski",
    "GhoseFilter",
    "MW",
];

/// Percent growth of one dose (-log10 M) on a Hill curve (`p` = einf, ec50, hs).
fn growth_fraction(dose: f64, p: &[f64; 3]) -> f64 {
    auc::response_curve(dose, p[0], p[1], p[2])
}

/// The ALMANAC drug-pair table and the cell-name map; `drugs` the Mordred/descriptor ids.
fn combo_files(opts: &SynthOptions, rng: &mut ChaCha8Rng) -> (String, String, u64) {
    let mut csv = format!("{COMBO_HEADER}\n");
    let mut rows = 0u64;
    let mut seq = 1_000_000u64;
    let screeners = ["1A", "FF", "FG"];
    let ncells = opts.combo_cells.min(ALMANAC_CELLS.len());
    // One Hill curve per (cell, drug).
    for ci in 0..ncells {
        let (cell, _) = ALMANAC_CELLS[ci];
        let (panel, panel_nbr) = PANELS[ci];
        for k in 0..opts.combo_pairs {
            let a = ALMANAC_NSC[(ci + k) % ALMANAC_NSC.len()];
            let b = ALMANAC_NSC[(ci + 2 * k + 1) % ALMANAC_NSC.len()];
            let b = if a == b {
                ALMANAC_NSC[(ci + 2 * k + 2) % ALMANAC_NSC.len()]
            } else {
                b
            };
            let scr = screeners[(ci + k) % 3];
            let study = format!("{scr}{:02}", 1 + (ci * 3 + k) % 17);
            let date = 20_100_000 + 10_000 * ((ci + k) % 6) as u32 + 100 * (1 + k % 12) as u32 + 7;
            let plate = format!("{scr}{:02}C{:03}", 1 + k % 9, ci * 10 + k);
            let curve = |rng: &mut ChaCha8Rng| -> [f64; 3] {
                [
                    rng.random_range(0.0..0.7f64),
                    rng.random_range(5.0..7.5f64),
                    rng.random_range(0.6..2.0f64),
                ]
            };
            let (pa, pb) = (curve(rng), curve(rng));
            // Three concentrations per drug (ALMANAC's 3 x 3 design), top dose 1e-5 M.
            let top = [1e-5f64, 1e-4, 1e-6][k % 3];
            let concs: Vec<f64> = (0..3).map(|i| top / 10f64.powi(i)).collect();
            let control: f64 = rng.random_range(1.2..2.2f64);
            let tz: f64 = control * rng.random_range(0.25..0.4f64);
            let mut line = |rng: &mut ChaCha8Rng,
                            d1: (u32, usize, f64),
                            d2: Option<(u32, usize, f64)>,
                            frac: f64,
                            expected: Option<f64>| {
                seq += 1;
                let noisy = (frac + opts.noise * normal(rng)).clamp(0.0, 1.0);
                let pct = (noisy - 0.5) * 200.0;
                let test = tz + (control - tz) * pct.max(0.0) / 100.0;
                let notz = 100.0 * test / control;
                let valid = if rng.random_bool(0.04) { "N" } else { "Y" };
                let (p2, n2, s2, i2, c2, u2) = match d2 {
                    Some((n, i, c)) => (
                        "S",
                        n.to_string(),
                        format!("{}", 700_000 + n % 1000),
                        i.to_string(),
                        format!("{c:.2e}"),
                        "M",
                    ),
                    None => (
                        "",
                        String::new(),
                        String::new(),
                        "0".into(),
                        String::new(),
                        "",
                    ),
                };
                let (exp, score) = match expected {
                    Some(e) => {
                        let e = (e - 0.5) * 200.0;
                        (format!("{e:.3}"), format!("{:.3}", e - pct))
                    }
                    None => (String::new(), String::new()),
                };
                let _ = writeln!(
                    csv,
                    "{seq},{scr},{study},{date},{plate},{panel_nbr},{cellnbr},S,{n1},{s1},{i1},{c1:.2e},M,\
                     {p2},{n2},{s2},{i2},{c2},{u2},{pct:.3},{notz:.3},{test:.4},{control:.4},{tz:.4},\
                     {exp},{score},{valid},{panel},{cell}",
                    cellnbr = ci + 1,
                    n1 = d1.0,
                    s1 = 700_000 + d1.0 % 1000,
                    i1 = d1.1,
                    c1 = d1.2,
                );
            };
            for (nsc, p) in [(a, &pa), (b, &pb)] {
                for (i, c) in concs.iter().enumerate() {
                    let f = growth_fraction(-c.log10(), p);
                    line(rng, (nsc, i + 1, *c), None, f, None);
                    rows += 1;
                }
            }
            for (i, c1) in concs.iter().enumerate() {
                for (j, c2) in concs.iter().enumerate() {
                    let (fa, fb) = (
                        growth_fraction(-c1.log10(), &pa),
                        growth_fraction(-c2.log10(), &pb),
                    );
                    // Bliss independence, with a little synergy on some pairs.
                    let synergy = if k % 4 == 0 { 0.85 } else { 1.0 };
                    line(
                        rng,
                        (a, i + 1, *c1),
                        Some((b, j + 1, *c2)),
                        fa * fb * synergy,
                        Some(fa * fb),
                    );
                    rows += 1;
                }
            }
        }
    }
    let mut map = String::from("Name\tNCI60.ID\tCELLNAME\n");
    for (name, id) in ALMANAC_CELLS {
        let _ = writeln!(
            map,
            "{name}\t{id}\t{}",
            id.strip_prefix("NCI60.").unwrap_or(id)
        );
    }
    (csv, map, rows)
}

/// The Mordred table: `DRUG` + descriptors, TAB separated, with `na`, empty and
/// non-numeric (failed descriptor) values and two boolean columns.
fn mordred_file(opts: &SynthOptions, drugs: &[String], rng: &mut ChaCha8Rng) -> String {
    let names: Vec<String> = (0..opts.mordred_descriptors)
        .map(|i| {
            MORDRED
                .get(i)
                .map_or_else(|| format!("MD_{i:04}"), |d| d.to_string())
        })
        .collect();
    let mut t = format!("DRUG\t{}\n", names.join("\t"));
    let nsc: Vec<String> = ALMANAC_NSC.iter().map(|n| format!("NSC.{n}")).collect();
    for d in drugs.iter().chain(nsc.iter()) {
        t.push_str(d);
        for name in &names {
            let u: f64 = rng.random();
            if name == "Lipinski" || name == "GhoseFilter" {
                t.push_str(if u < 0.6 { "\tTrue" } else { "\tFalse" });
            } else if u < 0.02 {
                t.push_str("\tna");
            } else if u < 0.03 {
                t.push('\t');
            } else if u < 0.035 {
                t.push_str("\tmin() arg is an empty sequence");
            } else if name.starts_with('n') {
                let _ = write!(t, "\t{}", rng.random_range(0..60u32));
            } else {
                let _ = write!(t, "\t{:.6}", rng.random_range(-3.0..800.0f64));
            }
        }
        t.push('\n');
    }
    t
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

    // The ALMANAC drug-pair table, its cell map and the Mordred descriptors come from
    // their own stream, so that the files above do not change with their options.
    let mut rng2 = ChaCha8Rng::seed_from_u64(opts.seed.wrapping_add(1));
    let (combo, cellmap, combo_rows) = combo_files(opts, &mut rng2);
    stats.combo_rows = combo_rows;
    let mordred = mordred_file(opts, &drugs, &mut rng2);

    let files = [
        ("combined_single_response_agg", agg),
        ("rescaled_combined_single_drug_growth", growth),
        ("combined_rnaseq_data_lincs1000_source_scale", rna),
        ("NCI60_dragon7_descriptors.tsv", desc),
        ("drug_info", info),
        (super::tables::COMBO_FILE, combo),
        ("NCI60_CELLNAME_to_Combo.txt", cellmap),
        (super::tables::MORDRED_FILE, mordred),
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

//! The dose-response fit and AUC that produced `combined_single_response_agg`
//! (sources.md 3.2, `levinas/curve:curve.py`):
//!
//! ```text
//! y(x) = einf + (1 - einf) / (1 + 10^((ec50 - x) hs))      x = dose, -log10(M)
//! bounds: einf in [0, 1], ec50 in [0, 12], hs in [0, 4]
//! I(x)  = (1 - einf) log10(1 + 10^((ec50 - x) hs)) / hs + x
//! AUC   = (I(10) - I(4)) / (10 - 4)
//! ```
//!
//! fitted per (SOURCE, CELL, DRUG, STUDY) to `clip(GROWTH/100/2 + 0.5, 0, 1)` with
//! `DOSE = -LOG_CONCENTRATION`. The reference uses `scipy.optimize.curve_fit` (bounded,
//! method `trf`, start (1, 1, 1)). Here a bounded Levenberg-Marquardt is started from
//! (1, 1, 1) and from a small grid, and the lowest sum of squares wins; for a well-posed
//! curve both reach the same minimum. EC50se, R2fit, IC50, AUC1, AAC1 and DSS1 follow
//! `compute_fit_metrics` (trapezoids on 100 points for AUC1 and DSS1).

use serde::Serialize;

/// Parameter bounds `[einf, ec50, hs]`.
pub const LOWER: [f64; 3] = [0.0, 0.0, 0.0];
pub const UPPER: [f64; 3] = [1.0, 12.0, 4.0];
/// The fixed dose window of the AUC, -log10(M).
pub const D1: f64 = 4.0;
pub const D2: f64 = 10.0;

/// The Hill curve with EC50 in -log10(M).
pub fn response_curve(x: f64, einf: f64, ec50: f64, hs: f64) -> f64 {
    einf + (1.0 - einf) / (1.0 + 10f64.powf((ec50 - x) * hs))
}

/// Its antiderivative in x.
pub fn response_integral(x: f64, einf: f64, ec50: f64, hs: f64) -> f64 {
    (1.0 - einf) * (1.0 + 10f64.powf((ec50 - x) * hs)).log10() / hs + x
}

/// AUC over the fixed dose window 4..10 (mean normalised growth).
pub fn auc(einf: f64, ec50: f64, hs: f64) -> f64 {
    (response_integral(D2, einf, ec50, hs) - response_integral(D1, einf, ec50, hs)) / (D2 - D1)
}

/// Growth as stored (percent, -100..100) to the fitted response in [0, 1].
pub fn normalise_growth(growth_percent: f64) -> f64 {
    (growth_percent / 100.0 / 2.0 + 0.5).clamp(0.0, 1.0)
}

/// The fitted metrics of one curve (names as in `combined_single_response_agg`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[allow(non_snake_case)]
pub struct Metrics {
    pub AUC: f64,
    pub IC50: f64,
    pub EC50: f64,
    pub EC50se: f64,
    pub R2fit: f64,
    pub Einf: f64,
    pub HS: f64,
    pub AAC1: f64,
    pub AUC1: f64,
    pub DSS1: f64,
}

fn sse(xs: &[f64], ys: &[f64], p: &[f64; 3]) -> f64 {
    xs.iter()
        .zip(ys)
        .map(|(x, y)| {
            let r = response_curve(*x, p[0], p[1], p[2]) - y;
            r * r
        })
        .sum()
}

/// d y / d (einf, ec50, hs).
fn gradient(x: f64, p: &[f64; 3]) -> [f64; 3] {
    let (e, c, h) = (p[0], p[1], p[2]);
    let u = 10f64.powf((c - x) * h);
    let s = 1.0 / (1.0 + u);
    let k = if u.is_finite() {
        -(1.0 - e) * u * std::f64::consts::LN_10 * s * s
    } else {
        0.0
    };
    [1.0 - s, k * h, k * (c - x)]
}

fn solve3(a: [[f64; 3]; 3], b: [f64; 3]) -> Option<[f64; 3]> {
    let det = |m: [[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det(a);
    if d.abs() < 1e-300 || !d.is_finite() {
        return None;
    }
    let mut out = [0.0; 3];
    for (k, o) in out.iter_mut().enumerate() {
        let mut m = a;
        for r in 0..3 {
            m[r][k] = b[r];
        }
        *o = det(m) / d;
    }
    Some(out)
}

fn clamp(p: [f64; 3]) -> [f64; 3] {
    [
        p[0].clamp(LOWER[0], UPPER[0]),
        p[1].clamp(LOWER[1], UPPER[1]),
        p[2].clamp(LOWER[2], UPPER[2]),
    ]
}

/// Bounded Levenberg-Marquardt from `p0`.
fn lm(xs: &[f64], ys: &[f64], p0: [f64; 3]) -> ([f64; 3], f64) {
    let mut p = clamp(p0);
    let mut cost = sse(xs, ys, &p);
    let mut lambda = 1e-3;
    for _ in 0..500 {
        let mut jtj = [[0.0; 3]; 3];
        let mut jtr = [0.0; 3];
        for (x, y) in xs.iter().zip(ys) {
            let g = gradient(*x, &p);
            let r = response_curve(*x, p[0], p[1], p[2]) - y;
            for a in 0..3 {
                jtr[a] += g[a] * r;
                for b in 0..3 {
                    jtj[a][b] += g[a] * g[b];
                }
            }
        }
        let mut improved = false;
        while lambda < 1e12 {
            let mut a = jtj;
            for (d, row) in a.iter_mut().enumerate() {
                row[d] += lambda * (jtj[d][d] + 1e-12);
            }
            let Some(step) = solve3(a, [-jtr[0], -jtr[1], -jtr[2]]) else {
                lambda *= 10.0;
                continue;
            };
            let q = clamp([p[0] + step[0], p[1] + step[1], p[2] + step[2]]);
            let c = sse(xs, ys, &q);
            if c < cost {
                let done = (cost - c) <= 1e-15 * cost.max(1e-300)
                    || q.iter().zip(&p).all(|(a, b)| (a - b).abs() < 1e-12);
                p = q;
                cost = c;
                lambda = (lambda / 3.0).max(1e-12);
                improved = true;
                if done {
                    return (p, cost);
                }
                break;
            }
            lambda *= 4.0;
        }
        if !improved {
            break;
        }
    }
    (p, cost)
}

/// Least-squares fit of the Hill curve within the bounds. `None` with fewer than one
/// point or non-finite data.
pub fn fit(xs: &[f64], ys: &[f64]) -> Option<[f64; 3]> {
    if xs.is_empty() || xs.len() != ys.len() || xs.iter().chain(ys).any(|v| !v.is_finite()) {
        return None;
    }
    let (xmin, xmax) = xs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(*x), b.max(*x))
        });
    let ymin = ys.iter().cloned().fold(f64::INFINITY, f64::min);
    let mut starts = vec![[1.0, 1.0, 1.0]];
    for k in 0..5 {
        let c = xmin + (xmax - xmin) * k as f64 / 4.0;
        for h in [0.5, 1.0, 2.5] {
            for e in [0.0, ymin] {
                starts.push([e, c, h]);
            }
        }
    }
    starts
        .into_iter()
        .map(|s| lm(xs, ys, s))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(p, _)| p)
}

/// Symmetric 3x3 eigen-decomposition (cyclic Jacobi): (values, vectors as columns).
fn eigen3(mut a: [[f64; 3]; 3]) -> ([f64; 3], [[f64; 3]; 3]) {
    let mut v = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    for _ in 0..60 {
        let off = a[0][1].abs() + a[0][2].abs() + a[1][2].abs();
        if off < 1e-300 {
            break;
        }
        for (p, q) in [(0, 1), (0, 2), (1, 2)] {
            if a[p][q].abs() < 1e-300 {
                continue;
            }
            let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
            let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
            let t = if theta == 0.0 { 1.0 } else { t };
            let c = 1.0 / (t * t + 1.0).sqrt();
            let s = t * c;
            for row in a.iter_mut() {
                let (akp, akq) = (row[p], row[q]);
                row[p] = c * akp - s * akq;
                row[q] = s * akp + c * akq;
            }
            let (rp, rq) = (a[p], a[q]);
            for (k, (apk, aqk)) in rp.iter().zip(rq.iter()).enumerate() {
                a[p][k] = c * apk - s * aqk;
                a[q][k] = s * apk + c * aqk;
            }
            for row in v.iter_mut() {
                let (vkp, vkq) = (row[p], row[q]);
                row[p] = c * vkp - s * vkq;
                row[q] = s * vkp + c * vkq;
            }
        }
    }
    ([a[0][0], a[1][1], a[2][2]], v)
}

/// `curve_fit`'s covariance: pinv(J^T J) * SSE / (n - 3) (SVD cut-off as scipy), or
/// infinite with three points or fewer.
pub fn covariance(xs: &[f64], ys: &[f64], p: &[f64; 3]) -> [[f64; 3]; 3] {
    let n = xs.len();
    if n <= 3 {
        return [[f64::INFINITY; 3]; 3];
    }
    let mut jtj = [[0.0; 3]; 3];
    for x in xs {
        let g = gradient(*x, p);
        for a in 0..3 {
            for b in 0..3 {
                jtj[a][b] += g[a] * g[b];
            }
        }
    }
    let (vals, vecs) = eigen3(jtj);
    let smax = vals.iter().cloned().fold(0.0, f64::max).max(0.0).sqrt();
    let cut = f64::EPSILON * n.max(3) as f64 * smax;
    let s_sq = sse(xs, ys, p) / (n - 3) as f64;
    let mut cov = [[0.0; 3]; 3];
    for k in 0..3 {
        let s = vals[k].max(0.0).sqrt();
        if s <= cut || s == 0.0 {
            continue;
        }
        for a in 0..3 {
            for b in 0..3 {
                cov[a][b] += vecs[a][k] * vecs[b][k] / vals[k] * s_sq;
            }
        }
    }
    cov
}

/// numpy `linspace(a, b, 100)` + `trapz`: the area under the fitted curve.
fn trapz_area(a: f64, b: f64, p: &[f64; 3]) -> f64 {
    if !a.is_finite() || !b.is_finite() {
        return f64::NAN;
    }
    let step = (b - a) / 99.0;
    let xs: Vec<f64> = (0..100)
        .map(|i| if i == 99 { b } else { a + i as f64 * step })
        .collect();
    xs.windows(2)
        .map(|w| {
            (w[1] - w[0])
                * (response_curve(w[0], p[0], p[1], p[2]) + response_curve(w[1], p[0], p[1], p[2]))
                / 2.0
        })
        .sum()
}

/// Fits one curve and computes the reference's metrics (unrounded). `ys` are already
/// normalised to [0, 1] (see [`normalise_growth`]).
pub fn fit_metrics(xs: &[f64], ys: &[f64]) -> Option<Metrics> {
    let p = fit(xs, ys)?;
    Some(metrics_at(xs, ys, &p))
}

/// The reference's metrics of the curve with parameters `p` = (einf, ec50, hs) against
/// the points `xs`, `ys` (`compute_fit_metrics`, unrounded).
pub fn metrics_at(xs: &[f64], ys: &[f64], p: &[f64; 3]) -> Metrics {
    let p = *p;
    let (einf, ec50, hs) = (p[0], p[1], p[2]);
    let cov = covariance(xs, ys, &p);
    let mean = ys.iter().sum::<f64>() / ys.len() as f64;
    let ss_tot: f64 = ys.iter().map(|y| (y - mean) * (y - mean)).sum();
    let ss_res = sse(xs, ys, &p);
    let r2 = if ss_tot > 0.0 {
        1.0 - ss_res / ss_tot
    } else if ss_res == 0.0 {
        1.0
    } else {
        0.0
    };
    let (xmin, xmax) = xs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(*x), b.max(*x))
        });
    let auc1 = trapz_area(xmin, xmax, &p) / (xmax - xmin);
    let ic50 = if einf < 0.5 {
        ec50 - (0.5 / (0.5 - einf)).log10() / hs
    } else {
        f64::NAN
    };
    let ic10 = if einf < 0.9 {
        ec50 - (0.1 / (0.9 - einf)).log10() / hs
    } else {
        f64::NAN
    };
    // Python's min(ic10, xmax) keeps a NaN first argument.
    let ic10x = if ic10.is_nan() || xmax >= ic10 {
        ic10
    } else {
        xmax
    };
    let dss1 = if xmin < ic10x {
        let int10x = trapz_area(xmin, ic10x, &p);
        (0.9 * (ic10x - xmin) - int10x) / (0.9 * (xmax - xmin))
    } else {
        0.0
    };
    Metrics {
        AUC: auc(einf, ec50, hs),
        IC50: ic50,
        EC50: ec50,
        EC50se: cov[1][1].sqrt(),
        R2fit: r2,
        Einf: einf,
        HS: hs,
        AAC1: 1.0 - auc1,
        AUC1: auc1,
        DSS1: dss1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integral_is_the_antiderivative() {
        let (e, c, h) = (0.2, 6.5, 1.3);
        let n = 200_000;
        let dx = (D2 - D1) / n as f64;
        let num: f64 = (0..n)
            .map(|i| response_curve(D1 + (i as f64 + 0.5) * dx, e, c, h) * dx)
            .sum();
        assert!((num / (D2 - D1) - auc(e, c, h)).abs() < 1e-9);
        // No effect at all (ec50 far below the window): AUC 1.
        assert!((auc(0.0, 0.0, 4.0) - 1.0).abs() < 1e-12);
        assert_eq!(normalise_growth(-100.0), 0.0);
        assert_eq!(normalise_growth(100.0), 1.0);
        assert_eq!(normalise_growth(150.0), 1.0);
    }

    #[test]
    fn recovers_known_curves() {
        let xs: Vec<f64> = (0..9).map(|i| 4.5 + 0.625 * i as f64).collect();
        for (e, c, h) in [
            (0.1568, 7.8603, 1.6888),
            (0.3, 5.66, 0.6669),
            (0.0, 9.0, 4.0),
        ] {
            let ys: Vec<f64> = xs.iter().map(|x| response_curve(*x, e, c, h)).collect();
            let m = fit_metrics(&xs, &ys).unwrap();
            assert!((m.AUC - auc(e, c, h)).abs() < 1e-6, "{e} {c} {h}: {m:?}");
            assert!((m.R2fit - 1.0).abs() < 1e-9);
            assert!(m.EC50se < 1e-3);
        }
    }

    #[test]
    fn the_gcsi_example_of_sources_md() {
        // DOSE/GROWTH rows printed in levinas/curve's notebook (three of the points).
        let xs = [9.339134, 7.430334, 5.522879];
        let ys = [0.9977, 0.2779, 0.1531];
        let p = fit(&xs, &ys).unwrap();
        // Three points, three parameters: the fit passes through them.
        assert!(sse(&xs, &ys, &p) < 1e-6, "{p:?}");
    }
}

//! The benchmark metrics, in float64, as the references compute them.
//!
//! Regression (CANDLE-UNO): scikit-learn's `mean_squared_error`, `mean_absolute_error`,
//! `r2_score` and scipy's `pearsonr`. Forecasting (TEvolOp): the notebook's `FindNNSE`.
//! Classification (STEMDL): macro-F1 over the classes present in truth or prediction
//! (scikit-learn's `f1_score(average="macro")`) and top-1 accuracy. Segmentation
//! (CloudMask): pixel accuracy and F1 of the positive class.

/// Mean squared error.
pub fn mse(y: &[f64], p: &[f64]) -> f64 {
    mean(y.iter().zip(p).map(|(a, b)| (a - b) * (a - b)), y.len())
}

/// Mean absolute error.
pub fn mae(y: &[f64], p: &[f64]) -> f64 {
    mean(y.iter().zip(p).map(|(a, b)| (a - b).abs()), y.len())
}

fn mean(it: impl Iterator<Item = f64>, n: usize) -> f64 {
    if n == 0 {
        return f64::NAN;
    }
    it.sum::<f64>() / n as f64
}

/// Coefficient of determination, as `sklearn.metrics.r2_score` (1 - SS_res / SS_tot; with a
/// constant truth: 1.0 for a perfect prediction, 0.0 otherwise).
pub fn r2(y: &[f64], p: &[f64]) -> f64 {
    if y.is_empty() {
        return f64::NAN;
    }
    let m = mean(y.iter().copied(), y.len());
    let ss_res: f64 = y.iter().zip(p).map(|(a, b)| (a - b) * (a - b)).sum();
    let ss_tot: f64 = y.iter().map(|a| (a - m) * (a - m)).sum();
    if ss_tot == 0.0 {
        return if ss_res == 0.0 { 1.0 } else { 0.0 };
    }
    1.0 - ss_res / ss_tot
}

/// Pearson's correlation coefficient (`scipy.stats.pearsonr(...).statistic`); NaN when either
/// series is constant.
pub fn pearson(y: &[f64], p: &[f64]) -> f64 {
    let n = y.len();
    if n < 2 {
        return f64::NAN;
    }
    let my = mean(y.iter().copied(), n);
    let mp = mean(p.iter().copied(), n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in y.iter().zip(p) {
        let (dy, dp) = (a - my, b - mp);
        sxy += dy * dp;
        sxx += dy * dy;
        syy += dp * dp;
    }
    if sxx == 0.0 || syy == 0.0 {
        return f64::NAN;
    }
    (sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0)
}

/// NNSE of one location's series, as the notebook's `FindNNSE`:
/// `S_oo / (S_oo + S_op)` with `S_oo = Σo² − (Σo)²/n` and `S_op = Σ(o − p)²`. NaN observations
/// are replaced by the prediction (they add 0 to `S_op`, and `p` to the sums of `o`).
/// A constant, perfectly predicted series (0/0) gives NaN.
pub fn nnse(obs: &[f64], pred: &[f64]) -> f64 {
    let n = obs.len() as f64;
    let (mut sq, mut sum, mut diff) = (0.0, 0.0, 0.0);
    for (&o, &p) in obs.iter().zip(pred) {
        let o = if o.is_nan() { p } else { o };
        sq += o * o;
        sum += o;
        diff += (o - p) * (o - p);
    }
    let soo = sq - sum * sum / n;
    soo / (soo + diff)
}

/// Confusion-matrix metrics of integer class labels.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Classification {
    pub top1: f64,
    /// Macro-F1 over the classes that occur in the truth or the predictions.
    pub macro_f1: f64,
    pub classes: usize,
}

/// Top-1 accuracy and macro-F1 (`sklearn.metrics.f1_score(y, p, average="macro")`, with
/// `zero_division=0`: a class never predicted and never true does not occur; one with
/// precision and recall both undefined counts 0).
pub fn classification(y: &[i64], p: &[i64]) -> Classification {
    use std::collections::BTreeMap;
    let mut tp: BTreeMap<i64, u64> = BTreeMap::new();
    let mut t: BTreeMap<i64, u64> = BTreeMap::new();
    let mut q: BTreeMap<i64, u64> = BTreeMap::new();
    let mut correct = 0u64;
    for (&a, &b) in y.iter().zip(p) {
        *t.entry(a).or_default() += 1;
        *q.entry(b).or_default() += 1;
        tp.entry(a).or_default();
        tp.entry(b).or_default();
        if a == b {
            *tp.get_mut(&a).expect("inserted") += 1;
            correct += 1;
        }
    }
    let mut f1_sum = 0.0;
    for (c, &tpc) in &tp {
        let denom = t.get(c).copied().unwrap_or(0) + q.get(c).copied().unwrap_or(0);
        if denom > 0 {
            f1_sum += 2.0 * tpc as f64 / denom as f64;
        }
    }
    let classes = tp.len();
    Classification {
        top1: if y.is_empty() {
            f64::NAN
        } else {
            correct as f64 / y.len() as f64
        },
        macro_f1: if classes == 0 {
            f64::NAN
        } else {
            f1_sum / classes as f64
        },
        classes,
    }
}

/// Binary counts (mask against truth) with accuracy and F1 of the positive class.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Binary {
    pub tp: u64,
    pub fp: u64,
    pub tn: u64,
    pub r#fn: u64,
}

impl Binary {
    pub fn add(&mut self, truth: bool, pred: bool) {
        match (truth, pred) {
            (true, true) => self.tp += 1,
            (false, true) => self.fp += 1,
            (false, false) => self.tn += 1,
            (true, false) => self.r#fn += 1,
        }
    }
    pub fn merge(&mut self, o: &Binary) {
        self.tp += o.tp;
        self.fp += o.fp;
        self.tn += o.tn;
        self.r#fn += o.r#fn;
    }
    pub fn total(&self) -> u64 {
        self.tp + self.fp + self.tn + self.r#fn
    }
    pub fn accuracy(&self) -> f64 {
        (self.tp + self.tn) as f64 / self.total() as f64
    }
    /// F1 of the positive class; 0 when there is no positive in truth or prediction.
    pub fn f1(&self) -> f64 {
        let d = 2 * self.tp + self.fp + self.r#fn;
        if d == 0 {
            0.0
        } else {
            2.0 * self.tp as f64 / d as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regression_values() {
        let y = [3.0, -0.5, 2.0, 7.0];
        let p = [2.5, 0.0, 2.0, 8.0];
        // scikit-learn documentation examples.
        assert!((mse(&y, &p) - 0.375).abs() < 1e-12);
        assert!((mae(&y, &p) - 0.5).abs() < 1e-12);
        assert!((r2(&y, &p) - 0.9486081370449679).abs() < 1e-12);
        assert!((pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.5]) - 0.9979487157886733).abs() < 1e-12); // scipy.stats.pearsonr
        assert!(pearson(&[1.0, 1.0], &[1.0, 2.0]).is_nan());
        assert_eq!(r2(&[1.0, 1.0], &[1.0, 1.0]), 1.0);
        assert_eq!(r2(&[1.0, 1.0], &[1.0, 2.0]), 0.0);
    }

    #[test]
    fn nnse_matches_definition() {
        let o = [1.0, 2.0, 3.0, 4.0];
        let p = [1.5, 2.0, 2.0, 4.5];
        let m = 2.5;
        let soo: f64 = o.iter().map(|x| (x - m) * (x - m)).sum();
        let sop: f64 = o.iter().zip(&p).map(|(a, b)| (a - b) * (a - b)).sum();
        assert!((nnse(&o, &p) - soo / (soo + sop)).abs() < 1e-12);
        assert_eq!(nnse(&o, &o), 1.0);
        // NaN observations take the prediction.
        let on = [1.0, f64::NAN, 3.0, 4.0];
        assert!((nnse(&on, &p) - nnse(&[1.0, 2.0, 3.0, 4.0], &p)).abs() < 1e-12);
    }

    #[test]
    fn classification_values() {
        // sklearn: f1_score([0,1,2,0,1,2],[0,2,1,0,0,1],average='macro') = 0.26666666666666666
        let c = classification(&[0, 1, 2, 0, 1, 2], &[0, 2, 1, 0, 0, 1]);
        assert!((c.macro_f1 - 0.26666666666666666).abs() < 1e-12);
        assert!((c.top1 - 2.0 / 6.0).abs() < 1e-12);
        let mut b = Binary::default();
        for (t, p) in [
            (true, true),
            (true, false),
            (false, false),
            (false, true),
            (true, true),
        ] {
            b.add(t, p);
        }
        assert_eq!(b.total(), 5);
        assert!((b.accuracy() - 0.6).abs() < 1e-12);
        assert!((b.f1() - 4.0 / 6.0).abs() < 1e-12);
    }
}

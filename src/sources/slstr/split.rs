//! The reference split (sources.md 1.4): the 100 named October-2019 products are the test
//! set when present; the other products are split into training and validation by
//! `sklearn.model_selection.train_test_split(paths, train_size=0.8, random_state=42)`,
//! reproduced exactly (MT19937 and numpy's legacy permutation, shared with the CANDLE
//! source): `n_train = floor(0.8 n)`, `n_val = n - n_train`, one
//! `RandomState(42).permutation(n)`, the first `n_val` positions validation, the next
//! `n_train` training. The reference feeds it `glob` order; we feed product names sorted
//! (the only order that does not depend on the file system).

use std::collections::BTreeSet;

use serde::Serialize;

use crate::sources::candle::split::Mt19937;

/// The reference's seed.
pub const SEED: u32 = 42;
/// The reference's training share.
pub const TRAIN_SIZE: f64 = 0.8;

/// The 100 test products (names without suffix).
pub fn test_products() -> BTreeSet<&'static str> {
    include_str!("test-products.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect()
}

/// Split settings (recorded in the version's options).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SplitOptions {
    pub seed: u32,
    pub train_size: f64,
}

impl Default for SplitOptions {
    fn default() -> Self {
        SplitOptions {
            seed: SEED,
            train_size: TRAIN_SIZE,
        }
    }
}

/// Assigns `train`, `validation` or `test` to each product (names sorted ascending).
pub fn assign(products: &[String], opts: &SplitOptions) -> Vec<&'static str> {
    let test = test_products();
    let mut out = vec!["train"; products.len()];
    let rest: Vec<usize> = (0..products.len())
        .filter(|i| {
            if test.contains(products[*i].as_str()) {
                out[*i] = "test";
                false
            } else {
                true
            }
        })
        .collect();
    let n = rest.len();
    let n_train = (opts.train_size * n as f64).floor() as usize;
    // sklearn refuses a split with an empty side; with fewer than two products every one
    // is training data.
    if n_train == 0 || n_train == n {
        return out;
    }
    let n_val = n - n_train;
    let perm = Mt19937::new(opts.seed).permutation(n);
    for p in &perm[..n_val] {
        out[rest[*p]] = "validation";
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_permutation() {
        // numpy: np.random.RandomState(42).permutation(10) == [8 1 5 0 7 2 9 4 3 6]
        assert_eq!(
            Mt19937::new(42).permutation(10),
            vec![8, 1, 5, 0, 7, 2, 9, 4, 3, 6]
        );
    }

    #[test]
    fn test_products_go_to_test_and_the_rest_splits_80_20() {
        let mut names: Vec<String> = (0..10).map(|i| format!("P{i:02}")).collect();
        names.push(
            "S3A_SL_1_RBT____20191001T113221_20191001T113521_20191002T153211_0179_050_023_1980_LN2_O_NT_003"
                .into(),
        );
        let s = assign(&names, &SplitOptions::default());
        assert_eq!(s[10], "test");
        assert_eq!(s.iter().filter(|x| **x == "validation").count(), 2);
        assert_eq!(s.iter().filter(|x| **x == "train").count(), 8);
        // Validation = the first two of the permutation: 8 and 1.
        assert_eq!(s[8], "validation");
        assert_eq!(s[1], "validation");
    }
}

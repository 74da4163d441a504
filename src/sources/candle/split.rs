//! The reference split: validation drugs unseen in training.
//!
//! `uno_data.CombinedDataLoader.partition_data` (partition_by `drug_pair`, one fold) takes
//! the distinct drug groups of the response table in order of first appearance and
//! splits them with `sklearn.model_selection.ShuffleSplit(n_splits=1, train_size=1-v,
//! test_size=v, random_state=2018)`. ShuffleSplit draws one
//! `numpy.random.RandomState(seed).permutation(n)`; the first `ceil(v n)` groups are
//! validation, the next `floor((1-v) n)` training. This module reproduces that exactly:
//! MT19937 seeded as numpy's legacy `RandomState(int)`, numpy's bounded-integer
//! rejection sampling (`random_interval`) and its Fisher-Yates order. The group list the
//! reference feeds it depends on its loader (see docs/sources/candle.md).

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Result;
use arrow::array::{ArrayRef, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use serde::Serialize;

const N: usize = 624;
const M: usize = 397;

/// The Mersenne Twister MT19937 (32-bit), as numpy's legacy `RandomState`.
#[derive(Clone)]
pub struct Mt19937 {
    mt: [u32; N],
    idx: usize,
}

impl Mt19937 {
    /// `init_genrand(seed)`, what `RandomState(seed)` does for an integer seed.
    pub fn new(seed: u32) -> Self {
        let mut mt = [0u32; N];
        mt[0] = seed;
        for i in 1..N {
            mt[i] = 1_812_433_253u32
                .wrapping_mul(mt[i - 1] ^ (mt[i - 1] >> 30))
                .wrapping_add(i as u32);
        }
        Mt19937 { mt, idx: N }
    }

    fn twist(&mut self) {
        for i in 0..N {
            let y = (self.mt[i] & 0x8000_0000) | (self.mt[(i + 1) % N] & 0x7fff_ffff);
            let mut v = self.mt[(i + M) % N] ^ (y >> 1);
            if y & 1 != 0 {
                v ^= 0x9908_b0df;
            }
            self.mt[i] = v;
        }
        self.idx = 0;
    }

    /// The next 32-bit output.
    pub fn next_u32(&mut self) -> u32 {
        if self.idx >= N {
            self.twist();
        }
        let mut y = self.mt[self.idx];
        self.idx += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^= y >> 18;
        y
    }

    fn next_u64(&mut self) -> u64 {
        (u64::from(self.next_u32()) << 32) | u64::from(self.next_u32())
    }

    /// numpy's `random_interval(max)`: uniform in `0..=max` by masked rejection.
    pub fn interval(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mut mask = max;
        for s in [1, 2, 4, 8, 16, 32] {
            mask |= mask >> s;
        }
        loop {
            let v = if max <= 0xffff_ffff {
                u64::from(self.next_u32()) & mask
            } else {
                self.next_u64() & mask
            };
            if v <= max {
                return v;
            }
        }
    }

    /// `RandomState.permutation(n)`: `arange(n)` shuffled by numpy's legacy shuffle.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut a: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = self.interval(i as u64) as usize;
            a.swap(i, j);
        }
        a
    }
}

/// `ShuffleSplit(n_splits=1, train_size, test_size, random_state=seed)` on `n` items:
/// returns (train indices, test indices) in sklearn's order.
pub fn shuffle_split(
    n: usize,
    test_size: f64,
    train_size: f64,
    seed: u32,
) -> (Vec<usize>, Vec<usize>) {
    let n_test = ((test_size * n as f64).ceil() as usize).min(n);
    let n_train = ((train_size * n as f64).floor() as usize).min(n - n_test);
    let perm = Mt19937::new(seed).permutation(n);
    let test = perm[..n_test].to_vec();
    let train = perm[n_test..n_test + n_train].to_vec();
    (train, test)
}

/// Split settings (recorded in the version's options).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SplitOptions {
    pub seed: u32,
    pub validation_fraction: f64,
}

impl Default for SplitOptions {
    fn default() -> Self {
        SplitOptions {
            seed: 2018,
            validation_fraction: 0.2,
        }
    }
}

/// The split as computed.
#[derive(Debug, Clone, Serialize)]
pub struct SplitSummary {
    pub method: String,
    pub groups: usize,
    pub train_groups: usize,
    pub validation_groups: usize,
    pub unassigned_groups: usize,
    pub train_rows: u64,
    pub validation_rows: u64,
    pub drugs_mapped_to_pubchem: usize,
}

/// Builds the split table. `drugs` are (drug, rows in the benchmark view) in order of
/// first appearance; `group_of` maps a drug to its group (PubChem CID from `drug_info`,
/// as `assign_partition_groups`), drugs without a mapping are their own group.
pub fn drug_split(
    drugs: &[(String, u64)],
    group_of: &HashMap<String, String>,
    opts: &SplitOptions,
) -> Result<(RecordBatch, SplitSummary)> {
    let mut groups: Vec<String> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut drug_group = Vec::with_capacity(drugs.len());
    let mut mapped = 0;
    for (d, _) in drugs {
        let g = match group_of.get(d) {
            Some(g) => {
                mapped += 1;
                g.clone()
            }
            None => d.clone(),
        };
        let gi = *index.entry(g.clone()).or_insert_with(|| {
            groups.push(g);
            groups.len() - 1
        });
        drug_group.push(gi);
    }
    let v = opts.validation_fraction;
    let (train, test) = shuffle_split(groups.len(), v, 1.0 - v, opts.seed);
    let mut split: Vec<Option<&str>> = vec![None; groups.len()];
    for i in &train {
        split[*i] = Some("train");
    }
    for i in &test {
        split[*i] = Some("validation");
    }
    let (mut train_rows, mut validation_rows) = (0, 0);
    for ((_, n), g) in drugs.iter().zip(&drug_group) {
        match split[*g] {
            Some("train") => train_rows += n,
            Some("validation") => validation_rows += n,
            _ => {}
        }
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("DRUG", DataType::Utf8, false),
        Field::new("group", DataType::Utf8, false),
        Field::new("group_index", DataType::Int64, false),
        Field::new("split", DataType::Utf8, true),
        Field::new("responses", DataType::Int64, false),
    ]));
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            drugs.iter().map(|d| d.0.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            drug_group.iter().map(|g| groups[*g].as_str()),
        )),
        Arc::new(Int64Array::from_iter_values(
            drug_group.iter().map(|g| *g as i64),
        )),
        Arc::new(StringArray::from(
            drug_group.iter().map(|g| split[*g]).collect::<Vec<_>>(),
        )),
        Arc::new(Int64Array::from_iter_values(
            drugs.iter().map(|d| d.1 as i64),
        )),
    ];
    let summary = SplitSummary {
        method: format!(
            "sklearn ShuffleSplit(n_splits=1, test_size={v}, train_size={}, random_state={}) over drug groups in order of first appearance in the quality view; reproduced exactly (MT19937 + numpy legacy permutation)",
            1.0 - v,
            opts.seed
        ),
        groups: groups.len(),
        train_groups: train.len(),
        validation_groups: test.len(),
        unassigned_groups: groups.len() - train.len() - test.len(),
        train_rows,
        validation_rows,
        drugs_mapped_to_pubchem: mapped,
    };
    Ok((RecordBatch::try_new(schema, cols)?, summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mt19937_reference_outputs() {
        // The reference implementation (mt19937ar.c) seeded with init_genrand(5489)
        // starts 3499211612, 581869302, 3890346734, 3586334585, 545404204.
        let mut m = Mt19937::new(5489);
        let got: Vec<u32> = (0..5).map(|_| m.next_u32()).collect();
        assert_eq!(
            got,
            [3499211612, 581869302, 3890346734, 3586334585, 545404204]
        );
        // The 10000th output for the default seed is 4123659995 (C++ std::mt19937).
        let mut m = Mt19937::new(5489);
        let last = (0..10000).map(|_| m.next_u32()).last().unwrap();
        assert_eq!(last, 4123659995);
    }

    #[test]
    fn permutation_is_a_permutation_and_sizes_follow_sklearn() {
        let p = Mt19937::new(2018).permutation(1000);
        let mut s = p.clone();
        s.sort();
        assert_eq!(s, (0..1000).collect::<Vec<_>>());
        assert_ne!(p, (0..1000).collect::<Vec<_>>());
        let (train, test) = shuffle_split(11, 0.2, 0.8, 2018);
        assert_eq!((train.len(), test.len()), (8, 3)); // floor(8.8), ceil(2.2)
        let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
        all.sort();
        assert_eq!(all, (0..11).collect::<Vec<_>>());
    }

    #[test]
    fn groups_follow_pubchem_mapping() {
        let drugs: Vec<(String, u64)> = ["CCLE.1", "CTRP.5", "NSC.7", "NSC.8", "GDSC.2"]
            .iter()
            .enumerate()
            .map(|(i, d)| (d.to_string(), i as u64 + 1))
            .collect();
        let map = HashMap::from([
            ("CCLE.1".to_string(), "PubChem.CID.9".to_string()),
            ("CTRP.5".to_string(), "PubChem.CID.9".to_string()),
        ]);
        let (t, s) = drug_split(&drugs, &map, &SplitOptions::default()).unwrap();
        assert_eq!(s.groups, 4);
        assert_eq!(s.drugs_mapped_to_pubchem, 2);
        let split = t.column(3).as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(split.value(0), split.value(1));
        assert_eq!(s.train_rows + s.validation_rows, 15);
    }
}

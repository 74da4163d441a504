//! CANDLE-UNO: the CANDLE Pilot1 drug dose-response tables (source `candle`, dataset
//! `candle-uno`). See docs/sources/candle.md and shared/reference/sources.md section 3.
//!
//! - [`tsv`]: a streaming TAB- (or comma-) separated reader with `file:line` errors;
//! - [`tables`]: the known input files and their explicit schemas;
//! - [`responses`]: long tables (responses, growth curves, ALMANAC drug pairs, annotations)
//!   to Parquet, hive-partitioned by `SOURCE` where the table has one (drug pairs:
//!   `'ALMANAC.' + SCREENER`);
//! - [`features`]: wide numeric tables (RNA-seq, Dragon7, fingerprints, Mordred) to 2-D
//!   float32 Zarr v3 arrays with label tables;
//! - [`split`]: the reference's ShuffleSplit over drug groups (MT19937, as numpy);
//! - [`auc`]: the Hill dose-response fit and the AUC of sources.md 3.2;
//! - [`ingest`], [`fetch`], [`synth`]: the commands.

pub mod auc;
pub mod features;
pub mod fetch;
pub mod ingest;
pub mod responses;
pub mod split;
pub mod synth;
pub mod tables;
pub mod tsv;

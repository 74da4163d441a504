//! STEMDL: the ORNL CBED diffraction stacks (source `cbed`, dataset `stemdl`). See
//! docs/sources/cbed.md and shared/reference/sources.md section 2.
//!
//! - [`h5`]: the ORNL HDF5 batch files (one group `sample_<i>_<j>` per sample);
//! - [`npz`]: the preprocessed per-sample `.npz` files (`data` (3, 128, 128), `label` (1,));
//! - [`preprocess`]: the reference transform (log floor -17, x10, clip 0..255, area resize);
//! - [`shard`]: shard objects assembled from subchunks encoded as samples arrive;
//! - [`split`]: splits from the input batches, space groups and crystal systems;
//! - [`ingest`], [`synth`]: the commands.

pub mod h5;
pub mod ingest;
pub mod npz;
pub mod preprocess;
pub mod shard;
pub mod split;
pub mod synth;

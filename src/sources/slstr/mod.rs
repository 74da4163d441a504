//! CloudMask: Sentinel-3 SLSTR Level-1 products (source `slstr`, dataset `cloudmask`).
//! See docs/sources/slstr.md and shared/reference/sources.md section 1.
//!
//! - [`chunks`]: a variable decoded from its HDF5 chunks on all cores (deflate, shuffle);
//! - [`safe`]: the SAFE folder name and the files/variables of a scene;
//! - [`product`]: one SAFE product read with the `netcdf` crate (packed values, CF
//!   attributes, dimensions, global attributes);
//! - [`hdf`]: the preprocessed per-product `.hdf` form read with `hdf5-metno`;
//! - [`layout`]: the Zarr layout (one array per variable across scenes, one shard per
//!   scene) and the packing-consistency check;
//! - [`split`]: the reference's test list and 80/20 split (sklearn, seed 42);
//! - [`ingest`], [`synth`]: the commands.

pub mod chunks;
pub mod extent;
pub mod hdf;
pub mod ingest;
pub mod layout;
pub mod product;
pub mod safe;
pub mod split;
pub mod synth;

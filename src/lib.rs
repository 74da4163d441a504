//! sciml-data: raw scientific sources to FAIR, versioned, verifiable ML benchmark datasets.
//!
//! A *version* of a dataset is an immutable BagIt bag of Zarr v3 arrays and Parquet tables,
//! named by the SHA-256 of its canonical payload manifest (docs/format.md). Modules:
//! - [`address`]: `<repository>/<dataset>@<version>` addresses;
//! - [`bag`], [`hashing`], [`record`]: the on-store format;
//! - [`staging`], [`repository`], [`ingest`]: building and committing versions;
//! - [`verify`], [`diff`], [`inspect`]: reading them back;
//! - [`remote`], [`publish`], [`pull`], [`etag`]: object stores, with transfer checks;
//! - [`sources`]: one module per raw source; [`demo`]: the offline tour;
//! - [`scoring`]: `verify --score`, the baseline models through ONNX Runtime.

pub mod address;
pub mod bag;
pub mod catalog;
pub mod cli;
pub mod demo;
pub mod diff;
pub mod etag;
pub mod hashing;
pub mod ingest;
pub mod inspect;
pub mod metadata;
pub mod progress;
pub mod publish;
pub mod pull;
pub mod record;
pub mod remote;
pub mod report;
pub mod repository;
pub mod scoring;
pub mod shards;
pub mod sources;
pub mod staging;
pub mod verify;

//! TEvolOp: the USGS ComCat earthquake catalogue (source `usgs`, dataset `tevolop`).
//! See docs/sources/usgs.md.

pub mod comcat;
pub mod events;
pub mod export;
pub mod fetch;
pub mod grid;
pub mod ingest;
pub mod split;
pub mod synth;

//! Raw scientific sources, one module each.

pub mod usgs;

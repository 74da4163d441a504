//! Raw scientific sources, one module each.

pub mod candle;
pub mod slstr;
pub mod usgs;

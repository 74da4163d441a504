//! Raw scientific sources, one module each.

pub mod candle;
pub mod cbed;
pub mod slstr;
pub mod usgs;

//! Streaming shards: subchunks are encoded as soon as their sample is read (on any thread),
//! and a shard object is assembled from the encoded subchunks when it is full.
//!
//! The bytes are exactly those that zarrs' `sharding_indexed` codec writes for the arrays of
//! [`super::ingest`] (inner codecs `bytes` little-endian + `zstd` with checksum, index codecs
//! `bytes` + `crc32c`, index at the end, subchunks in C order, subchunks equal to the fill
//! value 0.0 left out as `(u64::MAX, u64::MAX)`): the test below encodes the same shard both
//! ways and compares the bytes. Holding encoded subchunks instead of a decoded shard buffer
//! lets reading, the reference transform and compression overlap on all cores, with memory
//! bounded by one encoded shard.

use std::borrow::Cow;
use std::sync::Arc;

use anyhow::{Context, Result};
use zarrs::array::Array;

use crate::staging::StagingZarrStore;

pub use crate::shards::Subchunk;
use crate::shards::{InFlight, assemble};

/// The inner codec chain of a subchunk: float32 little-endian bytes, then zstd.
pub struct SubchunkEncoder {
    level: i32,
}

impl SubchunkEncoder {
    /// zstd at `level` with checksummed frames, as the arrays' metadata declares.
    pub fn new(level: i32) -> Self {
        SubchunkEncoder { level }
    }

    /// Encodes one subchunk; `None` when every value is the fill value 0.0 (not stored).
    pub fn encode(&self, values: &[f32]) -> Result<Subchunk> {
        let le: Cow<[u8]> = if cfg!(target_endian = "little") {
            Cow::Borrowed(bytemuck::cast_slice(values))
        } else {
            Cow::Owned(values.iter().flat_map(|v| v.to_le_bytes()).collect())
        };
        crate::shards::subchunk(&le, 4, &0f32.to_le_bytes(), self.level)
    }
}

/// One array written shard by shard from encoded subchunks. A full shard is assembled,
/// hashed and written by a task of its own while the next one fills; at most
/// [`crate::shards::writers`] shards per array are in flight (one on up to 7 cores).
pub struct ShardStream {
    array: Arc<Array<StagingZarrStore>>,
    /// The array's path in the bag, for messages.
    what: Arc<str>,
    /// Subchunks per shard.
    per_shard: usize,
    pending: Vec<Subchunk>,
    shard: u64,
    in_flight: InFlight,
}

impl ShardStream {
    /// `array` must be sharded along its first dimension only, with `per_shard` subchunks
    /// per shard, and use the codecs of [`SubchunkEncoder`].
    pub fn new(array: Array<StagingZarrStore>, what: &str, per_shard: usize) -> Self {
        ShardStream {
            array: Arc::new(array),
            what: what.into(),
            per_shard,
            pending: Vec::with_capacity(per_shard),
            shard: 0,
            in_flight: InFlight::with_depth(what, crate::shards::writers()),
        }
    }

    /// Adds the next subchunk (C order); starts writing the shard when it is full.
    pub async fn push(&mut self, subchunk: Subchunk) -> Result<()> {
        self.pending.push(subchunk);
        if self.pending.len() == self.per_shard {
            self.flush().await?;
        }
        Ok(())
    }

    /// Starts writing the pending subchunks as a shard, the missing tail as fill value.
    async fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut subchunks =
            std::mem::replace(&mut self.pending, Vec::with_capacity(self.per_shard));
        subchunks.resize(self.per_shard, None);
        let k = self.shard;
        self.shard += 1;
        let (array, what) = (self.array.clone(), self.what.clone());
        self.in_flight
            .start(async move {
                let Some(parts) = assemble(subchunks)? else {
                    return Ok(());
                };
                let mut idx = vec![0u64; array.dimensionality()];
                idx[0] = k;
                crate::shards::store(&array, &idx, parts)
                    .await
                    .with_context(|| format!("cannot write shard {k} of {what}"))
            })
            .await
    }

    /// Waits for the shard being written, whatever its outcome (used on the error path).
    pub async fn abandon(&mut self) -> Result<()> {
        self.pending.clear();
        self.in_flight.wait().await
    }

    /// Writes the last (possibly partial) shard and waits until every shard is written.
    pub async fn finish(&mut self) -> Result<()> {
        self.flush().await?;
        self.in_flight.wait().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::cbed::ingest::test_support::{array_pair, read_shard_bytes};

    #[tokio::test]
    async fn assembled_shards_equal_zarrs_encoding() {
        // 3 samples x 3 orientations of 8 x 8 per shard, with a fill-value subchunk and a
        // partial last shard.
        let (dir, zarrs_array, stream_array) = array_pair(3, 8).await;
        let n_samples = 5usize;
        let sub = 64usize;
        let mut values = vec![0.0f32; n_samples * 3 * sub];
        for (i, v) in values.iter_mut().enumerate() {
            *v = ((i * 7919) % 1013) as f32 * 0.37 - 11.0;
        }
        // Sample 1, orientation 2: all fill value.
        values[(3 + 2) * sub..(3 + 3) * sub].fill(0.0);
        // zarrs: shard by shard from the decoded buffer.
        for k in 0..2u64 {
            let mut buf = vec![0.0f32; 3 * 3 * sub];
            let from = k as usize * 3 * 3 * sub;
            let to = (from + buf.len()).min(values.len());
            buf[..to - from].copy_from_slice(&values[from..to]);
            zarrs_array
                .async_store_chunk(&[k, 0, 0, 0], &buf[..])
                .await
                .expect("zarrs store");
        }
        // Streaming.
        let enc = SubchunkEncoder::new(3);
        let mut stream = ShardStream::new(stream_array, "test", 9);
        for s in values.chunks(sub) {
            stream
                .push(enc.encode(s).expect("encode"))
                .await
                .expect("push");
        }
        stream.finish().await.expect("finish");
        for k in 0..2 {
            let a = read_shard_bytes(dir.path(), "zarrs", k);
            let b = read_shard_bytes(dir.path(), "stream", k);
            assert!(!a.is_empty());
            assert_eq!(a, b, "shard {k} differs from zarrs' encoding");
        }
    }

    #[test]
    fn an_all_fill_shard_is_not_stored() {
        assert!(assemble(vec![None, None]).expect("assemble").is_none());
        let enc = SubchunkEncoder::new(3);
        assert!(enc.encode(&[0.0; 16]).expect("encode").is_none());
        // -0.0 is not the fill value's bytes: stored, as zarrs does.
        assert!(enc.encode(&[-0.0; 16]).expect("encode").is_some());
    }
}

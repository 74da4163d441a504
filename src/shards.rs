//! Zarr shard objects encoded by sciml-data itself, byte for byte as zarrs'
//! `sharding_indexed` codec encodes them (inner codecs `bytes` little-endian + `zstd` with a
//! content checksum; index codecs `bytes` + `crc32c`, index at the end; inner chunks in C
//! order; an inner chunk equal to the fill value left out as `(u64::MAX, u64::MAX)`), so
//! that zarr-python, zarrs and every other reader see an ordinary sharded array.
//!
//! Why not through zarrs: its `zstd` codec makes a fresh compression context per inner
//! chunk, which allocates and clears its tables every time (page faults and a memset about
//! as costly as compressing a 200 KB chunk). Here each thread keeps one context. Unit tests
//! in the sources that use this module encode the same shard both ways and compare the
//! bytes.

use std::borrow::Cow;

use anyhow::{Context, Result};
use bytes::Bytes;
use rayon::prelude::*;
use zarrs::array::Array;
use zarrs::array::codec::Crc32cCodec;
use zarrs::array::codec::api::{BytesToBytesCodecTraits, CodecOptions};

use crate::staging::StagingZarrStore;

/// One encoded inner chunk; `None` when it holds only the fill value (not stored).
pub type Subchunk = Option<Vec<u8>>;

thread_local! {
    /// One zstd compression context per thread, reused from subchunk to subchunk: a fresh
    /// context (what zarrs' codec makes per call) allocates and clears its tables each time,
    /// about as much work as compressing a 200 KB chunk. The output is the same:
    /// a zstd frame depends on the parameters, not on the context's history.
    static ZSTD: std::cell::RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
        const { std::cell::RefCell::new(None) };
}

/// `data` as one zstd frame at `level` with a content checksum, as zarrs' `zstd` codec
/// (`checksum: true`) encodes it.
pub fn zstd_frame(level: i32, data: &[u8]) -> Result<Vec<u8>> {
    ZSTD.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.as_ref().is_none_or(|(l, _)| *l != level) {
            let mut c = zstd::bulk::Compressor::new(level).context("zstd: no context")?;
            c.include_checksum(true).context("zstd: no checksum")?;
            *cell = Some((level, c));
        }
        let (_, c) = cell.as_mut().expect("set above");
        c.compress(data).context("zstd cannot encode a subchunk")
    })
}

/// The shard object made of its encoded subchunks in C order (`None`: fill value), as the
/// parts it is written from: the subchunks that are stored, then the index. The subchunks
/// are not copied into one buffer; the parts are hashed and written one after the other.
/// Returns `None` when every subchunk is the fill value: such a shard is not stored.
pub fn assemble(subchunks: Vec<Subchunk>) -> Result<Option<Vec<Bytes>>> {
    if subchunks.iter().all(Option::is_none) {
        return Ok(None);
    }
    let mut parts = Vec::with_capacity(subchunks.len() + 1);
    let mut index = Vec::with_capacity(subchunks.len() * 16);
    let mut at = 0u64;
    for s in subchunks {
        let (offset, len) = match s {
            Some(b) => {
                let len = b.len() as u64;
                parts.push(Bytes::from(b));
                at += len;
                (at - len, len)
            }
            None => (u64::MAX, u64::MAX),
        };
        index.extend_from_slice(&offset.to_le_bytes());
        index.extend_from_slice(&len.to_le_bytes());
    }
    let index = Crc32cCodec::new()
        .encode(Cow::Owned(index), &CodecOptions::default())
        .context("cannot encode a shard index")?;
    parts.push(Bytes::from(index.into_owned()));
    Ok(Some(parts))
}

/// Writes the shard made of `parts` ([`assemble`]) as chunk `idx` of `array` (hashed into
/// the version's manifest by the store). The array must be sharded with the codecs this
/// module writes: inner codecs `bytes` little-endian + `zstd` with checksums, index `bytes`
/// + `crc32c` at the end.
pub async fn store(array: &Array<StagingZarrStore>, idx: &[u64], parts: Vec<Bytes>) -> Result<()> {
    // The bytes are the encoding of the array's `sharding_indexed` codec (this module;
    // checked against zarrs in the tests of sources/cbed/shard.rs and sources/slstr/layout.rs),
    // stored under the chunk's key, as zarrs' `store_encoded_chunk` does for an array without
    // storage transformers (none of ours has any).
    array
        .storage()
        .set_parts(&array.chunk_key(idx), parts)
        .await
}

/// Shard writes in flight, each hashed and written on a task of its own while the next
/// shard is encoded: at most one by default ([`InFlight::new`]), or `depth`
/// ([`InFlight::with_depth`]) where hashing and writing would otherwise hold back encoding
/// on many cores.
pub struct InFlight {
    tasks: std::collections::VecDeque<tokio::task::JoinHandle<Result<()>>>,
    depth: usize,
    /// What is written, for the message when the task itself fails (panics).
    what: std::sync::Arc<str>,
}

impl InFlight {
    pub fn new(what: &str) -> InFlight {
        InFlight::with_depth(what, 1)
    }

    /// At most `depth` writes in flight (at least one).
    pub fn with_depth(what: &str, depth: usize) -> InFlight {
        InFlight {
            tasks: std::collections::VecDeque::new(),
            depth: depth.max(1),
            what: what.into(),
        }
    }

    /// Waits for every write in flight and returns the first failure, if any.
    pub async fn wait(&mut self) -> Result<()> {
        let mut first = Ok(());
        while !self.tasks.is_empty() {
            let outcome = self.wait_oldest().await;
            if first.is_ok() {
                first = outcome;
            }
        }
        first
    }

    async fn wait_oldest(&mut self) -> Result<()> {
        if let Some(task) = self.tasks.pop_front() {
            task.await
                .map_err(|e| anyhow::anyhow!("the writer of {} failed: {e}", self.what))??;
        }
        Ok(())
    }

    /// Starts `write` on a task of its own, once fewer than `depth` writes are in flight.
    pub async fn start(
        &mut self,
        write: impl std::future::Future<Output = Result<()>> + Send + 'static,
    ) -> Result<()> {
        while self.tasks.len() >= self.depth {
            self.wait_oldest().await?;
        }
        self.tasks.push_back(tokio::spawn(write));
        Ok(())
    }
}

/// Shard writes to keep in flight on this machine: one per four cores, one to four.
pub fn writers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 4).clamp(1, 4))
}

/// The encoded inner chunks (for [`assemble`]) of the shard of one C-order, little-endian
/// array of `shape` (`elem` bytes per value) cut into inner chunks of `inner` (which must
/// divide `shape` evenly), each compressed to a zstd frame at `level` on all cores, unless
/// all its values are `fill` (the fill value's bytes).
pub fn encode_c_order(
    data: &[u8],
    elem: usize,
    shape: &[u64],
    inner: &[u64],
    fill: &[u8],
    level: i32,
) -> Result<Vec<Subchunk>> {
    anyhow::ensure!(
        !shape.is_empty()
            && shape.len() == inner.len()
            && shape.iter().zip(inner).all(|(n, c)| *c > 0 && n % c == 0)
            && fill.len() == elem
            && data.len() == shape.iter().product::<u64>() as usize * elem,
        "inner chunks {inner:?} do not tile an array of {shape:?} ({} bytes of {elem}-byte values)",
        data.len()
    );
    let shape: Vec<usize> = shape.iter().map(|n| *n as usize).collect();
    let inner: Vec<usize> = inner.iter().map(|n| *n as usize).collect();
    let grid = block_grid(&shape, &inner);
    let count = grid.iter().product::<usize>();
    let chunks: Vec<Result<Subchunk>> = (0..count)
        .into_par_iter()
        .map(|k| {
            let bytes = chunk_bytes(data, elem, &shape, &inner, &grid, k);
            subchunk(&bytes, elem, fill, level)
        })
        .collect();
    chunks.into_iter().collect()
}

/// The encoded inner chunks (for [`assemble`]) of a shard whose inner chunks are already cut
/// out, each the C-order, little-endian values of one inner chunk (`elem` bytes per value),
/// in C order over the shard's chunk grid: compressed on all cores as [`encode_c_order`]
/// compresses the chunks it cuts, so the two give the same object for the same values.
pub fn encode_chunks(
    chunks: &[Vec<u8>],
    elem: usize,
    fill: &[u8],
    level: i32,
) -> Result<Vec<Subchunk>> {
    anyhow::ensure!(
        fill.len() == elem && chunks.iter().all(|c| c.len() % elem == 0),
        "inner chunks are not whole {elem}-byte values"
    );
    let encoded: Vec<Result<Subchunk>> = chunks
        .par_iter()
        .map(|c| subchunk(c, elem, fill, level))
        .collect();
    encoded.into_iter().collect()
}

/// One inner chunk's encoding (its little-endian values, `elem` bytes each): `None` when all
/// its values are `fill`.
pub fn subchunk(bytes: &[u8], elem: usize, fill: &[u8], level: i32) -> Result<Subchunk> {
    if bytes.chunks_exact(elem).all(|v| v == fill) {
        return Ok(None);
    }
    Ok(Some(zstd_frame(level, bytes)?))
}

/// The values of inner chunk `k` (C order over `grid`) of a C-order array, in C order.
fn chunk_bytes(
    data: &[u8],
    elem: usize,
    shape: &[usize],
    inner: &[usize],
    grid: &[usize],
    k: usize,
) -> Vec<u8> {
    let origin = block_origin(k, grid, inner);
    let mut out = Vec::with_capacity(inner.iter().product::<usize>() * elem);
    for_each_run(shape, &origin, inner, inner, |at, _, len| {
        out.extend_from_slice(&data[at * elem..(at + len) * elem]);
    });
    out
}

/// The number of blocks of `block` along each axis of an array of `shape` (a partial block at
/// the end of an axis counts).
pub fn block_grid(shape: &[usize], block: &[usize]) -> Vec<usize> {
    shape
        .iter()
        .zip(block)
        .map(|(n, b)| n.div_ceil(*b))
        .collect()
}

/// The first element, per axis, of block `k` in C order over a `grid` of blocks of `block`.
pub fn block_origin(k: usize, grid: &[usize], block: &[usize]) -> Vec<usize> {
    let mut origin = vec![0usize; grid.len()];
    let mut rest = k;
    for d in (0..grid.len()).rev() {
        origin[d] = rest % grid[d] * block[d];
        rest /= grid[d];
    }
    origin
}

/// Calls `f(at, in_block, len)` for each run of `len` elements along the last axis of the box
/// of `extent` elements at `origin` in a C-order array of `shape`, in C order: `at` is the
/// run's element offset in the array, `in_block` its offset in a C-order block of shape
/// `block` (at least `extent`) holding the box at its start.
pub fn for_each_run(
    shape: &[usize],
    origin: &[usize],
    extent: &[usize],
    block: &[usize],
    mut f: impl FnMut(usize, usize, usize),
) {
    let rank = shape.len();
    if rank == 0 || extent.contains(&0) {
        return;
    }
    let mut idx = vec![0usize; rank - 1];
    for _ in 0..extent[..rank - 1].iter().product::<usize>() {
        let (mut at, mut in_block) = (0usize, 0usize);
        for d in 0..rank - 1 {
            at = at * shape[d] + origin[d] + idx[d];
            in_block = in_block * block[d] + idx[d];
        }
        f(
            at * shape[rank - 1] + origin[rank - 1],
            in_block * block[rank - 1],
            extent[rank - 1],
        );
        for d in (0..rank - 1).rev() {
            idx[d] += 1;
            if idx[d] < extent[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

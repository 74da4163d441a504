//! Parallel decoding of a netCDF-4 variable straight from its HDF5 chunks.
//!
//! The HDF5 library decodes chunks one at a time under its global lock, which makes
//! inflating the products' deflate (+ shuffle) chunks the serial part of an SLSTR ingest.
//! Here the library is asked only where each chunk lies (`H5Dchunk_iter`); the chunk bytes are
//! then read from a memory map of the file and inflated (libdeflate), unshuffled and placed on
//! all cores. The result is the same bytes the library returns (checked against it in the
//! tests of [`super::product`] and `tests/cloudmask.rs`).
//!
//! Only the layouts this decoder fully understands are taken: chunked, little-endian, every
//! chunk allocated and written with every filter, and a filter pipeline made of `shuffle` and
//! `deflate` (either, both in HDF5's usual order, or none). Anything else returns `None`, and
//! the caller reads through the library as before.

use std::cell::RefCell;
use std::mem::MaybeUninit;
use std::path::Path;

use anyhow::{Context, Result, bail};
use hdf5_metno as hdf5;
use rayon::prelude::*;

use super::layout::Values;

/// Where one chunk lies in the file.
struct ChunkRef {
    /// The position of its first element, per dimension.
    origin: Vec<usize>,
    addr: usize,
    size: usize,
}

/// The decoding steps of a filter pipeline, in decoding order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pipeline {
    inflate: bool,
    unshuffle: bool,
}

fn pipeline_of(filters: &[hdf5::filters::Filter]) -> Option<Pipeline> {
    use hdf5::filters::Filter;
    match filters {
        [] => Some(Pipeline {
            inflate: false,
            unshuffle: false,
        }),
        [Filter::Deflate(_)] => Some(Pipeline {
            inflate: true,
            unshuffle: false,
        }),
        [Filter::Shuffle] => Some(Pipeline {
            inflate: false,
            unshuffle: true,
        }),
        // Encoded by shuffling, then deflating: decoded the other way round.
        [Filter::Shuffle, Filter::Deflate(_)] => Some(Pipeline {
            inflate: true,
            unshuffle: true,
        }),
        _ => None,
    }
}

/// How a variable is chunked and encoded.
struct Layout {
    chunk: Vec<usize>,
    pipeline: Pipeline,
    chunks: Vec<ChunkRef>,
}

/// The chunk layout of `variable` in `file`, or `None` when this decoder does not handle it.
fn layout(path: &Path, variable: &str, shape: &[usize], elem: usize) -> Result<Option<Layout>> {
    let file = hdf5::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let Ok(ds) = file.dataset(variable) else {
        return Ok(None);
    };
    let Some(chunk) = ds.chunk() else {
        return Ok(None);
    };
    let dtype = ds.dtype()?;
    if dtype.size() != elem
        || (elem > 1 && dtype.byte_order() != hdf5::datatype::ByteOrder::LittleEndian)
        || ds.shape() != shape
        || chunk.len() != shape.len()
        || chunk.contains(&0)
    {
        return Ok(None);
    }
    let Some(pipeline) = pipeline_of(&ds.filters()) else {
        return Ok(None);
    };
    let expected: usize = crate::shards::block_grid(shape, &chunk).iter().product();
    let mut chunks = Vec::with_capacity(expected);
    let mut skipped_filters = false;
    ds.chunks_visit(|c| {
        if c.filter_mask != 0 {
            skipped_filters = true;
        }
        chunks.push(ChunkRef {
            origin: c.offset.iter().map(|o| *o as usize).collect(),
            addr: c.addr as usize,
            size: c.size as usize,
        });
        0
    })?;
    if skipped_filters || chunks.len() != expected {
        return Ok(None);
    }
    Ok(Some(Layout {
        chunk,
        pipeline,
        chunks,
    }))
}

/// Undoes HDF5's byte shuffle of `elem`-byte elements: byte `b` of element `i` was stored
/// at `b * n + i`. A tail that is not a whole element is stored as is. Every byte of `dst`
/// (as long as `src`) is written.
fn unshuffle(src: &[u8], elem: usize, dst: &mut [MaybeUninit<u8>]) {
    let n = src.len() / elem;
    let body = &mut dst[..n * elem];
    match elem {
        // Whole values built from their byte planes and stored unaligned: loops the compiler
        // vectorises, for the products' 2- and 4-byte types.
        2 => {
            let (p0, p1) = src.split_at(n);
            let out = body.as_mut_ptr().cast::<u16>();
            for (i, (a, b)) in p0.iter().zip(&p1[..n]).enumerate() {
                // SAFETY: `body` holds `n` 2-byte values; the write is unaligned.
                unsafe { out.add(i).write_unaligned(u16::from_le_bytes([*a, *b])) };
            }
        }
        4 => {
            let (p0, rest) = src.split_at(n);
            let (p1, rest) = rest.split_at(n);
            let (p2, p3) = rest.split_at(n);
            let out = body.as_mut_ptr().cast::<u32>();
            for (i, (((a, b), c), d)) in p0.iter().zip(p1).zip(p2).zip(&p3[..n]).enumerate() {
                // SAFETY: `body` holds `n` 4-byte values; the write is unaligned.
                unsafe {
                    out.add(i)
                        .write_unaligned(u32::from_le_bytes([*a, *b, *c, *d]))
                };
            }
        }
        _ => {
            for b in 0..elem {
                let plane = &src[b * n..(b + 1) * n];
                for (i, v) in plane.iter().enumerate() {
                    body[i * elem + b].write(*v);
                }
            }
        }
    }
    let tail = n * elem;
    for (d, v) in dst[tail..src.len()].iter_mut().zip(&src[tail..]) {
        d.write(*v);
    }
}

/// `src` unshuffled into a new buffer.
fn unshuffled(src: &[u8], elem: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(src.len());
    unshuffle(src, elem, &mut out.spare_capacity_mut()[..src.len()]);
    // SAFETY: `unshuffle` wrote every one of the first `src.len()` bytes.
    unsafe { out.set_len(src.len()) };
    out
}

thread_local! {
    /// Per thread: a libdeflate decompressor and the buffer a shuffled chunk is inflated
    /// into, reused from chunk to chunk (no allocation, no page faults per chunk).
    static INFLATE: RefCell<(Option<libdeflater::Decompressor>, Vec<u8>)> =
        const { RefCell::new((None, Vec::new())) };
}

/// Inflates the zlib stream `raw` (its Adler-32 checked) into `out`, which it must fill
/// exactly.
fn inflate(z: &mut Option<libdeflater::Decompressor>, raw: &[u8], out: &mut [u8]) -> Result<()> {
    let z = z.get_or_insert_with(libdeflater::Decompressor::new);
    let n = z
        .zlib_decompress(raw, out)
        .map_err(|e| anyhow::anyhow!("corrupt deflate stream of {} bytes: {e}", raw.len()))?;
    if n != out.len() {
        bail!(
            "deflate stream of {} bytes decodes to {n} bytes, expected {}",
            raw.len(),
            out.len()
        );
    }
    Ok(())
}

/// Decodes one chunk into `chunk_bytes` bytes.
fn decode(raw: &[u8], pipeline: Pipeline, elem: usize, chunk_bytes: usize) -> Result<Vec<u8>> {
    let unshuffle = pipeline.unshuffle && elem > 1;
    if !pipeline.inflate {
        if raw.len() != chunk_bytes {
            bail!("chunk of {} bytes, expected {chunk_bytes}", raw.len());
        }
        return Ok(if unshuffle {
            unshuffled(raw, elem)
        } else {
            raw.to_vec()
        });
    }
    INFLATE.with(|cell| {
        let (z, scratch) = &mut *cell.borrow_mut();
        if unshuffle {
            scratch.resize(chunk_bytes, 0);
            inflate(z, raw, scratch)?;
            Ok(unshuffled(scratch, elem))
        } else {
            let mut out = vec![0u8; chunk_bytes];
            inflate(z, raw, &mut out)?;
            Ok(out)
        }
    })
}

/// Reads `variable` (of `shape`, `elem`-byte elements) from the netCDF-4 file at `path`, whose
/// bytes are `map`, by decoding its chunks in parallel, as [`Values::Tiled`] (the file's
/// chunks, in C order). `Ok(None)`: a layout this decoder leaves to the library.
pub fn read(
    path: &Path,
    map: &[u8],
    variable: &str,
    shape: &[usize],
    elem: usize,
) -> Result<Option<Values>> {
    if shape.is_empty() || shape.contains(&0) {
        return Ok(None);
    }
    // The library's part, under its lock: where the chunks are.
    let Some(Layout {
        chunk,
        pipeline,
        chunks,
    }) = layout(path, variable, shape, elem)?
    else {
        return Ok(None);
    };
    let chunk_bytes = chunk.iter().product::<usize>() * elem;
    let grid = crate::shards::block_grid(shape, &chunk);
    // Each chunk's place in C order over the chunk grid, from its origin; every place
    // exactly once.
    let mut place = Vec::with_capacity(chunks.len());
    let mut seen = vec![false; chunks.len()];
    for c in &chunks {
        let k = (c.origin.len() == shape.len())
            .then(|| {
                c.origin
                    .iter()
                    .zip(&chunk)
                    .zip(&grid)
                    .try_fold(0usize, |k, ((o, c), g)| {
                        (o % c == 0 && o / c < *g).then_some(k * g + o / c)
                    })
            })
            .flatten()
            .filter(|k| !std::mem::replace(&mut seen[*k], true));
        let Some(k) = k else {
            bail!(
                "variable {variable} of {}: a chunk at {:?} lies outside the variable's chunk grid or repeats another",
                path.display(),
                c.origin
            );
        };
        place.push(k);
    }
    let decoded: Vec<Vec<u8>> = chunks
        .par_iter()
        .map(|c| {
            let raw = map
                .get(c.addr..c.addr.saturating_add(c.size))
                .with_context(|| {
                    format!(
                        "chunk at byte {} ({} bytes) lies beyond the end of the file: truncated",
                        c.addr, c.size
                    )
                })?;
            decode(raw, pipeline, elem, chunk_bytes)
                .with_context(|| format!("chunk at {:?}", c.origin))
        })
        .collect::<Result<_>>()
        .with_context(|| format!("variable {variable} of {}", path.display()))?;
    let mut tiles = vec![Vec::new(); decoded.len()];
    for (k, bytes) in place.into_iter().zip(decoded) {
        tiles[k] = bytes;
    }
    Ok(Some(Values::Tiled {
        chunk: chunk.iter().map(|c| *c as u64).collect(),
        tiles,
    }))
}

/// The row-major values of a variable of `shape` held as `tiles` of shape `chunk` (see
/// [`Values::Tiled`]); edge tiles' padding is left out.
pub fn untile(shape: &[u64], chunk: &[u64], elem: usize, tiles: &[Vec<u8>]) -> Vec<u8> {
    let rank = shape.len();
    let shape: Vec<usize> = shape.iter().map(|n| *n as usize).collect();
    let chunk: Vec<usize> = chunk.iter().map(|n| *n as usize).collect();
    if rank == 0 || chunk.len() != rank || chunk.contains(&0) {
        return Vec::new();
    }
    let grid = crate::shards::block_grid(&shape, &chunk);
    let mut out = vec![0u8; shape.iter().product::<usize>() * elem];
    for (k, tile) in tiles.iter().enumerate() {
        let origin = crate::shards::block_origin(k, &grid, &chunk);
        // Edge tiles' padding is left out.
        let extent: Vec<usize> = (0..rank)
            .map(|d| chunk[d].min(shape[d].saturating_sub(origin[d])))
            .collect();
        crate::shards::for_each_run(&shape, &origin, &extent, &chunk, |at, from, len| {
            if let (Some(to), Some(from)) = (
                out.get_mut(at * elem..(at + len) * elem),
                tile.get(from * elem..(from + len) * elem),
            ) {
                to.copy_from_slice(from);
            }
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`read`] of the whole file at `path`.
    fn read_at(
        path: &Path,
        variable: &str,
        shape: &[usize],
        elem: usize,
    ) -> Result<Option<Values>> {
        let bytes = std::fs::read(path).expect("read the file");
        read(path, &bytes, variable, shape, elem)
    }

    #[test]
    fn unshuffle_inverts_the_byte_shuffle() {
        for elem in [1, 2, 3, 4, 8] {
            for len in [0usize, 1, 22, 67] {
                let values: Vec<u8> = (0..len).map(|i| (i * 31 % 256) as u8).collect();
                let n = values.len() / elem;
                let mut shuffled = vec![0u8; values.len()];
                for i in 0..n {
                    for b in 0..elem {
                        shuffled[b * n + i] = values[i * elem + b];
                    }
                }
                shuffled[n * elem..].copy_from_slice(&values[n * elem..]);
                assert_eq!(
                    unshuffled(&shuffled, elem),
                    values,
                    "elem {elem}, {len} bytes"
                );
            }
        }
    }

    /// Writes `values` as dataset `name` of shape (7, 10) in chunks of (3, 4) (partial edge
    /// chunks in both dimensions) with the given filters, and returns the library's reading.
    fn write<T: hdf5::H5Type + Copy>(
        file: &hdf5::File,
        name: &str,
        values: &[T],
        filters: &str,
    ) -> Vec<T> {
        let mut b = file.new_dataset::<T>().shape((7, 10)).chunk((3, 4));
        if filters.contains('s') {
            b = b.shuffle();
        }
        if filters.contains('d') {
            b = b.deflate(4);
        }
        if filters.contains('f') {
            b = b.fletcher32();
        }
        let ds = b.create(name).expect("create");
        ds.write_raw(values).expect("write");
        ds.read_raw::<T>().expect("read")
    }

    fn le_bytes<T: Copy>(v: &[T]) -> Vec<u8> {
        // The test platform is little-endian, as the decoder's output is.
        let n = std::mem::size_of_val(v);
        unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), n) }.to_vec()
    }

    #[test]
    fn chunks_decode_to_the_library_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.nc");
        let i16s: Vec<i16> = (0..70)
            .map(|i| (i * 977 % 65_000 - 32_000) as i16)
            .collect();
        let f64s: Vec<f64> = (0..70).map(|i| f64::from(i) * -1.25e-3).collect();
        let u8s: Vec<u8> = (0..70).map(|i| (i * 37 % 251) as u8).collect();
        let mut expected = Vec::new();
        {
            let file = hdf5::File::create(&path).expect("create");
            for (name, filters) in [("sd", "sd"), ("d", "d"), ("s", "s"), ("none", "")] {
                let v = write(&file, &format!("i16_{name}"), &i16s, filters);
                expected.push((format!("i16_{name}"), 2, le_bytes(&v)));
                let v = write(&file, &format!("f64_{name}"), &f64s, filters);
                expected.push((format!("f64_{name}"), 8, le_bytes(&v)));
            }
            let v = write(&file, "u8_sd", &u8s, "sd");
            expected.push(("u8_sd".into(), 1, le_bytes(&v)));
            write(&file, "i16_fletcher", &i16s, "sdf");
            // Never written: its chunks are unallocated (the fill value).
            file.new_dataset::<i16>()
                .shape((7, 10))
                .chunk((3, 4))
                .deflate(1)
                .create("i16_sparse")
                .expect("create");
        }
        for (name, elem, bytes) in &expected {
            let Some(Values::Tiled { chunk, tiles }) =
                read_at(&path, name, &[7, 10], *elem).expect("read")
            else {
                panic!("{name}: not taken");
            };
            assert_eq!(chunk, [3, 4], "{name}");
            assert_eq!(tiles.len(), 9, "{name}: 3 x 3 chunks");
            assert_eq!(&untile(&[7, 10], &chunk, *elem, &tiles), bytes, "{name}");
        }
        // Left to the library: other filters, unallocated chunks, a wrong element size.
        assert!(
            read_at(&path, "i16_fletcher", &[7, 10], 2)
                .expect("read")
                .is_none()
        );
        assert!(
            read_at(&path, "i16_sparse", &[7, 10], 2)
                .expect("read")
                .is_none()
        );
        assert!(
            read_at(&path, "i16_sd", &[7, 10], 4)
                .expect("read")
                .is_none()
        );
    }

    #[test]
    fn a_damaged_chunk_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.nc");
        let values: Vec<i32> = (0..70).map(|i| i * 1_000_003).collect();
        {
            let file = hdf5::File::create(&path).expect("create");
            write(&file, "v", &values, "sd");
        }
        let chunks = layout(&path, "v", &[7, 10], 4)
            .expect("layout")
            .expect("taken")
            .chunks;
        let mut bytes = std::fs::read(&path).expect("read");
        let c = &chunks[1];
        bytes[c.addr + c.size / 2] ^= 0x55;
        std::fs::write(&path, &bytes).expect("write");
        let err = read_at(&path, "v", &[7, 10], 4).expect_err("damaged");
        assert!(format!("{err:#}").contains("variable v"), "{err:#}");
    }

    #[test]
    fn only_known_pipelines_are_taken() {
        use hdf5::filters::Filter;
        assert!(pipeline_of(&[Filter::Shuffle, Filter::Deflate(4)]).is_some());
        assert!(pipeline_of(&[Filter::Deflate(1), Filter::Shuffle]).is_none());
        assert!(pipeline_of(&[Filter::Fletcher32, Filter::Deflate(1)]).is_none());
    }
}

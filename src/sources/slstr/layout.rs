//! The Zarr layout of a CloudMask version and the packing-consistency check.
//!
//! One array per variable (channel, flag, geolocation) across scenes: shape
//! `[scene, rows, columns]`, one shard per scene (so one scene of one channel is one
//! object, the unit of partial download), inner chunks of a quarter of the swath per axis,
//! zstd at a pinned level with checksummed frames. The packed integers are stored as the
//! product stores them and the variable's CF attributes are copied onto the array, so an
//! array's attributes decode every value it holds only if every product of the version
//! packs that variable the same way: [`check_same`] refuses a version where they differ.

use std::sync::Arc;

use anyhow::{Result, bail};
use serde_json::{Map, Value, json};
use zarrs::array::codec::ZstdCodec;
use zarrs::array::codec::array_to_bytes::sharding::{ShardingCodecOptions, SubchunkWriteOrder};
use zarrs::array::{Array, ArrayBuilder, CodecSpecificOptions, DataType, data_type};

use crate::staging::StagingZarrStore;

/// The pinned zstd level of every array.
pub const ZSTD_LEVEL: i32 = 3;
/// Inner chunks per shard along each spatial axis.
pub const INNER_SPLIT: u64 = 4;

/// The attributes that decide how stored values decode (CF packing, fill and flags).
pub const PACKING_ATTRIBUTES: [&str; 9] = [
    "scale_factor",
    "add_offset",
    "_FillValue",
    "missing_value",
    "valid_min",
    "valid_max",
    "units",
    "flag_masks",
    "flag_meanings",
];

/// A stored element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    U64,
    I64,
    F32,
    F64,
}

impl Dtype {
    pub fn size(self) -> usize {
        match self {
            Dtype::U8 | Dtype::I8 => 1,
            Dtype::U16 | Dtype::I16 => 2,
            Dtype::U32 | Dtype::I32 | Dtype::F32 => 4,
            Dtype::U64 | Dtype::I64 | Dtype::F64 => 8,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Dtype::U8 => "uint8",
            Dtype::I8 => "int8",
            Dtype::U16 => "uint16",
            Dtype::I16 => "int16",
            Dtype::U32 => "uint32",
            Dtype::I32 => "int32",
            Dtype::U64 => "uint64",
            Dtype::I64 => "int64",
            Dtype::F32 => "float32",
            Dtype::F64 => "float64",
        }
    }

    fn zarr(self) -> DataType {
        match self {
            Dtype::U8 => data_type::uint8(),
            Dtype::I8 => data_type::int8(),
            Dtype::U16 => data_type::uint16(),
            Dtype::I16 => data_type::int16(),
            Dtype::U32 => data_type::uint32(),
            Dtype::I32 => data_type::int32(),
            Dtype::U64 => data_type::uint64(),
            Dtype::I64 => data_type::int64(),
            Dtype::F32 => data_type::float32(),
            Dtype::F64 => data_type::float64(),
        }
    }
}

/// One variable of one scene, read from its file.
#[derive(Debug, Clone)]
pub struct Var {
    /// Array name in the Zarr group.
    pub name: String,
    /// Dimension names (without the scene dimension).
    pub dims: Vec<String>,
    pub shape: Vec<u64>,
    pub dtype: Dtype,
    /// Attributes as JSON (numbers, strings, arrays), in file order.
    pub attrs: Map<String, Value>,
    /// The netCDF/HDF5 type of each numeric attribute (`float32`, `int16`, ...).
    pub attr_types: Map<String, Value>,
    /// The values, native (little-endian) byte order.
    pub values: Values,
}

/// The values of a variable, native (little-endian) byte order.
#[derive(Debug, Clone)]
pub enum Values {
    /// Row-major over the whole variable.
    Whole(Vec<u8>),
    /// As the file stores them: one row-major buffer per chunk of shape `chunk`, in C order
    /// over the chunk grid; an edge chunk keeps the file's padding past the variable's end.
    /// When `chunk` is also the array's inner chunk, the encoder compresses these buffers
    /// as they are (no copy of the whole variable; see [`encode_scene`]).
    Tiled {
        chunk: Vec<u64>,
        tiles: Vec<Vec<u8>>,
    },
}

impl Var {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product::<u64>() as usize
    }

    /// The values, row-major over the whole variable (assembled from the chunks when they
    /// are held as the file's chunks).
    pub fn bytes(&self) -> std::borrow::Cow<'_, [u8]> {
        match &self.values {
            Values::Whole(b) => std::borrow::Cow::Borrowed(b),
            Values::Tiled { chunk, tiles } => std::borrow::Cow::Owned(super::chunks::untile(
                &self.shape,
                chunk,
                self.dtype.size(),
                tiles,
            )),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The packing attributes of `attrs` (see [`PACKING_ATTRIBUTES`]).
pub fn packing(attrs: &Map<String, Value>) -> Map<String, Value> {
    PACKING_ATTRIBUTES
        .iter()
        .filter_map(|k| attrs.get(*k).map(|v| ((*k).to_string(), v.clone())))
        .collect()
}

/// What every product of a version must share for one array.
#[derive(Debug, Clone)]
pub struct ArrayPlan {
    pub name: String,
    pub dims: Vec<String>,
    pub shape: Vec<u64>,
    pub dtype: Dtype,
    pub attrs: Map<String, Value>,
    pub attr_types: Map<String, Value>,
    /// The product the plan was taken from (named in errors).
    pub first_product: String,
}

impl ArrayPlan {
    pub fn of(var: &Var, product: &str) -> ArrayPlan {
        ArrayPlan {
            name: var.name.clone(),
            dims: var.dims.clone(),
            shape: var.shape.clone(),
            dtype: var.dtype,
            attrs: var.attrs.clone(),
            attr_types: var.attr_types.clone(),
            first_product: product.to_string(),
        }
    }
}

/// Refuses `var` of `product` unless it has the plan's type, shape and packing.
pub fn check_same(plan: &ArrayPlan, var: &Var, product: &str) -> Result<()> {
    let first = &plan.first_product;
    let name = &var.name;
    if var.dtype != plan.dtype {
        bail!(
            "product {product}, variable {name}: stored as {} but as {} in product {first}; one array per variable needs one type in all products of a version",
            var.dtype.name(),
            plan.dtype.name()
        );
    }
    if var.shape != plan.shape {
        bail!(
            "product {product}, variable {name}: shape {:?} differs from {:?} in product {first}",
            var.shape,
            plan.shape
        );
    }
    let (a, b) = (packing(&plan.attrs), packing(&var.attrs));
    for k in PACKING_ATTRIBUTES {
        if a.get(k) != b.get(k) {
            bail!(
                "product {product}, variable {name}: packing attribute {k} = {} differs from {} in product {first}; the array's CF attributes could not decode both, so ingest such products into separate versions",
                b.get(k).map_or("(absent)".to_string(), |v| v.to_string()),
                a.get(k).map_or("(absent)".to_string(), |v| v.to_string()),
            );
        }
    }
    Ok(())
}

fn fill_builder(plan: &ArrayPlan, shape: Vec<u64>, chunk: Vec<u64>) -> Result<ArrayBuilder> {
    let fv = plan.attrs.get("_FillValue");
    let as_i = || fv.and_then(Value::as_i64).unwrap_or(0);
    let as_u = || fv.and_then(Value::as_u64).unwrap_or(0);
    let as_f = || fv.and_then(Value::as_f64).unwrap_or(0.0);
    let dt = plan.dtype.zarr();
    let b = match plan.dtype {
        Dtype::U8 => ArrayBuilder::new(shape, chunk, dt, as_u() as u8),
        Dtype::I8 => ArrayBuilder::new(shape, chunk, dt, as_i() as i8),
        Dtype::U16 => ArrayBuilder::new(shape, chunk, dt, as_u() as u16),
        Dtype::I16 => ArrayBuilder::new(shape, chunk, dt, as_i() as i16),
        Dtype::U32 => ArrayBuilder::new(shape, chunk, dt, as_u() as u32),
        Dtype::I32 => ArrayBuilder::new(shape, chunk, dt, as_i() as i32),
        Dtype::U64 => ArrayBuilder::new(shape, chunk, dt, as_u()),
        Dtype::I64 => ArrayBuilder::new(shape, chunk, dt, as_i()),
        Dtype::F32 => ArrayBuilder::new(shape, chunk, dt, as_f() as f32),
        Dtype::F64 => ArrayBuilder::new(shape, chunk, dt, as_f()),
    };
    Ok(b)
}

/// Inner chunk shape of a shard of `shape`: a quarter of each spatial axis (or a third, a
/// half, the whole, whichever first divides it evenly, as sharding requires); 1-D and
/// small arrays whole.
pub fn inner_chunk(shape: &[u64]) -> Vec<u64> {
    shape
        .iter()
        .enumerate()
        .map(|(i, n)| {
            if shape.len() >= 2 && i < 2 && *n >= 64 {
                (1..=INNER_SPLIT)
                    .rev()
                    .find(|k| n % k == 0)
                    .map_or(*n, |k| n / k)
            } else {
                (*n).max(1)
            }
        })
        .collect()
}

/// Creates the array `/<name>` of `scenes` scenes (metadata written by [`finish`]).
pub fn create(
    store: &Arc<StagingZarrStore>,
    plan: &ArrayPlan,
    scenes: u64,
    extra: Map<String, Value>,
) -> Result<Array<StagingZarrStore>> {
    let mut shape = vec![scenes];
    shape.extend(&plan.shape);
    let mut shard = vec![1];
    shard.extend(&plan.shape);
    let mut inner = vec![1];
    inner.extend(inner_chunk(&plan.shape));
    let mut dims: Vec<String> = vec!["scene".into()];
    dims.extend(plan.dims.iter().cloned());
    let mut attrs = plan.attrs.clone();
    attrs.insert(
        "attribute_types".into(),
        Value::Object(plan.attr_types.clone()),
    );
    attrs.extend(extra);
    let mut b = fill_builder(plan, shape, shard)?;
    // Inner chunks are encoded in parallel; C order keeps their place in the shard (and so
    // the shard's bytes) independent of which thread finishes first.
    b.subchunk_shape(inner)
        .codec_specific_options(CodecSpecificOptions::default().with_option(
            ShardingCodecOptions::default().with_subchunk_write_order(SubchunkWriteOrder::C),
        ))
        .bytes_to_bytes_codecs(vec![Arc::new(ZstdCodec::new(ZSTD_LEVEL, true))])
        .dimension_names(Some(dims))
        .attributes(attrs);
    Ok(b.build(store.clone(), &format!("/{}", plan.name))?)
}

/// One scene of one variable, its inner chunks encoded, ready to be assembled into the
/// shard object and written (on the writer's task, off the encoder's path).
pub struct EncodedShard {
    idx: Vec<u64>,
    subchunks: Vec<crate::shards::Subchunk>,
    what: String,
}

/// Encodes scene `scene` of `var` as one shard of `array`: `None` when every value is the
/// fill value (zarrs stores no object for such a shard either).
pub fn encode_scene(
    array: &Array<StagingZarrStore>,
    scene: u64,
    var: &Var,
    product: &str,
) -> Result<Option<EncodedShard>> {
    let mut idx = vec![scene];
    idx.extend(std::iter::repeat_n(0, var.shape.len()));
    let name = var.name.clone();
    let elem = var.dtype.size();
    let inner_of_var = inner_chunk(&var.shape);
    let fill = array.fill_value().as_ne_bytes();
    let failed = |e: anyhow::Error| anyhow::anyhow!("product {product}, variable {name}: {e:#}");
    let shard = match &var.values {
        // The file's chunks are the inner chunks: compressed as they are.
        Values::Tiled { chunk, tiles } if *chunk == inner_of_var => {
            let count: u64 = var.shape.iter().zip(chunk).map(|(n, c)| n / c).product();
            anyhow::ensure!(
                tiles.len() as u64 == count
                    && tiles
                        .iter()
                        .all(|t| t.len() as u64 == chunk.iter().product::<u64>() * elem as u64),
                "product {product}, variable {name}: read {} chunks, expected {count} of {chunk:?}",
                tiles.len()
            );
            crate::shards::encode_chunks(tiles, elem, fill, ZSTD_LEVEL).map_err(failed)?
        }
        _ => {
            let bytes = var.bytes();
            anyhow::ensure!(
                bytes.len() == var.len() * elem,
                "product {product}, variable {name}: read {} bytes, expected {}",
                bytes.len(),
                var.len() * elem
            );
            let mut shape = vec![1];
            shape.extend(&var.shape);
            let mut inner = vec![1];
            inner.extend(inner_of_var);
            crate::shards::encode_c_order(&bytes, elem, &shape, &inner, fill, ZSTD_LEVEL)
                .map_err(failed)?
        }
    };
    if shard.iter().all(Option::is_none) {
        return Ok(None);
    }
    Ok(Some(EncodedShard {
        idx,
        subchunks: shard,
        what: format!("product {product}, variable {name}"),
    }))
}

impl EncodedShard {
    /// Writes the shard (hashed into the version's manifest by the store).
    pub async fn write(self, array: &Array<StagingZarrStore>) -> Result<()> {
        let what = &self.what;
        let Some(parts) = crate::shards::assemble(self.subchunks)
            .map_err(|e| anyhow::anyhow!("{what}: cannot assemble the shard: {e:#}"))?
        else {
            return Ok(());
        };
        crate::shards::store(array, &self.idx, parts)
            .await
            .map_err(|e| anyhow::anyhow!("{what}: cannot write the shard: {e:#}"))
    }
}

/// The JSON summary of an array for provenance.
pub fn describe(plan: &ArrayPlan, scenes: u64) -> Value {
    let mut shape = vec![scenes];
    shape.extend(&plan.shape);
    let mut inner = vec![1];
    inner.extend(inner_chunk(&plan.shape));
    let mut shard = vec![1];
    shard.extend(&plan.shape);
    json!({
        "array": plan.name,
        "dtype": plan.dtype.name(),
        "shape": shape,
        "shard": shard,
        "inner_chunk": inner,
        "packing": packing(&plan.attrs),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use zarrs::array::ArrayBytes;

    fn var(name: &str, dtype: Dtype, shape: Vec<u64>, fill: Value, bytes: Vec<u8>) -> Var {
        let mut attrs = Map::new();
        attrs.insert("_FillValue".into(), fill);
        Var {
            name: name.into(),
            dims: (0..shape.len()).map(|d| format!("d{d}")).collect(),
            shape,
            dtype,
            attrs,
            attr_types: Map::new(),
            values: Values::Whole(bytes),
        }
    }

    /// `v` (2-D, whole) renamed `name` and held as chunks of `chunk`, in C order, edge chunks
    /// padded with a byte no value has (as a file's chunks are).
    fn tiled(v: &Var, name: &str, chunk: [u64; 2]) -> Var {
        let whole = v.bytes();
        let elem = v.dtype.size();
        let (rows, cols) = (v.shape[0] as usize, v.shape[1] as usize);
        let (cr, cc) = (chunk[0] as usize, chunk[1] as usize);
        let mut tiles = Vec::new();
        for r0 in (0..rows).step_by(cr) {
            for c0 in (0..cols).step_by(cc) {
                let mut t = vec![0xA5u8; cr * cc * elem];
                for r in r0..(r0 + cr).min(rows) {
                    let w = (c0 + cc).min(cols) - c0;
                    let src = (r * cols + c0) * elem;
                    let dst = (r - r0) * cc * elem;
                    t[dst..dst + w * elem].copy_from_slice(&whole[src..src + w * elem]);
                }
                tiles.push(t);
            }
        }
        let mut out = v.clone();
        out.name = name.into();
        out.values = Values::Tiled {
            chunk: chunk.to_vec(),
            tiles,
        };
        out
    }

    /// The object of scene `scene` of array `name` in store `store`.
    fn shard(dir: &std::path::Path, store: &str, name: &str, idx: &[u64]) -> Option<Vec<u8>> {
        let key: Vec<String> = idx.iter().map(u64::to_string).collect();
        std::fs::read(dir.join(format!("s/{store}/{name}/c/{}", key.join("/")))).ok()
    }

    #[tokio::test]
    async fn scene_shards_equal_zarrs_encoding() {
        let dir = tempfile::tempdir().expect("tempdir");
        let staging = crate::staging::Staging::create(dir.path().join("s")).expect("staging");
        // int16 128 x 192 (inner chunks 32 x 48) with an all-fill inner chunk; uint8 with
        // fill 0; a 1-D float32 array (one whole inner chunk); an all-fill scene (no object).
        let mut i16s: Vec<i16> = (0..128 * 192)
            .map(|i| ((i * 7919) % 4001) as i16 - 2000)
            .collect();
        for r in 32..64 {
            i16s[r * 192 + 48..r * 192 + 96].fill(-32768);
        }
        let u8s: Vec<u8> = (0..64 * 80).map(|i| ((i / 3) % 5) as u8).collect();
        let f32s: Vec<f32> = (0..10).map(|i| i as f32 * 0.25).collect();
        let cases = vec![
            var(
                "a",
                Dtype::I16,
                vec![128, 192],
                json!(-32768),
                bytemuck::cast_slice(&i16s).to_vec(),
            ),
            var("b", Dtype::U8, vec![64, 80], json!(0), u8s),
            var(
                "c",
                Dtype::F32,
                vec![10],
                json!(-1.5),
                bytemuck::cast_slice(&f32s).to_vec(),
            ),
            var(
                "d",
                Dtype::I16,
                vec![64, 64],
                json!(-32768),
                bytemuck::cast_slice(&vec![-32768i16; 64 * 64]).to_vec(),
            ),
        ];
        // The same values held as a file's chunks: chunks equal to the inner chunks (taken
        // as they are) and chunks that are not (padded at the edges; assembled first).
        let mut cases = cases;
        cases.push(tiled(&cases[0], "a_tiled", [32, 48]));
        cases.push(tiled(&cases[0], "a_tiled_other", [50, 40]));
        cases.push(tiled(&cases[1], "b_tiled", [16, 20]));
        cases.push(tiled(&cases[3], "d_tiled", [16, 16]));
        for v in cases {
            let plan = ArrayPlan::of(&v, "p");
            let zarrs_store = staging.zarr_store("zarrs");
            let ours_store = staging.zarr_store("ours");
            let a = create(&zarrs_store, &plan, 2, Map::new()).expect("array");
            let b = create(&ours_store, &plan, 2, Map::new()).expect("array");
            let mut idx = vec![1u64];
            idx.extend(std::iter::repeat_n(0, v.shape.len()));
            a.async_store_chunk(&idx, ArrayBytes::new_flen(v.bytes().into_owned()))
                .await
                .expect("zarrs store");
            let name = v.name.clone();
            if let Some(shard) = encode_scene(&b, 1, &v, "p").expect("encode") {
                shard.write(&b).await.expect("write");
            }
            let (x, y) = (
                shard(dir.path(), "zarrs", &name, &idx),
                shard(dir.path(), "ours", &name, &idx),
            );
            assert_eq!(
                x.is_some(),
                !name.starts_with('d'),
                "{name}: zarrs stores no all-fill shard"
            );
            assert_eq!(x, y, "{name}: shard differs from zarrs' encoding");
        }
    }
}

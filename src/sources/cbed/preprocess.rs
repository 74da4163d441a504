//! The reference preprocessing of one CBED pattern (ORNL `preprocess/hdf5_helper.py`,
//! sources.md 2.3): `clip((max(log(x), -17) + 17) * 10, 0, 255)` in float32, then
//! `cv2.resize(.., (128, 128), interpolation=INTER_AREA)`.
//!
//! For an integer reduction factor `f` OpenCV's INTER_AREA is an exact `f x f` block mean
//! (`resizeAreaFast`): per output pixel it sums the block row by row, each row as
//! `((a + b) + c) + d` (its loop unrolled by 4), accumulating in float32, and multiplies by
//! `1 / f^2`. [`area_resize`] sums in that order, so the result is bit-equal to OpenCV.
//!
//! The logarithm is computed in float64 and rounded to float32 (correctly rounded), so the
//! output does not depend on the CPU or the C library; numpy's SIMD float32 `np.log` is
//! within one unit in the last place of it (see docs/sources/cbed.md).

use anyhow::{Result, bail};

/// `param1` of `hdf5_helper.log`: the floor of the natural logarithm.
pub const LOG_FLOOR: f32 = -17.0;
/// `param2`: the factor after shifting by the floor.
pub const LOG_SCALE: f32 = 10.0;
/// The clip range of the scaled image.
pub const CLIP: (f32, f32) = (0.0, 255.0);
/// The side of the benchmark's input image.
pub const OUT_SIDE: usize = 128;

/// The log scaling of one intensity, with numpy's semantics (`log(0) = -inf` goes to the
/// floor, a negative or NaN intensity stays NaN through `np.maximum` and `np.clip`).
#[inline]
pub fn log_scale(x: f32) -> f32 {
    // Below e^-17 the result is the floor's 0, above e^8.5 the clip's 255, whatever the
    // logarithm's rounding: those intensities (most of a pattern's background) skip it.
    if (0.0..BELOW_FLOOR).contains(&x) {
        return CLIP.0;
    }
    if x > ABOVE_CLIP {
        return CLIP.1;
    }
    log_scale_exact(x)
}

/// Just below e^-17 = 4.13993772e-8: every non-negative intensity under it maps to 0.
const BELOW_FLOOR: f32 = 4.1399e-8;
/// Just above e^8.5 = 4914.76884: every intensity over it maps to 255.
const ABOVE_CLIP: f32 = 4914.8;

/// [`log_scale`] without its shortcuts.
#[inline]
fn log_scale_exact(x: f32) -> f32 {
    let l = f64::from(x).ln() as f32;
    if l.is_nan() {
        return f32::NAN;
    }
    let m = if l < LOG_FLOOR { LOG_FLOOR } else { l };
    let s = (m - LOG_FLOOR) * LOG_SCALE;
    if s < CLIP.0 {
        CLIP.0
    } else if s > CLIP.1 {
        CLIP.1
    } else {
        s
    }
}

/// INTER_AREA reduction of a row-major `side x side` image by the integer factor
/// `side / out` into `dst` (`out x out`), summing in OpenCV's order.
pub fn area_resize(src: &[f32], side: usize, out: usize, dst: &mut [f32]) -> Result<()> {
    if out == 0 || !side.is_multiple_of(out) {
        bail!("cannot reduce {side} x {side} to {out} x {out} by an integer factor");
    }
    if src.len() != side * side || dst.len() != out * out {
        bail!("image buffers of the wrong size");
    }
    let f = side / out;
    let area = f * f;
    let scale = 1.0f32 / area as f32;
    // Offsets of the block's pixels, row by row (OpenCV's `ofs`).
    let ofs: Vec<usize> = (0..f)
        .flat_map(|r| (0..f).map(move |c| r * side + c))
        .collect();
    for oy in 0..out {
        for ox in 0..out {
            let base = oy * f * side + ox * f;
            let s = &src[base..];
            let mut sum = 0.0f32;
            let mut k = 0;
            while k + 4 <= area {
                sum += s[ofs[k]] + s[ofs[k + 1]] + s[ofs[k + 2]] + s[ofs[k + 3]];
                k += 4;
            }
            while k < area {
                sum += s[ofs[k]];
                k += 1;
            }
            dst[oy * out + ox] = sum * scale;
        }
    }
    Ok(())
}

/// The reference transform of a stack of `n` square patterns of side `side` (row-major,
/// pattern after pattern) into `n` patterns of `OUT_SIDE x OUT_SIDE` in `dst`.
pub fn transform_stack(stack: &[f32], n: usize, side: usize, dst: &mut [f32]) -> Result<()> {
    use rayon::prelude::*;
    let (inp, outp) = (side * side, OUT_SIDE * OUT_SIDE);
    if stack.len() != n * inp || dst.len() != n * outp {
        bail!("stack buffers of the wrong size");
    }
    stack
        .par_chunks(inp)
        .zip(dst.par_chunks_mut(outp))
        .try_for_each(|(img, out)| {
            let scaled: Vec<f32> = img.iter().map(|v| log_scale(*v)).collect();
            area_resize(&scaled, side, OUT_SIDE, out)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_scale_follows_numpy() {
        assert_eq!(log_scale(0.0), 0.0);
        assert_eq!(log_scale(1.0), 170.0);
        assert_eq!(log_scale(f32::INFINITY), 255.0);
        assert!(log_scale(-1.0).is_nan());
        assert!(log_scale(f32::NAN).is_nan());
        // e^-17 and below go to the floor.
        assert_eq!(log_scale(1e-9), 0.0);
        // ln(1e-3) = -6.9077...: (17 - 6.9077) * 10 = 100.92...
        assert!((log_scale(1e-3) - 100.922_45).abs() < 1e-3);
    }

    #[test]
    fn the_shortcuts_give_the_exact_values() {
        assert!(f64::from(BELOW_FLOOR) < (-17.0f64).exp());
        assert!(f64::from(ABOVE_CLIP) > 8.5f64.exp());
        // Every float32 in a band around both thresholds, and a sweep over the whole range.
        let around = |t: f32| {
            let b = t.to_bits();
            (b - 100_000..b + 100_000).map(f32::from_bits)
        };
        let sweep = (0..1u32 << 20).map(|i| f32::from_bits(i << 12));
        for x in around(BELOW_FLOOR).chain(around(ABOVE_CLIP)).chain(sweep) {
            let (a, b) = (log_scale(x), log_scale_exact(x));
            assert!(
                a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                "{x:e}: {a} != {b}"
            );
        }
    }

    #[test]
    fn area_resize_is_a_block_mean() {
        let side = 8;
        let src: Vec<f32> = (0..side * side).map(|i| i as f32).collect();
        let mut dst = vec![0.0; 4];
        area_resize(&src, side, 2, &mut dst).expect("resize");
        // Block (0, 0): rows 0..4, cols 0..4 of i = 8 r + c: mean = 8 * 1.5 + 1.5 = 13.5.
        assert_eq!(dst, vec![13.5, 17.5, 45.5, 49.5]);
        assert!(area_resize(&src, side, 3, &mut dst).is_err());
    }
}

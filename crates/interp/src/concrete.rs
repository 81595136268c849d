//! The concrete domain: a value is the bits of a number, held in the low
//! bits of a `u64` with every higher bit zero ("canonical bits", the same
//! representation `accc_tensor::Tensor` stores). Each primitive follows
//! `docs/semantics.md` exactly; the ops' meanings are in `accc_ir::dialects`.

use accc_ir::dialects::arith::width_mask;
use accc_ir::semantics::{
    format_to_f64, round_f64_to_format, Domain, Fault, FloatCompare, FloatFormat, FloatOp,
    FloatUnary, IntCompare, IntOp, ScalarType,
};

/// The concrete value domain (stateless).
#[derive(Clone, Copy, Debug, Default)]
pub struct Concrete;

/// Sign-extends the low `width` bits.
#[inline(always)]
pub fn sext(v: u64, width: u32) -> i64 {
    let shift = 64 - width;
    ((v << shift) as i64) >> shift
}

/// An `f32` view of a value of a 16- or 32-bit format (exact).
#[inline(always)]
fn to_f32(bits: u64, format: FloatFormat) -> f32 {
    match format {
        FloatFormat::F32 => f32::from_bits(bits as u32),
        FloatFormat::BF16 => f32::from_bits((bits as u32) << 16),
        FloatFormat::F16 => half::f16::from_bits(bits as u16).to_f32(),
        FloatFormat::F64 => f64::from_bits(bits) as f32,
    }
}

/// Rounds an `f32` result into `format` (exact for `F32`).
#[inline(always)]
fn from_f32(x: f32, format: FloatFormat) -> u64 {
    match format {
        FloatFormat::F32 => u64::from(x.to_bits()),
        _ => round_f64_to_format(f64::from(x), format),
    }
}

/// Applies `f32_op` (in `f32`, rounding to the format after) or `f64_op`.
#[inline(always)]
fn float_map(
    format: FloatFormat,
    a: u64,
    f32_op: impl FnOnce(f32) -> f32,
    f64_op: impl FnOnce(f64) -> f64,
) -> u64 {
    match format {
        FloatFormat::F64 => f64_op(f64::from_bits(a)).to_bits(),
        _ => from_f32(f32_op(to_f32(a, format)), format),
    }
}

#[inline(always)]
fn float_zip(
    format: FloatFormat,
    a: u64,
    b: u64,
    f32_op: impl FnOnce(f32, f32) -> f32,
    f64_op: impl FnOnce(f64, f64) -> f64,
) -> u64 {
    match format {
        FloatFormat::F64 => f64_op(f64::from_bits(a), f64::from_bits(b)).to_bits(),
        _ => from_f32(f32_op(to_f32(a, format), to_f32(b, format)), format),
    }
}

/// The exact value of an integer too wide for `f64`, rounded to 53
/// significant bits with round-to-odd (the sticky bit kept in the last
/// place), so that a second rounding to a narrower format is correct.
fn round_to_odd_f64(magnitude: u64) -> f64 {
    let significant = 64 - magnitude.leading_zeros();
    if significant <= 53 {
        return magnitude as f64;
    }
    let shift = significant - 53;
    let mut kept = magnitude >> shift;
    if magnitude & ((1u64 << shift) - 1) != 0 {
        kept |= 1;
    }
    kept as f64 * 2f64.powi(shift as i32)
}

impl Domain for Concrete {
    type Value = u64;

    #[inline(always)]
    fn int_const(&mut self, width: u32, bits: u64) -> u64 {
        bits & width_mask(width)
    }

    #[inline(always)]
    fn float_const(&mut self, _format: FloatFormat, bits: u64) -> u64 {
        bits
    }

    #[inline(always)]
    fn int_op(&mut self, op: IntOp, w: u32, a: &u64, b: &u64) -> Result<u64, Fault> {
        let (a, b) = (*a, *b);
        let mask = width_mask(w);
        Ok(match op {
            IntOp::Add => a.wrapping_add(b) & mask,
            IntOp::Sub => a.wrapping_sub(b) & mask,
            IntOp::Mul => a.wrapping_mul(b) & mask,
            IntOp::DivS | IntOp::RemS => {
                if b == 0 {
                    return Err(Fault::DivisionByZero);
                }
                let (x, y) = (sext(a, w), sext(b, w));
                // wrapping_*: i64::MIN / -1 wraps to MIN and leaves remainder
                // 0; for narrower widths the i64 result is exact and the mask
                // wraps MIN_w / -1 back to MIN_w.
                let r = if op == IntOp::DivS {
                    x.wrapping_div(y)
                } else {
                    x.wrapping_rem(y)
                };
                (r as u64) & mask
            }
            IntOp::DivU | IntOp::RemU => {
                if b == 0 {
                    return Err(Fault::DivisionByZero);
                }
                if op == IntOp::DivU {
                    a / b
                } else {
                    a % b
                }
            }
            IntOp::And => a & b,
            IntOp::Or => a | b,
            IntOp::Xor => a ^ b,
            IntOp::Shl => {
                if b >= u64::from(w) {
                    0
                } else {
                    (a << b) & mask
                }
            }
            IntOp::ShrU => {
                if b >= u64::from(w) {
                    0
                } else {
                    a >> b
                }
            }
            IntOp::ShrS => {
                let shift = b.min(u64::from(w) - 1);
                ((sext(a, w) >> shift) as u64) & mask
            }
        })
    }

    #[inline(always)]
    fn int_compare(&mut self, cmp: IntCompare, w: u32, a: &u64, b: &u64) -> u64 {
        let (a, b) = (*a, *b);
        u64::from(match cmp {
            IntCompare::Eq => a == b,
            IntCompare::Ne => a != b,
            IntCompare::Slt => sext(a, w) < sext(b, w),
            IntCompare::Sle => sext(a, w) <= sext(b, w),
            IntCompare::Ult => a < b,
            IntCompare::Ule => a <= b,
        })
    }

    #[inline(always)]
    fn select(&mut self, cond: &u64, t: &u64, f: &u64) -> u64 {
        if *cond & 1 == 1 {
            *t
        } else {
            *f
        }
    }

    #[inline(always)]
    fn int_resize(&mut self, a: &u64, from: u32, to: u32, signed: bool) -> u64 {
        if to > from && signed {
            (sext(*a, from) as u64) & width_mask(to)
        } else {
            *a & width_mask(to)
        }
    }

    #[inline(always)]
    fn float_op(&mut self, op: FloatOp, format: FloatFormat, a: &u64, b: &u64) -> u64 {
        match op {
            FloatOp::Add => float_zip(format, *a, *b, |x, y| x + y, |x, y| x + y),
            FloatOp::Sub => float_zip(format, *a, *b, |x, y| x - y, |x, y| x - y),
            FloatOp::Mul => float_zip(format, *a, *b, |x, y| x * y, |x, y| x * y),
            FloatOp::Div => float_zip(format, *a, *b, |x, y| x / y, |x, y| x / y),
            FloatOp::Rem => float_zip(format, *a, *b, |x, y| x % y, |x, y| x % y),
        }
    }

    fn float_unary(&mut self, op: FloatUnary, format: FloatFormat, a: &u64) -> u64 {
        let a = *a;
        match op {
            FloatUnary::Neg => a ^ format.sign_bit(),
            FloatUnary::Abs => a & !format.sign_bit(),
            FloatUnary::Sqrt => float_map(format, a, f32::sqrt, f64::sqrt),
            FloatUnary::Rsqrt => float_map(format, a, |x| 1.0 / x.sqrt(), |x| 1.0 / x.sqrt()),
            FloatUnary::Exp => float_map(format, a, f32::exp, f64::exp),
            FloatUnary::Log => float_map(format, a, f32::ln, f64::ln),
            FloatUnary::Tanh => float_map(format, a, f32::tanh, f64::tanh),
            FloatUnary::RoundEven => {
                float_map(format, a, f32::round_ties_even, f64::round_ties_even)
            }
            FloatUnary::Round => float_map(format, a, f32::round, f64::round),
            FloatUnary::Floor => float_map(format, a, f32::floor, f64::floor),
            FloatUnary::Ceil => float_map(format, a, f32::ceil, f64::ceil),
        }
    }

    #[inline(always)]
    fn float_compare(&mut self, cmp: FloatCompare, format: FloatFormat, a: &u64, b: &u64) -> u64 {
        let (x, y) = match format {
            FloatFormat::F64 => (f64::from_bits(*a), f64::from_bits(*b)),
            _ => (f64::from(to_f32(*a, format)), f64::from(to_f32(*b, format))),
        };
        u64::from(match cmp {
            FloatCompare::Lt => x < y,
            FloatCompare::Le => x <= y,
            FloatCompare::Eq => x == y,
            FloatCompare::Unordered => x.is_nan() || y.is_nan(),
        })
    }

    fn int_to_float(&mut self, a: &u64, from: u32, signed: bool, to: FloatFormat) -> u64 {
        let (negative, magnitude) = if signed {
            let v = sext(*a, from);
            (v < 0, v.unsigned_abs())
        } else {
            (false, *a)
        };
        match to {
            // Rust's integer-to-float `as` rounds once, to nearest-even.
            FloatFormat::F32 => {
                let x = magnitude as f32;
                u64::from((if negative { -x } else { x }).to_bits())
            }
            FloatFormat::F64 => {
                let x = magnitude as f64;
                (if negative { -x } else { x }).to_bits()
            }
            FloatFormat::F16 | FloatFormat::BF16 => {
                let x = round_to_odd_f64(magnitude);
                round_f64_to_format(if negative { -x } else { x }, to)
            }
        }
    }

    fn float_to_int(&mut self, a: &u64, from: FloatFormat, to: u32, signed: bool) -> u64 {
        let x = format_to_f64(*a, from);
        // `as` truncates toward zero, saturates and maps NaN to 0; the clamp
        // then saturates to the narrower target range.
        if signed {
            let lo = -(1i128 << (to - 1));
            let hi = (1i128 << (to - 1)) - 1;
            let v = i128::from(x as i64).clamp(lo, hi);
            (v as u64) & width_mask(to)
        } else {
            (x as u64).min(width_mask(to))
        }
    }

    fn float_convert(&mut self, a: &u64, from: FloatFormat, to: FloatFormat) -> u64 {
        round_f64_to_format(format_to_f64(*a, from), to)
    }

    #[inline(always)]
    fn bitcast(&mut self, a: &u64, _from: ScalarType, _to: ScalarType) -> u64 {
        *a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_rules() {
        let mut d = Concrete;
        let op = |d: &mut Concrete, op, w, a: i64, b: i64| {
            d.int_op(
                op,
                w,
                &((a as u64) & width_mask(w)),
                &((b as u64) & width_mask(w)),
            )
            .map(|v| sext(v, w))
        };
        assert_eq!(op(&mut d, IntOp::Add, 8, 127, 1), Ok(-128));
        assert_eq!(op(&mut d, IntOp::DivS, 8, -128, -1), Ok(-128));
        assert_eq!(op(&mut d, IntOp::RemS, 8, -128, -1), Ok(0));
        assert_eq!(op(&mut d, IntOp::DivS, 64, i64::MIN, -1), Ok(i64::MIN));
        assert_eq!(op(&mut d, IntOp::RemS, 32, -7, 2), Ok(-1));
        assert_eq!(op(&mut d, IntOp::DivS, 32, -7, 2), Ok(-3));
        assert_eq!(op(&mut d, IntOp::DivU, 8, -1, 2), Ok(127));
        assert_eq!(
            op(&mut d, IntOp::DivS, 16, 1, 0),
            Err(Fault::DivisionByZero)
        );
        assert_eq!(op(&mut d, IntOp::Shl, 8, 1, 8), Ok(0));
        assert_eq!(op(&mut d, IntOp::ShrS, 8, -128, 200), Ok(-1));
        assert_eq!(op(&mut d, IntOp::ShrU, 8, -128, 7), Ok(1));
    }

    #[test]
    fn conversions() {
        let mut d = Concrete;
        let f32b = |x: f32| u64::from(x.to_bits());
        // Saturation and NaN.
        assert_eq!(d.float_to_int(&f32b(300.5), FloatFormat::F32, 8, true), 127);
        assert_eq!(
            d.float_to_int(&f32b(-300.5), FloatFormat::F32, 8, true),
            0x80
        );
        assert_eq!(d.float_to_int(&f32b(-1.9), FloatFormat::F32, 8, true), 0xff);
        assert_eq!(
            d.float_to_int(&f32b(f32::NAN), FloatFormat::F32, 32, true),
            0
        );
        assert_eq!(d.float_to_int(&f32b(-5.0), FloatFormat::F32, 8, false), 0);
        assert_eq!(
            d.float_to_int(&f32b(1e10), FloatFormat::F32, 16, false),
            0xffff
        );
        // i64 -> bf16 where going through f64 with nearest rounding would
        // land on a tie: 2^62 + 2^54 + 1 is just above the midpoint between
        // bf16 neighbours 2^62 and 2^62 + 2^55.
        let v: u64 = (1 << 62) + (1 << 54) + 1;
        let bf = d.int_to_float(&v, 64, true, FloatFormat::BF16);
        assert_eq!(
            format_to_f64(bf, FloatFormat::BF16),
            2f64.powi(62) + 2f64.powi(55)
        );
        let f16 = d.int_to_float(&0xffff_ffff, 32, false, FloatFormat::F16);
        assert_eq!(f16, 0x7c00);
    }

    #[test]
    fn half_arithmetic_rounds_once() {
        let mut d = Concrete;
        let h = |x: f64| round_f64_to_format(x, FloatFormat::F16);
        // 2048 + 1 = 2049 ties to even in f16 (spacing 2): 2048.
        let r = d.float_op(FloatOp::Add, FloatFormat::F16, &h(2048.0), &h(1.0));
        assert_eq!(r, h(2048.0));
        let r = d.float_op(FloatOp::Add, FloatFormat::F16, &h(2048.0), &h(3.0));
        assert_eq!(r, h(2052.0));
    }
}

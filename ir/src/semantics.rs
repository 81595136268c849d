//! The vocabulary in which every op's meaning is written.
//!
//! An op's meaning is a function generic over a [`Domain`]: the domain
//! supplies a small set of primitive operations on scalars (bit-vector
//! arithmetic of a given width, IEEE operations in a given format,
//! conversions), and each dialect says, next to its ops, how an op is built
//! from them (`arith::apply`, `math::apply`, `affine::eval_map`). The
//! interpreter (`crates/interp`) is the concrete domain, where a value is
//! the bits of a number; the verifier adds a symbolic domain, where a value
//! is a term. Nothing here evaluates anything itself.
//!
//! The primitives' exact behaviour is specified in `docs/semantics.md`;
//! every domain must follow it. Memory and control flow are not primitives:
//! each engine models buffers and loops itself, with the [`Fault`]s defined
//! here.

use std::fmt;

use crate::types::Type;

/// A float format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FloatFormat {
    F16,
    BF16,
    F32,
    F64,
}

impl FloatFormat {
    pub fn bits(self) -> u32 {
        match self {
            FloatFormat::F16 | FloatFormat::BF16 => 16,
            FloatFormat::F32 => 32,
            FloatFormat::F64 => 64,
        }
    }
    /// Explicitly stored significand bits.
    pub fn mantissa_bits(self) -> u32 {
        match self {
            FloatFormat::F16 => 10,
            FloatFormat::BF16 => 7,
            FloatFormat::F32 => 23,
            FloatFormat::F64 => 52,
        }
    }
    pub fn exponent_bits(self) -> u32 {
        self.bits() - 1 - self.mantissa_bits()
    }
    /// The bits of a quiet NaN, the NaN results are made of.
    pub fn quiet_nan(self) -> u64 {
        let m = self.mantissa_bits();
        (((1u64 << self.exponent_bits()) - 1) << m) | (1 << (m - 1))
    }
    pub fn sign_bit(self) -> u64 {
        1 << (self.bits() - 1)
    }
}

/// The type of a scalar value as semantics sees it: `index` is a 64-bit
/// integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScalarType {
    Int(u32),
    Float(FloatFormat),
}

impl ScalarType {
    /// `None` for memrefs, functions and opaque types.
    pub fn of(ty: &Type) -> Option<ScalarType> {
        Some(match ty {
            Type::Int(w) => ScalarType::Int(*w),
            Type::Index => ScalarType::Int(64),
            Type::F16 => ScalarType::Float(FloatFormat::F16),
            Type::BF16 => ScalarType::Float(FloatFormat::BF16),
            Type::F32 => ScalarType::Float(FloatFormat::F32),
            Type::F64 => ScalarType::Float(FloatFormat::F64),
            _ => return None,
        })
    }
    pub fn bits(self) -> u32 {
        match self {
            ScalarType::Int(w) => w,
            ScalarType::Float(f) => f.bits(),
        }
    }
}

/// Primitive binary operations on bit vectors; the result has the operands'
/// width. Division and remainder fault on a zero divisor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IntOp {
    Add,
    Sub,
    Mul,
    /// Signed quotient rounded toward zero; `MIN / -1 = MIN`.
    DivS,
    DivU,
    /// Sign of the dividend; `MIN % -1 = 0`.
    RemS,
    RemU,
    And,
    Or,
    Xor,
    /// Shifts by the second operand read as unsigned; by the width or more:
    /// 0 (`Shl`, `ShrU`) or all sign bits (`ShrS`).
    Shl,
    ShrS,
    ShrU,
}

/// Primitive integer comparisons (the result is an `i1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IntCompare {
    Eq,
    Ne,
    Slt,
    Sle,
    Ult,
    Ule,
}

/// Primitive binary float operations, in the operands' format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FloatOp {
    Add,
    Sub,
    Mul,
    Div,
    /// C's `fmod`.
    Rem,
}

/// Primitive unary float operations, in the operand's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FloatUnary {
    Neg,
    Abs,
    Sqrt,
    Rsqrt,
    Exp,
    Log,
    Tanh,
    RoundEven,
    /// Ties away from zero.
    Round,
    Floor,
    Ceil,
}

/// Primitive float comparisons: ordered `<`, `<=`, `==` (false on NaN) and
/// "unordered" (either operand is NaN). `arith.cmpf`'s sixteen predicates
/// are built from these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FloatCompare {
    Lt,
    Le,
    Eq,
    Unordered,
}

/// Why running an op failed. Engines attach the op and its location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    DivisionByZero,
    OutOfBounds {
        dim: usize,
        index: i64,
        size: i64,
    },
    /// An access to a buffer after its `memref.dealloc`.
    Deallocated,
    NonPositiveStep(i64),
    Recursion(String),
    /// A bound map of `affine.for` / `affine.min` / `affine.max` without
    /// results (the IR verifier rejects these; engines still do not panic).
    EmptyMap,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::DivisionByZero => write!(f, "division by zero"),
            Fault::OutOfBounds { dim, index, size } => write!(
                f,
                "out-of-bounds access: index {index} of dimension {dim} is outside [0, {size})"
            ),
            Fault::Deallocated => write!(f, "use of a deallocated buffer"),
            Fault::NonPositiveStep(s) => write!(f, "non-positive step {s}"),
            Fault::Recursion(name) => write!(f, "recursive call of `@{name}`"),
            Fault::EmptyMap => write!(f, "a bound map has no results"),
        }
    }
}

/// The primitive operations an op's meaning is written in. Integer values
/// are bit vectors of the width given with each call (`index` is 64 bits,
/// `i1` is 1 bit); float values are in the given format.
pub trait Domain {
    type Value: Clone;

    /// `bits` holds the value in its low `width` bits; higher bits are 0.
    fn int_const(&mut self, width: u32, bits: u64) -> Self::Value;
    /// `bits` is the value's encoding in `format`.
    fn float_const(&mut self, format: FloatFormat, bits: u64) -> Self::Value;

    fn int_op(
        &mut self,
        op: IntOp,
        width: u32,
        a: &Self::Value,
        b: &Self::Value,
    ) -> Result<Self::Value, Fault>;
    fn int_compare(
        &mut self,
        cmp: IntCompare,
        width: u32,
        a: &Self::Value,
        b: &Self::Value,
    ) -> Self::Value;
    /// `t` if the `i1` `cond` is 1, else `f`.
    fn select(&mut self, cond: &Self::Value, t: &Self::Value, f: &Self::Value) -> Self::Value;
    /// Sign- or zero-extends (`to > from`) or truncates (`to < from`).
    fn int_resize(&mut self, a: &Self::Value, from: u32, to: u32, signed: bool) -> Self::Value;

    fn float_op(
        &mut self,
        op: FloatOp,
        format: FloatFormat,
        a: &Self::Value,
        b: &Self::Value,
    ) -> Self::Value;
    fn float_unary(&mut self, op: FloatUnary, format: FloatFormat, a: &Self::Value) -> Self::Value;
    fn float_compare(
        &mut self,
        cmp: FloatCompare,
        format: FloatFormat,
        a: &Self::Value,
        b: &Self::Value,
    ) -> Self::Value;
    /// The integer (read signed or unsigned) rounded once to `to`.
    fn int_to_float(
        &mut self,
        a: &Self::Value,
        from: u32,
        signed: bool,
        to: FloatFormat,
    ) -> Self::Value;
    /// Rounded toward zero and saturated to the target range; NaN gives 0.
    fn float_to_int(
        &mut self,
        a: &Self::Value,
        from: FloatFormat,
        to: u32,
        signed: bool,
    ) -> Self::Value;
    /// Exact when widening, rounded once (nearest-even) when narrowing.
    fn float_convert(&mut self, a: &Self::Value, from: FloatFormat, to: FloatFormat)
        -> Self::Value;
    /// The same bits read as another type of the same width.
    fn bitcast(&mut self, a: &Self::Value, from: ScalarType, to: ScalarType) -> Self::Value;
}

/// Derived operations shared by several ops' meanings, written once here.
pub mod derived {
    use super::*;

    /// `floor(a / b)` on signed `width`-bit integers; faults on `b = 0`.
    pub fn floor_div<D: Domain>(
        d: &mut D,
        width: u32,
        a: &D::Value,
        b: &D::Value,
    ) -> Result<D::Value, Fault> {
        rounded_div(d, width, a, b, true)
    }

    /// `ceil(a / b)` on signed integers; faults on `b = 0`.
    pub fn ceil_div<D: Domain>(
        d: &mut D,
        width: u32,
        a: &D::Value,
        b: &D::Value,
    ) -> Result<D::Value, Fault> {
        rounded_div(d, width, a, b, false)
    }

    /// The signed quotient rounded toward negative (`down`) or positive
    /// infinity. The truncated quotient `a /t b` is off by one exactly when
    /// the remainder is non-zero and its sign differs from the divisor's
    /// (then it is one too large: floor is `q - 1`) or agrees with it (one
    /// too small: ceil is `q + 1`).
    fn rounded_div<D: Domain>(
        d: &mut D,
        width: u32,
        a: &D::Value,
        b: &D::Value,
        down: bool,
    ) -> Result<D::Value, Fault> {
        let q = d.int_op(IntOp::DivS, width, a, b)?;
        let r = d.int_op(IntOp::RemS, width, a, b)?;
        let zero = d.int_const(width, 0);
        let one = d.int_const(width, 1);
        let r_nonzero = d.int_compare(IntCompare::Ne, width, &r, &zero);
        let r_neg = d.int_compare(IntCompare::Slt, width, &r, &zero);
        let b_neg = d.int_compare(IntCompare::Slt, width, b, &zero);
        let signs_differ = d.int_op(IntOp::Xor, 1, &r_neg, &b_neg)?;
        let off_by_one = if down {
            signs_differ
        } else {
            let bit_one = d.int_const(1, 1);
            d.int_op(IntOp::Xor, 1, &signs_differ, &bit_one)?
        };
        let adjust = d.int_op(IntOp::And, 1, &r_nonzero, &off_by_one)?;
        let step = if down { IntOp::Sub } else { IntOp::Add };
        let adjusted = d.int_op(step, width, &q, &one)?;
        Ok(d.select(&adjust, &adjusted, &q))
    }

    /// `a - floor(a / b) * b`: the sign of the divisor.
    pub fn floor_mod<D: Domain>(
        d: &mut D,
        width: u32,
        a: &D::Value,
        b: &D::Value,
    ) -> Result<D::Value, Fault> {
        let q = floor_div(d, width, a, b)?;
        let qb = d.int_op(IntOp::Mul, width, &q, b)?;
        d.int_op(IntOp::Sub, width, a, &qb)
    }

    /// The larger (`max`) or smaller of two integers read signed or unsigned.
    pub fn int_extremum<D: Domain>(
        d: &mut D,
        width: u32,
        max: bool,
        signed: bool,
        a: &D::Value,
        b: &D::Value,
    ) -> D::Value {
        let lt = d.int_compare(
            if signed {
                IntCompare::Slt
            } else {
                IntCompare::Ult
            },
            width,
            a,
            b,
        );
        if max {
            d.select(&lt, b, a)
        } else {
            d.select(&lt, a, b)
        }
    }

    /// The sign bit of a float as an `i1`.
    pub fn sign_bit<D: Domain>(d: &mut D, format: FloatFormat, a: &D::Value) -> D::Value {
        let w = format.bits();
        let bits = d.bitcast(a, ScalarType::Float(format), ScalarType::Int(w));
        let zero = d.int_const(w, 0);
        d.int_compare(IntCompare::Slt, w, &bits, &zero)
    }

    /// IEEE 754-2019 `maximum`/`minimum` (`propagate_nan`) or
    /// `maximumNumber`/`minimumNumber`; in both, `-0 < +0`.
    pub fn float_extremum<D: Domain>(
        d: &mut D,
        format: FloatFormat,
        max: bool,
        propagate_nan: bool,
        a: &D::Value,
        b: &D::Value,
    ) -> D::Value {
        let (hi, lo) = (if max { b } else { a }, if max { a } else { b });
        // Numerically ordered case: a < b picks b for max, a for min.
        let a_lt_b = d.float_compare(FloatCompare::Lt, format, a, b);
        let b_lt_a = d.float_compare(FloatCompare::Lt, format, b, a);
        // Equal (or both zero): prefer by sign. For max take the operand
        // whose sign is clear; for min the one whose sign is set.
        let a_neg = sign_bit(d, format, a);
        let on_tie = if max {
            d.select(&a_neg, b, a)
        } else {
            d.select(&a_neg, a, b)
        };
        let ordered_other = d.select(&b_lt_a, lo, &on_tie);
        let ordered = d.select(&a_lt_b, hi, &ordered_other);
        let a_nan = d.float_compare(FloatCompare::Unordered, format, a, a);
        let b_nan = d.float_compare(FloatCompare::Unordered, format, b, b);
        if propagate_nan {
            let nan = d.float_const(format, format.quiet_nan());
            let any_nan = d.float_compare(FloatCompare::Unordered, format, a, b);
            d.select(&any_nan, &nan, &ordered)
        } else {
            let if_b_nan = d.select(&b_nan, a, &ordered);
            d.select(&a_nan, b, &if_b_nan)
        }
    }
}

/// Rounds `x` to the nearest `format` value, ties to even, with subnormals
/// and overflow to infinity; NaN becomes the format's quiet NaN with `x`'s
/// sign. Returns the encoding. Exact conversions are the identity on values.
///
/// Written out because neither `as f32` chains (double rounding) nor the
/// `half` crate's `from_f64` (which goes through `f32` or drops sticky bits)
/// round `f64` to `f16`/`bf16` correctly.
pub fn round_f64_to_format(x: f64, format: FloatFormat) -> u64 {
    match format {
        FloatFormat::F64 => return x.to_bits(),
        FloatFormat::F32 => return u64::from((x as f32).to_bits()),
        FloatFormat::F16 | FloatFormat::BF16 => {}
    }
    let man_bits = format.mantissa_bits();
    let exp_bits = format.exponent_bits();
    let sign = if x.is_sign_negative() {
        format.sign_bit()
    } else {
        0
    };
    let exp_all_ones = ((1u64 << exp_bits) - 1) << man_bits;
    if x.is_nan() {
        return sign | format.quiet_nan();
    }
    if x.is_infinite() {
        return sign | exp_all_ones;
    }
    if x == 0.0 {
        return sign;
    }
    let bits = x.to_bits();
    let field = ((bits >> 52) & 0x7ff) as i64;
    let frac = bits & ((1u64 << 52) - 1);
    // |x| = m * 2^(e - 52) with m the 53-bit significand.
    let (e, m) = if field == 0 {
        (-1022, frac)
    } else {
        (field - 1023, frac | (1u64 << 52))
    };
    let bias = (1i64 << (exp_bits - 1)) - 1;
    let emin = 1 - bias;
    // The quantum of the result: the weight of its last significand bit.
    let q = e.max(emin) - man_bits as i64;
    let shift = q - (e - 52);
    debug_assert!(shift > 0, "f16/bf16 have fewer significand bits than f64");
    let r = if shift >= 64 {
        // |x| < 2^(q-1): rounds to zero (a tie needs m = 2^52 and shift 53).
        0
    } else {
        let (kept, rest) = (m >> shift, m & ((1u64 << shift) - 1));
        let half = 1u64 << (shift - 1);
        if rest > half || (rest == half && kept & 1 == 1) {
            kept + 1
        } else {
            kept
        }
    };
    // Biased exponent minus one, times 2^man_bits, plus the significand with
    // its leading bit: a carry from rounding moves into the exponent.
    let biased_minus_one = if e >= emin { (e + bias - 1) as u64 } else { 0 };
    let encoded = (biased_minus_one << man_bits) + r;
    if encoded >= exp_all_ones {
        sign | exp_all_ones
    } else {
        sign | encoded
    }
}

/// The exact value of a `format` encoding.
pub fn format_to_f64(bits: u64, format: FloatFormat) -> f64 {
    match format {
        FloatFormat::F64 => f64::from_bits(bits),
        FloatFormat::F32 => f64::from(f32::from_bits(bits as u32)),
        FloatFormat::BF16 => f64::from(f32::from_bits((bits as u32) << 16)),
        FloatFormat::F16 => {
            let (sign, field, frac) = ((bits >> 15) & 1, (bits >> 10) & 0x1f, bits & 0x3ff);
            let magnitude = match field {
                0 => frac as f64 * 2f64.powi(-24),
                0x1f if frac == 0 => f64::INFINITY,
                0x1f => f64::NAN,
                _ => (frac | 0x400) as f64 * 2f64.powi(field as i32 - 25),
            };
            if sign == 1 {
                -magnitude
            } else {
                magnitude
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_to_f16_and_bf16() {
        let f16 = |x: f64| round_f64_to_format(x, FloatFormat::F16);
        let bf16 = |x: f64| round_f64_to_format(x, FloatFormat::BF16);
        assert_eq!(f16(1.0), 0x3c00);
        assert_eq!(f16(-2.0), 0xc000);
        assert_eq!(f16(65504.0), 0x7bff);
        // Halfway between 65504 and 65536 (the next binade): ties to even -> inf.
        assert_eq!(f16(65520.0), 0x7c00);
        assert_eq!(f16(65519.99), 0x7bff);
        // Smallest subnormal 2^-24; half of it ties to even (zero); just above rounds up.
        assert_eq!(f16(2f64.powi(-24)), 0x0001);
        assert_eq!(f16(2f64.powi(-25)), 0x0000);
        assert_eq!(f16(2f64.powi(-25) * 1.0000001), 0x0001);
        assert_eq!(f16(-0.0), 0x8000);
        // 1 + 2^-11 is a tie between 1 and 1 + 2^-10: to even (1).
        assert_eq!(f16(1.0 + 2f64.powi(-11)), 0x3c00);
        // A value just above the tie, with the excess below f32 precision:
        // going through f32 would round to the tie and then to even.
        assert_eq!(f16(1.0 + 2f64.powi(-11) + 2f64.powi(-40)), 0x3c01);
        assert_eq!(bf16(1.0 + 2f64.powi(-8) + 2f64.powi(-40)), 0x3f81);
        assert_eq!(bf16(1.0 + 2f64.powi(-8)), 0x3f80);
        assert_eq!(bf16(f64::INFINITY), 0x7f80);
        assert!(format_to_f64(f16(f64::NAN), FloatFormat::F16).is_nan());
        for bits in 0..=0xffffu64 {
            for fmt in [FloatFormat::F16, FloatFormat::BF16] {
                let v = format_to_f64(bits, fmt);
                if !v.is_nan() {
                    assert_eq!(round_f64_to_format(v, fmt), bits, "{fmt:?} {bits:#x}");
                }
            }
        }
    }
}

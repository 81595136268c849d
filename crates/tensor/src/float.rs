//! Conversions between `f64` and each element type's bits, and the text of
//! a float element.
//!
//! Every conversion to a float type rounds once, to nearest-even. `half`'s
//! own `f16::from_f64`/`bf16::from_f64` do not guarantee that (they drop the
//! low 32 significand bits, or go through `f32` with a second rounding), so
//! narrow types go through `f32` with round-to-odd instead: `f32` has more
//! than two bits of precision beyond `f16` and `bf16` (and covers their
//! exponent ranges), which makes the final nearest-even rounding exact.

use half::{bf16, f16};

use crate::DType;

/// `x` converted to `dtype`, as canonical bits.
///
/// Floats round to nearest-even (overflow gives infinity). Integers round
/// toward zero and saturate to the type's range, NaN giving 0: the rules of
/// `fptosi`/`fptoui` in `docs/semantics.md`.
pub(crate) fn bits_from_f64(dtype: DType, x: f64) -> u64 {
    match dtype {
        // `as` from a float to an integer rounds toward zero, saturates and
        // maps NaN to 0; the second cast reinterprets and masks the bits.
        DType::I8 => x as i8 as u8 as u64,
        DType::I16 => x as i16 as u16 as u64,
        DType::I32 => x as i32 as u32 as u64,
        DType::I64 => x as i64 as u64,
        DType::U8 => x as u8 as u64,
        DType::U16 => x as u16 as u64,
        DType::U32 => x as u32 as u64,
        DType::U64 => x as u64,
        DType::F16 => f16::from_f32(f32_round_to_odd(x)).to_bits() as u64,
        DType::BF16 => bf16::from_f32(f32_round_to_odd(x)).to_bits() as u64,
        // `as f32` rounds to nearest-even.
        DType::F32 => (x as f32).to_bits() as u64,
        DType::F64 => x.to_bits(),
    }
}

/// The numeric value of canonical `bits` of `dtype`: exact for every type
/// except 64-bit integers beyond 2^53, which round to nearest-even.
pub(crate) fn f64_from_bits(dtype: DType, bits: u64) -> f64 {
    match dtype {
        DType::I8 => bits as u8 as i8 as f64,
        DType::I16 => bits as u16 as i16 as f64,
        DType::I32 => bits as u32 as i32 as f64,
        DType::I64 => bits as i64 as f64,
        DType::U8 | DType::U16 | DType::U32 | DType::U64 => bits as f64,
        DType::F16 => f16::from_bits(bits as u16).to_f64(),
        DType::BF16 => bf16::from_bits(bits as u16).to_f64(),
        DType::F32 => f32::from_bits(bits as u32) as f64,
        DType::F64 => f64::from_bits(bits),
    }
}

/// `x` rounded to `f32` with round-to-odd: toward zero, then the lowest
/// significand bit set if the result is inexact. Rounding this once more to
/// a format with at least two fewer significand bits gives the correctly
/// rounded result of `x` in that format.
fn f32_round_to_odd(x: f64) -> f32 {
    let nearest = x as f32;
    if !x.is_finite() || nearest as f64 == x {
        return nearest;
    }
    let mut bits = nearest.to_bits();
    if (nearest as f64).abs() > x.abs() {
        // One step toward zero. `nearest` is not zero here (its magnitude
        // exceeds |x|), so the magnitude bits are at least 1; an infinite
        // `nearest` steps to the largest finite value.
        bits -= 1;
    }
    f32::from_bits(bits | 1)
}

/// Whether canonical `bits` of the float type `dtype` are a NaN.
pub(crate) fn is_nan(dtype: DType, bits: u64) -> bool {
    match dtype {
        DType::F16 => f16::from_bits(bits as u16).is_nan(),
        DType::BF16 => bf16::from_bits(bits as u16).is_nan(),
        DType::F32 => f32::from_bits(bits as u32).is_nan(),
        DType::F64 => f64::from_bits(bits).is_nan(),
        _ => false,
    }
}

/// The text of a float element: the shortest decimal that reads back to the
/// same value in `dtype`, laid out as Python's `repr` lays out a float
/// (`0.5`, `-3.0`, `-0.0`, `1e-05`, `1.5e+16`, `nan`, `inf`, `-inf`), so
/// messages look like what NumPy users see.
pub(crate) fn format_float(dtype: DType, bits: u64) -> String {
    let value = f64_from_bits(dtype, bits);
    if value.is_nan() {
        return "nan".to_string();
    }
    if value.is_infinite() {
        return if value < 0.0 { "-inf" } else { "inf" }.to_string();
    }
    let scientific = match dtype {
        DType::F32 => format!("{:e}", value as f32),
        DType::F64 => format!("{value:e}"),
        _ => shortest_narrow(dtype, bits, value),
    };
    layout_like_python(&scientific)
}

/// Shortest round-trip scientific text of an `f16`/`bf16` value, which Rust
/// cannot print directly: the fewest significant digits whose correctly
/// rounded decimal reads back to the same bits.
fn shortest_narrow(dtype: DType, bits: u64, value: f64) -> String {
    // 17 significant digits identify any f64, so the loop always returns by
    // its last iteration; the fallback only keeps the compiler satisfied.
    for precision in 0..17 {
        let text = format!("{value:.precision$e}");
        if let Ok(back) = text.parse::<f64>() {
            if bits_from_f64(dtype, back) == bits {
                return text;
            }
        }
    }
    format!("{value:e}")
}

/// Turns Rust's scientific text (`-1.25e-7`, `5e0`) into Python's float
/// `repr` layout: positional for exponents in `-4..16`, else scientific with
/// a signed exponent of at least two digits.
fn layout_like_python(scientific: &str) -> String {
    let (negative, rest) = match scientific.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, scientific),
    };
    let (mantissa, exponent) = rest.split_once('e').unwrap_or((rest, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let mut digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    let sign = if negative { "-" } else { "" };
    if digits == "0" {
        return format!("{sign}0.0");
    }
    if (-4..16).contains(&exponent) {
        if exponent >= 0 {
            let int_len = exponent as usize + 1;
            if digits.len() <= int_len {
                let zeros = "0".repeat(int_len - digits.len());
                format!("{sign}{digits}{zeros}.0")
            } else {
                let (int_part, frac) = digits.split_at(int_len);
                format!("{sign}{int_part}.{frac}")
            }
        } else {
            let zeros = "0".repeat((-exponent - 1) as usize);
            format!("{sign}0.{zeros}{digits}")
        }
    } else {
        let (first, frac) = digits.split_at(1);
        let dot = if frac.is_empty() { "" } else { "." };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        format!("{sign}{first}{dot}{frac}e{exp_sign}{:02}", exponent.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f64_text(x: f64) -> String {
        format_float(DType::F64, x.to_bits())
    }

    #[test]
    fn python_layout() {
        assert_eq!(f64_text(0.5), "0.5");
        assert_eq!(f64_text(-3.0), "-3.0");
        assert_eq!(f64_text(-0.0), "-0.0");
        assert_eq!(f64_text(0.0), "0.0");
        assert_eq!(f64_text(1e-5), "1e-05");
        assert_eq!(f64_text(0.0001), "0.0001");
        assert_eq!(f64_text(1.5e16), "1.5e+16");
        assert_eq!(f64_text(1e15), "1000000000000000.0");
        assert_eq!(f64_text(123.25), "123.25");
        assert_eq!(f64_text(5e-324), "5e-324");
        assert_eq!(f64_text(f64::MAX), "1.7976931348623157e+308");
        assert_eq!(f64_text(f64::NAN), "nan");
        assert_eq!(f64_text(f64::NEG_INFINITY), "-inf");
        assert_eq!(f64_text(f64::INFINITY), "inf");
    }

    #[test]
    fn shortest_for_each_width() {
        assert_eq!(format_float(DType::F32, 0.1f32.to_bits() as u64), "0.1");
        let f16_tenth = bits_from_f64(DType::F16, 0.1);
        assert_eq!(format_float(DType::F16, f16_tenth), "0.1");
        let bf16_tenth = bits_from_f64(DType::BF16, 0.1);
        assert_eq!(format_float(DType::BF16, bf16_tenth), "0.1");
        assert_eq!(format_float(DType::F16, 0x7bff), "65500.0");
        assert_eq!(format_float(DType::F16, 0x0001), "6e-08");
    }

    /// Every f16 and bf16 value prints as text that reads back to it.
    #[test]
    fn narrow_floats_round_trip_exhaustively() {
        for dtype in [DType::F16, DType::BF16] {
            for bits in 0..=u16::MAX as u64 {
                if is_nan(dtype, bits) {
                    continue;
                }
                let text = format_float(dtype, bits);
                let back: f64 = text.parse().expect("formatted floats parse");
                assert_eq!(
                    bits_from_f64(dtype, back),
                    bits,
                    "{dtype} {bits:#x} printed {text}"
                );
            }
        }
    }

    /// Reference: exact rounding of an f64 to a narrow format by comparing
    /// distances to the two neighbouring representable values.
    fn reference_round(dtype: DType, x: f64) -> u64 {
        let mut best: Option<(u64, f64)> = None;
        for bits in 0..=u16::MAX as u64 {
            let v = f64_from_bits(dtype, bits);
            if !v.is_finite() {
                continue;
            }
            let d = (v - x).abs();
            let better = match best {
                None => true,
                Some((b, bd)) => d < bd || (d == bd && bits & 1 == 0 && b & 1 == 1),
            };
            if better && (v != 0.0 || (v.is_sign_negative() == x.is_sign_negative())) {
                best = Some((bits, d));
            }
        }
        best.map(|(b, _)| b).unwrap_or(0)
    }

    #[test]
    fn narrow_rounding_is_single() {
        // Halfway between two f16 values plus a tiny amount far below f32
        // precision: must round up, which double rounding through f32 gets
        // wrong.
        let lo = 1.0f64;
        let ulp = 2f64.powi(-10);
        let x = lo + ulp / 2.0 + 2f64.powi(-40);
        assert_eq!(bits_from_f64(DType::F16, x), reference_round(DType::F16, x));
        assert_eq!(bits_from_f64(DType::F16, x), 0x3c01);
        let x = 1.0 + 2f64.powi(-8) + 2f64.powi(-45);
        assert_eq!(bits_from_f64(DType::BF16, x), 0x3f81);
        for x in [
            0.3, -1.7e-6, 3.0e-8, 65519.0, 65520.0, 1e5, -2.5e-38, 1.234e30,
        ] {
            for dtype in [DType::F16, DType::BF16] {
                let got = bits_from_f64(dtype, x);
                let value = f64_from_bits(dtype, got);
                if value.is_finite() {
                    assert_eq!(got, reference_round(dtype, x), "{dtype} {x}");
                }
            }
        }
        assert_eq!(
            bits_from_f64(DType::F16, 65520.0),
            0x7c00,
            "overflow to infinity"
        );
    }

    #[test]
    fn integers_truncate_and_saturate() {
        assert_eq!(bits_from_f64(DType::I8, -1.9), 0xff);
        assert_eq!(bits_from_f64(DType::I8, 300.0), 0x7f);
        assert_eq!(bits_from_f64(DType::I8, -300.0), 0x80);
        assert_eq!(bits_from_f64(DType::U8, -5.0), 0);
        assert_eq!(bits_from_f64(DType::U16, f64::NAN), 0);
        assert_eq!(bits_from_f64(DType::I64, -1.0), u64::MAX);
    }
}

//! Float rules: rounding to f16/bf16, saturating conversions, NaN and
//! signed zeros in min/max and comparisons, correctly rounded sitofp.

use crate::support::{assert_bits, f32b, f64b, run_elementwise};

/// All NaNs compare equal (docs/semantics.md: payloads and signs of NaN
/// results are not specified); every other bit must agree.
#[track_caller]
fn assert_float_bits(what: &str, got: &[u64], want: &[u64], exp_mask: u64, frac_mask: u64) {
    let canon = |v: &[u64]| -> Vec<u64> {
        v.iter()
            .map(|&b| {
                if b & exp_mask == exp_mask && b & frac_mask != 0 {
                    u64::MAX
                } else {
                    b
                }
            })
            .collect()
    };
    assert_bits(what, &canon(got), &canon(want));
}

const NAN16: u64 = 0x7e00;
const NAN32: u64 = 0x7fc0_0000;

fn f16_bits(what: &str, got: &[u64], want: &[u64]) {
    assert_float_bits(what, got, want, 0x7c00, 0x3ff);
}
fn bf16_bits(what: &str, got: &[u64], want: &[u64]) {
    assert_float_bits(what, got, want, 0x7f80, 0x7f);
}
fn f32_bits(what: &str, got: &[u64], want: &[u64]) {
    assert_float_bits(what, got, want, 0x7f80_0000, 0x7f_ffff);
}

#[test]
fn f32_to_f16_and_bf16_round_to_nearest_even() {
    // 1, f16 max, 65520 (rounds to inf), just below 65520, 2^-24 (smallest
    // f16 subnormal), 2^-25 (a tie: to 0), 3*2^-26, 1+2^-11 (tie: to 1),
    // 1+3*2^-11 (tie: up), -0, -inf, 2^-15 (exact subnormal), 2.5*2^-24
    // (tie: to 2), 1+2^-8 (bf16 tie: to 1), 1+3*2^-8 (bf16 tie: up), f32
    // max (bf16: inf), f32 subnormals 2^-149, 2^-134 (bf16 tie: 0),
    // 1.5*2^-133 (bf16 tie: up), -1e-40, NaN.
    let x = vec![
        0x3f800000, 0x477fe000, 0x477ff000, 0x477fefff, 0x33800000, 0x33000000, 0x33400000,
        0x3f801000, 0x3f803000, 0x80000000, 0xff800000, 0x38000000, 0x34200000, 0x3f808000,
        0x3f818000, 0x7f7fffff, 0x1, 0x8000, 0x18000, 0x800116c2, NAN32,
    ];
    let got = run_elementwise(
        &[("x", "f32", x)],
        &[
            ("h", "f16", "arith.truncf %x : f32 to f16"),
            ("b", "bf16", "arith.truncf %x : f32 to bf16"),
        ],
    );
    f16_bits(
        "f32 -> f16",
        &got["h"],
        &[
            0x3c00, 0x7bff, 0x7c00, 0x7bff, 0x1, 0x0, 0x1, 0x3c00, 0x3c02, 0x8000, 0xfc00, 0x200,
            0x2, 0x3c04, 0x3c0c, 0x7c00, 0x0, 0x0, 0x0, 0x8000, NAN16,
        ],
    );
    bf16_bits(
        "f32 -> bf16",
        &got["b"],
        &[
            0x3f80, 0x4780, 0x4780, 0x4780, 0x3380, 0x3300, 0x3340, 0x3f80, 0x3f80, 0x8000, 0xff80,
            0x3800, 0x3420, 0x3f80, 0x3f82, 0x7f80, 0x0, 0x0, 0x2, 0x8001, 0x7fc0,
        ],
    );
}

#[test]
fn f64_to_f16_rounds_once() {
    // 1 + 2^-11 + 2^-40 is just above a tie: through f32 it would become the
    // tie 1 + 2^-11 and round to 1.0.
    let y = vec![
        0x3ff0020000001000,
        0x3ff0100000001000,
        f64b(1e300),
        f64b(1e-300),
        f64b(-1e-300),
        f64b(65519.99999),
    ];
    let got = run_elementwise(
        &[("y", "f64", y)],
        &[
            ("h", "f16", "arith.truncf %y : f64 to f16"),
            ("b", "bf16", "arith.truncf %y : f64 to bf16"),
        ],
    );
    f16_bits(
        "f64 -> f16",
        &got["h"],
        &[0x3c01, 0x3c04, 0x7c00, 0x0, 0x8000, 0x7bff],
    );
    bf16_bits(
        "f64 -> bf16",
        &got["b"],
        &[0x3f80, 0x3f81, 0x7f80, 0x0, 0x8000, 0x4780],
    );
}

#[test]
fn f16_and_bf16_widen_exactly() {
    let h = vec![
        0x0001, 0x03ff, 0x0400, 0x7c00, 0xfc00, 0x8000, 0x3c00, 0x7bff, NAN16,
    ];
    let got = run_elementwise(
        &[("h", "f16", h)],
        &[
            ("w", "f32", "arith.extf %h : f16 to f32"),
            ("d", "f64", "arith.extf %h : f16 to f64"),
            ("b", "bf16", "arith.bitcast %h : f16 to bf16"),
            ("bw", "f32", "arith.extf %r_b : bf16 to f32"),
        ],
    );
    f32_bits(
        "f16 -> f32",
        &got["w"],
        &[
            f32b(2f32.powi(-24)),
            f32b(1023.0 * 2f32.powi(-24)),
            f32b(2f32.powi(-14)),
            0x7f800000,
            0xff800000,
            0x80000000,
            f32b(1.0),
            f32b(65504.0),
            NAN32,
        ],
    );
    assert_eq!(got["d"][0], f64b(2f64.powi(-24)));
    assert_eq!(got["d"][7], f64b(65504.0));
    // bf16 -> f32 is a shift: bf16 0x3c00 is 2^-7.
    assert_eq!(got["bw"][6], f32b(2f32.powi(-7)));
}

#[test]
fn f16_and_bf16_arithmetic_rounds_once_from_f32() {
    // 1 + 2^-11 (tie: to 1), (1 + 2^-10) + 2^-11 (tie: up), 65504 + 16
    // (inf), 2^-24 + 2^-24, -0 + -0, NaN + 1.
    let a = vec![0x3c00, 0x3c01, 0x7bff, 0x0001, 0x8000, NAN16];
    let b = vec![0x1000, 0x1000, 0x4c00, 0x0001, 0x8000, 0x3c00];
    let got = run_elementwise(
        &[("a", "f16", a), ("b", "f16", b)],
        &[
            ("add", "f16", "arith.addf %a, %b : f16"),
            ("mul", "f16", "arith.mulf %a, %b : f16"),
            ("max", "f16", "arith.maximumf %a, %b : f16"),
            ("neg", "f16", "arith.negf %a : f16"),
            ("abs", "f16", "math.absf %r_neg : f16"),
        ],
    );
    f16_bits(
        "f16 addf",
        &got["add"],
        &[0x3c00, 0x3c02, 0x7c00, 0x0002, 0x8000, NAN16],
    );
    f16_bits(
        "f16 mulf",
        &got["mul"],
        &[0x1000, 0x1001, 0x7c00, 0x0000, 0x0000, NAN16],
    );
    f16_bits(
        "f16 maximumf",
        &got["max"],
        &[0x3c00, 0x3c01, 0x7bff, 0x0001, 0x8000, NAN16],
    );
    // negf and absf flip and clear the sign bit, also of NaN.
    assert_bits(
        "f16 negf",
        &got["neg"],
        &[0xbc00, 0xbc01, 0xfbff, 0x8001, 0x0000, 0xfe00],
    );
    assert_bits(
        "f16 absf",
        &got["abs"],
        &[0x3c00, 0x3c01, 0x7bff, 0x0001, 0x0000, 0x7e00],
    );

    let got = run_elementwise(
        &[
            ("a", "bf16", vec![0x3f80, 0x3f81]),
            ("b", "bf16", vec![0x3b80, 0x3b80]),
        ],
        &[("add", "bf16", "arith.addf %a, %b : bf16")],
    );
    bf16_bits("bf16 addf", &got["add"], &[0x3f80, 0x3f82]);
}

#[test]
fn float_to_int_truncates_and_saturates_and_nan_is_zero() {
    // 1e10, -1e10, NaN, -0.5, 127.9, -128.9, inf, 3.99, -3.99, 255.5, 256,
    // -1, 2^31, -2^31, -2^31 - 256, 2^31 - 128, 2^32, 2^32 - 256, -inf, 0.99.
    let x = vec![
        0x501502f9, 0xd01502f9, 0x7fc00000, 0xbf000000, 0x42ffcccd, 0xc300e666, 0x7f800000,
        0x407f5c29, 0xc07f5c29, 0x437f8000, 0x43800000, 0xbf800000, 0x4f000000, 0xcf000000,
        0xcf000001, 0x4effffff, 0x4f800000, 0x4f7fffff, 0xff800000, 0x3f7d70a4,
    ];
    let got = run_elementwise(
        &[("x", "f32", x)],
        &[
            ("si8", "i8", "arith.fptosi %x : f32 to i8"),
            ("ui8", "i8", "arith.fptoui %x : f32 to i8"),
            ("si32", "i32", "arith.fptosi %x : f32 to i32"),
            ("ui32", "i32", "arith.fptoui %x : f32 to i32"),
        ],
    );
    assert_bits(
        "fptosi f32 -> i8",
        &got["si8"],
        &[
            0x7f, 0x80, 0x0, 0x0, 0x7f, 0x80, 0x7f, 0x3, 0xfd, 0x7f, 0x7f, 0xff, 0x7f, 0x80, 0x80,
            0x7f, 0x7f, 0x7f, 0x80, 0x0,
        ],
    );
    assert_bits(
        "fptoui f32 -> i8",
        &got["ui8"],
        &[
            0xff, 0x0, 0x0, 0x0, 0x7f, 0x0, 0xff, 0x3, 0x0, 0xff, 0xff, 0x0, 0xff, 0x0, 0x0, 0xff,
            0xff, 0xff, 0x0, 0x0,
        ],
    );
    assert_bits(
        "fptosi f32 -> i32",
        &got["si32"],
        &[
            0x7fffffff, 0x80000000, 0x0, 0x0, 0x7f, 0xffffff80, 0x7fffffff, 0x3, 0xfffffffd, 0xff,
            0x100, 0xffffffff, 0x7fffffff, 0x80000000, 0x80000000, 0x7fffff80, 0x7fffffff,
            0x7fffffff, 0x80000000, 0x0,
        ],
    );
    assert_bits(
        "fptoui f32 -> i32",
        &got["ui32"],
        &[
            0xffffffff, 0x0, 0x0, 0x0, 0x7f, 0x0, 0xffffffff, 0x3, 0x0, 0xff, 0x100, 0x0,
            0x80000000, 0x0, 0x0, 0x7fffff80, 0xffffffff, 0xffffff00, 0x0, 0x0,
        ],
    );

    // f64 -> i64 at the edges of the range.
    let y = vec![
        f64b(9.3e18),
        f64b(-9.3e18),
        f64b(9.2e18),
        f64b(f64::NAN),
        f64b(-9223372036854775808.0),
        f64b(1.8e19),
        f64b(-5.0),
    ];
    let got = run_elementwise(
        &[("y", "f64", y)],
        &[
            ("s", "i64", "arith.fptosi %y : f64 to i64"),
            ("u", "i64", "arith.fptoui %y : f64 to i64"),
        ],
    );
    assert_bits(
        "fptosi f64 -> i64",
        &got["s"],
        &[
            i64::MAX as u64,
            1 << 63,
            9_200_000_000_000_000_000,
            0,
            1 << 63,
            i64::MAX as u64,
            (-5i64) as u64,
        ],
    );
    assert_bits(
        "fptoui f64 -> i64",
        &got["u"],
        &[
            9_300_000_000_000_000_000,
            0,
            9_200_000_000_000_000_000,
            0,
            0,
            18_000_000_000_000_000_000,
            0,
        ],
    );
}

#[test]
fn min_and_max_order_signed_zeros_and_handle_nan_as_documented() {
    let nan = NAN32;
    let (pz, nz) = (f32b(0.0), f32b(-0.0));
    // (NaN, 1), (1, NaN), (-0, +0), (+0, -0), (2, 3), (-inf, NaN), (NaN, NaN)
    let a = vec![
        nan,
        f32b(1.0),
        nz,
        pz,
        f32b(2.0),
        f32b(f32::NEG_INFINITY),
        nan,
    ];
    let b = vec![f32b(1.0), nan, pz, nz, f32b(3.0), nan, nan];
    let got = run_elementwise(
        &[("a", "f32", a), ("b", "f32", b)],
        &[
            ("maximumf", "f32", "arith.maximumf %a, %b : f32"),
            ("minimumf", "f32", "arith.minimumf %a, %b : f32"),
            ("maxnumf", "f32", "arith.maxnumf %a, %b : f32"),
            ("minnumf", "f32", "arith.minnumf %a, %b : f32"),
        ],
    );
    let (one, two, three, ninf) = (f32b(1.0), f32b(2.0), f32b(3.0), f32b(f32::NEG_INFINITY));
    f32_bits(
        "maximumf",
        &got["maximumf"],
        &[nan, nan, pz, pz, three, nan, nan],
    );
    f32_bits(
        "minimumf",
        &got["minimumf"],
        &[nan, nan, nz, nz, two, nan, nan],
    );
    f32_bits(
        "maxnumf",
        &got["maxnumf"],
        &[one, one, pz, pz, three, ninf, nan],
    );
    f32_bits(
        "minnumf",
        &got["minnumf"],
        &[one, one, nz, nz, two, ninf, nan],
    );

    // The same rules in f64.
    let got = run_elementwise(
        &[
            ("a", "f64", vec![f64b(-0.0), f64b(f64::NAN)]),
            ("b", "f64", vec![f64b(0.0), f64b(1.0)]),
        ],
        &[
            ("max", "f64", "arith.maximumf %a, %b : f64"),
            ("min", "f64", "arith.minnumf %a, %b : f64"),
        ],
    );
    assert_eq!(got["max"][0], f64b(0.0));
    assert!(f64::from_bits(got["max"][1]).is_nan());
    assert_eq!(got["min"], vec![f64b(-0.0), f64b(1.0)]);
}

#[test]
fn cmpf_ordered_predicates_are_false_on_nan_and_unordered_ones_true() {
    let nan = NAN32;
    // (NaN, 1), (1, 1), (1, 2), (-0, +0), (2, 1), (NaN, NaN)
    let a = vec![nan, f32b(1.0), f32b(1.0), f32b(-0.0), f32b(2.0), nan];
    let b = vec![f32b(1.0), f32b(1.0), f32b(2.0), f32b(0.0), f32b(1.0), nan];
    let preds = [
        "olt", "ult", "oeq", "ueq", "one", "une", "ord", "uno", "oge", "ugt", "false", "true",
    ];
    let texts: Vec<String> = preds
        .iter()
        .map(|p| format!("arith.cmpf {p}, %a, %b : f32"))
        .collect();
    let outputs: Vec<(&str, &str, &str)> = preds
        .iter()
        .zip(&texts)
        .map(|(p, t)| (*p, "i1", t.as_str()))
        .collect();
    let got = run_elementwise(&[("a", "f32", a), ("b", "f32", b)], &outputs);
    let want: [(&str, [u64; 6]); 12] = [
        ("olt", [0, 0, 1, 0, 0, 0]),
        ("ult", [1, 0, 1, 0, 0, 1]),
        ("oeq", [0, 1, 0, 1, 0, 0]),
        ("ueq", [1, 1, 0, 1, 0, 1]),
        ("one", [0, 0, 1, 0, 1, 0]),
        ("une", [1, 0, 1, 0, 1, 1]),
        ("ord", [0, 1, 1, 1, 1, 0]),
        ("uno", [1, 0, 0, 0, 0, 1]),
        ("oge", [0, 1, 0, 1, 1, 0]),
        ("ugt", [1, 0, 0, 0, 1, 1]),
        ("false", [0; 6]),
        ("true", [1; 6]),
    ];
    for (p, w) in want {
        assert_bits(&format!("cmpf {p}"), &got[p], &w);
    }
}

#[test]
fn int_to_float_is_correctly_rounded_even_from_64_bits() {
    // 2^60 + 2^52 + 1 is above a bf16 tie by 1: a plain conversion through
    // f64 drops the 1 and rounds the tie to even (0x5d80); round-to-odd
    // keeps it (0x5d81). 2^60 + 2^36 + 1 is the same case for f32.
    let ints: Vec<u64> = vec![
        0x1010000000000001,
        0xefefffffffffffff,
        0x4000000000000000,
        0x1000001000000001,
        0xffffffffffffffff,
        0x801,
        0x803,
        0x8000000000000000,
    ];
    let got = run_elementwise(
        &[("n", "i64", ints)],
        &[
            ("sbf16", "bf16", "arith.sitofp %n : i64 to bf16"),
            ("ubf16", "bf16", "arith.uitofp %n : i64 to bf16"),
            ("sf16", "f16", "arith.sitofp %n : i64 to f16"),
            ("sf32", "f32", "arith.sitofp %n : i64 to f32"),
            ("uf32", "f32", "arith.uitofp %n : i64 to f32"),
        ],
    );
    assert_bits(
        "sitofp i64 -> bf16",
        &got["sbf16"],
        &[
            0x5d81, 0xdd81, 0x5e80, 0x5d80, 0xbf80, 0x4500, 0x4500, 0xdf00,
        ],
    );
    assert_bits(
        "uitofp i64 -> bf16",
        &got["ubf16"],
        &[
            0x5d81, 0x5f70, 0x5e80, 0x5d80, 0x5f80, 0x4500, 0x4500, 0x5f00,
        ],
    );
    assert_bits(
        "sitofp i64 -> f16",
        &got["sf16"],
        &[
            0x7c00, 0xfc00, 0x7c00, 0x7c00, 0xbc00, 0x6800, 0x6802, 0xfc00,
        ],
    );
    assert_bits(
        "sitofp i64 -> f32",
        &got["sf32"],
        &[
            0x5d808000, 0xdd808000, 0x5e800000, 0x5d800001, 0xbf800000, 0x45001000, 0x45003000,
            0xdf000000,
        ],
    );
    assert_bits(
        "uitofp i64 -> f32",
        &got["uf32"],
        &[
            0x5d808000, 0x5f6ff000, 0x5e800000, 0x5d800001, 0x5f800000, 0x45001000, 0x45003000,
            0x5f000000,
        ],
    );
}

#[test]
fn math_functions_follow_their_rounding_rules() {
    let x = vec![
        f32b(2.5),
        f32b(3.5),
        f32b(-2.5),
        f32b(0.5),
        f32b(-0.5),
        f32b(4.0),
        f32b(-7.0),
        f32b(0.0),
    ];
    let got = run_elementwise(
        &[("x", "f32", x)],
        &[
            ("roundeven", "f32", "math.roundeven %x : f32"),
            ("round", "f32", "math.round %x : f32"),
            ("floor", "f32", "math.floor %x : f32"),
            ("ceil", "f32", "math.ceil %x : f32"),
            ("rsqrt", "f32", "math.rsqrt %x : f32"),
            ("rem", "f32", "arith.remf %x, %x : f32"),
            ("neg", "f32", "arith.negf %x : f32"),
            ("exp", "f32", "math.exp %x : f32"),
        ],
    );
    let v = |xs: &[f32]| xs.iter().map(|x| f32b(*x)).collect::<Vec<_>>();
    f32_bits(
        "roundeven",
        &got["roundeven"],
        &v(&[2.0, 4.0, -2.0, 0.0, -0.0, 4.0, -7.0, 0.0]),
    );
    f32_bits(
        "round",
        &got["round"],
        &v(&[3.0, 4.0, -3.0, 1.0, -1.0, 4.0, -7.0, 0.0]),
    );
    f32_bits(
        "floor",
        &got["floor"],
        &v(&[2.0, 3.0, -3.0, 0.0, -1.0, 4.0, -7.0, 0.0]),
    );
    f32_bits(
        "ceil",
        &got["ceil"],
        &v(&[3.0, 4.0, -2.0, 1.0, -0.0, 4.0, -7.0, 0.0]),
    );
    assert_eq!(got["rsqrt"][5], f32b(0.5));
    assert_eq!(
        got["rem"][6],
        f32b(-0.0),
        "fmod(-7, -7) keeps the dividend's sign"
    );
    assert_eq!(got["neg"][7], f32b(-0.0));
    assert_eq!(got["exp"][7], f32b(1.0));

    let got = run_elementwise(
        &[
            ("a", "f32", vec![f32b(-7.0), f32b(7.0), f32b(5.5)]),
            ("b", "f32", vec![f32b(2.0), f32b(-2.0), f32b(2.0)]),
        ],
        &[("rem", "f32", "arith.remf %a, %b : f32")],
    );
    assert_eq!(got["rem"], v(&[-1.0, 1.0, 1.5]));
}

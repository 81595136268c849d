//! The functional model against plain Rust arithmetic: tiled GEMMs in both
//! dataflows (with partial tiles, bias, scaling, ReLU, saturation and
//! full-width output), mvin rules (NULL means zeros, accumulate, blocks,
//! scale) and every error a bad program can hit.

mod common;

use accc_sim::machine::{rounding_shift, scale_to_i8};
use accc_sim::SimError;
use accc_targets::gemmini::isa::{encode, LocalAddr, Rocc};
use common::{bytes, matmul, matrix, Bench, BASE};

const DIM: usize = 16;
const WS: u64 = 1;
const OS: u64 = 0;

fn align(x: u64) -> u64 {
    x.div_ceil(64) * 64
}

/// Output form of a GEMM run.
#[derive(Clone, Copy)]
enum Out {
    /// int32, read full width from the accumulator.
    Full,
    /// int8 through mvout's scale and optional ReLU.
    Scaled(f32, bool),
}

/// Runs C = A * B tile by tile on the emulator in `dataflow`, returns C as
/// int32 (int8 outputs widened).
fn gemm(dataflow: u64, m: usize, k: usize, n: usize, out: Out) -> (Vec<i32>, Vec<i8>, Vec<i8>) {
    let a = matrix(m, k, 1, 8);
    let b = matrix(k, n, 2, 8);
    let a_at = BASE;
    let b_at = align(a_at + (m * k) as u64);
    let c_at = align(b_at + (k * n) as u64);
    let mut t = Bench::new((c_at - BASE) as usize + m * n * 4);
    t.dram.store(a_at, &bytes(&a)).unwrap();
    t.dram.store(b_at, &bytes(&b)).unwrap();
    let (c_bytes, full) = match out {
        Out::Full => (4, true),
        Out::Scaled(..) => (1, false),
    };
    t.ok(encode::config_ld(k as u64, 1.0, false, DIM as u16, 0));
    t.ok(encode::config_ld(n as u64, 1.0, false, DIM as u16, 1));
    t.ok(encode::config_ex(
        dataflow, 0, 0, 1.0, 1, 1, false, false, false,
    ));
    match out {
        Out::Full => t.ok(encode::config_st((n * 4) as u32, 0, 1.0)),
        Out::Scaled(scale, relu) => t.ok(encode::config_st(n as u32, u64::from(relu), scale)),
    }
    let (a_row, b_row) = (0u32, 4096u32);
    for i0 in (0..m).step_by(DIM) {
        for j0 in (0..n).step_by(DIM) {
            let rows = (m - i0).min(DIM) as u32;
            let cols = (n - j0).min(DIM) as u32;
            for (kt, k0) in (0..k).step_by(DIM).enumerate() {
                let depth = (k - k0).min(DIM) as u32;
                let a_src = a_at + (i0 * k + k0) as u64;
                let b_src = b_at + (k0 * n + j0) as u64;
                t.ok(encode::mvin(0, a_src, LocalAddr::spad(a_row), depth, rows));
                t.ok(encode::mvin(1, b_src, LocalAddr::spad(b_row), cols, depth));
                let c = LocalAddr::acc(0, kt > 0, false);
                if dataflow == WS {
                    t.ok(encode::preload(
                        LocalAddr::spad(b_row),
                        c,
                        cols,
                        depth,
                        cols,
                        rows,
                    ));
                    t.ok(encode::compute(
                        true,
                        LocalAddr::spad(a_row),
                        LocalAddr::garbage(),
                        depth,
                        rows,
                        DIM as u32,
                        DIM as u32,
                    ));
                } else {
                    // Output-stationary: the partial sums stay in the array;
                    // every compute writes them to C (overwriting).
                    let c = LocalAddr::acc(0, false, false);
                    if kt == 0 {
                        t.ok(encode::preload(
                            LocalAddr::garbage(),
                            c,
                            DIM as u32,
                            DIM as u32,
                            cols,
                            rows,
                        ));
                    }
                    t.ok(encode::compute(
                        kt == 0,
                        LocalAddr::spad(a_row),
                        LocalAddr::spad(b_row),
                        depth,
                        rows,
                        cols,
                        depth,
                    ));
                }
            }
            let c_dst = c_at + ((i0 * n + j0) * c_bytes) as u64;
            t.ok(encode::mvout(
                c_dst,
                LocalAddr::acc(0, false, full),
                cols,
                rows,
            ));
        }
    }
    t.emu.fence();
    let raw = t.dram.load(c_at, m * n * c_bytes).unwrap();
    let c = match out {
        Out::Full => raw
            .chunks(4)
            .map(|w| i32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect(),
        Out::Scaled(..) => raw.iter().map(|&v| i32::from(v as i8)).collect(),
    };
    (c, a, b)
}

#[test]
fn weight_stationary_gemm_with_partial_tiles() {
    for (m, k, n) in [(48, 32, 40), (16, 16, 16), (37, 21, 19)] {
        let (c, a, b) = gemm(WS, m, k, n, Out::Full);
        assert_eq!(c, matmul(&a, &b, m, k, n), "{m}x{k}x{n}");
    }
}

#[test]
fn output_stationary_gemm_with_partial_tiles() {
    for (m, k, n) in [(48, 32, 40), (37, 21, 19)] {
        let (c, a, b) = gemm(OS, m, k, n, Out::Full);
        assert_eq!(c, matmul(&a, &b, m, k, n), "{m}x{k}x{n}");
    }
}

#[test]
fn int8_output_is_scaled_rounded_saturated_and_relu() {
    let (m, k, n) = (32, 48, 32);
    for (scale, relu) in [(1.0, false), (0.125, false), (0.3, true), (4.0, false)] {
        let (c, a, b) = gemm(WS, m, k, n, Out::Scaled(scale, relu));
        let want: Vec<i32> = matmul(&a, &b, m, k, n)
            .into_iter()
            .map(|x| {
                let s = scale_to_i8(x, scale);
                i32::from(if relu { s.max(0) } else { s })
            })
            .collect();
        assert_eq!(c, want, "scale {scale} relu {relu}");
        if scale == 4.0 {
            assert!(
                c.contains(&127) && c.contains(&-128),
                "saturation is exercised"
            );
        }
    }
}

#[test]
fn rounding_rules() {
    assert_eq!(scale_to_i8(5, 0.5), 2); // 2.5 -> 2 (even)
    assert_eq!(scale_to_i8(7, 0.5), 4); // 3.5 -> 4
    assert_eq!(scale_to_i8(-5, 0.5), -2);
    assert_eq!(scale_to_i8(1000, 1.0), 127);
    assert_eq!(scale_to_i8(-1000, 1.0), -128);
    assert_eq!(rounding_shift(5, 1), 2);
    assert_eq!(rounding_shift(7, 1), 4);
    assert_eq!(rounding_shift(-5, 1), -2);
    assert_eq!(rounding_shift(6, 2), 2); // 1.5 -> 2
    assert_eq!(rounding_shift(10, 2), 2); // 2.5 -> 2
}

#[test]
fn mvin_rules() {
    let mut t = Bench::new(4096);
    let data: Vec<u8> = (0..64u8).collect();
    t.dram.store(BASE, &data).unwrap();
    // Four blocks of one 64-column row land `block_stride` rows apart.
    t.ok(encode::config_ld(64, 1.0, false, 100, 0));
    t.ok(encode::mvin(0, BASE, LocalAddr::spad(10), 64, 1));
    for b in 0..4 {
        let row = t.emu.machine().spad_row(10 + 100 * b);
        assert_eq!(row[0], (16 * b) as i8);
        assert_eq!(row[15], (16 * b + 15) as i8);
    }
    // NULL moves in zeros.
    t.ok(encode::mvin(0, 0, LocalAddr::spad(10), 16, 1));
    assert!(t.emu.machine().spad_row(10).iter().all(|&v| v == 0));
    // A mvin scale rounds and saturates.
    t.ok(encode::config_ld(64, 2.5, false, 16, 1));
    t.ok(encode::mvin(1, BASE + 48, LocalAddr::spad(20), 16, 1));
    assert_eq!(t.emu.machine().spad_row(20)[0], 120); // 48 * 2.5
    assert_eq!(t.emu.machine().spad_row(20)[15], 127); // 63 * 2.5 saturates
                                                       // int32 into the accumulator, then accumulated onto.
    let words: Vec<u8> = (0..16i32).flat_map(|v| (v * 1000).to_le_bytes()).collect();
    t.dram.store(BASE + 1024, &words).unwrap();
    t.ok(encode::config_ld(64, 1.0, false, 16, 2));
    t.ok(encode::mvin(
        2,
        BASE + 1024,
        LocalAddr::acc(3, false, false),
        16,
        1,
    ));
    t.ok(encode::mvin(
        2,
        BASE + 1024,
        LocalAddr::acc(3, true, false),
        16,
        1,
    ));
    assert_eq!(t.emu.machine().acc_row(3)[5], 10_000);
    // Shrunk: int8 into the accumulator, sign-extended.
    t.ok(encode::config_ld(64, 1.0, true, 16, 2));
    t.dram.store(BASE + 2048, &[0xFF; 16]).unwrap();
    t.ok(encode::mvin(
        2,
        BASE + 2048,
        LocalAddr::acc(4, false, false),
        16,
        1,
    ));
    assert_eq!(t.emu.machine().acc_row(4)[0], -1);
}

#[test]
fn weight_stationary_bias_and_reused_weights() {
    // C = A*B + D with D from the scratchpad, then compute_accumulated
    // reuses the weights for a second A.
    let a = matrix(16, 16, 3, 5);
    let a2 = matrix(16, 16, 4, 5);
    let b = matrix(16, 16, 5, 5);
    let d = matrix(16, 16, 6, 5);
    let mut t = Bench::new(8192);
    for (i, m) in [&a, &a2, &b, &d].into_iter().enumerate() {
        t.dram.store(BASE + 256 * i as u64, &bytes(m)).unwrap();
    }
    t.ok(encode::config_ld(16, 1.0, false, 16, 0));
    t.ok(encode::config_ex(WS, 0, 0, 1.0, 1, 1, false, false, false));
    t.ok(encode::config_st(64, 0, 1.0));
    for i in 0..4u32 {
        t.ok(encode::mvin(
            0,
            BASE + 256 * u64::from(i),
            LocalAddr::spad(16 * i),
            16,
            16,
        ));
    }
    t.ok(encode::preload(
        LocalAddr::spad(32),
        LocalAddr::acc(0, false, false),
        16,
        16,
        16,
        16,
    ));
    t.ok(encode::compute(
        true,
        LocalAddr::spad(0),
        LocalAddr::spad(48),
        16,
        16,
        16,
        16,
    ));
    t.ok(encode::preload(
        LocalAddr::garbage(),
        LocalAddr::acc(16, false, false),
        16,
        16,
        16,
        16,
    ));
    t.ok(encode::compute(
        false,
        LocalAddr::spad(16),
        LocalAddr::garbage(),
        16,
        16,
        16,
        16,
    ));
    let ab = matmul(&a, &b, 16, 16, 16);
    let a2b = matmul(&a2, &b, 16, 16, 16);
    for r in 0..16 {
        let row = t.emu.machine().acc_row(r as u32);
        let want: Vec<i32> = (0..16)
            .map(|c| ab[r * 16 + c] + i32::from(d[r * 16 + c]))
            .collect();
        assert_eq!(row, &want[..]);
        assert_eq!(t.emu.machine().acc_row(16 + r as u32), &a2b[r * 16..][..16]);
    }
}

#[test]
fn results_into_the_scratchpad_saturate() {
    let a = vec![100i8; 256];
    let mut t = Bench::new(4096);
    t.dram.store(BASE, &bytes(&a)).unwrap();
    t.ok(encode::config_ld(16, 1.0, false, 16, 0));
    t.ok(encode::config_ex(WS, 1, 0, 1.0, 1, 1, false, false, false));
    t.ok(encode::mvin(0, BASE, LocalAddr::spad(0), 16, 16));
    t.ok(encode::preload(
        LocalAddr::spad(0),
        LocalAddr::spad(100),
        16,
        16,
        16,
        16,
    ));
    t.ok(encode::compute(
        true,
        LocalAddr::spad(0),
        LocalAddr::garbage(),
        16,
        16,
        16,
        16,
    ));
    assert!(t.emu.machine().spad_row(100).iter().all(|&v| v == 127));
}

fn error_of(cmds: &[Rocc]) -> (u64, String, SimError) {
    let mut t = Bench::new(4096);
    for &c in cmds {
        if let Err(e) = t.issue(c) {
            return (e.index, e.to_string(), e.error);
        }
    }
    panic!("no error");
}

#[test]
fn bad_programs_stop_with_the_command_named() {
    let ld = encode::config_ld(16, 1.0, false, 16, 0);
    let ex = encode::config_ex(WS, 0, 0, 1.0, 1, 1, false, false, false);
    let cases: Vec<(Vec<_>, &str)> = vec![
        (
            vec![encode::mvin(0, BASE, LocalAddr::spad(0), 16, 16)],
            "before any config_ld",
        ),
        (
            vec![ld, encode::mvin(0, BASE, LocalAddr::spad(16380), 16, 16)],
            "scratchpad row 16395",
        ),
        (
            vec![
                ld,
                encode::mvin(0, BASE, LocalAddr::acc(1020, false, false), 16, 8),
            ],
            "accumulator row 1027",
        ),
        (
            vec![ld, encode::mvin(0, BASE, LocalAddr::spad(0), 16, 17)],
            "17 rows",
        ),
        (
            vec![ld, encode::mvin(0, BASE, LocalAddr::spad(0), 80, 1)],
            "80 columns",
        ),
        (
            vec![
                ld,
                encode::mvin(0, BASE, LocalAddr::acc(0, false, false), 32, 1),
            ],
            "32 columns",
        ),
        (
            vec![ld, encode::mvin(0, 0x10, LocalAddr::spad(0), 16, 1)],
            "not mapped",
        ),
        (
            vec![
                ex,
                encode::compute(
                    true,
                    LocalAddr::spad(0),
                    LocalAddr::garbage(),
                    16,
                    16,
                    16,
                    16,
                ),
            ],
            "no preload",
        ),
        (
            vec![
                encode::preload(LocalAddr::spad(0), LocalAddr::garbage(), 16, 16, 16, 16),
                encode::compute(
                    true,
                    LocalAddr::spad(0),
                    LocalAddr::garbage(),
                    16,
                    16,
                    16,
                    16,
                ),
            ],
            "before any config_ex",
        ),
        (
            vec![encode::preload(
                LocalAddr::acc(0, false, false),
                LocalAddr::garbage(),
                16,
                16,
                16,
                16,
            )],
            "scratchpad only",
        ),
        (
            vec![encode::mvout(BASE, LocalAddr::acc(0, false, false), 16, 16)],
            "before any config_st",
        ),
        (
            vec![encode::config_ex(WS, 0, 0, 1.0, 1, 1, true, true, false)],
            "cannot transpose both",
        ),
        (
            vec![encode::config_ex(OS, 0, 40, 1.0, 1, 1, false, false, false)],
            "below 32",
        ),
        (
            vec![Rocc {
                funct: 8,
                rs1: 0,
                rs2: 0,
            }],
            "gemmini_loop_ws",
        ),
        (
            vec![Rocc {
                funct: 99,
                rs1: 0,
                rs2: 0,
            }],
            "unknown Gemmini funct code 99",
        ),
        (
            vec![
                encode::config_st(16, 0, 1.0),
                encode::mvout(0, LocalAddr::acc(0, false, false), 16, 16),
            ],
            "NULL",
        ),
    ];
    for (cmds, want) in cases {
        let (index, text, _) = error_of(&cmds);
        assert_eq!(index as usize, cmds.len() - 1, "{text}");
        assert!(text.contains(want), "expected `{want}` in: {text}");
        assert!(text.starts_with("Gemmini command #"), "{text}");
    }
}

#[test]
fn config_ex_refuses_a_dataflow_the_array_was_not_built_with() {
    for (built, refused, name) in [
        ("ws", OS, "OUTPUT_STATIONARY"),
        ("os", WS, "WEIGHT_STATIONARY"),
    ] {
        let mut cfg = accc_targets::gemmini::hardware::HardwareConfig::default();
        cfg.patch(&format!("[array]\ndataflow = \"{built}\"\n"), "one.toml")
            .unwrap();
        let mut t = Bench::with(cfg, 4096);
        let err = t
            .issue(encode::config_ex(
                refused, 0, 0, 1.0, 1, 1, false, false, false,
            ))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(name) && err.contains(&format!("array.dataflow = \"{built}\"")),
            "{err}"
        );
        // The other one runs.
        t.ok(encode::config_ex(
            WS + OS - refused,
            0,
            0,
            1.0,
            1,
            1,
            false,
            false,
            false,
        ));
    }
}

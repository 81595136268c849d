//! Gemmini's instructions as tensorize intrinsics: the kernels of
//! `intrinsics.acc` (their meaning) and the memory each parameter must be
//! in. Compiling the kernels needs the DSL, so the `accc` crate does it
//! ([`source`] gives the text for a hardware description).

use super::hardware::HardwareConfig;

/// An intrinsic: its op name, its kernel in `intrinsics.acc`, and the
/// memory space of each memref parameter that is not global.
pub type IntrinsicDecl = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

pub const INTRINSICS: &[IntrinsicDecl] = &[
    (
        "gemmini.matmul",
        "matmul",
        &[
            ("A", "scratchpad"),
            ("B", "scratchpad"),
            ("C", "accumulator"),
        ],
    ),
    (
        "gemmini.matmul_os",
        "matmul_os",
        &[
            ("A", "scratchpad"),
            ("B", "scratchpad"),
            ("C", "accumulator"),
        ],
    ),
    ("gemmini.mvin", "mvin", &[("dst", "scratchpad")]),
    ("gemmini.mvin_acc", "mvin_acc", &[("dst", "accumulator")]),
    ("gemmini.zero_acc", "zero_acc", &[("dst", "accumulator")]),
    ("gemmini.mvout", "mvout", &[("src", "scratchpad")]),
    ("gemmini.mvout_acc", "mvout_acc", &[("src", "accumulator")]),
    (
        "gemmini.mvout_scale",
        "mvout_scale",
        &[("src", "accumulator")],
    ),
    (
        "gemmini.mvout_scale_relu",
        "mvout_scale_relu",
        &[("src", "accumulator")],
    ),
];

const TEXT: &str = include_str!("intrinsics.acc");

/// `intrinsics.acc` with the sizes of `cfg`.
pub fn source(cfg: &HardwareConfig) -> String {
    TEXT.replace("const DIM = 16;", &format!("const DIM = {};", cfg.dim()))
        .replace(
            "const MVIN_COLS = 64;",
            &format!("const MVIN_COLS = {};", cfg.max_block_len() * cfg.dim()),
        )
}

//! The Gemmini target: its hardware description ([`hardware`], the TOML
//! file every Gemmini number comes from), its instruction encoding
//! ([`isa`], shared with the emulator in `accc-sim`) and `gemmini.h`,
//! accc's implementation of Gemmini's C API on RoCC command words; the
//! instructions as tensorize intrinsics ([`intrinsics`]).

pub mod emit;
pub mod hardware;
pub mod intrinsics;
pub mod isa;
pub mod lower;

use accc_ir::Location;

/// What the Gemmini target cannot do with a kernel, located where the
/// source allows.
#[derive(Debug, thiserror::Error)]
pub enum GemminiError {
    #[error("{loc}: {what}")]
    Unsupported { loc: Location, what: String },
    /// Local buffers that do not fit a memory, or an address Gemmini
    /// cannot form.
    #[error("{0}")]
    Resources(String),
    #[error("internal error in the Gemmini target: {0}")]
    Internal(String),
}

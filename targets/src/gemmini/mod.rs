//! The Gemmini target: its hardware description ([`hardware`], the TOML
//! file every Gemmini number comes from), its instruction encoding
//! ([`isa`], shared with the emulator in `accc-sim`) and `gemmini.h`,
//! accc's implementation of Gemmini's C API on RoCC command words.

pub mod hardware;
pub mod isa;

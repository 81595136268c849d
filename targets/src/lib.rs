//! accc-targets: one folder per target (dialect, lowering, emitter, hardware description).
//!
//! - [`c`]: portable C99 that follows docs/semantics.md bit for bit; the
//!   reference every other target is compared with on real hardware.
//! - [`gemmini`]: Gemmini's hardware description, instruction encoding and
//!   C API header.

pub mod c;
pub mod gemmini;

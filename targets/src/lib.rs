//! accc-targets: one folder per target (dialect, lowering, emitter, hardware description).
//!
//! - [`c`]: portable C99 that follows docs/semantics.md bit for bit; the
//!   reference every other target is compared with on real hardware.

pub mod c;

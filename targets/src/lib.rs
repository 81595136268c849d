//! accc-targets: one folder per target (dialect, lowering, emitter, hardware description).

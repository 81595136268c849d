//! accc-passes: the pass manager and target-independent IR passes.
//!
//! A pass is a named rewrite of a whole [`Module`]. The [`PassManager`] runs
//! a pipeline of passes, verifies the module after each one (a pass that
//! breaks an invariant is reported by name, never silently passed on) and
//! offers a hook after each pass, which the driver uses for
//! `--print-ir-after-each`. The schedule primitives live in [`schedule`],
//! one file each (`docs/primitives.md`).

pub mod canonicalize;
pub mod dce;
pub mod manager;
pub mod schedule;

pub use manager::{registered_passes, Pass, PassError, PassInfo, PassManager};

//! accc-ir: the IR core every other crate stands on.
pub mod diag;

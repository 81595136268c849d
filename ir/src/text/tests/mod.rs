//! Tests of the text format: hand-written round trips, error messages,
//! property tests over random modules, and `mlir-opt` acceptance.

mod errors;
mod gen;
mod mlir_opt;
mod props;
mod roundtrip;

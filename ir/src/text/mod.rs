//! MLIR's textual form for accc's IR: a printer, a parser, and structural
//! equality to state what a round trip preserves.
//!
//! - [`print_module`] writes upstream MLIR 19's pretty syntax for
//!   builtin/func/affine/arith/math/memref/scf (accepted by `mlir-opt`) and
//!   the generic syntax (`"gemmini.mvin"(%a) {...} : (...) -> ()`) for
//!   every other op, or for all ops with [`PrintOptions::generic`];
//! - [`parse_module`] reads both back (and the common subset of what
//!   `mlir-opt` prints: `#map` aliases, `#loc` aliases, `return`/`call`
//!   in the default `func` dialect), with located diagnostics, then
//!   verifies;
//! - [`structurally_equal`] compares modules up to arena ids; the round trip
//!   `parse(print(m))` is structurally equal to `m` for every verified
//!   module, and `print ∘ parse ∘ print = print` (property-tested).
//!
//! Memory spaces print as MLIR attributes: integers (`memref<4xf32, 3>`)
//! and strings (`memref<16x16xi8, "scratchpad">`); `mlir-opt` accepts both
//! without any dialect registration.
//!
//! See `docs/ir.md` for the syntax of each op.

mod equal;
mod lexer;
mod parse;
pub(crate) mod print;

pub use equal::{structurally_equal, structurally_equal_with, EqOptions};
pub use parse::{
    parse_module, parse_module_unverified, parse_module_with_spans, ParsedModule, MAX_NESTING,
};
pub use print::{print_module, print_module_with, print_op, PrintOptions};

#[cfg(test)]
mod tests;

//! Per-dialect op knowledge: names, operand/attribute layout, constructors
//! and op-specific verification.
//!
//! The layout of every op mirrors MLIR's generic form (same attribute names,
//! same operand order), so the generic printer's output for these ops is what
//! `mlir-opt` itself would print generically. Ops of other dialects are
//! allowed and kept opaque: the structural verifier checks only what holds
//! for every op.

pub mod affine;
pub mod arith;
pub mod func;
pub mod math;
pub mod memref;
pub mod scf;

use crate::entity::Op;
use crate::module::Module;

/// Op-specific checks; `Ok` for ops accc does not know.
pub fn verify_op(m: &Module, op: Op) -> Result<(), String> {
    let name = m.op_name(op);
    match name.split_once('.').map(|(d, _)| d) {
        Some("affine") => affine::verify(m, op),
        Some("arith") => arith::verify(m, op),
        Some("func") => func::verify(m, op),
        Some("math") => math::verify(m, op),
        Some("memref") => memref::verify(m, op),
        Some("scf") => scf::verify(m, op),
        _ => Ok(()),
    }
}

/// Ops that must end a block.
pub fn is_terminator(name: &str) -> bool {
    matches!(name, "func.return" | "affine.yield" | "scf.yield")
}

/// The terminator the blocks of an op's regions must end with, for ops whose
/// regions need one.
pub fn required_terminator(name: &str) -> Option<&'static str> {
    match name {
        "func.func" => Some("func.return"),
        "affine.for" | "affine.if" | "affine.parallel" => Some("affine.yield"),
        "scf.for" | "scf.if" | "scf.parallel" => Some("scf.yield"),
        _ => None,
    }
}

/// Ops whose regions cannot see values defined outside them.
pub fn is_isolated_from_above(name: &str) -> bool {
    matches!(name, "func.func" | "builtin.module")
}

pub(crate) fn expect_counts(
    m: &Module,
    op: Op,
    operands: usize,
    results: usize,
) -> Result<(), String> {
    if m.operands(op).len() != operands {
        return Err(format!(
            "expects {operands} operand(s), has {}",
            m.operands(op).len()
        ));
    }
    if m.results(op).len() != results {
        return Err(format!(
            "expects {results} result(s), has {}",
            m.results(op).len()
        ));
    }
    Ok(())
}

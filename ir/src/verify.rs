//! The structural verifier: what must hold for every module, whatever the
//! pass that produced it.
//!
//! Checked, for every op reachable from the module:
//! - links: each op's parent block, each block's parent region and each
//!   region's parent op agree with the child lists; no erased op is reachable;
//! - use lists: every operand is recorded in its value's use list, and every
//!   recorded use is a real operand;
//! - dominance: an operand is a block argument of an enclosing block, or the
//!   result of an op earlier in the same block or in an enclosing block before
//!   the ancestor of the use (regions are single-block structured control
//!   flow); ops isolated from above (`func.func`) see nothing outside;
//! - terminators: blocks of `func.func`, `affine.for/if`, `scf.for/if` end
//!   with their dialect's terminator; terminators appear only last;
//! - op-specific rules of the known dialects ([`crate::dialects`]): operand
//!   and result types, attribute presence and shape, map arities.
//!
//! Not checked yet: dominance across multiple blocks of one region (accc's
//! dialects use single-block regions), symbol uniqueness beyond functions.

use crate::dialects;
use crate::entity::{Block, Op, Value};
use crate::module::{Location, Module, Use, ValueDef};
use std::collections::HashSet;
use std::fmt;

/// One verification failure, located at an op.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyError {
    pub op: Op,
    pub op_name: String,
    pub loc: Location,
    pub message: String,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: '{}' op {}", self.loc, self.op_name, self.message)
    }
}

impl std::error::Error for VerifyError {}

/// Verifies the whole module; returns every error found.
pub fn verify_module(m: &Module) -> Result<(), Vec<VerifyError>> {
    let mut v = Verifier {
        m,
        errors: vec![],
        symbols: HashSet::new(),
    };
    let mut scope = Scope::default();
    v.verify_op(m.top(), &mut scope);
    if v.errors.is_empty() {
        Ok(())
    } else {
        Err(v.errors)
    }
}

/// Values visible at a point: a stack of frames, one per enclosing block.
#[derive(Default)]
struct Scope {
    frames: Vec<HashSet<Value>>,
}

impl Scope {
    fn contains(&self, v: Value) -> bool {
        self.frames.iter().any(|f| f.contains(&v))
    }
}

struct Verifier<'m> {
    m: &'m Module,
    errors: Vec<VerifyError>,
    symbols: HashSet<String>,
}

impl Verifier<'_> {
    fn report(&mut self, op: Op, message: impl Into<String>) {
        self.errors.push(VerifyError {
            op,
            op_name: self.m.op_name(op).to_string(),
            loc: self.m.op(op).loc.clone(),
            message: message.into(),
        });
    }

    fn verify_op(&mut self, op: Op, scope: &mut Scope) {
        let m = self.m;
        if m.is_erased(op) {
            self.report(op, "is erased but still reachable");
            return;
        }
        for (index, &v) in m.operands(op).iter().enumerate() {
            if v.index() >= m.num_value_slots() {
                self.report(
                    op,
                    format!("operand {index} names a value that does not exist"),
                );
                continue;
            }
            if !m.uses(v).contains(&Use {
                op,
                index: index as u32,
            }) {
                self.report(
                    op,
                    format!("operand {index} is missing from its value's use list"),
                );
            }
            if !scope.contains(v) {
                self.report(
                    op,
                    format!(
                        "operand {index} does not dominate this use{}",
                        self.describe_def(v)
                    ),
                );
            }
        }
        for &r in m.results(op) {
            for u in m.uses(r) {
                if m.is_erased(u.op) || m.operands(u.op).get(u.index as usize) != Some(&r) {
                    self.report(
                        op,
                        format!(
                            "a result's use list names {}#{} which does not use it",
                            u.op, u.index
                        ),
                    );
                }
            }
        }
        if let Err(message) = dialects::verify_op(m, op) {
            self.report(op, message);
        }
        if m.op_name(op) == "func.func" {
            if let Some(name) = dialects::func::sym_name(m, op) {
                if !self.symbols.insert(name.to_string()) {
                    self.report(op, format!("redefines symbol `@{name}`"));
                }
            }
        }

        let isolated = dialects::is_isolated_from_above(m.op_name(op));
        let saved = if isolated {
            Some(std::mem::take(&mut scope.frames))
        } else {
            None
        };
        let terminator = dialects::required_terminator(m.op_name(op));
        for &region in m.op_regions(op) {
            if m.region_parent(region) != op {
                self.report(op, "a region's parent link does not point back at the op");
            }
            for &block in m.region_blocks(region) {
                if m.block_parent(block) != Some(region) {
                    self.report(
                        op,
                        format!("{block}'s parent link does not point at its region"),
                    );
                }
                self.verify_block(op, block, terminator, scope);
            }
        }
        if let Some(frames) = saved {
            scope.frames = frames;
        }
        // The op's results become visible to the ops after it (the caller
        // adds them to the current frame).
    }

    fn verify_block(
        &mut self,
        parent: Op,
        block: Block,
        terminator: Option<&str>,
        scope: &mut Scope,
    ) {
        let m = self.m;
        scope
            .frames
            .push(m.block_args(block).iter().copied().collect());
        let ops = m.block_ops(block);
        for (i, &op) in ops.iter().enumerate() {
            if m.op_parent_block(op) != Some(block) {
                self.report(
                    op,
                    format!("is listed in {block} but its parent link disagrees"),
                );
            }
            let name = m.op_name(op);
            if dialects::is_terminator(name) && i + 1 != ops.len() {
                self.report(op, "is a terminator but is not the last op of its block");
            }
            self.verify_op(op, scope);
            let frame = scope
                .frames
                .last_mut()
                .expect("a frame was pushed for this block");
            frame.extend(m.results(op).iter().copied());
        }
        if let Some(expected) = terminator {
            match ops.last() {
                Some(&last) if m.op_name(last) == expected => {}
                Some(&last) => self.report(
                    parent,
                    format!(
                        "body must end with `{expected}`, ends with `{}`",
                        m.op_name(last)
                    ),
                ),
                None => self.report(
                    parent,
                    format!("body block is empty; it must end with `{expected}`"),
                ),
            }
        }
        scope.frames.pop();
    }

    fn describe_def(&self, v: Value) -> String {
        match self.m.value(v).def {
            ValueDef::OpResult { op, .. } if self.m.is_erased(op) => {
                format!(" (defined by erased {op})")
            }
            ValueDef::OpResult { op, .. } => format!(" (defined by `{}`)", self.m.op_name(op)),
            ValueDef::BlockArg { block, .. } => format!(" (an argument of {block})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::Builder;
    use crate::dialects::{affine, arith, func, memref};
    use crate::types::Type;

    fn small_kernel() -> (Module, Op) {
        let mut m = Module::new();
        let mt = Type::memref(vec![4], Type::Int(32), None);
        let (f, entry) = func::build_func(&mut m, "k", vec![mt.clone()], vec![]);
        let a = m.block_args(entry)[0];
        let mut b = Builder::at_end(&mut m, entry);
        let (_, iv, body) = affine::build_for(
            &mut b,
            affine::Bound::constant(0),
            affine::Bound::constant(4),
            1,
        );
        func::build_return(&mut b, &[]);
        let mut inner = Builder::before_terminator(&mut m, body);
        let x = affine::build_load(&mut inner, a, crate::AffineMap::identity(1), &[iv]);
        let y = arith::build_binary(&mut inner, "addi", x, x);
        affine::build_store(&mut inner, y, a, crate::AffineMap::identity(1), &[iv]);
        let _ = memref::build_alloc(&mut inner, Type::memref(vec![2], Type::F32, None), true);
        (m, f)
    }

    #[test]
    fn accepts_a_well_formed_kernel() {
        let (m, _) = small_kernel();
        verify_module(&m).unwrap();
    }

    #[test]
    fn rejects_use_before_definition_and_type_errors() {
        let (mut m, f) = small_kernel();
        let ops = m.walk_ops(f);
        let add = *ops.iter().find(|o| m.op_name(**o) == "arith.addi").unwrap();
        let load = *ops
            .iter()
            .find(|o| m.op_name(**o) == "affine.load")
            .unwrap();
        m.move_op_before(add, load).unwrap();
        let errs = verify_module(&m).unwrap_err();
        assert!(
            errs.iter().any(|e| e.message.contains("does not dominate")),
            "{errs:?}"
        );

        let (mut m, f) = small_kernel();
        let ops = m.walk_ops(f);
        let store = *ops
            .iter()
            .find(|o| m.op_name(**o) == "affine.store")
            .unwrap();
        let iv = m.operand(store, 2);
        m.set_operand(store, 0, iv);
        let errs = verify_module(&m).unwrap_err();
        assert!(
            errs.iter().any(|e| e.message.contains("stores `index`")),
            "{errs:?}"
        );
    }

    #[test]
    fn rejects_missing_terminator_and_erasing_used_values() {
        let (mut m, f) = small_kernel();
        let ops = m.walk_ops(f);
        let load = *ops
            .iter()
            .find(|o| m.op_name(**o) == "affine.load")
            .unwrap();
        assert!(matches!(
            m.erase_op(load),
            Err(crate::IrError::ResultStillUsed { .. })
        ));
        let ret = *ops
            .iter()
            .find(|o| m.op_name(**o) == "func.return")
            .unwrap();
        m.erase_op(ret).unwrap();
        let errs = verify_module(&m).unwrap_err();
        assert!(
            errs.iter()
                .any(|e| e.message.contains("must end with `func.return`")),
            "{errs:?}"
        );
    }

    #[test]
    fn clone_remaps_nested_values() {
        let (mut m, f) = small_kernel();
        let ops = m.walk_ops(f);
        let for_op = *ops.iter().find(|o| m.op_name(**o) == "affine.for").unwrap();
        let mut map = crate::ValueMap::new();
        let copy = m.clone_op(for_op, &mut map);
        m.move_op_after(copy, for_op).unwrap();
        verify_module(&m).unwrap();
        assert_eq!(m.walk_ops(f).len(), ops.len() + m.walk_ops(copy).len());
        m.erase_op(for_op).unwrap();
        verify_module(&m).unwrap();
    }
}

//! The `scf` dialect: `scf.for` (operands lower, upper, step, all `index`;
//! one region whose block has the `index` induction variable), `scf.if`
//! (an `i1` condition; then and else regions) and `scf.yield`. Loop-carried
//! values are not used by accc.

use super::expect_counts;
use crate::builder::Builder;
use crate::entity::{Block, Op, Value};
use crate::module::{Module, OpSpec};
use crate::types::Type;

pub fn build_for(b: &mut Builder, lower: Value, upper: Value, step: Value) -> (Op, Value, Block) {
    let op = b.insert(
        OpSpec::new("scf.for")
            .operands([lower, upper, step])
            .regions(1),
    );
    let region = b.module.op_regions(op)[0];
    let body = b.module.append_block(region, &[Type::Index]);
    let iv = b.module.block_args(body)[0];
    Builder::at_end(b.module, body).insert(OpSpec::new("scf.yield"));
    (op, iv, body)
}

pub fn build_if(b: &mut Builder, cond: Value, with_else: bool) -> (Op, Block, Option<Block>) {
    let op = b.insert(OpSpec::new("scf.if").operands([cond]).regions(2));
    let regions = b.module.op_regions(op).to_vec();
    let then_block = b.module.append_block(regions[0], &[]);
    Builder::at_end(b.module, then_block).insert(OpSpec::new("scf.yield"));
    let else_block = with_else.then(|| {
        let blk = b.module.append_block(regions[1], &[]);
        Builder::at_end(b.module, blk).insert(OpSpec::new("scf.yield"));
        blk
    });
    (op, then_block, else_block)
}

pub(crate) fn verify(m: &Module, op: Op) -> Result<(), String> {
    match m.op_name(op) {
        "scf.for" => {
            expect_counts(m, op, 3, 0)?;
            if m.operands(op)
                .iter()
                .any(|v| *m.value_type(*v) != Type::Index)
            {
                return Err("lower bound, upper bound and step must be `index`".into());
            }
            let body = m.entry_block(op, 0).ok_or("expects a body block")?;
            if m.block_args(body).len() != 1 || *m.value_type(m.block_args(body)[0]) != Type::Index
            {
                return Err("the body block needs exactly one `index` argument".into());
            }
            Ok(())
        }
        "scf.if" => {
            expect_counts(m, op, 1, 0)?;
            if *m.value_type(m.operand(op, 0)) != Type::i1() {
                return Err("the condition must be `i1`".into());
            }
            if m.op_regions(op).len() != 2 {
                return Err("expects a then and an else region".into());
            }
            Ok(())
        }
        "scf.yield" => {
            if !m.operands(op).is_empty() {
                return Err("yields no values in accc".into());
            }
            match m.parent_op(op).map(|p| m.op_name(p)) {
                Some("scf.for" | "scf.if" | "scf.parallel") => Ok(()),
                _ => Err("must terminate an `scf.for` or `scf.if` body".into()),
            }
        }
        _ => Ok(()),
    }
}

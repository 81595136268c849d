//! `unroll(loop, factor = 0)` and `fuse(outer, inner)`.
//!
//! `unroll` duplicates a constant-bound loop's body: with `factor = 0` (or
//! a factor at least the trip count) the loop disappears into one copy of
//! its body per iteration, each with the induction variable replaced by
//! its constant value; with `1 < factor < trips` the loop steps `factor`
//! iterations at a time, its body holding `factor` copies (the `k`-th with
//! `iv + k * step`), and the `trips mod factor` iterations left over follow
//! the loop as constant copies. Loops inside copy `k > 0` are named
//! `<name>.u<k>` so that every loop keeps a unique name.
//!
//! `fuse` collapses a loop and the loop that is its whole body into one
//! loop of `N1 * N2` iterations `f`, with the outer variable
//! `lb1 + s1 * (f floordiv N2)` and the inner `lb2 + s2 * (f mod N2)`.

use accc_ir::affine::AffineExpr;
use accc_ir::attrs::Attribute;
use accc_ir::dialects::affine::{self, Bound};
use accc_ir::{Builder, Module, Op};

use super::loops::{
    body_ops, clone_with_iv, constant_loop, find_loop, internal, name_loop, LoopRef,
};
use super::split::{move_body_and_substitute, replace_iv};
use super::{Args, ScheduleError, StepReport};

/// Full unrolls beyond this many copies are refused.
const MAX_COPIES: i64 = 4096;

pub(crate) fn apply_unroll(
    m: &mut Module,
    func: Op,
    args: &Args,
) -> Result<StepReport, ScheduleError> {
    args.expect(1, 2, &[])?;
    let l =
        find_loop(m, func, args.name(0, "the loop to unroll")?).map_err(|e| e.at(args.span(0)))?;
    let factor = if args.len() > 1 {
        args.int(1, "the unroll factor")?
    } else {
        0
    };
    if factor < 0 {
        return Err(ScheduleError::new(format!(
            "the unroll factor must be 0 (full) or positive, got {factor}"
        ))
        .at(args.span(1)));
    }
    unroll(m, &l, factor).map_err(|e| e.at(args.span(0)))
}

fn unroll(m: &mut Module, l: &LoopRef, factor: i64) -> Result<StepReport, ScheduleError> {
    let (lb, _, step, trips) = constant_loop(m, l, "unroll")?;
    let iv = affine::induction_var(m, l.op).ok_or_else(|| internal("no iv"))?;
    let body = body_ops(m, l.op);
    let full = factor == 0 || factor >= trips;
    let copies = if full { trips } else { factor };
    if copies > MAX_COPIES {
        return Err(ScheduleError::new(format!(
            "unrolling loop `{}` fully would make {trips} copies of its body (at most {MAX_COPIES})",
            l.name
        ))
        .with_hint("give an unroll factor"));
    }
    if factor == 1 {
        return Ok(StepReport {
            summary: format!("unroll factor 1 leaves loop `{}` as it is", l.name),
            names: vec![],
        });
    }
    let main = if full { 0 } else { trips / factor * factor };
    let anchor = next_op(m, l.op)?;
    // Leftover (or, fully unrolled, all) iterations as constant copies
    // after the loop.
    for n in main..trips {
        let clones = clone_with_iv(
            m,
            &body,
            anchor,
            iv,
            &[],
            &AffineExpr::constant(lb + n * step),
        )?;
        let k = if full { n } else { n - main + factor };
        rename_copies(m, &clones, k);
    }
    if full {
        m.erase_op(l.op).map_err(internal)?;
        return Ok(StepReport {
            summary: format!(
                "unrolled loop `{}` fully into {trips} copies of its body",
                l.name
            ),
            names: vec![],
        });
    }
    // The loop now steps `factor` iterations; copies 1.. follow the body.
    let terminator = m
        .entry_block(l.op, 0)
        .and_then(|b| m.block_terminator(b))
        .ok_or_else(|| internal("no yield"))?;
    for k in 1..factor {
        let shifted = AffineExpr::dim(0).add(AffineExpr::constant(k * step));
        let clones = clone_with_iv(m, &body, terminator, iv, &[iv], &shifted)?;
        rename_copies(m, &clones, k);
    }
    m.set_attr(l.op, "step", Attribute::index(step * factor));
    m.set_attr(
        l.op,
        "upperBoundMap",
        Attribute::AffineMap(accc_ir::AffineMap::constant(lb + main * step)),
    );
    Ok(StepReport {
        summary: format!(
            "unrolled loop `{}` by {factor}: {} iterations of {factor} copies{}",
            l.name,
            main / factor,
            if trips > main {
                format!(", then {} leftover iteration(s)", trips - main)
            } else {
                String::new()
            }
        ),
        names: vec![],
    })
}

/// The op after `op` in its block.
fn next_op(m: &Module, op: Op) -> Result<Op, ScheduleError> {
    let (block, at) = m.op_position(op).ok_or_else(|| internal("detached loop"))?;
    m.block_ops(block)
        .get(at + 1)
        .copied()
        .ok_or_else(|| internal("a loop at the end of a block"))
}

/// Names the loops inside copy `k` of a body `<name>.u<k>`.
fn rename_copies(m: &mut Module, clones: &[Op], k: i64) {
    if k == 0 {
        return;
    }
    for &c in clones {
        for op in m.walk_ops(c) {
            if let Some(name) = m.attr(op, "loop_name").and_then(Attribute::as_str) {
                let name = format!("{name}.u{k}");
                name_loop(m, op, &name);
            }
        }
    }
}

pub(crate) fn apply_fuse(
    m: &mut Module,
    func: Op,
    args: &Args,
) -> Result<StepReport, ScheduleError> {
    args.expect(2, 2, &[])?;
    let outer =
        find_loop(m, func, args.name(0, "the outer loop")?).map_err(|e| e.at(args.span(0)))?;
    let inner =
        find_loop(m, func, args.name(1, "the inner loop")?).map_err(|e| e.at(args.span(1)))?;
    let name = args
        .binds(vec![format!("{}_{}", outer.name, inner.name)])?
        .remove(0);
    fuse(m, &outer, &inner, &name).map_err(|e| e.at(args.span(0)))
}

fn fuse(
    m: &mut Module,
    outer: &LoopRef,
    inner: &LoopRef,
    name: &str,
) -> Result<StepReport, ScheduleError> {
    if body_ops(m, outer.op) != [inner.op] {
        return Err(ScheduleError::new(format!(
            "`fuse` needs loop `{}` to be the whole body of loop `{}`",
            inner.name, outer.name
        ))
        .with_hint("fuse collapses two adjacent nested loops; reorder or fission them first"));
    }
    let (lb1, _, s1, n1) = constant_loop(m, outer, "fuse")?;
    let (lb2, _, s2, n2) = constant_loop(m, inner, "fuse")?;
    let Some(total) = n1.checked_mul(n2) else {
        return Err(ScheduleError::new("the fused trip count overflows"));
    };
    let loc = m.op(outer.op).loc.clone();
    let mut b = Builder::before(m, outer.op).ok_or_else(|| internal("detached loop"))?;
    b.set_loc(loc);
    let (fused, f, body) = affine::build_for(&mut b, Bound::constant(0), Bound::constant(total), 1);
    let n2e = AffineExpr::constant(n2.max(1));
    let inner_index = AffineExpr::constant(lb2)
        .add(
            AffineExpr::dim(0)
                .modulo(n2e.clone())
                .mul(AffineExpr::constant(s2)),
        )
        .simplify();
    let outer_index = AffineExpr::constant(lb1)
        .add(
            AffineExpr::dim(0)
                .floor_div(n2e)
                .mul(AffineExpr::constant(s1)),
        )
        .simplify();
    move_body_and_substitute(m, inner.op, body, &[f], &inner_index)?;
    let outer_iv = affine::induction_var(m, outer.op).ok_or_else(|| internal("no iv"))?;
    replace_iv(m, outer_iv, body, &[f], &outer_index)?;
    for (k, v) in m.op(outer.op).attrs.clone() {
        if k == "op_name" {
            m.set_attr(fused, k, v);
        }
    }
    name_loop(m, fused, name);
    m.erase_op(outer.op).map_err(internal)?;
    Ok(StepReport {
        summary: format!(
            "fused loops `{}` ({n1}) and `{}` ({n2}) into `{name}` ({total})",
            outer.name, inner.name
        ),
        names: vec![name.to_string()],
    })
}

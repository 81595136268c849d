//! `fission(loop, levels = 1)`: loop distribution.
//!
//! Splits the `levels` loops enclosing `loop` at the gap right before
//! `loop`: the ops before the gap move to a copy of each enclosing loop
//! (named `<name>.pre`, placed before it), `loop` and the ops after it
//! stay. GEMM's `for i, j { C[i, j] = 0; for k {...} }` becomes
//! `for i.pre, j.pre { C[i, j] = 0 }` and `for i, j { for k {...} }`, a
//! perfect band that `reorder` can then permute with `k` (Exo's
//! `fission(gap, n_lifts)`).
//!
//! Distribution runs all iterations of the first part before any of the
//! second, so it is legal when no access after the gap in one iteration
//! touches an element that an access before the gap touches in a later
//! iteration (one of them a write). The check here is sufficient, not
//! exact: such a pair must index some dimension with the same expression,
//! linear in the distributed loop's variable plus values fixed outside the
//! loop, so that equal elements mean equal iterations. Pure values defined
//! before the gap and used after it are recomputed after it.

use accc_ir::attrs::Attribute;
use accc_ir::dialects::affine;
use accc_ir::{Builder, Module, Op, ValueMap};

use super::access::{accesses, separated_by, tensors, Access};
use super::loops::{body_ops, find_loop, inside_any, internal, loop_name, name_loop};
use super::{Args, ScheduleError, StepReport};

pub(crate) fn apply(m: &mut Module, func: Op, args: &Args) -> Result<StepReport, ScheduleError> {
    args.expect(1, 1, &["levels"])?;
    let l = find_loop(m, func, args.name(0, "the loop to split the nest before")?)
        .map_err(|e| e.at(args.span(0)))?;
    let levels = args.keyword_int("levels", 1)?;
    if levels < 1 {
        return Err(
            ScheduleError::new(format!("`levels` must be at least 1, got {levels}"))
                .at(args.keyword_span("levels")),
        );
    }
    let mut gap = l.op;
    let mut copies = Vec::new();
    for level in 0..levels {
        let Some(parent) = m.parent_op(gap).filter(|p| m.op_name(*p) == "affine.for") else {
            return Err(ScheduleError::new(format!(
                "loop `{}` has {level} enclosing loop(s), fewer than the {levels} to split",
                l.name
            ))
            .at(args.keyword_span("levels").or(args.span(0))));
        };
        let ops = body_ops(m, parent);
        let at = ops
            .iter()
            .position(|o| *o == gap)
            .ok_or_else(|| internal("gap"))?;
        if at > 0 {
            copies.push(split_before(m, func, parent, &ops[..at], &ops[at..])?);
        }
        gap = parent;
    }
    let defaults = copies
        .iter()
        .map(|c| format!("{}.pre", loop_name(m, *c)))
        .collect();
    let names = args.binds(defaults)?;
    for (c, n) in copies.iter().zip(&names) {
        name_loop(m, *c, n);
    }
    Ok(StepReport {
        summary: if names.is_empty() {
            format!(
                "nothing to split: no ops precede loop `{}` in its {levels} enclosing loop(s)",
                l.name
            )
        } else {
            format!(
                "distributed {} loop(s) before `{}`; the ops before it now run in {}",
                names.len(),
                l.name,
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
        names,
    })
}

/// Moves `pre` (the first ops of `parent`'s body) into a copy of `parent`
/// placed before it; returns the copy (still carrying `parent`'s name).
fn split_before(
    m: &mut Module,
    func: Op,
    parent: Op,
    pre: &[Op],
    rest: &[Op],
) -> Result<Op, ScheduleError> {
    let name = loop_name(m, parent);
    check_legal(m, func, parent, pre, rest, &name)?;
    // Pure values crossing the gap are recomputed after it.
    let mut map = ValueMap::new();
    let first_rest = rest[0];
    for &op in pre {
        let crosses = m
            .results(op)
            .iter()
            .any(|r| m.uses(*r).iter().any(|u| inside_any(m, rest, u.op)));
        if !crosses {
            continue;
        }
        if !is_pure(m, op) {
            return Err(ScheduleError::new(format!(
                "`{}` at {} before the gap defines a value used after it, and it cannot be recomputed",
                m.op_name(op),
                m.op(op).loc
            )));
        }
        let c = m.clone_op(op, &mut map);
        m.insert_op(
            m.op_parent_block(first_rest)
                .ok_or_else(|| internal("detached"))?,
            0,
            c,
        )
        .map_err(internal)?;
        for (old, new) in m
            .results(op)
            .to_vec()
            .into_iter()
            .zip(m.results(c).to_vec())
        {
            for u in m.uses(old).to_vec() {
                if inside_any(m, rest, u.op) {
                    m.set_operand(u.op, u.index as usize, new);
                }
            }
        }
    }
    let (lower, upper) = affine::for_bounds(m, parent).ok_or_else(|| internal("bounds"))?;
    let step = affine::for_step(m, parent).unwrap_or(1);
    let loc = m.op(parent).loc.clone();
    let mut b = Builder::before(m, parent).ok_or_else(|| internal("detached loop"))?;
    b.set_loc(loc);
    let (copy, iv, body) = affine::build_for(&mut b, lower, upper, step);
    let terminator = m
        .block_terminator(body)
        .ok_or_else(|| internal("no yield"))?;
    for &op in pre {
        m.move_op_before(op, terminator).map_err(internal)?;
    }
    let old_iv = affine::induction_var(m, parent).ok_or_else(|| internal("no iv"))?;
    for u in m.uses(old_iv).to_vec() {
        if m.is_proper_ancestor(copy, u.op) {
            m.set_operand(u.op, u.index as usize, iv);
        }
    }
    for (k, v) in m.op(parent).attrs.clone() {
        match k.as_str() {
            "lowerBoundMap" | "upperBoundMap" | "step" => {}
            "op_name" => {
                let stage = v.as_str().unwrap_or("S");
                let fresh = fresh_stage(m, func, &format!("{stage}_pre"));
                m.set_attr(copy, k, Attribute::string(fresh));
            }
            _ => m.set_attr(copy, k, v),
        }
    }
    Ok(copy)
}

fn fresh_stage(m: &Module, func: Op, base: &str) -> String {
    let taken: Vec<String> = super::loops::stage_names(m, func)
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    super::loops::fresh(base, &taken)
}

/// Ops that can be recomputed: no regions, no memory effects.
fn is_pure(m: &Module, op: Op) -> bool {
    let name = m.op_name(op);
    m.op_regions(op).is_empty()
        && (name.starts_with("arith.") || name.starts_with("math.") || name == "affine.apply")
}

/// The distribution legality check described in the module docs.
fn check_legal(
    m: &Module,
    func: Op,
    parent: Op,
    pre: &[Op],
    rest: &[Op],
    name: &str,
) -> Result<(), ScheduleError> {
    let iv = affine::induction_var(m, parent).ok_or_else(|| internal("no iv"))?;
    for (tname, tensor) in tensors(m, func) {
        let all = accesses(m, tensor, &tname, parent)?;
        let (before, after): (Vec<&Access>, Vec<&Access>) =
            all.iter().partition(|a| inside_any(m, pre, a.op));
        let after: Vec<&Access> = after
            .into_iter()
            .filter(|a| inside_any(m, rest, a.op))
            .collect();
        for q in &after {
            for p in &before {
                if !(q.is_write || p.is_write) {
                    continue;
                }
                if !separated_by(m, &q.index, &p.index, iv, parent) {
                    return Err(ScheduleError::new(format!(
                        "cannot distribute loop `{name}`: the access to `{tname}` at {} after the gap may touch an element that the access at {} before it touches in a later iteration",
                        m.op(q.op).loc,
                        m.op(p.op).loc
                    ))
                    .with_hint("fission is legal when such accesses index some dimension by the loop's own variable in the same way"));
                }
            }
        }
    }
    Ok(())
}

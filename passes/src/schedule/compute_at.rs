//! `compute_at(stage, loop)`: computes a producer inside a consumer's
//! loop, only the part of its result that one iteration of the loop reads
//! (Halide's and TVM's `compute_at`).
//!
//! The producer is a loop nest (named by its stage, `S_i_j`, or by its
//! outermost loop) that writes one local buffer `T`; its leading perfect
//! band of loops (each indexing one dimension of `T` directly, `T[i + c]`)
//! is regenerated inside `loop`, at the start of its body, over the box of
//! `T` that one iteration of `loop` touches (clamped to the producer's own
//! range). A band loop whose box is one element becomes that element's
//! index, so fusing a row-wise producer into a row loop leaves no loop.
//! When boxes of consecutive iterations overlap (a stencil's halo), the
//! overlap is computed again, as in Halide.
//!
//! Preconditions, each an error naming what is in the way:
//! - the producer nest comes before the consumer's nest in the same block;
//! - `T` is a local buffer used only by the producer and inside `loop`;
//! - the producer stores to no other tensor of the kernel, and reads `T`
//!   only where the same band iteration stored it first, so recomputing an
//!   iteration gives the same values;
//! - nothing between the producer and `loop`, nor the consumer's nest,
//!   writes a tensor the producer reads;
//! - if `loop` writes `T`, the boxes of different iterations are disjoint.

use accc_ir::attrs::Attribute;
use accc_ir::dialects::affine;
use accc_ir::{Builder, Module, Op, Value};

use super::access::{
    accesses, bound_of, footprint, lin_range, tensor_name, varies_in, Access, Lin,
};
use super::loops::{
    body_ops, constant_loop, find_loop, internal, loop_name, loop_names, name_loop,
};
use super::loops::{fresh, substitute_iv_in, LoopRef};
use super::{Args, ScheduleError, StepReport};

pub(crate) fn apply(m: &mut Module, func: Op, args: &Args) -> Result<StepReport, ScheduleError> {
    args.expect(2, 2, &[])?;
    let stage = args.name(0, "the producer stage")?;
    let producer = find_stage(m, func, stage).map_err(|e| e.at(args.span(0)))?;
    let consumer =
        find_loop(m, func, args.name(1, "the consumer loop")?).map_err(|e| e.at(args.span(1)))?;
    let l = consumer.op;
    if producer == l || m.is_proper_ancestor(producer, l) || m.is_proper_ancestor(l, producer) {
        return Err(ScheduleError::new(format!(
            "loop `{}` and stage `{stage}` are the same nest; compute_at moves a producer into a later, separate nest",
            consumer.name
        ))
        .at(args.span(1)));
    }
    let block = m
        .op_parent_block(producer)
        .ok_or_else(|| internal("detached producer"))?;
    let mut c0 = l;
    while m.op_parent_block(c0) != Some(block) {
        c0 = m.parent_op(c0).ok_or_else(|| {
            ScheduleError::new(format!(
                "loop `{}` is not in the block that holds stage `{stage}`; compute_at needs the consumer's nest to follow the producer's",
                consumer.name
            ))
            .at(args.span(1))
        })?;
    }
    let ops = m.block_ops(block).to_vec();
    let (pp, cp) = (
        ops.iter().position(|o| *o == producer),
        ops.iter().position(|o| *o == c0),
    );
    let (Some(pp), Some(cp)) = (pp, cp) else {
        return Err(internal("nest positions"));
    };
    if cp < pp {
        return Err(ScheduleError::new(format!(
            "loop `{}` comes before stage `{stage}`; compute_at moves a producer into a later consumer",
            consumer.name
        ))
        .at(args.span(1)));
    }
    let between = &ops[pp + 1..cp];

    let (t, tname) = produced_tensor(m, func, producer, stage)?;
    let band = band_of(m, producer, t, &tname)?;
    check_uses(m, func, producer, l, between, c0, t, &tname, &consumer.name)?;
    let cons = accesses(m, t, &tname, l)?;
    let region = footprint(m, &cons, l, &tname)?;
    if cons.iter().any(|a| a.is_write) {
        check_disjoint(m, l, &region.base, &region.extent, &tname, &consumer.name)?;
    }

    // Regenerate the band at the start of `loop`'s body.
    let body = m.entry_block(l, 0).ok_or_else(|| internal("no body"))?;
    let mut anchor = m.block_ops(body)[0];
    let mut taken: Vec<String> = loop_names(m, func)
        .into_iter()
        .filter(|r| !(r.op == producer || m.is_proper_ancestor(producer, r.op)))
        .map(|r| r.name)
        .collect();
    let mut new_loops = Vec::new();
    let mut points = 0;
    let mut subst: Vec<(Value, Vec<Value>, accc_ir::affine::AffineExpr)> = Vec::new();
    for b in &band {
        let mut lower = region.base[b.dim].clone();
        lower.constant = lower.constant.wrapping_sub(b.offset);
        let mut upper = lower.clone();
        upper.constant = upper.constant.wrapping_add(region.extent[b.dim]);
        let range = lin_range(m, &lower);
        let inside = range.is_some_and(|(lo, hi)| lo >= b.lb && hi < b.ub);
        if region.extent[b.dim] == 1 && inside {
            let mut dims = Vec::new();
            let expr = lower.to_expr(&mut dims);
            subst.push((b.iv, dims, expr));
            points += 1;
            continue;
        }
        let mut lows = vec![lower.clone()];
        if range.is_none_or(|(lo, _)| lo < b.lb) {
            lows.push(Lin::constant(b.lb));
        }
        let mut ups = vec![upper];
        if range.is_none_or(|(_, hi)| hi.saturating_add(region.extent[b.dim]) > b.ub) {
            ups.push(Lin::constant(b.ub));
        }
        // A box that needs no clamping is a loop from 0 over its extent,
        // offset by the box's base: constant bounds, so later steps can
        // split and tensorize it.
        let unclamped = lows.len() == 1 && ups.len() == 1;
        let (lo_bound, up_bound) = if unclamped {
            (
                affine::Bound::constant(0),
                affine::Bound::constant(region.extent[b.dim]),
            )
        } else {
            (bound_of(&lows), bound_of(&ups))
        };
        let loc = m.op(b.op).loc.clone();
        let mut builder = Builder::before(m, anchor).ok_or_else(|| internal("detached"))?;
        builder.set_loc(loc);
        let (op, iv, inner) = affine::build_for(&mut builder, lo_bound, up_bound, 1);
        let name = fresh(&b.name, &taken);
        taken.push(name.clone());
        name_loop(m, op, &name);
        if unclamped {
            let mut dims = Vec::new();
            let base = lower.to_expr(&mut dims);
            let d = accc_ir::affine::AffineExpr::dim(dims.len() as u32);
            dims.push(iv);
            subst.push((b.iv, dims, base.add(d)));
        } else {
            subst.push((b.iv, vec![iv], accc_ir::affine::AffineExpr::dim(0)));
        }
        new_loops.push((op, name));
        anchor = m
            .block_terminator(inner)
            .ok_or_else(|| internal("no yield"))?;
    }
    let innermost = band.last().ok_or_else(|| internal("empty band"))?.op;
    let moved = body_ops(m, innermost);
    for &op in &moved {
        m.move_op_before(op, anchor).map_err(internal)?;
    }
    for (iv, new, expr) in subst {
        substitute_iv_in(m, &moved, iv, &new, &expr)?;
    }
    m.erase_op(producer).map_err(internal)?;
    let names = args.binds(new_loops.iter().map(|(_, n)| n.clone()).collect())?;
    for ((op, _), n) in new_loops.iter().zip(&names) {
        name_loop(m, *op, n);
    }
    Ok(StepReport {
        summary: format!(
            "computed stage `{stage}` inside loop `{}`: {} band loop(s) over the box of `{tname}` it reads{}",
            consumer.name,
            new_loops.len(),
            if points > 0 {
                format!(", {points} fixed to the consumer's index")
            } else {
                String::new()
            }
        ),
        names,
    })
}

/// The outermost loop of the nest named `stage`: an `op_name`, or a loop
/// name.
fn find_stage(m: &Module, func: Op, stage: &str) -> Result<Op, ScheduleError> {
    let staged: Vec<LoopRef> = loop_names(m, func)
        .into_iter()
        .filter(|r| m.attr(r.op, "op_name").and_then(Attribute::as_str) == Some(stage))
        .collect();
    if let [one] = staged.as_slice() {
        return Ok(one.op);
    }
    find_loop(m, func, stage).map(|r| r.op).map_err(|e| {
        let stages: Vec<String> = super::loops::stage_names(m, func)
            .into_iter()
            .map(|(_, n)| n)
            .collect();
        ScheduleError::new(format!(
            "no stage or loop named `{stage}`; stages are: {}",
            stages.join(", ")
        ))
        .with_hint(e.message)
    })
}

/// The one tensor defined outside `producer` that it stores to.
fn produced_tensor(
    m: &Module,
    func: Op,
    producer: Op,
    stage: &str,
) -> Result<(Value, String), ScheduleError> {
    let mut written: Vec<Value> = Vec::new();
    let mut bad = None;
    m.walk(producer, &mut |op| {
        let name = m.op_name(op);
        let target = match name {
            "affine.store" | "memref.store" => m.operands(op).get(1).copied(),
            "func.call" | "memref.copy" => {
                bad.get_or_insert(op);
                None
            }
            _ => None,
        };
        if let Some(t) = target {
            let local = m
                .defining_op(t)
                .is_some_and(|d| m.is_proper_ancestor(producer, d));
            if !local && !written.contains(&t) {
                written.push(t);
            }
        }
    });
    if let Some(op) = bad {
        return Err(ScheduleError::new(format!(
            "stage `{stage}` has a `{}` at {}, whose effects compute_at cannot recompute",
            m.op_name(op),
            m.op(op).loc
        )));
    }
    match written.as_slice() {
        [t] => {
            let name = tensor_name(m, func, *t);
            let is_local = m
                .defining_op(*t)
                .is_some_and(|d| matches!(m.op_name(d), "memref.alloc" | "memref.alloca"));
            if !is_local {
                return Err(ScheduleError::new(format!(
                    "stage `{stage}` writes `{name}`, a kernel argument; compute_at computes only the part of its result a consumer reads, so the result must be a local buffer"
                )));
            }
            Ok((*t, name))
        }
        [] => Err(ScheduleError::new(format!(
            "stage `{stage}` writes no tensor, so there is nothing to compute at a consumer"
        ))),
        many => Err(ScheduleError::new(format!(
            "stage `{stage}` writes {} tensors ({}); compute_at needs a producer of one",
            many.len(),
            many.iter()
                .map(|t| format!("`{}`", tensor_name(m, func, *t)))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .with_hint("split the stage with `fission` first")),
    }
}

/// A producer band loop: which dimension of the result it indexes
/// (`T[.., iv + offset, ..]`) and its constant range.
struct BandLoop {
    op: Op,
    iv: Value,
    name: String,
    dim: usize,
    offset: i64,
    lb: i64,
    ub: i64,
}

/// The leading perfect band of `producer` whose loops index `t` directly,
/// checked so that recomputing one band iteration is idempotent.
fn band_of(
    m: &Module,
    producer: Op,
    t: Value,
    tname: &str,
) -> Result<Vec<BandLoop>, ScheduleError> {
    let all = accesses(m, t, tname, producer)?;
    let stores: Vec<&Access> = all.iter().filter(|a| a.is_write).collect();
    let mut band: Vec<BandLoop> = Vec::new();
    let mut cur = producer;
    loop {
        let iv = affine::induction_var(m, cur).ok_or_else(|| internal("no iv"))?;
        let name = loop_name(m, cur);
        let Some(dim) = stores[0]
            .index
            .iter()
            .position(|l| l.terms.contains_key(&iv))
        else {
            break;
        };
        for s in &stores {
            let l = &s.index[dim];
            let mut rest = l.clone();
            rest.add_scaled(&Lin::var(iv), -1);
            let others = s
                .index
                .iter()
                .enumerate()
                .any(|(e, x)| e != dim && x.terms.contains_key(&iv));
            if !rest.terms.is_empty() || others {
                return Err(ScheduleError::new(format!(
                    "the store to `{tname}` at {} indexes it by loop `{name}` other than as `{name} + constant` in one dimension; compute_at needs each producer loop to index one dimension directly",
                    m.op(s.op).loc
                ))
                .with_hint("apply compute_at before splitting or fusing the producer's loops"));
            }
        }
        let mut offset = stores[0].index[dim].clone();
        offset.terms.clear();
        if stores
            .iter()
            .any(|s| s.index[dim].constant != offset.constant)
        {
            return Err(ScheduleError::new(format!(
                "the stores to `{tname}` index dimension {dim} by loop `{name}` with different offsets"
            )));
        }
        let r = LoopRef {
            op: cur,
            name: name.clone(),
            stage: None,
        };
        let (lb, ub, step, _) = constant_loop(m, &r, "compute_at")?;
        if step != 1 {
            return Err(ScheduleError::new(format!(
                "producer loop `{name}` has step {step}; compute_at regenerates unit-step loops"
            )));
        }
        band.push(BandLoop {
            op: cur,
            iv,
            name,
            dim,
            offset: offset.constant,
            lb,
            ub,
        });
        match body_ops(m, cur).as_slice() {
            [inner] if m.op_name(*inner) == "affine.for" => cur = *inner,
            _ => break,
        }
    }
    let Some(last) = band.last() else {
        return Err(ScheduleError::new(format!(
            "the outermost loop of the producer does not index `{tname}`, so no part of the producer belongs to one consumer iteration"
        )));
    };
    // Reads of `t` must see what the same band iteration stored.
    let top = body_ops(m, last.op);
    for r in all.iter().filter(|a| !a.is_write) {
        let covered = all.iter().any(|s| {
            s.is_write && top.contains(&s.op) && s.index == r.index && precedes(m, s.op, r.op, &top)
        });
        if !covered {
            return Err(ScheduleError::new(format!(
                "the producer reads `{tname}` at {} without storing that element first in the same iteration, so recomputing it would not give the same values",
                m.op(r.op).loc
            )));
        }
    }
    Ok(band)
}

/// Does `a` (one of `top`) come before `b` (nested in one of `top`)?
fn precedes(m: &Module, a: Op, b: Op, top: &[Op]) -> bool {
    let pa = top.iter().position(|o| *o == a);
    let pb = top
        .iter()
        .position(|o| *o == b || m.is_proper_ancestor(*o, b));
    matches!((pa, pb), (Some(x), Some(y)) if x < y)
}

/// `t` is used only by the producer, inside `loop` and by its dealloc;
/// what the producer reads is not written between it and the consumer or
/// in the consumer's nest.
#[allow(clippy::too_many_arguments)]
fn check_uses(
    m: &Module,
    func: Op,
    producer: Op,
    l: Op,
    between: &[Op],
    c0: Op,
    t: Value,
    tname: &str,
    lname: &str,
) -> Result<(), ScheduleError> {
    for u in m.uses(t) {
        let ok = u.op == producer
            || m.is_proper_ancestor(producer, u.op)
            || m.is_proper_ancestor(l, u.op)
            || m.op_name(u.op) == "memref.dealloc";
        if !ok {
            return Err(ScheduleError::new(format!(
                "`{tname}` is also used by `{}` at {}, outside loop `{lname}`; compute_at needs every consumer of it inside the loop",
                m.op_name(u.op),
                m.op(u.op).loc
            )));
        }
    }
    let mut reads: Vec<Value> = Vec::new();
    m.walk(producer, &mut |op| {
        if matches!(m.op_name(op), "affine.load" | "memref.load") {
            let src = m.operand(op, 0);
            let local = m
                .defining_op(src)
                .is_some_and(|d| m.is_proper_ancestor(producer, d));
            if src != t && !local && !reads.contains(&src) {
                reads.push(src);
            }
        }
    });
    let scopes: Vec<Op> = between.iter().copied().chain([c0]).collect();
    for src in reads {
        for &scope in &scopes {
            let mut writer = None;
            m.walk(scope, &mut |op| {
                if writer.is_none()
                    && m.operands(op).contains(&src)
                    && !matches!(m.op_name(op), "affine.load" | "memref.load")
                {
                    writer = Some(op);
                }
            });
            if let Some(w) = writer {
                return Err(ScheduleError::new(format!(
                    "the producer reads `{}`, which `{}` at {} writes before the consumer's loop runs, so moving the producer there changes what it reads",
                    tensor_name(m, func, src),
                    m.op_name(w),
                    m.op(w).loc
                )));
            }
        }
    }
    Ok(())
}

/// The boxes of different iterations of `l` are disjoint: some dimension's
/// base advances by at least its extent per iteration.
fn check_disjoint(
    m: &Module,
    l: Op,
    base: &[Lin],
    extent: &[i64],
    tname: &str,
    lname: &str,
) -> Result<(), ScheduleError> {
    let iv = affine::induction_var(m, l).ok_or_else(|| internal("no iv"))?;
    let step = affine::for_step(m, l).unwrap_or(1).max(1);
    let disjoint = base.iter().zip(extent).any(|(b, e)| {
        b.terms.get(&iv).is_some_and(|c| {
            c.checked_mul(step)
                .is_some_and(|p| p.unsigned_abs() >= e.unsigned_abs())
        }) && b.terms.keys().all(|v| *v == iv || !varies_in(m, *v, l))
    });
    if disjoint {
        Ok(())
    } else {
        Err(ScheduleError::new(format!(
            "loop `{lname}` writes `{tname}`, and the parts of `{tname}` its iterations touch overlap, so recomputing the overlap would overwrite those writes"
        )))
    }
}

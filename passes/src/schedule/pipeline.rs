//! `double_buffer(buffer, loop, copies = 2)` and `pipeline(loop, stages = 2)`.
//!
//! `double_buffer` gives a buffer `copies` alternating slots: its type
//! gains a leading dimension of `copies` and every access (all of which
//! must be inside `loop`) selects slot `iteration mod copies`, where
//! `iteration = (iv - lb) / step` counts the loop's iterations.
//!
//! `pipeline` software-pipelines a loop whose body starts with copy-in
//! nests (made by `buffer_at`): with `d = stages - 1`, the copy-ins of
//! iterations `0 .. d` move to a prologue before the loop, the loop's
//! steady state issues the copy-ins of iteration `n + d` before the
//! compute of iteration `n`, and an epilogue runs the compute of the last
//! `d` iterations. The copy-in of `n + d` then overlaps the compute of `n`
//! on targets with asynchronous copies.
//!
//! Preconditions of `pipeline`: every buffer a copy-in fills has at least
//! `stages` slots selected by this loop's iteration and is filled by one
//! copy-in per iteration (so the prefetch never overwrites data the
//! current iteration reads), and no tensor a copy-in
//! reads is written inside the loop (so the prefetch reads the same data
//! it would have read later).

use accc_ir::affine::{AffineExpr, AffineMap};
use accc_ir::attrs::Attribute;
use accc_ir::dialects::affine;
use accc_ir::{Module, Op, Type, Value};

use super::access::{accesses, find_tensor, memref_type, source_written_in, tensor_name};
use super::loops::{
    body_ops, clone_with_iv, constant_loop, find_loop, internal, name_loop, substitute_iv_in,
    LoopRef,
};
use super::{Args, ScheduleError, StepReport};

pub(crate) fn apply_double_buffer(
    m: &mut Module,
    func: Op,
    args: &Args,
) -> Result<StepReport, ScheduleError> {
    args.expect(2, 2, &["copies"])?;
    let bname = args.name(0, "the buffer")?;
    let buf = find_tensor(m, func, bname).map_err(|e| e.at(args.span(0)))?;
    let l = find_loop(
        m,
        func,
        args.name(1, "the loop whose iterations alternate")?,
    )
    .map_err(|e| e.at(args.span(1)))?;
    let copies = args.keyword_int("copies", 2)?;
    if !(2..=64).contains(&copies) {
        return Err(
            ScheduleError::new(format!("`copies` must be between 2 and 64, got {copies}"))
                .at(args.keyword_span("copies")),
        );
    }
    double_buffer(m, buf, bname, &l, copies).map_err(|e| e.at(args.span(0)))
}

fn double_buffer(
    m: &mut Module,
    buf: Value,
    bname: &str,
    l: &LoopRef,
    copies: i64,
) -> Result<StepReport, ScheduleError> {
    let Some(alloc) = m
        .defining_op(buf)
        .filter(|op| matches!(m.op_name(*op), "memref.alloc" | "memref.alloca"))
    else {
        return Err(ScheduleError::new(format!(
            "`{bname}` is a kernel argument; only local buffers (from `buffer_at` or a local tensor) can be multi-buffered"
        )));
    };
    let (lb, _, step, _) = constant_loop(m, l, "double_buffer")?;
    let inside = accesses(m, buf, bname, l.op)?;
    let users: Vec<Op> = m.uses(buf).iter().map(|u| u.op).collect();
    if let Some(out) = users.iter().find(|u| {
        !matches!(m.op_name(**u), "memref.dealloc") && !inside.iter().any(|a| a.op == **u)
    }) {
        return Err(ScheduleError::new(format!(
            "`{bname}` is also used at {} (by `{}`), outside loop `{}`; every access must be inside the loop whose iteration picks the slot",
            m.op(*out).loc,
            m.op_name(*out),
            l.name
        )));
    }
    let iv = affine::induction_var(m, l.op).ok_or_else(|| internal("no iv"))?;
    let mut ty = memref_type(m, buf)?;
    ty.shape.insert(0, copies);
    m.set_value_type(buf, Type::MemRef(ty.clone()));
    m.set_attr(alloc, "accc.copies", Attribute::index(copies));
    for a in &inside {
        let (map, operands) = affine::access_map(m, a.op).ok_or_else(|| internal("access"))?;
        let (map, operands) = (map.clone(), operands.to_vec());
        // Slot `((iv - lb) floordiv step) mod copies` over one more dim.
        let mut dims = operands[..map.num_dims as usize].to_vec();
        let syms = operands[map.num_dims as usize..].to_vec();
        let slot_dim = match dims.iter().position(|d| *d == iv) {
            Some(p) => p,
            None => {
                dims.push(iv);
                dims.len() - 1
            }
        } as u32;
        let slot = slot_expr(AffineExpr::dim(slot_dim), lb, step, copies);
        let mut results = vec![slot];
        results.extend(map.results.iter().cloned());
        let (results, num_dims, operands) =
            affine::compact_dims(results, &dims, map.num_syms, &syms);
        affine::set_map(
            m,
            a.op,
            AffineMap::new(num_dims, map.num_syms, results),
            &operands,
        );
    }
    Ok(StepReport {
        summary: format!(
            "`{bname}` now has {copies} slots ({}); iteration n of `{}` uses slot n mod {copies} in its {} access(es)",
            Type::MemRef(ty),
            l.name,
            inside.len()
        ),
        names: vec![],
    })
}

/// `((iv - lb) floordiv step) mod copies`, simplified.
fn slot_expr(iv: AffineExpr, lb: i64, step: i64, copies: i64) -> AffineExpr {
    let n = iv.sub(AffineExpr::constant(lb));
    let n = if step == 1 {
        n
    } else {
        n.floor_div(AffineExpr::constant(step))
    };
    n.modulo(AffineExpr::constant(copies)).simplify()
}

pub(crate) fn apply_pipeline(
    m: &mut Module,
    func: Op,
    args: &Args,
) -> Result<StepReport, ScheduleError> {
    args.expect(1, 1, &["stages"])?;
    let l = find_loop(m, func, args.name(0, "the loop to pipeline")?)
        .map_err(|e| e.at(args.span(0)))?;
    let stages = args.keyword_int("stages", 2)?;
    if !(2..=64).contains(&stages) {
        return Err(
            ScheduleError::new(format!("`stages` must be between 2 and 64, got {stages}"))
                .at(args.keyword_span("stages")),
        );
    }
    pipeline(m, func, &l, stages).map_err(|e| e.at(args.span(0)))
}

fn pipeline(
    m: &mut Module,
    func: Op,
    l: &LoopRef,
    stages: i64,
) -> Result<StepReport, ScheduleError> {
    let (lb, _, step, trips) = constant_loop(m, l, "pipeline")?;
    let body = body_ops(m, l.op);
    let is_copy_in =
        |m: &Module, op: Op| m.attr(op, "accc.copy").and_then(Attribute::as_str) == Some("in");
    let loads: Vec<Op> = body.iter().copied().filter(|o| is_copy_in(m, *o)).collect();
    let compute: Vec<Op> = body
        .iter()
        .copied()
        .filter(|o| !is_copy_in(m, *o))
        .collect();
    if loads.is_empty() {
        return Err(
            ScheduleError::new(format!("loop `{}` has no copy-in to prefetch", l.name)).with_hint(
                format!(
                    "stage its operands first: `buf = buffer_at(T, {}, mem = ...)`",
                    l.name
                ),
            ),
        );
    }
    let iv = affine::induction_var(m, l.op).ok_or_else(|| internal("no iv"))?;
    check_prefetch(m, func, l, iv, &loads, stages, lb, step)?;
    let d = (stages - 1).min(trips);
    let steady = trips - d;
    // Prologue: the copy-ins of iterations 0 .. d, before the loop.
    for n in 0..d {
        let at = lb + n * step;
        clone_with_iv(m, &loads, l.op, iv, &[], &AffineExpr::constant(at))?;
    }
    // Epilogue: the compute of the last d iterations, after the loop.
    let after = m
        .op_position(l.op)
        .map(|(b, i)| (b, i + 1))
        .ok_or_else(|| internal("detached loop"))?;
    let anchor = m.block_ops(after.0).get(after.1).copied();
    let Some(anchor) = anchor else {
        return Err(internal(
            "a loop at the end of a block without a terminator",
        ));
    };
    for n in steady..trips {
        let at = lb + n * step;
        let clones = clone_with_iv(m, &compute, anchor, iv, &[], &AffineExpr::constant(at))?;
        // The epilogue's loops get names of their own (`ii.epi`, or
        // `ii.epi1`, `ii.epi2`, ... with several epilogue iterations).
        let suffix = if d == 1 {
            ".epi".to_string()
        } else {
            format!(".epi{}", n - steady + 1)
        };
        for c in clones {
            for op in m.walk_ops(c) {
                if let Some(name) = m.attr(op, "loop_name").and_then(Attribute::as_str) {
                    let name = format!("{name}{suffix}");
                    name_loop(m, op, &name);
                }
            }
        }
    }
    // Steady state: copy-ins of n + d, then the compute of n.
    if steady > 0 {
        let shift = AffineExpr::dim(0).add(AffineExpr::constant(d * step));
        substitute_iv_in(m, &loads, iv, &[iv], &shift)?;
        let new_ub = lb + steady * step;
        m.set_attr(
            l.op,
            "upperBoundMap",
            Attribute::AffineMap(AffineMap::constant(new_ub)),
        );
    } else {
        m.erase_op(l.op).map_err(internal)?;
    }
    Ok(StepReport {
        summary: format!(
            "pipelined `{}` ({trips} iterations, {stages} stages): a prologue loads the first {d} iteration(s), the steady state ({steady} iterations) loads iteration n+{d} before computing n, an epilogue computes the last {} iteration(s)",
            l.name,
            trips - steady
        ),
        names: vec![],
    })
}

/// The `pipeline` preconditions on the prefetched copy-ins.
#[allow(clippy::too_many_arguments)]
fn check_prefetch(
    m: &Module,
    func: Op,
    l: &LoopRef,
    iv: Value,
    loads: &[Op],
    stages: i64,
    lb: i64,
    step: i64,
) -> Result<(), ScheduleError> {
    let mut filled: Vec<(Value, Op)> = Vec::new();
    for &copy in loads {
        let mut stores = Vec::new();
        m.walk(copy, &mut |o| {
            if m.op_name(o) == "affine.store" {
                stores.push(o);
            }
        });
        for &s in &stores {
            let buf = m.operand(s, 1);
            let bname = tensor_name(m, func, buf);
            match filled.iter().find(|(b, _)| *b == buf) {
                Some((_, first)) if *first != copy => {
                    let (a, b) = (&m.op(*first).loc, &m.op(copy).loc);
                    let at = if a == b {
                        format!("two copies of the copy-in at {a}")
                    } else {
                        format!("copy-ins at {a} and {b}")
                    };
                    return Err(ScheduleError::new(format!(
                        "loop `{}` fills `{bname}` twice per iteration ({at}); both prefetches would land in the same slot, the second overwriting the first before it is read",
                        l.name
                    ))
                    .with_hint("pipeline before `unroll`, or stage each use in its own buffer"));
                }
                Some(_) => {}
                None => filled.push((buf, copy)),
            }
            let (map, operands) = affine::access_map(m, s).ok_or_else(|| internal("store"))?;
            let slots = memref_type(m, buf)?.shape.first().copied().unwrap_or(1);
            if !selects_slot(map, operands, iv, lb, step, slots) || slots < stages {
                return Err(ScheduleError::new(format!(
                    "`{bname}` has fewer than {stages} slots alternating with `{}`, so the prefetch of a later iteration would overwrite data the current one still reads",
                    l.name
                ))
                .with_hint(format!(
                    "give it one slot per stage first: `double_buffer({bname}, {}{})`",
                    l.name,
                    if stages == 2 {
                        String::new()
                    } else {
                        format!(", copies = {stages}")
                    }
                )));
            }
        }
        if let Some((sname, w)) = source_written_in(m, func, copy, &[copy], l.op)? {
            return Err(ScheduleError::new(format!(
                "`{sname}` is copied in by the prefetch but written inside loop `{}` at {}, so a prefetch could read it before that write",
                l.name,
                m.op(w).loc
            )));
        }
    }
    Ok(())
}

/// Does the first index of the access select slot `iteration mod slots`
/// of the loop with induction variable `iv`?
fn selects_slot(
    map: &AffineMap,
    operands: &[Value],
    iv: Value,
    lb: i64,
    step: i64,
    slots: i64,
) -> bool {
    let Some(first) = map.results.first() else {
        return false;
    };
    let n = map.num_dims as usize;
    let mut uses_only_iv = true;
    first.walk(&mut |e| match e {
        AffineExpr::Dim(d) => uses_only_iv &= operands.get(*d as usize) == Some(&iv),
        AffineExpr::Sym(_) => uses_only_iv = false,
        _ => {}
    });
    if !uses_only_iv {
        return false;
    }
    (0..2 * slots).all(|k| {
        let v = lb + k * step;
        let dims: Vec<i64> = (0..n).map(|_| v).collect();
        first.eval(&dims, &[]) == Some(k % slots)
    })
}

//! `hoist(buffer_or_tensor, loop)`: moves a buffer's copies, or a
//! tensor's loads, out of a loop whose iterations would all copy (load)
//! the same data.
//!
//! Given a tensor with no copies in the loop, every load of it nested in
//! the loop whose indices do not change with the loop moves right before
//! it (identical loads become one): scalar promotion, e.g. `A[i, k]` out
//! of `j` after `reorder(i, k, j)`. Legal when nothing in the loop writes
//! the tensor, and when the load ran at least once per iteration: it sits
//! in no conditional, and the loop and every loop between it and the load
//! provably run at least once (so the hoisted load reads nothing the
//! original did not).
//!
//! The copy-in nest of `buffer` (made by `buffer_at`) that sits directly in
//! `loop`'s body moves right before the loop, and its copy-out, if any,
//! right after it. Legal when the copies use nothing that changes with the
//! loop (so every iteration copies the same box), when they are the
//! buffer's only copies anywhere in the loop (not several unrolled or
//! prefetched ones), when nothing else in the loop writes the tensor a
//! copy-in reads, and when nothing else in the loop reads or writes the
//! tensor a copy-out writes. A buffer that is written in the loop keeps
//! its value across iterations, which equals what a copy-out followed by a
//! copy-in of the same box would give.

use accc_ir::attrs::Attribute;
use accc_ir::{Module, Op, Value};

use super::access::{
    accesses, destination_used_in, find_tensor, runs_at_least_once, source_written_in, varies_in,
};
use super::loops::{body_ops, find_loop, internal, LoopRef};
use super::{Args, ScheduleError, StepReport};

pub(crate) fn apply(m: &mut Module, func: Op, args: &Args) -> Result<StepReport, ScheduleError> {
    args.expect(2, 2, &[])?;
    let bname = args.name(0, "the buffer to hoist")?;
    find_tensor(m, func, bname).map_err(|e| e.at(args.span(0)))?;
    let l = find_loop(m, func, args.name(1, "the loop to hoist out of")?)
        .map_err(|e| e.at(args.span(1)))?;
    // A buffer copied anywhere in the loop hoists its copies; any other
    // tensor its loads.
    let has_copies = m.walk_ops(l.op).into_iter().any(|o| {
        m.attr(o, "accc.buffer").and_then(Attribute::as_str) == Some(bname)
            && m.attr(o, "accc.copy").is_some()
    });
    if has_copies {
        hoist(m, func, bname, &l).map_err(|e| e.at(args.span(0)))
    } else {
        hoist_loads(m, func, bname, &l).map_err(|e| e.at(args.span(0)))
    }
}

/// Moves the loads of tensor `tname` that do not change with loop `l` out
/// of it (see the module docs).
fn hoist_loads(
    m: &mut Module,
    func: Op,
    tname: &str,
    l: &LoopRef,
) -> Result<StepReport, ScheduleError> {
    let tensor = find_tensor(m, func, tname)?;
    let acc = accesses(m, tensor, tname, l.op)?;
    if acc.is_empty() {
        return Err(ScheduleError::new(format!(
            "loop `{}` neither copies nor loads `{tname}`",
            l.name
        ))
        .with_hint(
            "hoist moves a buffer's copies (from `buffer_at`) or a tensor's loop-invariant loads",
        ));
    }
    if let Some(w) = acc.iter().find(|a| a.is_write) {
        return Err(ScheduleError::new(format!(
            "cannot hoist loads of `{tname}`: loop `{}` writes it at {}",
            l.name,
            m.op(w.op).loc
        )));
    }
    let iv = accc_ir::dialects::affine::induction_var(m, l.op).ok_or_else(|| internal("no iv"))?;
    let mut why_not = None;
    let mut hoisted: Vec<Op> = Vec::new();
    let mut merged = 0;
    for a in &acc {
        if let Err(reason) = invariant_load(m, a.op, l.op, iv) {
            why_not.get_or_insert(reason);
            continue;
        }
        let same = |m: &Module, h: Op| {
            accc_ir::dialects::affine::access_map(m, h)
                == accc_ir::dialects::affine::access_map(m, a.op)
        };
        match hoisted.iter().copied().find(|h| same(m, *h)) {
            Some(first) => {
                let (old, new) = (m.result(a.op, 0), m.result(first, 0));
                m.replace_all_uses(old, new);
                m.erase_op(a.op).map_err(internal)?;
                merged += 1;
            }
            None => {
                m.move_op_before(a.op, l.op).map_err(internal)?;
                hoisted.push(a.op);
            }
        }
    }
    if hoisted.is_empty() {
        return Err(ScheduleError::new(format!(
            "no load of `{tname}` can move out of loop `{}`: {}",
            l.name,
            why_not.unwrap_or_default()
        )));
    }
    let loads = hoisted.len() + merged;
    Ok(StepReport {
        summary: format!(
            "hoisted {loads} load(s) of `{tname}` out of loop `{}`{}{}",
            l.name,
            if merged > 0 {
                format!(" ({} distinct)", hoisted.len())
            } else {
                String::new()
            },
            match (why_not, acc.len() - loads) {
                (Some(w), left) if left > 0 => format!("; {left} stay: {w}"),
                _ => String::new(),
            }
        ),
        names: vec![],
    })
}

/// `Ok` if `load`, nested in `scope` (induction variable `iv`), reads the
/// same element in every iteration and runs once in each; else why not.
fn invariant_load(m: &Module, load: Op, scope: Op, iv: Value) -> Result<(), String> {
    let loc = &m.op(load).loc;
    if let Some(v) = m
        .operands(load)
        .iter()
        .find(|v| **v == iv || varies_in(m, **v, scope))
    {
        let what = m
            .name_hint(*v)
            .map(|n| format!("`%{n}`"))
            .unwrap_or_else(|| "a value".to_string());
        return Err(format!(
            "the load at {loc} changes with the loop (its index uses {what})"
        ));
    }
    let mut cur = Some(load);
    while let Some(op) = cur {
        let at = if op == load { None } else { Some(op) };
        if let Some(o) = at {
            if m.op_name(o) != "affine.for" {
                return Err(format!(
                    "the load at {loc} is inside `{}` at {}, which may skip it",
                    m.op_name(o),
                    m.op(o).loc
                ));
            }
            if !runs_at_least_once(m, o) {
                return Err(format!(
                    "the load at {loc} is in loop `{}`, which may run no iteration",
                    super::loops::loop_name(m, o)
                ));
            }
            if o == scope {
                return Ok(());
            }
        }
        cur = m.parent_op(op);
    }
    Err(internal("a load outside its loop").message)
}

fn hoist(m: &mut Module, func: Op, bname: &str, l: &LoopRef) -> Result<StepReport, ScheduleError> {
    let copies: Vec<(Op, String)> = body_ops(m, l.op)
        .into_iter()
        .filter(|o| m.attr(*o, "accc.buffer").and_then(Attribute::as_str) == Some(bname))
        .filter_map(|o| {
            m.attr(o, "accc.copy")
                .and_then(Attribute::as_str)
                .map(|d| (o, d.to_string()))
        })
        .collect();
    if copies.is_empty() {
        return Err(ScheduleError::new(format!(
            "loop `{}` has no copy of `{bname}` directly in its body",
            l.name
        ))
        .with_hint("hoist moves the copies `buffer_at` made one loop at a time, innermost first"));
    }
    if let Some((_, kind)) = copies.iter().find(|(_, d)| d != "in" && d != "out") {
        return Err(ScheduleError::new(format!(
            "`{bname}` is a sliding window (its `{kind}` copy is in loop `{}`); `hoist` moves the copies of `buffer_at` only",
            l.name
        )));
    }
    let iv = accc_ir::dialects::affine::induction_var(m, l.op).ok_or_else(|| internal("no iv"))?;
    for (copy, _) in &copies {
        let mut bad = None;
        m.walk(*copy, &mut |o| {
            for v in m.operands(o) {
                let inside_copy = m.defining_op(*v).is_some_and(|d| d == *copy || m.is_proper_ancestor(*copy, d))
                    || matches!(m.value(*v).def, accc_ir::ValueDef::BlockArg { block, .. }
                        if m.block_parent_op(block).is_some_and(|p| p == *copy || m.is_proper_ancestor(*copy, p)));
                if !inside_copy && (*v == iv || varies_in(m, *v, l.op)) {
                    bad.get_or_insert(o);
                }
            }
        });
        if let Some(o) = bad {
            return Err(ScheduleError::new(format!(
                "the copy of `{bname}` changes with loop `{}` (`{}` at {} uses a value of that loop)",
                l.name,
                m.op_name(o),
                m.op(o).loc
            )));
        }
    }
    // The moved copies must be the buffer's only copies in the loop: with
    // another fill (an unrolled or prefetched copy-in) or drain, its value
    // at the end of an iteration is no longer the one box both refer to.
    let moved: Vec<Op> = copies.iter().map(|(c, _)| *c).collect();
    for dir in ["in", "out"] {
        if copies.iter().filter(|(_, d)| d == dir).count() > 1 {
            return Err(ScheduleError::new(format!(
                "loop `{}` holds more than one copy-{dir} of `{bname}`, so no single copy can stand for all its iterations",
                l.name
            ))
            .with_hint("hoist before `unroll`, or stage each unrolled use in its own buffer"));
        }
    }
    if let Some(other) = m.walk_ops(l.op).into_iter().find(|o| {
        m.attr(*o, "accc.buffer").and_then(Attribute::as_str) == Some(bname)
            && m.attr(*o, "accc.copy").is_some()
            && !moved.contains(o)
    }) {
        return Err(ScheduleError::new(format!(
            "loop `{}` also copies `{bname}` deeper inside, at {}, so a copy moved out of it would no longer be the one its iterations see",
            l.name,
            m.op(other).loc
        ))
        .with_hint("hoist before `pipeline` or `unroll` of an inner loop"));
    }
    // A copy-in's source must not be written elsewhere in the loop, and
    // nothing else in the loop may use what a copy-out writes; the
    // buffer's own copies move out together.
    for (copy, dir) in &copies {
        if dir == "in" {
            if let Some((sname, w)) = source_written_in(m, func, *copy, &moved, l.op)? {
                return Err(ScheduleError::new(format!(
                    "cannot hoist the copy-in of `{bname}`: loop `{}` writes `{sname}` at {}, which a later iteration's copy-in would read",
                    l.name,
                    m.op(w).loc
                )));
            }
        } else if let Some((dname, u)) = destination_used_in(m, func, *copy, &moved, l.op)? {
            return Err(ScheduleError::new(format!(
                "cannot hoist the copy-out of `{bname}`: loop `{}` also uses `{dname}` at {}, which would no longer see each iteration's copy-out",
                l.name,
                m.op(u).loc
            )));
        }
    }
    for (copy, dir) in &copies {
        if dir == "in" {
            m.move_op_before(*copy, l.op).map_err(internal)?;
        } else {
            m.move_op_after(*copy, l.op).map_err(internal)?;
        }
    }
    Ok(StepReport {
        summary: format!(
            "hoisted the {} of `{bname}` out of loop `{}`",
            copies
                .iter()
                .map(|(_, d)| format!("copy-{d}"))
                .collect::<Vec<_>>()
                .join(" and "),
            l.name
        ),
        names: vec![],
    })
}

//! `hoist(buffer, loop)`: moves a buffer's copies out of a loop whose
//! iterations would all copy the same box.
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
use accc_ir::{Module, Op};

use super::access::{destination_used_in, find_tensor, source_written_in, varies_in};
use super::loops::{body_ops, find_loop, internal, LoopRef};
use super::{Args, ScheduleError, StepReport};

pub(crate) fn apply(m: &mut Module, func: Op, args: &Args) -> Result<StepReport, ScheduleError> {
    args.expect(2, 2, &[])?;
    let bname = args.name(0, "the buffer to hoist")?;
    find_tensor(m, func, bname).map_err(|e| e.at(args.span(0)))?;
    let l = find_loop(m, func, args.name(1, "the loop to hoist out of")?)
        .map_err(|e| e.at(args.span(1)))?;
    hoist(m, func, bname, &l).map_err(|e| e.at(args.span(0)))
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

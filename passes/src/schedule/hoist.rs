//! `hoist(buffer, loop)`: moves a buffer's copies out of a loop whose
//! iterations would all copy the same box.
//!
//! The copy-in nest of `buffer` (made by `buffer_at`) that sits directly in
//! `loop`'s body moves right before the loop, and its copy-out, if any,
//! right after it. Legal when the copies use nothing that changes with the
//! loop (so every iteration copies the same box), and, for a copy-in, when
//! nothing else in the loop writes the tensor it reads. A buffer that is
//! written in the loop keeps its value across iterations, which equals
//! what a copy-out followed by a copy-in of the same box would give.

use accc_ir::attrs::Attribute;
use accc_ir::{Module, Op};

use super::access::{find_tensor, source_written_in, varies_in};
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
    // A copy-in's source must not be written elsewhere in the loop; the
    // buffer's own copy-out moves out with it.
    let moved: Vec<Op> = copies.iter().map(|(c, _)| *c).collect();
    for (copy, dir) in &copies {
        if dir != "in" {
            continue;
        }
        if let Some((sname, w)) = source_written_in(m, func, *copy, &moved, l.op)? {
            return Err(ScheduleError::new(format!(
                "cannot hoist the copy-in of `{bname}`: loop `{}` writes `{sname}` at {}, which a later iteration's copy-in would read",
                l.name,
                m.op(w).loc
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

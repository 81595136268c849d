//! `parallel(loop)`, `bind(loop, axis)` and `unfold([loops], name)`: loop
//! annotations that a target realizes (threads, a grid, a PE array), each
//! checked before it is recorded.
//!
//! `parallel` and `bind` require that the loop carries no dependence: every
//! pair of accesses inside it to one tensor, one of them a write, touches a
//! common element only within one iteration ([`separated_by`]). A
//! reduction loop (GEMM's `k`) is therefore refused. Tensors allocated
//! inside the loop are private to an iteration and not checked. They record
//! `accc.parallel` or `accc.bind = "<axis>"` on the loop.
//!
//! `unfold` marks a perfect band of constant-bound loops as the dimensions
//! of a spatial array named `name` (Allo's `unfold`, a systolic or PE
//! array): `accc.unfold = "<name>"` and `accc.unfold_dim = k` on the k-th
//! loop. Reductions are allowed across an unfolded band; the array's
//! target decides how partial results flow between PEs.

use accc_ir::attrs::Attribute;
use accc_ir::dialects::affine;
use accc_ir::{Module, Op};

use super::access::{accesses, separated_by, tensors};
use super::loops::{body_ops, constant_loop, find_loop, internal, LoopRef};
use super::{ArgValue, Args, ScheduleError, StepReport};

/// The axes `bind` accepts; targets give them meaning.
pub const AXES: &[&str] = &[
    "block.x",
    "block.y",
    "block.z",
    "thread.x",
    "thread.y",
    "thread.z",
    "warpgroup",
    "partition",
];

pub(crate) fn apply_parallel(
    m: &mut Module,
    func: Op,
    args: &Args,
) -> Result<StepReport, ScheduleError> {
    args.expect(1, 1, &[])?;
    let l = find_loop(m, func, args.name(0, "the loop")?).map_err(|e| e.at(args.span(0)))?;
    check_independent(m, func, &l, "parallel").map_err(|e| e.at(args.span(0)))?;
    m.set_attr(l.op, "accc.parallel", Attribute::Unit);
    Ok(StepReport {
        summary: format!(
            "marked loop `{}` parallel: its iterations touch disjoint elements of every tensor they write",
            l.name
        ),
        names: vec![],
    })
}

pub(crate) fn apply_bind(
    m: &mut Module,
    func: Op,
    args: &Args,
) -> Result<StepReport, ScheduleError> {
    args.expect(2, 2, &[])?;
    let l = find_loop(m, func, args.name(0, "the loop")?).map_err(|e| e.at(args.span(0)))?;
    let axis = args.name(1, "the axis")?.to_string();
    if !AXES.contains(&axis.as_str()) {
        return Err(ScheduleError::new(format!("unknown axis `{axis}`"))
            .at(args.span(1))
            .with_hint(format!("axes: {}", AXES.join(", "))));
    }
    // One loop per axis within a nest.
    let mut cur = Some(l.op);
    let mut chain = Vec::new();
    while let Some(c) = cur {
        chain.push(c);
        cur = m.parent_op(c);
    }
    let mut clash = None;
    for op in chain.iter().copied().chain(m.walk_ops(l.op)) {
        if op != l.op && m.attr(op, "accc.bind").and_then(Attribute::as_str) == Some(&axis) {
            clash = Some(op);
        }
    }
    if let Some(c) = clash {
        return Err(ScheduleError::new(format!(
            "axis `{axis}` is already bound to loop `{}` in the same nest",
            super::loops::loop_name(m, c)
        ))
        .at(args.span(1)));
    }
    check_independent(m, func, &l, "bind").map_err(|e| e.at(args.span(0)))?;
    m.set_attr(l.op, "accc.bind", Attribute::string(axis.clone()));
    Ok(StepReport {
        summary: format!("bound loop `{}` to axis `{axis}`", l.name),
        names: vec![],
    })
}

/// Errors unless loop `l` carries no dependence (see the module docs).
fn check_independent(
    m: &Module,
    func: Op,
    l: &LoopRef,
    primitive: &str,
) -> Result<(), ScheduleError> {
    let iv = affine::induction_var(m, l.op).ok_or_else(|| internal("no iv"))?;
    for (tname, tensor) in tensors(m, func) {
        if m.defining_op(tensor)
            .is_some_and(|a| m.is_proper_ancestor(l.op, a))
        {
            continue;
        }
        let acc = accesses(m, tensor, &tname, l.op)?;
        for (i, x) in acc.iter().enumerate() {
            for y in &acc[i..] {
                if (x.is_write || y.is_write) && !separated_by(m, &x.index, &y.index, iv, l.op) {
                    return Err(ScheduleError::new(format!(
                        "`{primitive}` needs independent iterations, but loop `{}` may carry a dependence through `{tname}` (accesses at {} and {})",
                        l.name,
                        m.op(x.op).loc,
                        m.op(y.op).loc
                    ))
                    .with_hint("a loop whose iterations update the same element (a reduction) cannot run in parallel"));
                }
            }
        }
    }
    Ok(())
}

pub(crate) fn apply_unfold(
    m: &mut Module,
    func: Op,
    args: &Args,
) -> Result<StepReport, ScheduleError> {
    args.expect(2, 2, &[])?;
    let names: Vec<String> = match args.value(0) {
        Some(ArgValue::List(items)) => items
            .iter()
            .map(|v| match v {
                ArgValue::Name(n) => Ok(n.clone()),
                other => Err(ScheduleError::new(format!(
                    "expected a loop name in the list, found `{other}`"
                ))
                .at(args.span(0))),
            })
            .collect::<Result<_, _>>()?,
        Some(ArgValue::Name(n)) => vec![n.clone()],
        _ => {
            return Err(
                ScheduleError::new("expected a list of loops, such as `[ii, ji]`")
                    .at(args.span(0))
                    .with_hint("usage: unfold([l1, l2, ...], name)"),
            )
        }
    };
    let array = args.name(1, "the array's name")?.to_string();
    let loops: Vec<LoopRef> = names
        .iter()
        .map(|n| find_loop(m, func, n))
        .collect::<Result<_, _>>()
        .map_err(|e| e.at(args.span(0)))?;
    let mut dims = Vec::new();
    for (k, l) in loops.iter().enumerate() {
        let (_, _, _, trips) = constant_loop(m, l, "unfold").map_err(|e| e.at(args.span(0)))?;
        dims.push(trips.to_string());
        if let Some(next) = loops.get(k + 1) {
            if body_ops(m, l.op) != [next.op] {
                return Err(ScheduleError::new(format!(
                    "`unfold` needs a perfect band: loop `{}` must be the whole body of loop `{}`",
                    next.name, l.name
                ))
                .at(args.span(0)));
            }
        }
    }
    for (k, l) in loops.iter().enumerate() {
        m.set_attr(l.op, "accc.unfold", Attribute::string(array.clone()));
        m.set_attr(l.op, "accc.unfold_dim", Attribute::index(k as i64));
    }
    Ok(StepReport {
        summary: format!(
            "unfolded loops {} into the {} spatial array `{array}`",
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", "),
            dims.join("x")
        ),
        names: vec![],
    })
}

//! `reorder(l1, l2, ...)`: permutes loops of a perfect band.
//!
//! The listed loops must lie on one chain of nested loops, and every loop
//! from the outermost to the innermost listed one must hold nothing but
//! the next loop (a perfect band). The listed loops take the band
//! positions they occupied, in the order given (outermost first); unlisted
//! loops of the band stay where they are. A loop whose bounds use another
//! band loop's induction variable (the inner loop of a guarded split) must
//! stay inside that loop.

use accc_ir::attrs::Attribute;
use accc_ir::dialects::affine;
use accc_ir::{Module, Op};

use super::loops::{body_ops, find_loop, loop_name, LoopRef};
use super::{Args, ScheduleError, StepReport};

pub(crate) fn apply(m: &mut Module, func: Op, args: &Args) -> Result<StepReport, ScheduleError> {
    args.expect(2, usize::MAX, &[])?;
    let mut order = Vec::new();
    for i in 0..args.len() {
        let name = args.name(i, "a loop")?;
        let l = find_loop(m, func, name).map_err(|e| e.at(args.span(i)))?;
        if order.iter().any(|o: &LoopRef| o.op == l.op) {
            return Err(
                ScheduleError::new(format!("loop `{name}` is listed twice")).at(args.span(i))
            );
        }
        order.push(l);
    }
    reorder(m, &order)
}

/// Reorders the band holding `order` so the listed loops run in that order.
pub(crate) fn reorder(m: &mut Module, order: &[LoopRef]) -> Result<StepReport, ScheduleError> {
    // The listed loops by depth.
    let mut by_depth: Vec<&LoopRef> = order.iter().collect();
    by_depth.sort_by_key(|l| depth(m, l.op));
    for w in by_depth.windows(2) {
        if !m.is_proper_ancestor(w[0].op, w[1].op) {
            return Err(ScheduleError::new(format!(
                "loops `{}` and `{}` are not nested one inside the other; `reorder` permutes the loops of one nest",
                w[0].qualified(),
                w[1].qualified()
            )));
        }
    }
    // The band from the outermost to the innermost listed loop.
    let (first, last) = (by_depth[0], by_depth[by_depth.len() - 1]);
    let mut band = vec![first.op];
    let mut cur = first.op;
    while cur != last.op {
        let inner = body_ops(m, cur);
        let next = inner.iter().copied().find(|o| {
            m.op_name(*o) == "affine.for" && (*o == last.op || m.is_proper_ancestor(*o, last.op))
        });
        match (inner.len(), next) {
            (1, Some(n)) => {
                band.push(n);
                cur = n;
            }
            _ => {
                let in_the_way = inner
                    .iter()
                    .find(|o| Some(**o) != next)
                    .map(|o| m.op_name(*o).to_string())
                    .unwrap_or_default();
                let line = inner
                    .iter()
                    .find(|o| Some(**o) != next)
                    .map(|o| format!(" (at {})", m.op(*o).loc))
                    .unwrap_or_default();
                return Err(ScheduleError::new(format!(
                    "loops `{}` to `{}` are not a perfect band: `{in_the_way}`{line} sits in loop `{}` beside the nested loop",
                    first.name,
                    last.name,
                    loop_name(m, cur)
                ))
                .with_hint("reorder permutes perfectly nested loops only; move or split the op out of the band first"));
            }
        }
    }
    // Positions of the listed loops in the band, outermost first; position
    // positions[k] receives the header of order[k].
    let positions: Vec<usize> = by_depth
        .iter()
        .map(|l| band.iter().position(|b| *b == l.op).unwrap_or(0))
        .collect();
    let mut new_position: Vec<usize> = (0..band.len()).collect();
    for (k, l) in order.iter().enumerate() {
        if let Some(p) = band.iter().position(|b| *b == l.op) {
            new_position[p] = positions[k];
        }
    }
    // A loop whose bounds use another band loop's induction variable must
    // stay inside that loop.
    let ivs: Vec<_> = band.iter().map(|l| affine::induction_var(m, *l)).collect();
    for (p, l) in band.iter().enumerate() {
        for v in m.operands(*l) {
            if let Some(r) = ivs.iter().position(|iv| *iv == Some(*v)) {
                if new_position[r] > new_position[p] {
                    return Err(ScheduleError::new(format!(
                        "the bounds of loop `{}` depend on loop `{}`, which this order would move inside it",
                        loop_name(m, *l),
                        loop_name(m, band[r])
                    )));
                }
            }
        }
    }
    let before: Vec<String> = band.iter().map(|l| loop_name(m, *l)).collect();
    struct Header {
        attrs: Vec<(String, Attribute)>,
        operands: Vec<accc_ir::Value>,
        uses: Vec<accc_ir::Use>,
        hint: Option<String>,
    }
    let headers: Vec<Header> = order
        .iter()
        .map(|l| Header {
            attrs: m
                .op(l.op)
                .attrs
                .iter()
                .filter(|(k, _)| k.as_str() != "op_name")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            operands: m.operands(l.op).to_vec(),
            // Uses in band loop bounds travel with those loops' headers.
            uses: affine::induction_var(m, l.op)
                .map(|iv| {
                    m.uses(iv)
                        .iter()
                        .filter(|u| !band.contains(&u.op))
                        .copied()
                        .collect()
                })
                .unwrap_or_default(),
            hint: affine::induction_var(m, l.op)
                .and_then(|iv| m.name_hint(iv))
                .map(str::to_string),
        })
        .collect();
    for (k, header) in headers.into_iter().enumerate() {
        let target = band[positions[k]];
        let keys: Vec<String> = m
            .op(target)
            .attrs
            .keys()
            .filter(|k| k.as_str() != "op_name")
            .cloned()
            .collect();
        for key in keys {
            m.remove_attr(target, &key);
        }
        for (key, v) in header.attrs {
            m.set_attr(target, key, v);
        }
        // Bound operands that are band induction variables follow their
        // loops to their new positions.
        let operands = header
            .operands
            .iter()
            .map(|v| match ivs.iter().position(|iv| *iv == Some(*v)) {
                Some(r) => ivs[new_position[r]].unwrap_or(*v),
                None => *v,
            })
            .collect();
        m.set_operands(target, operands);
        if let Some(iv) = affine::induction_var(m, target) {
            for u in header.uses {
                m.set_operand(u.op, u.index as usize, iv);
            }
            if let Some(h) = header.hint {
                m.set_name_hint(iv, h);
            }
        }
    }
    let after: Vec<String> = band.iter().map(|l| loop_name(m, *l)).collect();
    Ok(StepReport {
        summary: format!(
            "reordered the band ({}) to ({})",
            before.join(", "),
            after.join(", ")
        ),
        names: Vec::new(),
    })
}

fn depth(m: &Module, op: Op) -> usize {
    let mut d = 0;
    let mut cur = m.parent_op(op);
    while let Some(p) = cur {
        d += 1;
        cur = m.parent_op(p);
    }
    d
}

//! `reorder(l1, l2, ...)`: permutes loops of a perfect band.
//!
//! The listed loops must lie on one chain of nested loops, and every loop
//! from the outermost to the innermost listed one must hold nothing but
//! the next loop (a perfect band). The listed loops take the band
//! positions they occupied, in the order given (outermost first); unlisted
//! loops of the band stay where they are. A loop whose bounds use another
//! band loop's induction variable (the inner loop of a guarded split) must
//! stay inside that loop.
//!
//! The new order must keep every dependence: for two accesses to one
//! element, at least one a write, the loops of the band in which the two
//! may run in different iterations (all but those [`same_iv_only`] proves
//! equal) must keep their relative order, so the first of them to differ
//! still runs the source first. Updates of one element by an exact
//! associative and commutative operation (`addi`, `muli`, integer and
//! float `max`/`min`, bitwise ops) may run in any order; a float sum may
//! not, because its rounding depends on the order.

use accc_ir::attrs::Attribute;
use accc_ir::dialects::affine;
use accc_ir::{Module, Op, Value};

use super::access::{accesses, same_iv_only, tensor_name, varies_in, Access};
use super::loops::{body_ops, find_loop, loop_name, LoopRef};
use super::{Args, ScheduleError, StepReport};

pub(crate) fn apply(
    m: &mut Module,
    func: Op,
    args: &Args,
    fp_reassoc: bool,
) -> Result<StepReport, ScheduleError> {
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
    reorder(m, func, &order, fp_reassoc)
}

/// Reorders the band holding `order` so the listed loops run in that order.
pub(crate) fn reorder(
    m: &mut Module,
    func: Op,
    order: &[LoopRef],
    fp_reassoc: bool,
) -> Result<StepReport, ScheduleError> {
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
    check_dependences(m, func, &band, &new_position, fp_reassoc)?;
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

/// Errors unless moving band loop `p` to position `new_position[p]` keeps
/// every dependence between accesses in the band (see the module docs).
fn check_dependences(
    m: &Module,
    func: Op,
    band: &[Op],
    new_position: &[usize],
    fp_reassoc: bool,
) -> Result<(), ScheduleError> {
    let outer = band[0];
    let ivs: Vec<Option<Value>> = band.iter().map(|l| affine::induction_var(m, *l)).collect();
    // The tensors the band uses, defined outside it (a buffer allocated in
    // the body is private to an iteration).
    let mut used: Vec<Value> = Vec::new();
    m.walk(outer, &mut |op| {
        for v in m.operands(op) {
            if m.value_type(*v).as_memref().is_some()
                && !varies_in(m, *v, outer)
                && !used.contains(v)
            {
                used.push(*v);
            }
        }
    });
    for tensor in used {
        let name = tensor_name(m, func, tensor);
        let acc = accesses(m, tensor, &name, outer).map_err(|e| {
            ScheduleError::new(format!(
                "cannot check that the new order keeps the dependences: {}",
                e.message
            ))
        })?;
        let reduction = exact_reduction(m, &acc, fp_reassoc);
        for (i, x) in acc.iter().enumerate() {
            for y in &acc[i..] {
                if !(x.is_write || y.is_write) || reduction {
                    continue;
                }
                let free = differing_loops(m, band, &ivs, x, y);
                for (a, &p) in free.iter().enumerate() {
                    for &q in &free[a + 1..] {
                        if new_position[p] > new_position[q] {
                            return Err(order_error(m, band, p, q, &name, x, y));
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// The band loops (positions, outermost first) in which accesses `x` and
/// `y` may touch one element in different iterations: all but those proven
/// equal, each proof taking the loops proven before as equal too.
fn differing_loops(
    m: &Module,
    band: &[Op],
    ivs: &[Option<Value>],
    x: &Access,
    y: &Access,
) -> Vec<usize> {
    let outer = band[0];
    let mut equal = vec![false; band.len()];
    loop {
        let mut grew = false;
        for p in 0..band.len() {
            let Some(iv) = ivs[p].filter(|_| !equal[p]) else {
                continue;
            };
            let fixed = |v: Value| match ivs.iter().position(|i| *i == Some(v)) {
                Some(q) => equal[q],
                None => !varies_in(m, v, outer),
            };
            let step = affine::for_step(m, band[p]).unwrap_or(1);
            if same_iv_only(m, &x.index, &y.index, iv, step, fixed) {
                equal[p] = true;
                grew = true;
            }
        }
        if !grew {
            break;
        }
    }
    (0..band.len()).filter(|p| !equal[*p]).collect()
}

/// Whether every access in `acc` belongs to an update `t[e] = t[e] op v`
/// (a load, one combining op, a store of the same element) with one exact
/// associative and commutative `op` shared by all of them, so the updates
/// may run in any order with bit-identical results; with `fp_reassoc`,
/// float `+` and `*` count too (the results may then round differently).
fn exact_reduction(m: &Module, acc: &[Access], fp_reassoc: bool) -> bool {
    let mut kind = None;
    acc.iter().all(|a| {
        let Some(op) = update_op(m, a.op) else {
            return false;
        };
        let name = m.op_name(op);
        let exact = matches!(
            name,
            "arith.addi"
                | "arith.muli"
                | "arith.andi"
                | "arith.ori"
                | "arith.xori"
                | "arith.maxsi"
                | "arith.minsi"
                | "arith.maxui"
                | "arith.minui"
                | "arith.maximumf"
                | "arith.minimumf"
        );
        let reassociable = fp_reassoc && matches!(name, "arith.addf" | "arith.mulf");
        (exact || reassociable) && *kind.get_or_insert(name) == name
    })
}

/// The combining op of the update `t[e] = t[e] op v` that the load or
/// store `access` belongs to.
fn update_op(m: &Module, access: Op) -> Option<Op> {
    let same_element = |load: Op, store: Op| {
        m.op_name(load) == "affine.load"
            && m.op_name(store) == "affine.store"
            && m.op_parent_block(load) == m.op_parent_block(store)
            && affine::access_memref(m, load) == affine::access_memref(m, store)
            && affine::access_map(m, load).map(|(map, ops)| (map.clone(), ops.to_vec()))
                == affine::access_map(m, store).map(|(map, ops)| (map.clone(), ops.to_vec()))
    };
    let single_use = |v: Value| match m.uses(v) {
        [u] => Some(u.op),
        _ => None,
    };
    let result = |op: Op| m.results(op).first().copied();
    let (load, op, store) = match m.op_name(access) {
        "affine.load" => {
            let op = single_use(result(access)?)?;
            let store = single_use(result(op)?)?;
            (access, op, store)
        }
        "affine.store" => {
            let op = m.defining_op(m.operand(access, 0))?;
            let load = m
                .operands(op)
                .iter()
                .filter_map(|v| m.defining_op(*v))
                .find(|l| same_element(*l, access))?;
            (load, op, access)
        }
        _ => return None,
    };
    let (loaded, combined) = (result(load)?, result(op)?);
    (same_element(load, store)
        && m.operands(op).len() == 2
        && single_use(loaded) == Some(op)
        && m.operands(store).first() == Some(&combined))
    .then_some(op)
}

/// The error for an order that runs loop `q` outside loop `p` although
/// the accesses `x` and `y` to `tensor` may meet in different iterations
/// of both.
fn order_error(
    m: &Module,
    band: &[Op],
    p: usize,
    q: usize,
    tensor: &str,
    x: &Access,
    y: &Access,
) -> ScheduleError {
    let (lp, lq) = (loop_name(m, band[p]), loop_name(m, band[q]));
    let float_sum = [x, y]
        .into_iter()
        .find_map(|a| update_op(m, a.op))
        .filter(|op| matches!(m.op_name(*op), "arith.addf" | "arith.mulf"));
    match float_sum {
        Some(op) => ScheduleError::new(format!(
            "moving loop `{lq}` outside loop `{lp}` changes the order in which `{}` at {} accumulates into `{tensor}`, and a float reduction rounds differently in another order",
            m.op_name(op),
            m.op(op).loc
        ))
        .with_hint("keep the loops of a float reduction in their order, or allow reassociating floats with --fp-reassoc (`Schedule::with_fp_reassoc`)"),
        None => ScheduleError::new(format!(
            "moving loop `{lq}` outside loop `{lp}` would break a dependence through `{tensor}` (accesses at {} and {}): the two may touch one element in different iterations of both loops",
            m.op(x.op).loc,
            m.op(y.op).loc
        )),
    }
}

//! `buf = reuse_at(tensor, loop, mem = space)`: a sliding-window reuse
//! buffer (a line buffer or window, as in Allo and HLS stencils).
//!
//! One iteration of `loop` reads a box of `tensor` ([`footprint`]) whose
//! base advances by `shift` elements per iteration in one dimension, the
//! sliding dimension; consecutive boxes overlap in `extent - shift` rows.
//! The box lives in a local buffer: before the loop a warm-up nest loads
//! its first `extent - shift` rows, each iteration first loads only the
//! `shift` new rows at the end of the window, the body reads the buffer at
//! local indices, and a shift nest at the end of the iteration moves rows
//! `shift..extent` down to `0..extent - shift` for the next one. Each
//! element of `tensor` is thus loaded once per pass of `loop` instead of
//! `extent / shift` times.
//!
//! Preconditions: `loop` only reads `tensor`; exactly one dimension of the
//! box moves with `loop`, forward, by less than the box's extent.

use accc_ir::attrs::Attribute;
use accc_ir::dialects::affine;
use accc_ir::{Builder, Module, Op, Value};

use super::access::{accesses, footprint, map_lin, memref_type, Footprint, Lin};
use super::buffer::{box_text, build_copy, index_map, stage_box, Direction, StagingArgs};
use super::loops::{internal, value_hint};
use super::{Args, ScheduleError, StepReport};

pub(crate) fn apply(m: &mut Module, func: Op, args: &Args) -> Result<StepReport, ScheduleError> {
    let StagingArgs {
        tname,
        tensor,
        at: l,
        mem,
        name,
    } = StagingArgs::parse(m, func, args, "reuse", |_| "reuse")?;
    let at = args.span(1);
    let acc = accesses(m, tensor, tname, l.op).map_err(|e| e.at(at))?;
    if acc.is_empty() {
        return Err(ScheduleError::new(format!(
            "`{tname}` is not accessed inside loop `{}`",
            l.name
        ))
        .at(at));
    }
    if let Some(w) = acc.iter().find(|a| a.is_write) {
        return Err(ScheduleError::new(format!(
            "loop `{}` writes `{tname}` at {}; a reuse buffer keeps rows across iterations, so the loop may only read it",
            l.name,
            m.op(w.op).loc
        ))
        .at(at));
    }
    let fp = footprint(m, &acc, l.op, tname).map_err(|e| e.at(at))?;
    let iv = affine::induction_var(m, l.op).ok_or_else(|| internal("no iv"))?;
    let step = affine::for_step(m, l.op).unwrap_or(1).max(1);
    let moving: Vec<usize> = (0..fp.base.len())
        .filter(|d| fp.base[*d].terms.contains_key(&iv))
        .collect();
    let dim = match moving.as_slice() {
        [d] => *d,
        [] => {
            return Err(ScheduleError::new(format!(
                "the box of `{tname}` that loop `{}` reads does not move with it, so there is no window to slide",
                l.name
            ))
            .at(at)
            .with_hint("stage it once with `buffer_at` and `hoist` instead"))
        }
        many => {
            return Err(ScheduleError::new(format!(
                "the box of `{tname}` moves with loop `{}` in {} dimensions; reuse_at slides along one",
                l.name,
                many.len()
            ))
            .at(at))
        }
    };
    let coeff = fp.base[dim].terms[&iv];
    let extent = fp.extent[dim];
    let shift = coeff.saturating_mul(step);
    if shift <= 0 {
        return Err(ScheduleError::new(format!(
            "the window of `{tname}` moves backwards along loop `{}`; reuse_at slides forwards",
            l.name
        ))
        .at(at));
    }
    if shift >= extent {
        return Err(ScheduleError::new(format!(
            "consecutive iterations of loop `{}` read disjoint parts of `{tname}` (the window is {extent} wide in dimension {dim} and moves by {shift}), so there is nothing to reuse",
            l.name
        ))
        .at(at)
        .with_hint("use `buffer_at` to stage each iteration's part"));
    }
    let lower = lower_bound_lin(m, func, l.op, &l.name).map_err(|e| e.at(at))?;

    let tt = memref_type(m, tensor)?;
    let (local, ty) = stage_box(m, func, &acc, &fp, &tt, mem, &name, tname, l.op)?;

    let loc = m.op(l.op).loc.clone();
    let keep = extent - shift;
    // Warm-up: the rows the first iteration shares with the ones before it
    // would have, loaded at the loop's lower bound.
    let mut warm = fp.clone();
    let mut first = fp.base[dim].clone();
    first.terms.remove(&iv);
    first.add_scaled(&lower, coeff);
    warm.base[dim] = first;
    warm.extent[dim] = keep;
    let mut b = Builder::before(m, l.op).ok_or_else(|| internal("detached loop"))?;
    b.set_loc(loc.clone());
    let marked = build_copy(
        b,
        tensor,
        local,
        &warm,
        &[],
        &tt.shape,
        Direction::In,
        &name,
    );
    tag(m, &marked, "warmup");
    // The new rows at the end of the window.
    let mut fresh_rows: Footprint = fp.clone();
    fresh_rows.base[dim].constant = fresh_rows.base[dim].constant.wrapping_add(keep);
    fresh_rows.extent[dim] = shift;
    let mut local_at = vec![0; fp.extent.len()];
    local_at[dim] = keep;
    let body = m.entry_block(l.op, 0).ok_or_else(|| internal("no body"))?;
    let head = m.block_ops(body)[0];
    let mut b = Builder::before(m, head).ok_or_else(|| internal("detached"))?;
    b.set_loc(loc.clone());
    let marked = build_copy(
        b,
        tensor,
        local,
        &fresh_rows,
        &local_at,
        &tt.shape,
        Direction::In,
        &name,
    );
    tag(m, &marked, "slide");
    let mut b = Builder::before_terminator(m, body);
    b.set_loc(loc);
    let shift_op = build_shift(b, local, &fp.extent, dim, shift, &name);
    tag(m, &[shift_op], "shift");
    m.set_attr(shift_op, "accc.buffer", Attribute::string(name.as_str()));
    Ok(StepReport {
        summary: format!(
            "`{name}` ({ty}) holds the {} window of `{tname}` sliding by {shift} along dimension {dim} per iteration of `{}`: {keep} row(s) loaded before the loop, {shift} per iteration",
            box_text(&fp.extent),
            l.name
        ),
        names: vec![name],
    })
}

fn tag(m: &mut Module, ops: &[Op], kind: &str) {
    for &op in ops {
        m.set_attr(op, "accc.copy", Attribute::string(kind));
    }
}

/// The lower bound of `l` as a linear form over values defined outside it.
fn lower_bound_lin(m: &Module, func: Op, l: Op, name: &str) -> Result<Lin, ScheduleError> {
    let (lower, _) = affine::for_bounds(m, l).ok_or_else(|| internal("no bounds"))?;
    let not_single = || {
        ScheduleError::new(format!(
            "loop `{name}` starts at the maximum of several bounds; reuse_at needs one lower bound to load the first window"
        ))
    };
    if lower.map.results.len() != 1 {
        return Err(not_single());
    }
    map_lin(m, &lower.map, &lower.operands, func)
        .map_err(|e| ScheduleError::new(format!("the lower bound of loop `{name}`: {e}")))?
        .pop()
        .ok_or_else(not_single)
}

/// The nest moving rows `shift..extent` of dimension `dim` of `local` to
/// `0..extent - shift`; returns its outermost loop.
fn build_shift(
    mut b: Builder,
    local: Value,
    extent: &[i64],
    dim: usize,
    shift: i64,
    name: &str,
) -> Op {
    let mut ivs = Vec::new();
    let mut outermost = None;
    for (d, e) in extent.iter().enumerate() {
        let upper = if d == dim { e - shift } else { *e };
        let (op, iv, body) = affine::build_for(
            &mut b,
            affine::Bound::constant(0),
            affine::Bound::constant(upper),
            1,
        );
        outermost.get_or_insert(op);
        b.module
            .set_name_hint(iv, format!("{}_{d}", value_hint(name)));
        ivs.push(iv);
        let loc = b.loc().clone();
        b = Builder::before_terminator(b.module, body);
        b.set_loc(loc);
    }
    let to: Vec<Lin> = ivs.iter().map(|v| Lin::var(*v)).collect();
    let mut from = to.clone();
    from[dim].constant = shift;
    let (map, operands) = index_map(&from);
    let v = affine::build_load(&mut b, local, map, &operands);
    let (map, operands) = index_map(&to);
    let store = affine::build_store(&mut b, v, local, map, &operands);
    outermost.unwrap_or(store)
}

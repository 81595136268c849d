//! `outer, inner = split(loop, factor, tail = error|guard)`.
//!
//! A loop of `N` iterations `i = lb, lb + s, ...` becomes an outer loop
//! `o = 0 .. ceil(N / f)` and an inner loop `ii = 0 .. f`, and every use of
//! `i` becomes `lb + s * (f * o + ii)`: affine maps that use `i` are
//! rewritten in place, other uses read an `affine.apply`. When `f` does not
//! divide `N`, `tail = guard` bounds the inner loop by `min(f, N - f * o)`
//! (so the band stays perfect and can be reordered); the default,
//! `tail = error`, rejects the step.

use accc_ir::affine::{AffineExpr, AffineMap};
use accc_ir::dialects::affine::{self, Bound};
use accc_ir::{Builder, Module, Op, Value};

use super::loops::{
    body_ops, constant_loop, find_loop, internal, name_loop, substitute_iv_in, LoopRef,
};
use super::{Args, ScheduleError, StepReport};

pub(crate) fn apply(m: &mut Module, func: Op, args: &Args) -> Result<StepReport, ScheduleError> {
    args.expect(2, 2, &["tail"])?;
    let name = args.name(0, "the loop to split")?;
    let l = find_loop(m, func, name).map_err(|e| e.at(args.span(0)))?;
    let factor = args.int(1, "the split factor")?;
    let guard = args.choice("tail", &["error", "guard"], "error")? == "guard";
    let names = args.binds(vec![format!("{}.o", l.name), format!("{}.i", l.name)])?;
    if factor <= 0 {
        return Err(
            ScheduleError::new(format!("the split factor must be positive, got {factor}"))
                .at(args.span(1)),
        );
    }
    split(m, &l, factor, guard, &names[0], &names[1]).map_err(|e| e.at(args.span(1)))
}

/// Splits loop `l` by `factor`; returns the report naming the two loops.
pub(crate) fn split(
    m: &mut Module,
    l: &LoopRef,
    factor: i64,
    guard: bool,
    outer_name: &str,
    inner_name: &str,
) -> Result<StepReport, ScheduleError> {
    let (lb, _, step, trips) = constant_loop(m, l, "split")?;
    let divides = trips % factor == 0;
    if !divides && !guard {
        return Err(ScheduleError::new(format!(
            "split factor {factor} does not divide the {trips} iterations of loop `{}`",
            l.name
        ))
        .with_hint(format!(
            "use `tail = guard` to guard the last partial block, or a factor that divides {trips}{}",
            divisor_list(trips)
        )));
    }
    let outer_trips = trips / factor + i64::from(!divides);
    let Some(block_stride) = factor.checked_mul(step) else {
        return Err(ScheduleError::new(format!(
            "split factor {factor} times the step {step} of loop `{}` overflows",
            l.name
        )));
    };
    let loc = m.op(l.op).loc.clone();
    let mut b = Builder::before(m, l.op).ok_or_else(|| internal("the loop is detached"))?;
    b.set_loc(loc.clone());
    let (outer, o, outer_body) =
        affine::build_for(&mut b, Bound::constant(0), Bound::constant(outer_trips), 1);
    // The inner loop runs `factor` iterations, or, with a guard, the
    // `min(factor, trips - factor * o)` left in the last block.
    let inner_upper = if divides {
        Bound::constant(factor)
    } else {
        let left = AffineExpr::constant(trips)
            .sub(AffineExpr::dim(0).mul(AffineExpr::constant(factor)))
            .simplify();
        Bound {
            map: AffineMap::new(1, 0, vec![AffineExpr::constant(factor), left]),
            operands: vec![o],
        }
    };
    let mut b = Builder::before_terminator(m, outer_body);
    b.set_loc(loc);
    let (inner, ii, inner_body) = affine::build_for(&mut b, Bound::constant(0), inner_upper, 1);
    let dest = inner_body;
    let index = AffineExpr::constant(lb)
        .add(AffineExpr::dim(0).mul(AffineExpr::constant(block_stride)))
        .add(AffineExpr::dim(1).mul(AffineExpr::constant(step)))
        .simplify();
    move_body_and_substitute(m, l.op, dest, &[o, ii], &index)?;
    // Attributes: the stage name goes to the new outermost loop, the
    // others stay with the loops that carry the same meaning.
    let attrs = m.op(l.op).attrs.clone();
    for (k, v) in attrs {
        match k.as_str() {
            "loop_name" | "lowerBoundMap" | "upperBoundMap" | "step" => {}
            "op_name" => m.set_attr(outer, k, v),
            _ => m.set_attr(inner, k, v),
        }
    }
    name_loop(m, outer, outer_name);
    name_loop(m, inner, inner_name);
    m.erase_op(l.op).map_err(internal)?;
    Ok(StepReport {
        summary: format!(
            "split loop `{}` ({trips} iterations) by {factor} into `{outer_name}` ({outer_trips}) and `{inner_name}` ({factor}){}",
            l.name,
            if divides {
                String::new()
            } else {
                format!(", the last block bounded to {} iterations", trips - (outer_trips - 1) * factor)
            }
        ),
        names: vec![outer_name.to_string(), inner_name.to_string()],
    })
}

/// Moves the body of loop `old` (without its terminator) to the end of
/// `dest` (before its terminator) and replaces the old induction variable
/// by `index`, an affine expression over `new` (as `d0, d1, ...`).
pub(crate) fn move_body_and_substitute(
    m: &mut Module,
    old: Op,
    dest: accc_ir::Block,
    new: &[Value],
    index: &AffineExpr,
) -> Result<(), ScheduleError> {
    let iv = affine::induction_var(m, old).ok_or_else(|| internal("a loop without a body"))?;
    let terminator = m
        .block_terminator(dest)
        .ok_or_else(|| internal("a block without a terminator"))?;
    for op in body_ops(m, old) {
        m.move_op_before(op, terminator).map_err(internal)?;
    }
    replace_iv(m, iv, dest, new, index)
}

/// Replaces every use of `iv` in `block` by `index` over `new`: in affine
/// maps directly, elsewhere through one `affine.apply` at the start of
/// `block`.
pub(crate) fn replace_iv(
    m: &mut Module,
    iv: Value,
    block: accc_ir::Block,
    new: &[Value],
    index: &AffineExpr,
) -> Result<(), ScheduleError> {
    let ops = m.block_ops(block).to_vec();
    substitute_iv_in(m, &ops, iv, new, index)
}

/// `" (such as 2, 4, ...)"` for small trip counts.
fn divisor_list(n: i64) -> String {
    if n <= 0 || n > 1 << 20 {
        return String::new();
    }
    let divisors: Vec<String> = (2..n)
        .filter(|d| n % d == 0)
        .take(12)
        .map(|d| d.to_string())
        .collect();
    if divisors.is_empty() {
        String::new()
    } else {
        format!(" (such as {})", divisors.join(", "))
    }
}

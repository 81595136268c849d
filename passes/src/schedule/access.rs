//! Tensors by name, affine accesses as linear forms over SSA values, and
//! the box of a tensor that one iteration of a loop touches: what
//! `buffer_at`, `fission` and `hoist` reason about.

use std::collections::BTreeMap;

use accc_ir::affine::{AffineExpr, AffineMap};
use accc_ir::attrs::Attribute;
use accc_ir::dialects::affine::{self, Bound};
use accc_ir::{Module, Op, Type, Value};

use super::loops::internal;
use super::ScheduleError;

/// `constant + sum(coeff * value)` over `index` values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Lin {
    pub constant: i64,
    pub terms: BTreeMap<Value, i64>,
}

impl Lin {
    pub fn constant(c: i64) -> Lin {
        Lin {
            constant: c,
            terms: BTreeMap::new(),
        }
    }

    pub fn var(v: Value) -> Lin {
        let mut terms = BTreeMap::new();
        terms.insert(v, 1);
        Lin { constant: 0, terms }
    }

    /// `self + k * other`.
    pub fn add_scaled(&mut self, other: &Lin, k: i64) {
        self.constant = self.constant.wrapping_add(other.constant.wrapping_mul(k));
        for (v, c) in &other.terms {
            let e = self.terms.entry(*v).or_insert(0);
            *e = e.wrapping_add(c.wrapping_mul(k));
        }
        self.terms.retain(|_, c| *c != 0);
    }

    pub fn sub(&self, other: &Lin) -> Lin {
        let mut out = self.clone();
        out.add_scaled(other, -1);
        out
    }

    /// The expression over dims that index into `dims` (values appended
    /// as needed).
    pub fn to_expr(&self, dims: &mut Vec<Value>) -> AffineExpr {
        let terms: Vec<(AffineExpr, i64)> = self
            .terms
            .iter()
            .map(|(v, c)| {
                let at = match dims.iter().position(|d| d == v) {
                    Some(p) => p,
                    None => {
                        dims.push(*v);
                        dims.len() - 1
                    }
                };
                (AffineExpr::dim(at as u32), *c)
            })
            .collect();
        AffineExpr::linear_combination(terms, self.constant)
    }

    /// The terms over values for which `keep` holds, with the constant.
    pub fn filter(&self, keep: impl Fn(Value) -> bool) -> Lin {
        Lin {
            constant: self.constant,
            terms: self
                .terms
                .iter()
                .filter(|(v, _)| keep(**v))
                .map(|(v, c)| (*v, *c))
                .collect(),
        }
    }
}

/// A bound as an affine map over values built from linear forms.
pub(crate) fn bound_of(results: &[Lin]) -> Bound {
    let mut dims = Vec::new();
    let exprs: Vec<AffineExpr> = results.iter().map(|l| l.to_expr(&mut dims)).collect();
    Bound {
        map: AffineMap::new(dims.len() as u32, 0, exprs),
        operands: dims,
    }
}

/// Is `v` defined inside one iteration of `scope` (a result of an op
/// nested in it, or the induction variable of a loop nested in it)? The
/// induction variable of `scope` itself is fixed for an iteration, so it
/// is not.
pub(crate) fn varies_in(m: &Module, v: Value, scope: Op) -> bool {
    match m.defining_op(v) {
        Some(op) => m.is_proper_ancestor(scope, op),
        None => match m.value(v).def {
            accc_ir::ValueDef::BlockArg { block, .. } => m
                .block_parent_op(block)
                .is_some_and(|owner| owner != scope && m.is_proper_ancestor(scope, owner)),
            accc_ir::ValueDef::OpResult { .. } => false,
        },
    }
}

/// The linear forms of `map`'s results over `operands`, seeing through
/// `affine.apply` ops nested in `scope`. `Err` names what is not linear.
pub(crate) fn map_lin(
    m: &Module,
    map: &AffineMap,
    operands: &[Value],
    scope: Op,
) -> Result<Vec<Lin>, String> {
    let operand_lins: Vec<Lin> = operands
        .iter()
        .map(|v| value_lin(m, *v, scope))
        .collect::<Result<_, _>>()?;
    let n = map.num_dims;
    map.results
        .iter()
        .map(|e| {
            // Symbols become dims so that one linear view covers both.
            let syms: Vec<AffineExpr> = (0..map.num_syms).map(|s| AffineExpr::dim(n + s)).collect();
            let dims: Vec<AffineExpr> = (0..n).map(AffineExpr::dim).collect();
            let flat = e.substitute(&dims, &syms);
            let (constant, terms) = flat
                .as_linear()
                .ok_or_else(|| format!("the index `{e}` is not linear"))?;
            let mut out = Lin::constant(constant);
            for (d, c) in terms {
                out.add_scaled(&operand_lins[d as usize], c);
            }
            Ok(out)
        })
        .collect()
}

fn value_lin(m: &Module, v: Value, scope: Op) -> Result<Lin, String> {
    if let Some(op) = m.defining_op(v) {
        if m.op_name(op) == "affine.apply" && m.is_proper_ancestor(scope, op) {
            let map = m
                .attr(op, "map")
                .and_then(Attribute::as_affine_map)
                .ok_or("an `affine.apply` without a map")?
                .clone();
            let mut lins = map_lin(m, &map, m.operands(op), scope)?;
            return lins
                .pop()
                .ok_or_else(|| "an empty `affine.apply`".to_string());
        }
    }
    Ok(Lin::var(v))
}

/// The smallest and largest value the induction variable `iv` takes, from
/// its loop's constant bounds (a constant among a `min` upper bound or a
/// `max` lower bound bounds it too); `None` if it has no such bound.
pub(crate) fn iv_range(m: &Module, iv: Value) -> Option<(i64, i64)> {
    let accc_ir::ValueDef::BlockArg { block, index: 0 } = m.value(iv).def else {
        return None;
    };
    let owner = m.block_parent_op(block)?;
    if m.op_name(owner) != "affine.for" {
        return None;
    }
    let (lower, upper) = affine::for_bounds(m, owner)?;
    let step = affine::for_step(m, owner)?.max(1);
    let lo = lower
        .map
        .results
        .iter()
        .filter_map(AffineExpr::as_const)
        .max()?;
    let ub = upper
        .map
        .results
        .iter()
        .filter_map(AffineExpr::as_const)
        .min()?;
    if ub <= lo {
        return Some((lo, lo));
    }
    Some((lo, lo + step * ((ub - lo - 1) / step)))
}

/// The range of a linear form whose variables all have known ranges.
pub(crate) fn lin_range(m: &Module, l: &Lin) -> Option<(i64, i64)> {
    let (mut lo, mut hi) = (l.constant, l.constant);
    for (v, c) in &l.terms {
        let (a, b) = iv_range(m, *v)?;
        let (x, y) = (a.checked_mul(*c)?, b.checked_mul(*c)?);
        lo = lo.checked_add(x.min(y))?;
        hi = hi.checked_add(x.max(y))?;
    }
    Some((lo, hi))
}

/// Whether loop `l` runs at least once whenever it is reached: its
/// smallest upper bound exceeds its largest lower bound over the ranges of
/// the values the bounds use (a guarded tail loop `min(f, n - f * o)` does).
pub(crate) fn runs_at_least_once(m: &Module, l: Op) -> bool {
    let Some((lower, upper)) = affine::for_bounds(m, l) else {
        return false;
    };
    let mut top = l;
    while let Some(p) = m.parent_op(top) {
        top = p;
    }
    let ranges = |b: &Bound| -> Option<Vec<(i64, i64)>> {
        let lins = map_lin(m, &b.map, &b.operands, top).ok()?;
        lins.iter().map(|l| lin_range(m, l)).collect()
    };
    match (ranges(&lower), ranges(&upper)) {
        (Some(lo), Some(hi)) if !lo.is_empty() && !hi.is_empty() => {
            let latest_start = lo.iter().map(|r| r.1).max().unwrap_or(i64::MAX);
            let earliest_end = hi.iter().map(|r| r.0).min().unwrap_or(i64::MIN);
            earliest_end > latest_start
        }
        _ => false,
    }
}

/// A tensor of a kernel: a function argument or a local allocation.
pub(crate) fn find_tensor(m: &Module, func: Op, name: &str) -> Result<Value, ScheduleError> {
    let tensors = tensors(m, func);
    if let Some((_, v)) = tensors.iter().find(|(n, _)| n == name) {
        return Ok(*v);
    }
    let kernel = accc_ir::dialects::func::sym_name(m, func).unwrap_or("?");
    let names: Vec<&str> = tensors.iter().map(|(n, _)| n.as_str()).collect();
    Err(ScheduleError::new(format!(
        "no tensor or buffer named `{name}` in kernel `{kernel}`; {}",
        if names.is_empty() {
            "it has none".to_string()
        } else {
            format!("it has: {}", names.join(", "))
        }
    )))
}

/// `(name, value)` of every memref argument and allocation of `func`.
pub(crate) fn tensors(m: &Module, func: Op) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for p in accc_ir::dialects::func::kernel_params(m, func) {
        if p.memref().is_some() {
            if let Some(body) = m.entry_block(func, 0) {
                out.push((p.name, m.block_args(body)[p.index]));
            }
        }
    }
    m.walk(func, &mut |op| {
        if matches!(m.op_name(op), "memref.alloc" | "memref.alloca") {
            let r = m.result(op, 0);
            let name = m
                .attr(op, "accc.buffer")
                .or_else(|| m.attr(op, "name"))
                .and_then(Attribute::as_str)
                .map(str::to_string)
                .or_else(|| m.name_hint(r).map(str::to_string));
            if let Some(n) = name {
                out.push((n, r));
            }
        }
    });
    out
}

/// The name of a tensor value (`a tensor` if it has none).
pub(crate) fn tensor_name(m: &Module, func: Op, v: Value) -> String {
    tensors(m, func)
        .into_iter()
        .find(|(_, t)| *t == v)
        .map_or_else(|| "a tensor".to_string(), |(n, _)| n)
}

/// A write inside `scope`, outside the ops `moved`, to a tensor that the
/// loads of the copy nest `copy` read, as `(tensor name, write)`: what
/// makes moving the copy (with `moved`, which include it) to another
/// iteration (prefetch, hoist) read different data.
pub(crate) fn source_written_in(
    m: &Module,
    func: Op,
    copy: Op,
    moved: &[Op],
    scope: Op,
) -> Result<Option<(String, Op)>, ScheduleError> {
    conflict_in(m, func, copy, "affine.load", moved, scope)
}

/// An access inside `scope`, outside the ops `moved`, to a tensor that the
/// stores of the copy nest `copy` write, as `(tensor name, access)`: what
/// makes moving a copy-out to after the loop change what the loop reads,
/// or what the tensor holds at its end.
pub(crate) fn destination_used_in(
    m: &Module,
    func: Op,
    copy: Op,
    moved: &[Op],
    scope: Op,
) -> Result<Option<(String, Op)>, ScheduleError> {
    conflict_in(m, func, copy, "affine.store", moved, scope)
}

/// The first access in `scope`, outside `moved`, that conflicts with the
/// `kind` accesses (`affine.load` or `affine.store`) of `copy`: a write of
/// what it loads, or any access of what it stores.
fn conflict_in(
    m: &Module,
    func: Op,
    copy: Op,
    kind: &str,
    moved: &[Op],
    scope: Op,
) -> Result<Option<(String, Op)>, ScheduleError> {
    let mut tensors = Vec::new();
    m.walk(copy, &mut |o| {
        if m.op_name(o) == kind {
            if let Some(t) = affine::access_memref(m, o) {
                if !tensors.contains(&t) {
                    tensors.push(t);
                }
            }
        }
    });
    for t in tensors {
        let name = tensor_name(m, func, t);
        let conflict = accesses(m, t, &name, scope)?.into_iter().find(|a| {
            (a.is_write || kind == "affine.store") && !super::loops::inside_any(m, moved, a.op)
        });
        if let Some(c) = conflict {
            return Ok(Some((name, c.op)));
        }
    }
    Ok(None)
}

/// The memref type of a tensor value.
pub(crate) fn memref_type(
    m: &Module,
    v: Value,
) -> Result<accc_ir::types::MemRefType, ScheduleError> {
    m.value_type(v)
        .as_memref()
        .cloned()
        .ok_or_else(|| internal("a tensor that is not a memref"))
}

/// One affine access to a tensor inside a scope.
#[derive(Clone, Debug)]
pub(crate) struct Access {
    pub op: Op,
    pub is_write: bool,
    /// Index per dimension.
    pub index: Vec<Lin>,
}

/// Every access to `tensor` nested in `scope`, in program order. Uses the
/// primitives cannot see through (calls, copies, non-affine accesses) are
/// errors naming the op.
pub(crate) fn accesses(
    m: &Module,
    tensor: Value,
    tensor_name: &str,
    scope: Op,
) -> Result<Vec<Access>, ScheduleError> {
    let mut out = Vec::new();
    let mut bad = None;
    m.walk(scope, &mut |op| {
        if op == scope || bad.is_some() || !m.operands(op).contains(&tensor) {
            return;
        }
        match affine::access_map(m, op) {
            Some((map, operands)) if affine::access_memref(m, op) == Some(tensor) => {
                match map_lin(m, map, operands, scope) {
                    Ok(index) => out.push(Access {
                        op,
                        is_write: m.op_name(op) == "affine.store",
                        index,
                    }),
                    Err(e) => bad = Some(format!("{e} in `{}` at {}", m.op_name(op), m.op(op).loc)),
                }
            }
            _ => {
                bad = Some(format!(
                    "`{tensor_name}` is used by `{}` at {}, which this primitive cannot rewrite",
                    m.op_name(op),
                    m.op(op).loc
                ))
            }
        }
    });
    match bad {
        Some(b) => Err(ScheduleError::new(b)),
        None => Ok(out),
    }
}

/// The box of a tensor that one iteration of a scope touches: per
/// dimension, `base + [0, extent)` where `base` is linear in values fixed
/// for the iteration.
#[derive(Clone, Debug)]
pub(crate) struct Footprint {
    pub base: Vec<Lin>,
    pub extent: Vec<i64>,
}

/// The footprint of `accesses` (all within `scope`).
pub(crate) fn footprint(
    m: &Module,
    accesses: &[Access],
    scope: Op,
    tensor_name: &str,
) -> Result<Footprint, ScheduleError> {
    let rank = accesses.first().map_or(0, |a| a.index.len());
    let mut base = Vec::with_capacity(rank);
    let mut extent = Vec::with_capacity(rank);
    for d in 0..rank {
        let mut fixed: Option<(Lin, Op)> = None;
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        for a in accesses {
            let l = &a.index[d];
            let outer = l.filter(|v| !varies_in(m, v, scope));
            let inner = l.filter(|v| varies_in(m, v, scope));
            let outer_terms = Lin {
                constant: 0,
                terms: outer.terms.clone(),
            };
            match &fixed {
                None => fixed = Some((outer_terms, a.op)),
                Some((f, first)) if *f != outer_terms => {
                    return Err(ScheduleError::new(format!(
                        "the accesses to `{tensor_name}` at {} and at {} are offset by a non-constant amount in dimension {d}, so no single box holds them",
                        m.op(*first).loc,
                        m.op(a.op).loc
                    )))
                }
                Some(_) => {}
            }
            let Some((a_lo, a_hi)) = lin_range(
                m,
                &Lin {
                    constant: 0,
                    ..inner.clone()
                },
            ) else {
                let v = inner
                    .terms
                    .keys()
                    .find(|v| iv_range(m, **v).is_none())
                    .copied();
                return Err(ScheduleError::new(format!(
                    "an index of `{tensor_name}` at {} depends on {}, whose range is not constant",
                    m.op(a.op).loc,
                    v.and_then(|v| m.name_hint(v).map(|n| format!("`%{n}`")))
                        .unwrap_or_else(|| "a value".to_string())
                )));
            };
            lo = lo.min(outer.constant.saturating_add(a_lo));
            hi = hi.max(outer.constant.saturating_add(a_hi));
        }
        let mut b = fixed.map(|(f, _)| f).unwrap_or_default();
        b.constant = lo;
        base.push(b);
        extent.push(hi.saturating_sub(lo).saturating_add(1));
    }
    Ok(Footprint { base, extent })
}

/// The rows of a memref a footprint's box can legally cover: the bounds
/// `max(0, -base) .. min(extent, dim - base)` of a copy loop over local
/// index `t`, with the `max`/`min` left out where the ranges of the fixed
/// values prove it unnecessary.
pub(crate) fn copy_bounds(m: &Module, base: &Lin, extent: i64, dim: i64) -> (Bound, Bound) {
    let range = lin_range(m, base);
    let mut lower = vec![Lin::constant(0)];
    if range.is_none_or(|(lo, _)| lo < 0) {
        let mut neg = Lin::constant(0);
        neg.add_scaled(base, -1);
        lower.push(neg);
    }
    let mut upper = vec![Lin::constant(extent)];
    if range.is_none_or(|(_, hi)| hi.saturating_add(extent) > dim) {
        let mut left = Lin::constant(dim);
        left.add_scaled(base, -1);
        upper.push(left);
    }
    (bound_of(&lower), bound_of(&upper))
}

/// The element type of a memref type.
pub(crate) fn elem_type(t: &accc_ir::types::MemRefType) -> Type {
    (*t.elem).clone()
}

/// Can two accesses (index forms `a` and `b`, inside loop `scope` with
/// induction variable `iv`) touch the same element only in the same
/// iteration of `scope`? See [`same_iv_only`], with the values defined
/// outside `scope` the same for both accesses.
pub(crate) fn separated_by(m: &Module, a: &[Lin], b: &[Lin], iv: Value, scope: Op) -> bool {
    let step = accc_ir::dialects::affine::for_step(m, scope).unwrap_or(1);
    same_iv_only(m, a, b, iv, step, |v| !varies_in(m, v, scope))
}

/// Can two accesses (index forms `a` and `b`) touch the same element only
/// when `iv`, a loop's induction variable stepping by `step`, has the same
/// value in both? Values for which `fixed` holds have the same value in
/// both; the others may differ within their ranges. Sufficient condition:
/// in some dimension both forms have the same non-zero coefficient `c` on
/// `iv` and the same terms in fixed values, and what the other values add
/// differs by less than `|c * step|` between the two (so `c * (x - y)`, a
/// multiple of `c * step`, must be 0: `x == y`).
pub(crate) fn same_iv_only(
    m: &Module,
    a: &[Lin],
    b: &[Lin],
    iv: Value,
    step: i64,
    fixed: impl Fn(Value) -> bool,
) -> bool {
    let step = step.max(1);
    a.iter().zip(b).any(|(x, y)| {
        let Some(&c) = x.terms.get(&iv).filter(|c| **c != 0) else {
            return false;
        };
        if y.terms.get(&iv) != Some(&c) {
            return false;
        }
        let fixed_terms = |l: &Lin| l.filter(|v| v != iv && fixed(v)).terms;
        if fixed_terms(x) != fixed_terms(y) {
            return false;
        }
        let inner = |l: &Lin| l.filter(|v| v != iv && !fixed(v));
        let (Some((xlo, xhi)), Some((ylo, yhi))) =
            (lin_range(m, &inner(x)), lin_range(m, &inner(y)))
        else {
            return false;
        };
        let Some(period) = c.checked_mul(step).map(i64::unsigned_abs) else {
            return false;
        };
        // y - x over all instances lies in [ylo - xhi, yhi - xlo].
        let spread = [ylo.saturating_sub(xhi), yhi.saturating_sub(xlo)];
        spread.iter().all(|d| d.unsigned_abs() < period)
    })
}

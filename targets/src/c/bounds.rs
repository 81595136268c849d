//! Static bounds proofs: which `index` values provably lie in a range.
//!
//! An interval analysis over one function, in program order. Loop variables
//! get the range their bounds allow (`affine.for %i = 0 to 512` gives
//! `[0, 511]`; a tiled `min(%ii + 16, 512)` upper bound gives at most 511
//! too), constants are points, and affine maps, `affine.min`/`max` and
//! index arithmetic combine the ranges of their operands. Everything else is
//! the full `i64` range.
//!
//! Soundness: an interval holds every value its SSA value can take when the
//! defining op runs. Index arithmetic wraps modulo 2^64 in C, so a result
//! whose exact range leaves `i64` becomes the full range (any wrapped value
//! is in it). An empty interval means the value is never defined: its loop
//! never runs, so checks that depend on it are never reached either.

use accc_ir::affine::AffineExpr;
use accc_ir::dialects::affine;
use accc_ir::{AffineMap, Attribute, Module, Op, Type, Value};
use std::collections::HashMap;

/// A set of `index` values read as signed 64-bit integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Interval {
    /// No value: the defining op never runs.
    Empty,
    /// `lo..=hi`.
    Range { lo: i64, hi: i64 },
}

impl Interval {
    pub(crate) const FULL: Interval = Interval::Range {
        lo: i64::MIN,
        hi: i64::MAX,
    };

    pub(crate) fn point(c: i64) -> Interval {
        Interval::Range { lo: c, hi: c }
    }

    /// `lo..=hi` computed exactly; a range leaving `i64` wraps in C, so it
    /// becomes the full range.
    fn exact(lo: i128, hi: i128) -> Interval {
        if lo > hi {
            Interval::Empty
        } else if lo < i128::from(i64::MIN) || hi > i128::from(i64::MAX) {
            Interval::FULL
        } else {
            Interval::Range {
                lo: lo as i64,
                hi: hi as i64,
            }
        }
    }

    fn bounds(self) -> Option<(i128, i128)> {
        match self {
            Interval::Empty => None,
            Interval::Range { lo, hi } => Some((lo.into(), hi.into())),
        }
    }

    fn lift(self, other: Interval, f: impl Fn(i128, i128, i128, i128) -> Interval) -> Interval {
        match (self.bounds(), other.bounds()) {
            (Some((a, b)), Some((c, d))) => f(a, b, c, d),
            _ => Interval::Empty,
        }
    }

    pub(crate) fn add(self, o: Interval) -> Interval {
        self.lift(o, |a, b, c, d| Interval::exact(a + c, b + d))
    }

    pub(crate) fn sub(self, o: Interval) -> Interval {
        self.lift(o, |a, b, c, d| Interval::exact(a - d, b - c))
    }

    pub(crate) fn mul(self, o: Interval) -> Interval {
        self.lift(o, |a, b, c, d| {
            let p = [a * c, a * d, b * c, b * d];
            Interval::exact(
                *p.iter().min().expect("four products"),
                *p.iter().max().expect("four products"),
            )
        })
    }

    /// `floordiv`, `ceildiv` or `mod` by a positive constant (monotonic, so
    /// the end points suffice); anything else is the full range.
    fn div_like(self, c: i64, kind: DivKind) -> Interval {
        let Some((lo, hi)) = self.bounds() else {
            return Interval::Empty;
        };
        if c <= 0 {
            return Interval::FULL;
        }
        let c = i128::from(c);
        let floor = |x: i128| x.div_euclid(c);
        match kind {
            DivKind::Floor => Interval::exact(floor(lo), floor(hi)),
            DivKind::Ceil => Interval::exact(-floor(-lo), -floor(-hi)),
            DivKind::Mod if floor(lo) == floor(hi) => {
                Interval::exact(lo.rem_euclid(c), hi.rem_euclid(c))
            }
            DivKind::Mod => Interval::exact(0, c - 1),
        }
    }

    /// The range of `max(x, y)` for `x` in `self`, `y` in `o`.
    pub(crate) fn max_of(self, o: Interval) -> Interval {
        self.lift(o, |a, b, c, d| Interval::exact(a.max(c), b.max(d)))
    }

    /// The range of `min(x, y)`.
    pub(crate) fn min_of(self, o: Interval) -> Interval {
        self.lift(o, |a, b, c, d| Interval::exact(a.min(c), b.min(d)))
    }

    /// Either of the two.
    pub(crate) fn hull(self, o: Interval) -> Interval {
        match (self.bounds(), o.bounds()) {
            (None, _) => o,
            (_, None) => self,
            (Some((a, b)), Some((c, d))) => Interval::exact(a.min(c), b.max(d)),
        }
    }

    /// Is every value in `[0, size)`?
    pub(crate) fn within(self, size: i64) -> bool {
        match self {
            Interval::Empty => true,
            Interval::Range { lo, hi } => lo >= 0 && hi < size,
        }
    }

    pub(crate) fn is_nonnegative(self) -> bool {
        match self {
            Interval::Empty => true,
            Interval::Range { lo, .. } => lo >= 0,
        }
    }

    /// The largest value, if any.
    pub(crate) fn max(self) -> Option<i64> {
        match self {
            Interval::Empty => None,
            Interval::Range { hi, .. } => Some(hi),
        }
    }
}

#[derive(Clone, Copy)]
enum DivKind {
    Floor,
    Ceil,
    Mod,
}

/// The range of an affine expression whose dims and symbols range over
/// `dims` and `syms` (missing ones are unknown).
pub(crate) fn expr_interval(e: &AffineExpr, dims: &[Interval], syms: &[Interval]) -> Interval {
    let get = |v: &[Interval], i: u32| v.get(i as usize).copied().unwrap_or(Interval::FULL);
    let const_divisor = |b: &AffineExpr| match b {
        AffineExpr::Const(c) => Some(*c),
        _ => None,
    };
    match e {
        AffineExpr::Dim(d) => get(dims, *d),
        AffineExpr::Sym(s) => get(syms, *s),
        AffineExpr::Const(c) => Interval::point(*c),
        AffineExpr::Add(a, b) => expr_interval(a, dims, syms).add(expr_interval(b, dims, syms)),
        AffineExpr::Mul(a, b) => expr_interval(a, dims, syms).mul(expr_interval(b, dims, syms)),
        AffineExpr::FloorDiv(a, b) | AffineExpr::CeilDiv(a, b) | AffineExpr::Mod(a, b) => {
            let x = expr_interval(a, dims, syms);
            let Some(c) = const_divisor(b) else {
                return if x == Interval::Empty {
                    Interval::Empty
                } else {
                    Interval::FULL
                };
            };
            let kind = match e {
                AffineExpr::FloorDiv(..) => DivKind::Floor,
                AffineExpr::CeilDiv(..) => DivKind::Ceil,
                _ => DivKind::Mod,
            };
            x.div_like(c, kind)
        }
    }
}

/// The ranges of the `index` values of one function.
#[derive(Default)]
pub(crate) struct Ranges {
    known: HashMap<Value, Interval>,
}

impl Ranges {
    pub(crate) fn analyze(m: &Module, func: Op) -> Ranges {
        let mut ranges = Ranges::default();
        for op in m.walk_ops(func) {
            ranges.visit(m, op);
        }
        ranges
    }

    /// The range of `v` (the full range when nothing is known).
    pub(crate) fn of(&self, v: Value) -> Interval {
        self.known.get(&v).copied().unwrap_or(Interval::FULL)
    }

    /// The range of each result of `map` applied to `operands`.
    pub(crate) fn map_results(&self, map: &AffineMap, operands: &[Value]) -> Vec<Interval> {
        let (dims, syms) = self.operand_ranges(map, operands);
        map.results
            .iter()
            .map(|e| expr_interval(e, &dims, &syms))
            .collect()
    }

    pub(crate) fn operand_ranges(
        &self,
        map_dims: &AffineMap,
        operands: &[Value],
    ) -> (Vec<Interval>, Vec<Interval>) {
        let all: Vec<Interval> = operands.iter().map(|v| self.of(*v)).collect();
        let nd = (map_dims.num_dims as usize).min(all.len());
        (all[..nd].to_vec(), all[nd..].to_vec())
    }

    fn set(&mut self, v: Value, i: Interval) {
        self.known.insert(v, i);
    }

    fn visit(&mut self, m: &Module, op: Op) {
        let result_is_index =
            m.results(op).len() == 1 && *m.value_type(m.result(op, 0)) == Type::Index;
        let operand = |i: usize| self.of(m.operand(op, i));
        match m.op_name(op) {
            "arith.constant" if result_is_index => {
                if let Some(Attribute::Int { value, .. }) = m.attr(op, "value") {
                    self.set(m.result(op, 0), Interval::point(*value));
                }
            }
            "affine.apply" | "affine.min" | "affine.max" => {
                let Some(map) = m.attr(op, "map").and_then(Attribute::as_affine_map) else {
                    return;
                };
                let results = self.map_results(map, m.operands(op));
                let combined = match m.op_name(op) {
                    "affine.min" => results.into_iter().reduce(Interval::min_of),
                    "affine.max" => results.into_iter().reduce(Interval::max_of),
                    _ => results.into_iter().next(),
                };
                if let Some(i) = combined {
                    self.set(m.result(op, 0), i);
                }
            }
            "affine.for" => {
                let (Some((lb, ub)), Some(step), Some(iv)) = (
                    affine::for_bounds(m, op),
                    affine::for_step(m, op),
                    affine::induction_var(m, op),
                ) else {
                    return;
                };
                let lower = self
                    .map_results(&lb.map, &lb.operands)
                    .into_iter()
                    .reduce(Interval::max_of);
                let upper = self
                    .map_results(&ub.map, &ub.operands)
                    .into_iter()
                    .reduce(Interval::min_of);
                if let (Some(lower), Some(upper)) = (lower, upper) {
                    self.set(iv, loop_range(lower, upper, Interval::point(step)));
                }
            }
            "scf.for" => {
                let Some(iv) = m
                    .entry_block(op, 0)
                    .and_then(|b| m.block_args(b).first().copied())
                else {
                    return;
                };
                if m.operands(op).len() == 3 {
                    self.set(iv, loop_range(operand(0), operand(1), operand(2)));
                }
            }
            "arith.addi" if result_is_index => {
                self.set(m.result(op, 0), operand(0).add(operand(1)))
            }
            "arith.subi" if result_is_index => {
                self.set(m.result(op, 0), operand(0).sub(operand(1)))
            }
            "arith.muli" if result_is_index => {
                self.set(m.result(op, 0), operand(0).mul(operand(1)))
            }
            "arith.maxsi" if result_is_index => {
                self.set(m.result(op, 0), operand(0).max_of(operand(1)))
            }
            "arith.minsi" if result_is_index => {
                self.set(m.result(op, 0), operand(0).min_of(operand(1)))
            }
            "arith.select" if result_is_index => {
                self.set(m.result(op, 0), operand(1).hull(operand(2)))
            }
            "arith.index_cast" | "arith.index_castui" if result_is_index => {
                let Some(n) = m.value_type(m.operand(op, 0)).int_width() else {
                    return;
                };
                if n >= 64 {
                    return;
                }
                let range = if m.op_name(op) == "arith.index_cast" {
                    let half = 1i128 << (n - 1);
                    Interval::exact(-half, half - 1)
                } else {
                    Interval::exact(0, (1i128 << n) - 1)
                };
                self.set(m.result(op, 0), range);
            }
            _ => {}
        }
    }
}

/// The values of `i` in `for (i = lb; i < ub; i += step)` with `lb`, `ub`,
/// `step` in the given ranges: from the least lower bound to the greatest
/// upper bound minus one, and exactly the last value reached when the lower
/// bound and the step are constants.
fn loop_range(lower: Interval, upper: Interval, step: Interval) -> Interval {
    let (Some((lb_lo, lb_hi)), Some((_, ub_hi))) = (lower.bounds(), upper.bounds()) else {
        return Interval::Empty;
    };
    let mut last = ub_hi - 1;
    if let Some((s, s_hi)) = step.bounds() {
        if lb_lo == lb_hi && s == s_hi && s > 0 && last >= lb_lo {
            last = lb_lo + (last - lb_lo) / s * s;
        }
    }
    Interval::exact(lb_lo, last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use AffineExpr as E;

    fn r(lo: i64, hi: i64) -> Interval {
        Interval::Range { lo, hi }
    }

    #[test]
    fn affine_expressions_combine_ranges() {
        let e = E::Dim(0).mul(E::Const(16)).add(E::Dim(1));
        assert_eq!(expr_interval(&e, &[r(0, 31), r(0, 15)], &[]), r(0, 511));
        let e = E::Dim(0).add(E::Const(-1));
        assert_eq!(expr_interval(&e, &[r(0, 9)], &[]), r(-1, 8));
        let e = E::Dim(0).floor_div(E::Const(4));
        assert_eq!(expr_interval(&e, &[r(-5, 9)], &[]), r(-2, 2));
        let e = E::Dim(0).ceil_div(E::Const(4));
        assert_eq!(expr_interval(&e, &[r(-5, 9)], &[]), r(-1, 3));
        let e = E::Dim(0).modulo(E::Const(4));
        assert_eq!(expr_interval(&e, &[r(-5, 9)], &[]), r(0, 3));
        assert_eq!(expr_interval(&e, &[r(5, 6)], &[]), r(1, 2));
        let e = E::Dim(0).mul(E::Sym(0));
        assert_eq!(expr_interval(&e, &[r(-2, 3)], &[r(4, 5)]), r(-10, 15));
    }

    #[test]
    fn ranges_that_may_wrap_are_unknown() {
        let e = E::Dim(0).mul(E::Const(4));
        assert_eq!(expr_interval(&e, &[Interval::FULL], &[]), Interval::FULL);
        assert_eq!(
            expr_interval(&e, &[r(0, i64::MAX / 2)], &[]),
            Interval::FULL
        );
    }

    #[test]
    fn loops_reach_their_last_value() {
        assert_eq!(
            loop_range(r(0, 0), r(512, 512), Interval::point(1)),
            r(0, 511)
        );
        assert_eq!(
            loop_range(r(0, 0), r(510, 510), Interval::point(16)),
            r(0, 496)
        );
        assert_eq!(
            loop_range(r(3, 3), r(3, 3), Interval::point(1)),
            Interval::Empty
        );
        assert_eq!(loop_range(r(0, 10), r(5, 20), Interval::FULL), r(0, 19));
        assert!(Interval::Empty.within(0));
        assert!(r(0, 511).within(512));
        assert!(!r(0, 512).within(512));
        assert!(!r(-1, 5).within(512));
    }
}

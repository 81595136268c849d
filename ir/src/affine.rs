//! Affine expressions, maps and integer sets: the index language of the
//! `affine` dialect, with evaluation and simplification.
//!
//! Expressions are trees as MLIR keeps them (`a - b` is `a + b * -1`).
//! [`AffineExpr::simplify`] brings an expression to a canonical form: constants
//! folded, sums flattened with like terms collected and ordered (dims, then
//! symbols, then other terms, constant last), products with a constant
//! distributed, and the identities `e floordiv 1 = e`, `e mod 1 = 0`,
//! `(c*k*e + r) floordiv c` when `r` is a constant in `[0, c)`. It is
//! idempotent, and it preserves the value of the expression for every
//! assignment of the dims and symbols (floordiv/ceildiv/mod by positive
//! constants use floor semantics with a non-negative remainder, as in MLIR).

use std::collections::BTreeMap;
use std::fmt;

#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum AffineExpr {
    Dim(u32),
    Sym(u32),
    Const(i64),
    Add(Box<AffineExpr>, Box<AffineExpr>),
    Mul(Box<AffineExpr>, Box<AffineExpr>),
    FloorDiv(Box<AffineExpr>, Box<AffineExpr>),
    CeilDiv(Box<AffineExpr>, Box<AffineExpr>),
    Mod(Box<AffineExpr>, Box<AffineExpr>),
}

/// Floor division with the remainder's sign following the divisor, as MLIR
/// defines `floordiv`; `None` for a zero divisor or overflow.
pub fn floor_div(a: i64, b: i64) -> Option<i64> {
    if b == 0 {
        return None;
    }
    let q = a.checked_div(b)?;
    if (a % b != 0) && ((a < 0) != (b < 0)) {
        Some(q - 1)
    } else {
        Some(q)
    }
}

pub fn ceil_div(a: i64, b: i64) -> Option<i64> {
    Some(-floor_div(a.checked_neg()?, b)?)
}

/// Remainder of floor division: `a - b * floor(a / b)`.
pub fn floor_mod(a: i64, b: i64) -> Option<i64> {
    Some(a - b.checked_mul(floor_div(a, b)?)?)
}

impl AffineExpr {
    pub fn dim(d: u32) -> AffineExpr {
        AffineExpr::Dim(d)
    }
    pub fn sym(s: u32) -> AffineExpr {
        AffineExpr::Sym(s)
    }
    pub fn constant(c: i64) -> AffineExpr {
        AffineExpr::Const(c)
    }
    #[allow(clippy::should_implement_trait)]
    pub fn add(self, rhs: AffineExpr) -> AffineExpr {
        AffineExpr::Add(Box::new(self), Box::new(rhs))
    }
    #[allow(clippy::should_implement_trait)]
    pub fn mul(self, rhs: AffineExpr) -> AffineExpr {
        AffineExpr::Mul(Box::new(self), Box::new(rhs))
    }
    pub fn floor_div(self, rhs: AffineExpr) -> AffineExpr {
        AffineExpr::FloorDiv(Box::new(self), Box::new(rhs))
    }
    pub fn ceil_div(self, rhs: AffineExpr) -> AffineExpr {
        AffineExpr::CeilDiv(Box::new(self), Box::new(rhs))
    }
    pub fn modulo(self, rhs: AffineExpr) -> AffineExpr {
        AffineExpr::Mod(Box::new(self), Box::new(rhs))
    }
    #[allow(clippy::should_implement_trait)]
    pub fn sub(self, rhs: AffineExpr) -> AffineExpr {
        self.add(rhs.mul(AffineExpr::Const(-1)))
    }

    /// `t0 * c0 + t1 * c1 + ... + constant`, left-associated, with unit
    /// coefficients and a zero constant left out: the shape MLIR's parser
    /// builds for that text.
    pub fn linear_combination(
        terms: impl IntoIterator<Item = (AffineExpr, i64)>,
        constant: i64,
    ) -> AffineExpr {
        let mut acc: Option<AffineExpr> = None;
        for (base, coeff) in terms {
            let term = if coeff == 1 {
                base
            } else {
                base.mul(AffineExpr::Const(coeff))
            };
            acc = Some(match acc {
                None => term,
                Some(a) => a.add(term),
            });
        }
        match acc {
            None => AffineExpr::Const(constant),
            Some(a) if constant == 0 => a,
            Some(a) => a.add(AffineExpr::Const(constant)),
        }
    }

    pub fn as_const(&self) -> Option<i64> {
        match self {
            AffineExpr::Const(c) => Some(*c),
            _ => None,
        }
    }

    /// Evaluates with the given dim and symbol values; `None` on a missing
    /// operand, a division by zero or an overflow.
    pub fn eval(&self, dims: &[i64], syms: &[i64]) -> Option<i64> {
        Some(match self {
            AffineExpr::Dim(d) => *dims.get(*d as usize)?,
            AffineExpr::Sym(s) => *syms.get(*s as usize)?,
            AffineExpr::Const(c) => *c,
            AffineExpr::Add(a, b) => a.eval(dims, syms)?.checked_add(b.eval(dims, syms)?)?,
            AffineExpr::Mul(a, b) => a.eval(dims, syms)?.checked_mul(b.eval(dims, syms)?)?,
            AffineExpr::FloorDiv(a, b) => floor_div(a.eval(dims, syms)?, b.eval(dims, syms)?)?,
            AffineExpr::CeilDiv(a, b) => ceil_div(a.eval(dims, syms)?, b.eval(dims, syms)?)?,
            AffineExpr::Mod(a, b) => floor_mod(a.eval(dims, syms)?, b.eval(dims, syms)?)?,
        })
    }

    /// Largest dim index used plus one, and the same for symbols.
    pub fn arity(&self) -> (u32, u32) {
        let mut dims = 0;
        let mut syms = 0;
        self.walk(&mut |e| match e {
            AffineExpr::Dim(d) => dims = dims.max(d + 1),
            AffineExpr::Sym(s) => syms = syms.max(s + 1),
            _ => {}
        });
        (dims, syms)
    }

    pub fn walk(&self, f: &mut impl FnMut(&AffineExpr)) {
        f(self);
        match self {
            AffineExpr::Add(a, b)
            | AffineExpr::Mul(a, b)
            | AffineExpr::FloorDiv(a, b)
            | AffineExpr::CeilDiv(a, b)
            | AffineExpr::Mod(a, b) => {
                a.walk(f);
                b.walk(f);
            }
            _ => {}
        }
    }

    /// Is the expression pure-affine (multiplications and divisions only by
    /// constants)? MLIR rejects anything else in an affine map.
    pub fn is_pure_affine(&self) -> bool {
        match self {
            AffineExpr::Dim(_) | AffineExpr::Sym(_) | AffineExpr::Const(_) => true,
            AffineExpr::Add(a, b) => a.is_pure_affine() && b.is_pure_affine(),
            AffineExpr::Mul(a, b) => {
                a.is_pure_affine()
                    && b.is_pure_affine()
                    && (a.is_symbolic_or_const() || b.is_symbolic_or_const())
            }
            AffineExpr::FloorDiv(a, b) | AffineExpr::CeilDiv(a, b) | AffineExpr::Mod(a, b) => {
                a.is_pure_affine() && b.is_symbolic_or_const()
            }
        }
    }

    fn is_symbolic_or_const(&self) -> bool {
        let mut ok = true;
        self.walk(&mut |e| ok &= !matches!(e, AffineExpr::Dim(_)));
        ok
    }

    /// Replaces dims and symbols by expressions (`dims[i]` for `d_i`).
    pub fn substitute(&self, dims: &[AffineExpr], syms: &[AffineExpr]) -> AffineExpr {
        match self {
            AffineExpr::Dim(d) => dims
                .get(*d as usize)
                .cloned()
                .unwrap_or_else(|| self.clone()),
            AffineExpr::Sym(s) => syms
                .get(*s as usize)
                .cloned()
                .unwrap_or_else(|| self.clone()),
            AffineExpr::Const(_) => self.clone(),
            AffineExpr::Add(a, b) => a.substitute(dims, syms).add(b.substitute(dims, syms)),
            AffineExpr::Mul(a, b) => a.substitute(dims, syms).mul(b.substitute(dims, syms)),
            AffineExpr::FloorDiv(a, b) => {
                a.substitute(dims, syms).floor_div(b.substitute(dims, syms))
            }
            AffineExpr::CeilDiv(a, b) => {
                a.substitute(dims, syms).ceil_div(b.substitute(dims, syms))
            }
            AffineExpr::Mod(a, b) => a.substitute(dims, syms).modulo(b.substitute(dims, syms)),
        }
    }

    /// The canonical form described in the module documentation.
    pub fn simplify(&self) -> AffineExpr {
        LinearForm::of(self).to_expr()
    }

    /// `constant + sum(coeff * d_i)` when the expression is linear in its
    /// dims (after simplification), as `(constant, {dim: coeff})` without
    /// zero coefficients; `None` if it uses a symbol or a non-linear term
    /// (`floordiv`, `mod`, a product of dims).
    pub fn as_linear(&self) -> Option<(i64, BTreeMap<u32, i64>)> {
        let form = LinearForm::of(self);
        let mut terms = BTreeMap::new();
        for (atom, coeff) in form.terms {
            match atom {
                Atom::Dim(d) => {
                    terms.insert(d, coeff);
                }
                Atom::Sym(_) | Atom::Other(_) => return None,
            }
        }
        Some((form.constant, terms))
    }
}

/// `constant + sum(coeff * atom)`, atoms being dims, symbols or simplified
/// non-linear subexpressions; the workhorse of simplification.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct LinearForm {
    terms: BTreeMap<Atom, i64>,
    constant: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Atom {
    Dim(u32),
    Sym(u32),
    Other(AffineExpr),
}

impl LinearForm {
    fn constant(c: i64) -> LinearForm {
        LinearForm {
            terms: BTreeMap::new(),
            constant: c,
        }
    }
    fn atom(a: Atom) -> LinearForm {
        let mut terms = BTreeMap::new();
        terms.insert(a, 1);
        LinearForm { terms, constant: 0 }
    }
    fn as_const(&self) -> Option<i64> {
        self.terms.is_empty().then_some(self.constant)
    }
    fn add(mut self, other: LinearForm) -> LinearForm {
        self.constant = self.constant.wrapping_add(other.constant);
        for (atom, coeff) in other.terms {
            let entry = self.terms.entry(atom).or_insert(0);
            *entry = entry.wrapping_add(coeff);
        }
        self.terms.retain(|_, c| *c != 0);
        self
    }
    fn scale(mut self, k: i64) -> LinearForm {
        if k == 0 {
            return LinearForm::constant(0);
        }
        self.constant = self.constant.wrapping_mul(k);
        for coeff in self.terms.values_mut() {
            *coeff = coeff.wrapping_mul(k);
        }
        self
    }

    fn of(e: &AffineExpr) -> LinearForm {
        match e {
            AffineExpr::Dim(d) => LinearForm::atom(Atom::Dim(*d)),
            AffineExpr::Sym(s) => LinearForm::atom(Atom::Sym(*s)),
            AffineExpr::Const(c) => LinearForm::constant(*c),
            AffineExpr::Add(a, b) => LinearForm::of(a).add(LinearForm::of(b)),
            AffineExpr::Mul(a, b) => {
                let (la, lb) = (LinearForm::of(a), LinearForm::of(b));
                match (la.as_const(), lb.as_const()) {
                    (_, Some(k)) => la.scale(k),
                    (Some(k), None) => lb.scale(k),
                    (None, None) => LinearForm::atom(Atom::Other(la.to_expr().mul(lb.to_expr()))),
                }
            }
            AffineExpr::FloorDiv(a, b) => LinearForm::div_like(a, b, DivKind::Floor),
            AffineExpr::CeilDiv(a, b) => LinearForm::div_like(a, b, DivKind::Ceil),
            AffineExpr::Mod(a, b) => LinearForm::div_like(a, b, DivKind::Mod),
        }
    }

    fn div_like(a: &AffineExpr, b: &AffineExpr, kind: DivKind) -> LinearForm {
        let la = LinearForm::of(a);
        let lb = LinearForm::of(b);
        let rebuild = |la: LinearForm, lb: LinearForm| {
            let (x, y) = (la.to_expr(), lb.to_expr());
            LinearForm::atom(Atom::Other(match kind {
                DivKind::Floor => x.floor_div(y),
                DivKind::Ceil => x.ceil_div(y),
                DivKind::Mod => x.modulo(y),
            }))
        };
        if let (Some(x), Some(c)) = (la.as_const(), lb.as_const()) {
            let folded = match kind {
                DivKind::Floor => floor_div(x, c),
                DivKind::Ceil => ceil_div(x, c),
                DivKind::Mod => floor_mod(x, c),
            };
            return match folded {
                Some(v) => LinearForm::constant(v),
                None => rebuild(la, lb),
            };
        }
        let Some(c) = lb.as_const().filter(|c| *c > 0) else {
            return rebuild(la, lb);
        };
        if c == 1 {
            return match kind {
                DivKind::Mod => LinearForm::constant(0),
                _ => la,
            };
        }
        // Split off the terms whose coefficients are multiples of c: for
        // floordiv they divide exactly, for mod they vanish. What remains is
        // kept under the operator, except that a leftover constant in [0, c)
        // alone vanishes under floordiv.
        let mut multiple = LinearForm::constant(0);
        let mut rest = LinearForm::constant(floor_mod(la.constant, c).unwrap_or(la.constant));
        let const_quot = floor_div(la.constant, c).unwrap_or(0);
        for (atom, coeff) in &la.terms {
            if coeff % c == 0 {
                multiple.terms.insert(atom.clone(), coeff / c);
            } else {
                rest.terms.insert(atom.clone(), *coeff);
            }
        }
        multiple.constant = const_quot;
        match kind {
            DivKind::Floor => {
                if rest.terms.is_empty() {
                    multiple
                } else {
                    multiple.add(rebuild(rest, LinearForm::constant(c)))
                }
            }
            DivKind::Mod => {
                if rest.terms.is_empty() {
                    LinearForm::constant(rest.constant)
                } else {
                    rebuild(rest, LinearForm::constant(c))
                }
            }
            // ceildiv(x, c) = floordiv(x + c - 1, c); keep it whole unless
            // everything divides exactly.
            DivKind::Ceil => {
                if rest.terms.is_empty() && rest.constant == 0 {
                    multiple
                } else {
                    rebuild(la, lb)
                }
            }
        }
    }

    fn to_expr(&self) -> AffineExpr {
        let terms = self.terms.iter().map(|(atom, coeff)| {
            let base = match atom {
                Atom::Dim(d) => AffineExpr::Dim(*d),
                Atom::Sym(s) => AffineExpr::Sym(*s),
                Atom::Other(e) => e.clone(),
            };
            (base, *coeff)
        });
        AffineExpr::linear_combination(terms, self.constant)
    }
}

#[derive(Clone, Copy)]
enum DivKind {
    Floor,
    Ceil,
    Mod,
}

/// MLIR's syntax (`d0 * 16 + d1 - 1`), from the one affine printer in
/// [`crate::text`], so messages and IR text never disagree.
impl fmt::Display for AffineExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        crate::text::print::write_affine_expr(&mut out, self);
        f.write_str(&out)
    }
}

/// `(d0, ..., dn)[s0, ..., sm] -> (e0, ..., ek)`.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct AffineMap {
    pub num_dims: u32,
    pub num_syms: u32,
    pub results: Vec<AffineExpr>,
}

impl AffineMap {
    pub fn new(num_dims: u32, num_syms: u32, results: Vec<AffineExpr>) -> AffineMap {
        AffineMap {
            num_dims,
            num_syms,
            results,
        }
    }
    /// `(d0, ..., d(n-1)) -> (d0, ..., d(n-1))`.
    pub fn identity(n: u32) -> AffineMap {
        AffineMap::new(n, 0, (0..n).map(AffineExpr::Dim).collect())
    }
    /// `() -> (c)`.
    pub fn constant(c: i64) -> AffineMap {
        AffineMap::new(0, 0, vec![AffineExpr::Const(c)])
    }
    pub fn num_inputs(&self) -> usize {
        (self.num_dims + self.num_syms) as usize
    }
    pub fn is_identity(&self) -> bool {
        self.num_syms == 0
            && self.results.len() == self.num_dims as usize
            && self
                .results
                .iter()
                .enumerate()
                .all(|(i, e)| *e == AffineExpr::Dim(i as u32))
    }
    /// The single constant result, if the map is `() -> (c)`-like.
    pub fn single_constant(&self) -> Option<i64> {
        match self.results.as_slice() {
            [e] => e.as_const(),
            _ => None,
        }
    }
    /// Evaluates every result; operands are dims followed by symbols.
    pub fn eval(&self, operands: &[i64]) -> Option<Vec<i64>> {
        let nd = (self.num_dims as usize).min(operands.len());
        let (dims, syms) = operands.split_at(nd);
        self.results.iter().map(|e| e.eval(dims, syms)).collect()
    }
    pub fn simplify(&self) -> AffineMap {
        AffineMap::new(
            self.num_dims,
            self.num_syms,
            self.results.iter().map(AffineExpr::simplify).collect(),
        )
    }
    /// Are all result expressions within the map's arity and pure-affine?
    pub fn check(&self) -> Result<(), String> {
        for e in &self.results {
            let (d, s) = e.arity();
            if d > self.num_dims {
                return Err(format!(
                    "expression `{e}` uses d{} but the map has {} dims",
                    d - 1,
                    self.num_dims
                ));
            }
            if s > self.num_syms {
                return Err(format!(
                    "expression `{e}` uses s{} but the map has {} symbols",
                    s - 1,
                    self.num_syms
                ));
            }
            if !e.is_pure_affine() {
                return Err(format!("expression `{e}` is not affine"));
            }
        }
        Ok(())
    }
}

impl fmt::Display for AffineMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        crate::text::print::write_map(&mut out, self);
        f.write_str(&out)
    }
}

/// A conjunction of constraints `e == 0` or `e >= 0` over dims and symbols.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct IntegerSet {
    pub num_dims: u32,
    pub num_syms: u32,
    /// `(expr, is_equality)`.
    pub constraints: Vec<(AffineExpr, bool)>,
}

impl IntegerSet {
    pub fn contains(&self, operands: &[i64]) -> Option<bool> {
        let nd = (self.num_dims as usize).min(operands.len());
        let (dims, syms) = operands.split_at(nd);
        for (e, is_eq) in &self.constraints {
            let v = e.eval(dims, syms)?;
            if (*is_eq && v != 0) || (!*is_eq && v < 0) {
                return Some(false);
            }
        }
        Some(true)
    }
    pub fn num_inputs(&self) -> usize {
        (self.num_dims + self.num_syms) as usize
    }
}

impl fmt::Display for IntegerSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        crate::text::print::write_set(&mut out, self);
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AffineExpr as E;

    fn d(i: u32) -> E {
        E::Dim(i)
    }
    fn c(v: i64) -> E {
        E::Const(v)
    }

    #[test]
    fn prints_subtraction_like_mlir() {
        assert_eq!(d(0).sub(d(1)).to_string(), "d0 - d1");
        assert_eq!(d(0).add(c(-1)).to_string(), "d0 - 1");
        assert_eq!(d(0).mul(c(16)).add(d(1)).to_string(), "d0 * 16 + d1");
        assert_eq!(
            d(0).add(d(1)).floor_div(c(4)).to_string(),
            "(d0 + d1) floordiv 4"
        );
        assert_eq!(d(0).mul(d(1).add(c(2))).to_string(), "d0 * (d1 + 2)");
    }

    #[test]
    fn simplifies_linear_forms() {
        let e = d(0)
            .mul(c(16))
            .add(d(1))
            .add(d(0).mul(c(-16)))
            .add(c(3))
            .add(c(-3));
        assert_eq!(e.simplify(), d(1));
        let e = d(0).mul(c(16)).add(c(5)).floor_div(c(16));
        assert_eq!(e.simplify(), d(0));
        let e = d(0).mul(c(16)).add(d(1)).modulo(c(16));
        assert_eq!(e.simplify(), d(1).modulo(c(16)));
        assert_eq!(d(0).modulo(c(1)).simplify(), c(0));
        assert_eq!(c(7).floor_div(c(-2)).simplify(), c(-4));
        assert_eq!(c(-7).modulo(c(2)).simplify(), c(1));
    }

    #[test]
    fn simplify_preserves_value_and_is_idempotent() {
        let exprs = [
            d(0).mul(c(16)).add(d(1)).floor_div(c(16)),
            d(0).mul(c(6)).add(d(1).mul(c(4))).add(c(-3)).modulo(c(2)),
            d(0).add(c(3)).ceil_div(c(4)).mul(c(2)).add(d(1)),
            d(0).sub(d(1)).mul(c(-3)).floor_div(c(5)),
        ];
        for e in &exprs {
            let s = e.simplify();
            assert_eq!(s.simplify(), s, "not idempotent: {e}");
            for x in -20..20 {
                for y in -5..5 {
                    assert_eq!(
                        e.eval(&[x, y], &[]),
                        s.eval(&[x, y], &[]),
                        "{e} vs {s} at {x},{y}"
                    );
                }
            }
        }
    }

    #[test]
    fn map_and_set_evaluate() {
        let m = AffineMap::new(2, 0, vec![d(0).mul(c(16)).add(d(1))]);
        assert_eq!(m.eval(&[2, 3]), Some(vec![35]));
        assert_eq!(m.to_string(), "(d0, d1) -> (d0 * 16 + d1)");
        let s = IntegerSet {
            num_dims: 1,
            num_syms: 0,
            constraints: vec![(c(99).sub(d(0)), false)],
        };
        assert_eq!(s.contains(&[99]), Some(true));
        assert_eq!(s.contains(&[100]), Some(false));
        assert_eq!(
            s.to_string(),
            "(d0) : (-d0 + 99 >= 0)".replace("-d0 + 99", "99 - d0")
        );
        assert!(AffineMap::new(1, 0, vec![d(0).mul(d(0))]).check().is_err());
    }
}

//! Structural equality of modules: the same tree of ops with the same
//! names, attributes, types and operand wiring, whatever the arena ids.
//!
//! It is what "print then parse gives the same module" means. Values are
//! matched by position (result `i` of corresponding ops, argument `i` of
//! corresponding blocks), so two modules are equal exactly when a bijection
//! of their values makes every operand list agree.

use super::print::{write_attr, SsaNames};
use crate::attrs::Attribute;
use crate::dialects::func;
use crate::entity::{Block, Op, Value};
use crate::module::Module;
use std::collections::HashMap;

/// What [`structurally_equal_with`] compares besides the structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EqOptions {
    /// Compare SSA names *as printed* (name hints, after the printer makes
    /// them valid and unique): two hints that print the same are equal.
    pub names: bool,
    /// Compare op locations.
    pub locations: bool,
}

impl Default for EqOptions {
    /// Names compared, locations not (the default printout has none).
    fn default() -> Self {
        EqOptions {
            names: true,
            locations: false,
        }
    }
}

/// `Ok` when the modules are structurally identical, with printed names
/// compared and locations ignored; otherwise the first difference.
pub fn structurally_equal(a: &Module, b: &Module) -> Result<(), String> {
    structurally_equal_with(a, b, EqOptions::default())
}

pub fn structurally_equal_with(a: &Module, b: &Module, options: EqOptions) -> Result<(), String> {
    let mut cmp = Comparer {
        a,
        b,
        options,
        map: HashMap::new(),
        pairs: vec![],
        names: options
            .names
            .then(|| (SsaNames::compute(a, a.top()), SsaNames::compute(b, b.top()))),
    };
    cmp.op(a.top(), b.top(), "module")?;
    for (x, y, path) in std::mem::take(&mut cmp.pairs) {
        let (xs, ys) = (a.operands(x), b.operands(y));
        if xs.len() != ys.len() {
            return Err(format!("{path}: {} operand(s) vs {}", xs.len(), ys.len()));
        }
        for (i, (vx, vy)) in xs.iter().zip(ys).enumerate() {
            match cmp.map.get(vx) {
                Some(m) if m == vy => {}
                Some(_) => return Err(format!("{path}: operand {i} is a different value")),
                None => return Err(format!("{path}: operand {i} is defined outside the module")),
            }
        }
    }
    Ok(())
}

struct Comparer<'m> {
    a: &'m Module,
    b: &'m Module,
    options: EqOptions,
    map: HashMap<Value, Value>,
    pairs: Vec<(Op, Op, String)>,
    names: Option<(SsaNames, SsaNames)>,
}

fn show(a: &Attribute) -> String {
    let mut s = String::new();
    write_attr(&mut s, a);
    s
}

impl Comparer<'_> {
    fn value(&mut self, x: Value, y: Value, what: &str, path: &str) -> Result<(), String> {
        let (tx, ty) = (self.a.value_type(x), self.b.value_type(y));
        if tx != ty {
            return Err(format!("{path}: {what} has type `{tx}` vs `{ty}`"));
        }
        if let Some((na, nb)) = &self.names {
            if na.get(x) != nb.get(y) {
                return Err(format!(
                    "{path}: {what} is named `%{}` vs `%{}`",
                    na.get(x).unwrap_or("?"),
                    nb.get(y).unwrap_or("?")
                ));
            }
        }
        self.map.insert(x, y);
        Ok(())
    }

    fn op(&mut self, x: Op, y: Op, path: &str) -> Result<(), String> {
        let (a, b) = (self.a, self.b);
        if a.op_name(x) != b.op_name(y) {
            return Err(format!(
                "{path}: op `{}` vs `{}`",
                a.op_name(x),
                b.op_name(y)
            ));
        }
        let (ax, ay) = (&a.op(x).attrs, &b.op(y).attrs);
        if ax != ay {
            for key in ax.keys().chain(ay.keys()) {
                match (ax.get(key), ay.get(key)) {
                    (Some(u), Some(v)) if u == v => {}
                    (Some(u), Some(v)) => {
                        return Err(format!(
                            "{path}: attribute `{key}` is `{}` vs `{}`",
                            show(u),
                            show(v)
                        ))
                    }
                    (Some(_), None) => {
                        return Err(format!(
                            "{path}: attribute `{key}` is missing from the second module"
                        ))
                    }
                    _ => {
                        return Err(format!(
                            "{path}: attribute `{key}` is missing from the first module"
                        ))
                    }
                }
            }
        }
        if self.options.locations && a.op(x).loc != b.op(y).loc {
            return Err(format!(
                "{path}: location `{}` vs `{}`",
                a.op(x).loc,
                b.op(y).loc
            ));
        }
        let (rx, ry) = (a.results(x), b.results(y));
        if rx.len() != ry.len() {
            return Err(format!("{path}: {} result(s) vs {}", rx.len(), ry.len()));
        }
        for (i, (&u, &v)) in rx.iter().zip(ry).enumerate() {
            self.value(u, v, &format!("result {i}"), path)?;
        }
        let (gx, gy) = (a.op_regions(x), b.op_regions(y));
        if gx.len() != gy.len() {
            return Err(format!("{path}: {} region(s) vs {}", gx.len(), gy.len()));
        }
        for (ri, (&r1, &r2)) in gx.iter().zip(gy).enumerate() {
            let (bx, by) = (a.region_blocks(r1), b.region_blocks(r2));
            if bx.len() != by.len() {
                return Err(format!(
                    "{path}: region {ri} has {} block(s) vs {}",
                    bx.len(),
                    by.len()
                ));
            }
            for (bi, (&b1, &b2)) in bx.iter().zip(by).enumerate() {
                self.block(b1, b2, &format!("{path}, region {ri} block {bi}"))?;
            }
        }
        self.pairs.push((x, y, path.to_string()));
        Ok(())
    }

    fn block(&mut self, x: Block, y: Block, path: &str) -> Result<(), String> {
        let (a, b) = (self.a, self.b);
        let (ax, ay) = (a.block_args(x), b.block_args(y));
        if ax.len() != ay.len() {
            return Err(format!("{path}: {} argument(s) vs {}", ax.len(), ay.len()));
        }
        for (i, (&u, &v)) in ax.iter().zip(ay).enumerate() {
            self.value(u, v, &format!("argument {i}"), path)?;
        }
        let (ox, oy) = (a.block_ops(x), b.block_ops(y));
        if ox.len() != oy.len() {
            return Err(format!("{path}: {} op(s) vs {}", ox.len(), oy.len()));
        }
        for (i, (&o1, &o2)) in ox.iter().zip(oy).enumerate() {
            let name = a.op_name(o1);
            let label = match func::sym_name(a, o1) {
                Some(sym) if name == "func.func" => format!("{path} > `{name} @{sym}`"),
                _ => format!("{path} > op {i} (`{name}`)"),
            };
            self.op(o1, o2, &label)?;
        }
        Ok(())
    }
}

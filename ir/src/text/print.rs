//! The MLIR printer: upstream's pretty syntax for the dialects accc knows,
//! MLIR's generic syntax for everything else.
//!
//! Guarantees:
//! - the output parses back with [`super::parse_module`] into a structurally
//!   identical module ([`super::structurally_equal`]), and printing that
//!   module again gives the same text;
//! - an op is printed in its pretty form only when that form is *exact*: when
//!   parsing it rebuilds the same operands, attributes, regions and
//!   terminators. Otherwise (an unusual attribute type, a non-canonical
//!   affine access map, a missing terminator, an invalid op) the op is
//!   printed generically, which is exact for every op;
//! - the pretty form of builtin/func/affine/arith/math/memref/scf is the
//!   syntax `mlir-opt` 19 prints and accepts. Affine maps and sets are
//!   printed inline (`affine_map<...>`), never as `#map` aliases;
//! - SSA names come from the values' name hints when they are valid MLIR
//!   suffix-ids (made unique per isolated-from-above region with `_1`,
//!   `_2`, ...); other values are numbered (`%0`, `%arg0`). Hints that look
//!   like generated names (`0`, `arg3`) are ignored so that re-parsing
//!   never confuses the two.
//! - printing never panics, even on a module that does not verify.

use crate::affine::{AffineExpr, AffineMap, IntegerSet};
use crate::attrs::{format_float, is_bare_identifier, print_symbol, quote_string, Attribute};
use crate::dialects::{self, arith, math};
use crate::entity::{Block, Op, Region, Value};
use crate::module::{Location, Module};
use crate::types::Type;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

/// How to print.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrintOptions {
    /// Append `loc("file":line:col)` to every op that has a known location.
    pub print_locations: bool,
    /// Print every op (also `builtin.module` and `func.func`) in MLIR's
    /// generic form.
    pub generic: bool,
}

/// The module in MLIR's syntax, pretty form, without locations.
pub fn print_module(m: &Module) -> String {
    print_module_with(m, &PrintOptions::default())
}

pub fn print_module_with(m: &Module, options: &PrintOptions) -> String {
    print_op(m, m.top(), options)
}

/// One op (with its regions), named consistently with the whole module's
/// printout. Ends with a newline.
pub fn print_op(m: &Module, op: Op, options: &PrintOptions) -> String {
    let mut root = op;
    let mut guard = 0;
    while let Some(p) = m.parent_op(root) {
        root = p;
        guard += 1;
        if guard > 1_000_000 {
            break;
        }
    }
    let names = SsaNames::compute(m, root);
    let mut p = Printer {
        m,
        opts: options,
        names,
        out: String::new(),
        indent: 0,
    };
    p.print_op_line(op);
    p.out
}

// ----- SSA names -------------------------------------------------------------

/// The printed name (without `%`) of every value under a root op.
#[derive(Debug, Default)]
pub(crate) struct SsaNames {
    values: HashMap<Value, String>,
}

#[derive(Default)]
struct NameScope {
    used: HashSet<String>,
    next_result: usize,
    next_arg: usize,
}

/// MLIR's suffix-id: `[0-9]+` or `[a-zA-Z$._-][a-zA-Z0-9$._-]*`.
pub(crate) fn is_suffix_id(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() {
        return false;
    }
    if b.iter().all(u8::is_ascii_digit) {
        return true;
    }
    (b[0].is_ascii_alphabetic() || matches!(b[0], b'$' | b'.' | b'_' | b'-'))
        && b.iter().all(|c| super::lexer::is_suffix_char(*c))
}

/// Names the printer generates itself: `%12`, `%arg3`.
pub(crate) fn is_generated_name(s: &str) -> bool {
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit());
    digits(s) || s.strip_prefix("arg").is_some_and(digits)
}

/// Is this hint printed as the value's name (possibly with a `_N` suffix)?
pub(crate) fn is_usable_hint(s: &str) -> bool {
    is_suffix_id(s) && !is_generated_name(s)
}

impl SsaNames {
    pub(crate) fn compute(m: &Module, root: Op) -> SsaNames {
        let mut names = SsaNames::default();
        let mut scopes = vec![NameScope::default()];
        names.visit_op(m, root, &mut scopes);
        names
    }

    pub(crate) fn get(&self, v: Value) -> Option<&str> {
        self.values.get(&v).map(String::as_str)
    }

    fn assign(&mut self, m: &Module, v: Value, is_arg: bool, scope: &mut NameScope) {
        let name = match m.name_hint(v).filter(|h| is_usable_hint(h)) {
            Some(hint) => {
                let mut candidate = hint.to_string();
                let mut k = 1;
                while scope.used.contains(&candidate) {
                    candidate = format!("{hint}_{k}");
                    k += 1;
                }
                candidate
            }
            None if is_arg => {
                scope.next_arg += 1;
                format!("arg{}", scope.next_arg - 1)
            }
            None => {
                scope.next_result += 1;
                format!("{}", scope.next_result - 1)
            }
        };
        scope.used.insert(name.clone());
        self.values.insert(v, name);
    }

    fn visit_op(&mut self, m: &Module, op: Op, scopes: &mut Vec<NameScope>) {
        for &r in m.results(op) {
            let scope = scopes
                .last_mut()
                .expect("the name scope stack is never empty");
            self.assign(m, r, false, scope);
        }
        let isolated = dialects::is_isolated_from_above(m.op_name(op));
        if isolated {
            scopes.push(NameScope::default());
        }
        for &region in m.op_regions(op) {
            for &block in m.region_blocks(region) {
                for &a in m.block_args(block) {
                    let scope = scopes
                        .last_mut()
                        .expect("the name scope stack is never empty");
                    self.assign(m, a, true, scope);
                }
                for &o in m.block_ops(block) {
                    self.visit_op(m, o, scopes);
                }
            }
        }
        if isolated {
            scopes.pop();
        }
    }
}

// ----- attributes, affine maps -------------------------------------------------

/// Prints an attribute so that [`super::parse`] reads back the same value
/// (unlike `Display`, an `i1` integer stays an integer: `1 : i1`).
pub(crate) fn write_attr(out: &mut String, a: &Attribute) {
    match a {
        Attribute::Unit => out.push_str("unit"),
        Attribute::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Attribute::Int { value, ty } => {
            let _ = write!(out, "{value} : {ty}");
        }
        Attribute::Float { bits, ty } => {
            let _ = write!(out, "{} : {ty}", format_float(f64::from_bits(*bits), ty));
        }
        Attribute::String(s) => out.push_str(&quote_string(s)),
        Attribute::Type(t) => {
            let _ = write!(out, "{t}");
        }
        Attribute::AffineMap(m) => {
            out.push_str("affine_map<");
            write_map(out, m);
            out.push('>');
        }
        Attribute::IntegerSet(s) => {
            out.push_str("affine_set<");
            write_set(out, s);
            out.push('>');
        }
        Attribute::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_attr(out, item);
            }
            out.push(']');
        }
        Attribute::DenseArray { elem, values } => {
            let _ = write!(out, "array<{elem}");
            for (i, v) in values.iter().enumerate() {
                let _ = write!(out, "{}{v}", if i == 0 { ": " } else { ", " });
            }
            out.push('>');
        }
        Attribute::Dict(d) => write_dict(out, d),
        Attribute::SymbolRef(s) => {
            out.push('@');
            out.push_str(&print_symbol(s));
        }
    }
}

/// `{a = 1 : i64, flag}`; keys that are not bare identifiers are quoted.
pub(crate) fn write_dict(out: &mut String, d: &BTreeMap<String, Attribute>) {
    out.push('{');
    for (i, (k, v)) in d.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        if is_bare_identifier(k) {
            out.push_str(k);
        } else {
            out.push_str(&quote_string(k));
        }
        if *v != Attribute::Unit {
            out.push_str(" = ");
            write_attr(out, v);
        }
    }
    out.push('}');
}

fn write_dims_syms(out: &mut String, num_dims: u32, num_syms: u32) {
    out.push('(');
    for d in 0..num_dims {
        let _ = write!(out, "{}d{d}", if d > 0 { ", " } else { "" });
    }
    out.push(')');
    if num_syms > 0 {
        out.push('[');
        for s in 0..num_syms {
            let _ = write!(out, "{}s{s}", if s > 0 { ", " } else { "" });
        }
        out.push(']');
    }
}

fn dim_sym_name(out: &mut String, is_sym: bool, i: u32) {
    let _ = write!(out, "{}{i}", if is_sym { 's' } else { 'd' });
}

/// An affine expression with dims and symbols named `d0`, `s0`.
pub(crate) fn write_affine_expr(out: &mut String, e: &AffineExpr) {
    write_expr(out, e, 0, &mut dim_sym_name);
}

pub(crate) fn write_map(out: &mut String, m: &AffineMap) {
    write_dims_syms(out, m.num_dims, m.num_syms);
    out.push_str(" -> (");
    for (i, e) in m.results.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_expr(out, e, 0, &mut dim_sym_name);
    }
    out.push(')');
}

pub(crate) fn write_set(out: &mut String, s: &IntegerSet) {
    write_dims_syms(out, s.num_dims, s.num_syms);
    out.push_str(" : (");
    for (i, (e, is_eq)) in s.constraints.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_expr(out, e, 0, &mut dim_sym_name);
        out.push_str(if *is_eq { " == 0" } else { " >= 0" });
    }
    out.push(')');
}

/// MLIR's affine expression syntax, printed so that the parser rebuilds the
/// same tree: `a + b * -1` prints as `a - b` and `a + -c` as `a - c` (which
/// the parser reads back into those trees), and nothing else uses `-`
/// except negative literals.
pub(crate) fn write_expr(
    out: &mut String,
    e: &AffineExpr,
    parent_prec: u8,
    name: &mut dyn FnMut(&mut String, bool, u32),
) {
    // `x * -1` prints as `-x` (unary minus binds tightest, as in MLIR),
    // except for a constant `x`, whose negation would read back as a literal.
    if let AffineExpr::Mul(x, y) = e {
        if y.as_const() == Some(-1) && x.as_const().is_none() {
            out.push('-');
            write_expr(out, x, 3, name);
            return;
        }
    }
    let prec = match e {
        AffineExpr::Add(..) => 1,
        AffineExpr::Mul(..)
        | AffineExpr::FloorDiv(..)
        | AffineExpr::CeilDiv(..)
        | AffineExpr::Mod(..) => 2,
        _ => 3,
    };
    let paren = prec < parent_prec;
    if paren {
        out.push('(');
    }
    match e {
        AffineExpr::Dim(d) => name(out, false, *d),
        AffineExpr::Sym(s) => name(out, true, *s),
        AffineExpr::Const(c) => {
            let _ = write!(out, "{c}");
        }
        AffineExpr::Add(a, b) => {
            write_expr(out, a, 1, name);
            match &**b {
                AffineExpr::Mul(x, y) if y.as_const() == Some(-1) && x.as_const().is_none() => {
                    out.push_str(" - ");
                    write_expr(out, x, 2, name);
                }
                AffineExpr::Const(c) if *c < 0 && *c != i64::MIN => {
                    let _ = write!(out, " - {}", -c);
                }
                _ => {
                    out.push_str(" + ");
                    write_expr(out, b, 2, name);
                }
            }
        }
        AffineExpr::Mul(a, b)
        | AffineExpr::FloorDiv(a, b)
        | AffineExpr::CeilDiv(a, b)
        | AffineExpr::Mod(a, b) => {
            write_expr(out, a, 2, name);
            out.push_str(match e {
                AffineExpr::Mul(..) => " * ",
                AffineExpr::FloorDiv(..) => " floordiv ",
                AffineExpr::CeilDiv(..) => " ceildiv ",
                _ => " mod ",
            });
            write_expr(out, b, 3, name);
        }
    }
    if paren {
        out.push(')');
    }
}

/// Visits dims and symbols in the order they appear in the printed text.
fn visit_in_print_order(e: &AffineExpr, f: &mut impl FnMut(bool, u32)) {
    match e {
        AffineExpr::Dim(d) => f(false, *d),
        AffineExpr::Sym(s) => f(true, *s),
        AffineExpr::Const(_) => {}
        AffineExpr::Add(a, b)
        | AffineExpr::Mul(a, b)
        | AffineExpr::FloorDiv(a, b)
        | AffineExpr::CeilDiv(a, b)
        | AffineExpr::Mod(a, b) => {
            visit_in_print_order(a, f);
            visit_in_print_order(b, f);
        }
    }
}

/// Is the access written as `%A[%i + %j, symbol(%n)]` read back as this very
/// map and operand list? The parser numbers the SSA values in order of first
/// appearance (dims and symbols separately) and merges repeated values, so
/// that must be the identity here.
pub(crate) fn is_canonical_access(map: &AffineMap, operands: &[Value]) -> bool {
    if operands.len() != map.num_inputs() {
        return false;
    }
    let nd = map.num_dims as usize;
    let mut dims: Vec<Value> = vec![];
    let mut syms: Vec<Value> = vec![];
    let mut ok = true;
    for e in &map.results {
        visit_in_print_order(e, &mut |is_sym, i| {
            let (seen, v) = if is_sym {
                (&mut syms, operands.get(nd + i as usize))
            } else if (i as usize) < nd {
                (&mut dims, operands.get(i as usize))
            } else {
                (&mut dims, None)
            };
            let Some(&v) = v else {
                ok = false;
                return;
            };
            let index = match seen.iter().position(|x| *x == v) {
                Some(p) => p,
                None => {
                    seen.push(v);
                    seen.len() - 1
                }
            };
            ok &= index == i as usize;
        });
    }
    ok && dims.len() == nd && syms.len() == map.num_syms as usize
}

// ----- the printer -----------------------------------------------------------

struct Printer<'m> {
    m: &'m Module,
    opts: &'m PrintOptions,
    names: SsaNames,
    out: String,
    indent: usize,
}

fn attr_is<'a>(m: &'a Module, op: Op, name: &str) -> Option<&'a Attribute> {
    m.attr(op, name)
}

fn index_attr(a: Option<&Attribute>) -> Option<i64> {
    match a {
        Some(Attribute::Int {
            value,
            ty: Type::Index,
        }) => Some(*value),
        _ => None,
    }
}

impl<'m> Printer<'m> {
    fn push_indent(&mut self) {
        for _ in 0..self.indent {
            self.out.push_str("  ");
        }
    }

    fn value(&mut self, v: Value) {
        self.out.push('%');
        match self.names.get(v) {
            Some(n) => self.out.push_str(n),
            // A value outside the printed tree (only when printing a detached
            // op): an undefined but syntactically valid name.
            None => {
                let _ = write!(self.out, "__undefined_v{}", v.index());
            }
        }
    }

    fn values(&mut self, vs: &[Value]) {
        for (i, &v) in vs.iter().enumerate() {
            if i > 0 {
                self.out.push_str(", ");
            }
            self.value(v);
        }
    }

    fn types_of(&mut self, vs: &[Value]) {
        for (i, &v) in vs.iter().enumerate() {
            if i > 0 {
                self.out.push_str(", ");
            }
            let _ = write!(self.out, "{}", self.m.value_type(v));
        }
    }

    fn ty(&mut self, t: &Type) {
        let _ = write!(self.out, "{t}");
    }

    /// ` {attrs}` without the elided names, nothing if empty.
    fn attr_dict(&mut self, op: Op, elided: &[&str]) {
        let rest: BTreeMap<String, Attribute> = self
            .m
            .op(op)
            .attrs
            .iter()
            .filter(|(k, _)| !elided.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !rest.is_empty() {
            self.out.push(' ');
            write_dict(&mut self.out, &rest);
        }
    }

    fn loc(&mut self, loc: &Location) {
        if let Location::FileLineCol { file, line, col } = loc {
            let _ = write!(self.out, " loc({}:{line}:{col})", quote_string(file));
        }
    }

    fn print_op_line(&mut self, op: Op) {
        self.push_indent();
        let results = self.m.results(op).to_vec();
        if !results.is_empty() {
            self.values(&results);
            self.out.push_str(" = ");
        }
        if self.opts.generic || !self.print_custom(op) {
            self.print_generic(op);
        }
        if self.opts.print_locations {
            let loc = self.m.op(op).loc.clone();
            self.loc(&loc);
        }
        self.out.push('\n');
    }

    // ----- generic form ----------------------------------------------------

    fn print_generic(&mut self, op: Op) {
        let m = self.m;
        self.out.push_str(&quote_string(m.op_name(op)));
        self.out.push('(');
        self.values(m.operands(op));
        self.out.push(')');
        let regions = m.op_regions(op);
        if !regions.is_empty() {
            self.out.push_str(" (");
            for (i, &r) in regions.iter().enumerate() {
                if i > 0 {
                    self.out.push_str(", ");
                }
                self.print_region_generic(r);
            }
            self.out.push(')');
        }
        self.attr_dict(op, &[]);
        self.out.push_str(" : (");
        self.types_of(m.operands(op));
        self.out.push_str(") -> ");
        let results = m.results(op);
        let single_plain =
            results.len() == 1 && !matches!(m.value_type(results[0]), Type::Function(_));
        if single_plain {
            self.ty(&m.value_type(results[0]).clone());
        } else {
            self.out.push('(');
            self.types_of(results);
            self.out.push(')');
        }
    }

    fn print_region_generic(&mut self, region: Region) {
        let blocks = self.m.region_blocks(region).to_vec();
        self.out.push_str("{\n");
        for (i, &b) in blocks.iter().enumerate() {
            let needs_label =
                i > 0 || !self.m.block_args(b).is_empty() || self.m.block_ops(b).is_empty();
            if needs_label {
                self.block_label(b, i);
            }
            self.block_ops(b, 0);
        }
        self.push_indent();
        self.out.push('}');
    }

    fn block_label(&mut self, b: Block, index: usize) {
        self.push_indent();
        let _ = write!(self.out, "^bb{index}");
        let args = self.m.block_args(b).to_vec();
        if !args.is_empty() {
            self.out.push('(');
            for (i, &a) in args.iter().enumerate() {
                if i > 0 {
                    self.out.push_str(", ");
                }
                self.value(a);
                let _ = write!(self.out, ": {}", self.m.value_type(a));
            }
            self.out.push(')');
        }
        self.out.push_str(":\n");
    }

    /// Prints the ops of a block, one level deeper, leaving out the last
    /// `skip_last` ops (an elided terminator).
    fn block_ops(&mut self, b: Block, skip_last: usize) {
        let ops = self.m.block_ops(b).to_vec();
        let n = ops.len().saturating_sub(skip_last);
        self.indent += 1;
        for &o in &ops[..n] {
            self.print_op_line(o);
        }
        self.indent -= 1;
    }

    /// ` {\n ops \n}` for the single block of a pretty op's region.
    fn print_single_block_region(&mut self, b: Block, elide_terminator: bool) {
        self.out.push_str(" {\n");
        self.block_ops(b, usize::from(elide_terminator));
        self.push_indent();
        self.out.push('}');
    }

    // ----- pretty forms ----------------------------------------------------

    /// Prints the pretty form and returns true, or prints nothing and
    /// returns false when the op has no exact pretty form.
    fn print_custom(&mut self, op: Op) -> bool {
        let name = self.m.op_name(op).to_string();
        let Some((dialect, short)) = name.split_once('.') else {
            return false;
        };
        match dialect {
            "builtin" if short == "module" => self.print_module_op(op),
            "func" => self.print_func_dialect(op, short),
            "affine" => self.print_affine(op, short),
            "arith" => self.print_arith(op, short),
            "math" => self.print_unary_same_type(op),
            "memref" => self.print_memref(op, short),
            "scf" => self.print_scf(op, short),
            _ => false,
        }
    }

    /// The single block of region `index`, if the op has exactly that shape.
    fn single_block(&self, op: Op, index: usize) -> Option<Block> {
        let region = *self.m.op_regions(op).get(index)?;
        match self.m.region_blocks(region) {
            [b] => Some(*b),
            _ => None,
        }
    }

    /// Whether the block ends in `terminator` and whether it may be left
    /// out (no operands or attributes, and its location adds nothing);
    /// `None` if it does not end in `terminator` (with no operands).
    fn terminator_elision(&self, parent: Op, b: Block, terminator: &str) -> Option<bool> {
        let m = self.m;
        let last = *m.block_ops(b).last()?;
        if m.op_name(last) != terminator
            || !m.operands(last).is_empty()
            || !m.results(last).is_empty()
        {
            return None;
        }
        let plain = m.op(last).attrs.is_empty()
            && m.op_regions(last).is_empty()
            && (!self.opts.print_locations || m.op(last).loc == m.op(parent).loc);
        Some(plain)
    }

    /// The body of a loop op in the shape its pretty form needs: one block
    /// with a single `index` argument (the induction variable), ending in
    /// `terminator`; with whether that terminator may be left out.
    fn loop_body(&self, op: Op, terminator: &str) -> Option<(Block, Value, bool)> {
        let body = self.single_block(op, 0)?;
        let iv = match self.m.block_args(body) {
            [iv] if *self.m.value_type(*iv) == Type::Index => *iv,
            _ => return None,
        };
        let elide = self.terminator_elision(op, body, terminator)?;
        Some((body, iv, elide))
    }

    fn print_module_op(&mut self, op: Op) -> bool {
        let m = self.m;
        if !m.operands(op).is_empty() || !m.results(op).is_empty() || m.op_regions(op).len() != 1 {
            return false;
        }
        let Some(body) = self.single_block(op, 0) else {
            return false;
        };
        if !m.block_args(body).is_empty() {
            return false;
        }
        let sym = match attr_is(m, op, "sym_name") {
            None => None,
            Some(Attribute::String(s)) => Some(s.clone()),
            Some(_) => return false,
        };
        self.out.push_str("module");
        if let Some(s) = sym {
            let _ = write!(self.out, " @{}", print_symbol(&s));
        }
        let rest: BTreeMap<String, Attribute> = m
            .op(op)
            .attrs
            .iter()
            .filter(|(k, _)| *k != "sym_name")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !rest.is_empty() {
            self.out.push_str(" attributes ");
            write_dict(&mut self.out, &rest);
        }
        self.print_single_block_region(body, false);
        true
    }

    /// The prefix of a `func` op: none directly inside a `func.func` (MLIR's
    /// default dialect there), `func.` elsewhere.
    fn func_prefix(&mut self, op: Op, short: &str) {
        let in_func = self
            .m
            .parent_op(op)
            .is_some_and(|p| self.m.op_name(p) == "func.func");
        if !in_func {
            self.out.push_str("func.");
        }
        self.out.push_str(short);
    }

    fn print_func_dialect(&mut self, op: Op, short: &str) -> bool {
        let m = self.m;
        match short {
            "func" => self.print_func(op),
            "return" => {
                if !m.results(op).is_empty() || !m.op_regions(op).is_empty() {
                    return false;
                }
                self.func_prefix(op, short);
                self.attr_dict(op, &[]);
                self.operands_colon_types(op);
                true
            }
            "call" => {
                let Some(Attribute::SymbolRef(callee)) = attr_is(m, op, "callee") else {
                    return false;
                };
                if !m.op_regions(op).is_empty() {
                    return false;
                }
                let callee = callee.clone();
                self.func_prefix(op, short);
                let _ = write!(self.out, " @{}(", print_symbol(&callee));
                self.values(m.operands(op));
                self.out.push(')');
                self.attr_dict(op, &["callee"]);
                self.out.push_str(" : (");
                self.types_of(m.operands(op));
                self.out.push_str(") -> ");
                self.result_types(op);
                true
            }
            _ => false,
        }
    }

    /// ` %a, %b : T, U` (nothing without operands).
    fn operands_colon_types(&mut self, op: Op) {
        let operands = self.m.operands(op);
        if !operands.is_empty() {
            self.out.push(' ');
            self.values(operands);
            self.out.push_str(" : ");
            self.types_of(operands);
        }
    }

    /// `T` for one non-function result, `(T, U)` otherwise.
    fn result_types(&mut self, op: Op) {
        let results = self.m.results(op);
        if results.len() == 1 && !matches!(self.m.value_type(results[0]), Type::Function(_)) {
            let _ = write!(self.out, "{}", self.m.value_type(results[0]));
        } else {
            self.out.push('(');
            self.types_of(results);
            self.out.push(')');
        }
    }

    fn print_func(&mut self, op: Op) -> bool {
        let m = self.m;
        let Some(Attribute::String(sym)) = attr_is(m, op, "sym_name") else {
            return false;
        };
        let Some(Attribute::Type(Type::Function(ft))) = attr_is(m, op, "function_type") else {
            return false;
        };
        if !m.operands(op).is_empty() || !m.results(op).is_empty() || m.op_regions(op).len() != 1 {
            return false;
        }
        // Per-argument dictionaries; an all-empty list has no pretty form
        // (the syntax cannot tell it from no list at all).
        let per_arg = |name: &str, n: usize| -> Option<Option<Vec<BTreeMap<String, Attribute>>>> {
            match attr_is(m, op, name) {
                None => Some(None),
                Some(Attribute::Array(items)) if items.len() == n => {
                    let dicts: Option<Vec<_>> =
                        items.iter().map(|a| a.as_dict().cloned()).collect();
                    let dicts = dicts?;
                    if dicts.iter().all(BTreeMap::is_empty) {
                        None
                    } else {
                        Some(Some(dicts))
                    }
                }
                Some(_) => None,
            }
        };
        let Some(arg_attrs) = per_arg("arg_attrs", ft.inputs.len()) else {
            return false;
        };
        let Some(res_attrs) = per_arg("res_attrs", ft.results.len()) else {
            return false;
        };
        let visibility = match attr_is(m, op, "sym_visibility") {
            None => None,
            Some(Attribute::String(s)) if matches!(s.as_str(), "private" | "public" | "nested") => {
                Some(s.clone())
            }
            Some(_) => return false,
        };
        let region = m.op_regions(op)[0];
        let blocks = m.region_blocks(region).to_vec();
        let entry = blocks.first().copied();
        if let Some(entry) = entry {
            let args = m.block_args(entry);
            if args.len() != ft.inputs.len()
                || args
                    .iter()
                    .zip(&ft.inputs)
                    .any(|(a, t)| m.value_type(*a) != t)
            {
                return false;
            }
            if m.block_ops(entry).is_empty() {
                return false;
            }
        }
        let (sym, ft) = (sym.clone(), ft.clone());

        self.out.push_str("func.func ");
        if let Some(v) = visibility {
            let _ = write!(self.out, "{v} ");
        }
        let _ = write!(self.out, "@{}(", print_symbol(&sym));
        for (i, t) in ft.inputs.iter().enumerate() {
            if i > 0 {
                self.out.push_str(", ");
            }
            if let Some(entry) = entry {
                let a = m.block_args(entry)[i];
                self.value(a);
                self.out.push_str(": ");
            }
            self.ty(t);
            if let Some(d) = arg_attrs.as_ref().map(|d| &d[i]).filter(|d| !d.is_empty()) {
                self.out.push(' ');
                write_dict(&mut self.out, d);
            }
        }
        self.out.push(')');
        if !ft.results.is_empty() {
            self.out.push_str(" -> ");
            let plain = ft.results.len() == 1
                && res_attrs.is_none()
                && !matches!(ft.results[0], Type::Function(_));
            if plain {
                self.ty(&ft.results[0]);
            } else {
                self.out.push('(');
                for (i, t) in ft.results.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    self.ty(t);
                    if let Some(d) = res_attrs.as_ref().map(|d| &d[i]).filter(|d| !d.is_empty()) {
                        self.out.push(' ');
                        write_dict(&mut self.out, d);
                    }
                }
                self.out.push(')');
            }
        }
        let rest: BTreeMap<String, Attribute> = m
            .op(op)
            .attrs
            .iter()
            .filter(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "sym_name" | "function_type" | "arg_attrs" | "res_attrs" | "sym_visibility"
                )
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !rest.is_empty() {
            self.out.push_str(" attributes ");
            write_dict(&mut self.out, &rest);
        }
        if entry.is_some() {
            self.out.push_str(" {\n");
            for (i, &b) in blocks.iter().enumerate() {
                if i > 0 {
                    self.block_label(b, i);
                }
                self.block_ops(b, 0);
            }
            self.push_indent();
            self.out.push('}');
        }
        true
    }

    /// `(%d0, %d1)[%s0]` for a map's operands.
    fn dims_and_syms(&mut self, num_dims: usize, operands: &[Value]) {
        let nd = num_dims.min(operands.len());
        self.out.push('(');
        self.values(&operands[..nd]);
        self.out.push(')');
        if operands.len() > nd {
            self.out.push('[');
            self.values(&operands[nd..]);
            self.out.push(']');
        }
    }

    fn map_with_operands(&mut self, map: &AffineMap, operands: &[Value]) {
        self.out.push_str("affine_map<");
        write_map(&mut self.out, map);
        self.out.push('>');
        self.dims_and_syms(map.num_dims as usize, operands);
    }

    fn bound(&mut self, map: &AffineMap, operands: &[Value], lower: bool) {
        if map.results.len() == 1 {
            if map.num_dims == 0 && map.num_syms == 0 {
                if let Some(c) = map.results[0].as_const() {
                    let _ = write!(self.out, "{c}");
                    return;
                }
            }
            if map.num_dims == 0
                && map.num_syms == 1
                && map.results[0] == AffineExpr::Sym(0)
                && operands.len() == 1
            {
                self.value(operands[0]);
                return;
            }
        } else {
            self.out.push_str(if lower { "max " } else { "min " });
        }
        self.map_with_operands(map, operands);
    }

    /// `[%i, %k * 16 + %j, symbol(%n)]`.
    fn access(&mut self, map: &AffineMap, operands: &[Value]) {
        let nd = map.num_dims as usize;
        let names: Vec<String> = operands
            .iter()
            .map(|v| {
                self.names
                    .get(*v)
                    .map(|n| format!("%{n}"))
                    .unwrap_or_else(|| format!("%__undefined_v{}", v.index()))
            })
            .collect();
        self.out.push('[');
        for (i, e) in map.results.iter().enumerate() {
            if i > 0 {
                self.out.push_str(", ");
            }
            write_expr(&mut self.out, e, 0, &mut |out, is_sym, k| {
                let index = if is_sym { nd + k as usize } else { k as usize };
                let n = names.get(index).map(String::as_str).unwrap_or("%__missing");
                if is_sym {
                    let _ = write!(out, "symbol({n})");
                } else {
                    out.push_str(n);
                }
            });
        }
        self.out.push(']');
    }

    fn print_affine(&mut self, op: Op, short: &str) -> bool {
        let m = self.m;
        let map_attr = |name: &str| {
            attr_is(m, op, name)
                .and_then(Attribute::as_affine_map)
                .cloned()
        };
        let operands = m.operands(op).to_vec();
        match short {
            "for" => {
                let (Some(lb), Some(ub), Some(step)) = (
                    map_attr("lowerBoundMap"),
                    map_attr("upperBoundMap"),
                    index_attr(attr_is(m, op, "step")),
                ) else {
                    return false;
                };
                if lb.results.is_empty() || ub.results.is_empty() || !m.results(op).is_empty() {
                    return false;
                }
                if lb.num_inputs() + ub.num_inputs() != operands.len()
                    || m.op_regions(op).len() != 1
                {
                    return false;
                }
                let Some((body, iv, elide)) = self.loop_body(op, "affine.yield") else {
                    return false;
                };
                let (lo, hi) = operands.split_at(lb.num_inputs());
                self.out.push_str("affine.for ");
                self.value(iv);
                self.out.push_str(" = ");
                self.bound(&lb, lo, true);
                self.out.push_str(" to ");
                self.bound(&ub, hi, false);
                if step != 1 {
                    let _ = write!(self.out, " step {step}");
                }
                self.print_single_block_region(body, elide);
                self.attr_dict(op, &["lowerBoundMap", "upperBoundMap", "step"]);
                true
            }
            "if" => {
                let Some(set) = attr_is(m, op, "condition")
                    .and_then(Attribute::as_integer_set)
                    .cloned()
                else {
                    return false;
                };
                if set.num_inputs() != operands.len()
                    || !m.results(op).is_empty()
                    || m.op_regions(op).len() != 2
                {
                    return false;
                }
                let Some((then_block, then_elide)) = self.yield_block(op, 0, "affine.yield") else {
                    return false;
                };
                let else_part = if m.region_blocks(m.op_regions(op)[1]).is_empty() {
                    None
                } else {
                    match self.yield_block(op, 1, "affine.yield") {
                        Some(x) => Some(x),
                        None => return false,
                    }
                };
                self.out.push_str("affine.if affine_set<");
                write_set(&mut self.out, &set);
                self.out.push('>');
                self.dims_and_syms(set.num_dims as usize, &operands);
                self.print_single_block_region(then_block, then_elide);
                if let Some((b, elide)) = else_part {
                    self.out.push_str(" else");
                    self.print_single_block_region(b, elide);
                }
                self.attr_dict(op, &["condition"]);
                true
            }
            "load" | "store" => {
                let Some(map) = map_attr("map") else {
                    return false;
                };
                let first = if short == "load" { 1 } else { 2 };
                if operands.len() < first || !m.op_regions(op).is_empty() {
                    return false;
                }
                let memref = operands[first - 1];
                let Type::MemRef(mt) = m.value_type(memref) else {
                    return false;
                };
                let indices = &operands[first..];
                if !is_canonical_access(&map, indices) {
                    return false;
                }
                if short == "load" {
                    match m.results(op) {
                        [r] if m.value_type(*r) == &*mt.elem => {}
                        _ => return false,
                    }
                } else if !m.results(op).is_empty() {
                    return false;
                }
                let mt = Type::MemRef(mt.clone());
                let _ = write!(self.out, "affine.{short} ");
                if short == "store" {
                    self.value(operands[0]);
                    self.out.push_str(", ");
                }
                self.value(memref);
                self.access(&map, indices);
                self.attr_dict(op, &["map"]);
                self.out.push_str(" : ");
                self.ty(&mt);
                true
            }
            "apply" | "min" | "max" => {
                let Some(map) = map_attr("map") else {
                    return false;
                };
                if map.num_inputs() != operands.len() || !m.op_regions(op).is_empty() {
                    return false;
                }
                match m.results(op) {
                    [r] if *m.value_type(*r) == Type::Index => {}
                    _ => return false,
                }
                let _ = write!(self.out, "affine.{short} ");
                self.map_with_operands(&map, &operands);
                self.attr_dict(op, &["map"]);
                true
            }
            "yield" => self.print_yield(op),
            _ => false,
        }
    }

    /// The single block of region `index` when it ends in `terminator`,
    /// and whether the terminator is elided.
    fn yield_block(&self, op: Op, index: usize, terminator: &str) -> Option<(Block, bool)> {
        let b = self.single_block(op, index)?;
        if !self.m.block_args(b).is_empty() {
            return None;
        }
        Some((b, self.terminator_elision(op, b, terminator)?))
    }

    fn print_yield(&mut self, op: Op) -> bool {
        if !self.m.results(op).is_empty() || !self.m.op_regions(op).is_empty() {
            return false;
        }
        self.out.push_str(self.m.op_name(op));
        self.attr_dict(op, &[]);
        self.operands_colon_types(op);
        true
    }

    /// `name %x {attrs} : T` for unary ops whose result type is the operand type.
    fn print_unary_same_type(&mut self, op: Op) -> bool {
        let m = self.m;
        let name = m.op_name(op);
        let short = name.split_once('.').map_or(name, |(_, s)| s);
        let known = name == "arith.negf"
            || (name.starts_with("math.")
                && (math::FLOAT_UNARY.contains(&short) || short == "absi"));
        if !known || !m.op_regions(op).is_empty() {
            return false;
        }
        let (&[x], &[r]) = (m.operands(op), m.results(op)) else {
            return false;
        };
        if m.value_type(x) != m.value_type(r) {
            return false;
        }
        self.out.push_str(name);
        self.out.push(' ');
        self.value(x);
        self.attr_dict(op, &[]);
        self.out.push_str(" : ");
        self.ty(&m.value_type(r).clone());
        true
    }

    fn print_arith(&mut self, op: Op, short: &str) -> bool {
        let m = self.m;
        if !m.op_regions(op).is_empty() {
            return false;
        }
        let name = m.op_name(op).to_string();
        let operands = m.operands(op).to_vec();
        let results = m.results(op).to_vec();
        if short == "constant" {
            let [r] = results[..] else { return false };
            if !operands.is_empty() {
                return false;
            }
            let rt = m.value_type(r);
            let value = match attr_is(m, op, "value") {
                Some(v @ (Attribute::Int { ty, .. } | Attribute::Float { ty, .. })) if ty == rt => {
                    v.clone()
                }
                Some(v @ Attribute::Bool(_)) if *rt == Type::i1() => v.clone(),
                _ => return false,
            };
            self.out.push_str("arith.constant");
            self.attr_dict(op, &["value"]);
            self.out.push(' ');
            write_attr(&mut self.out, &value);
            return true;
        }
        if short == "negf" {
            return self.print_unary_same_type(op);
        }
        if arith::INT_BINARY.contains(&short) || arith::FLOAT_BINARY.contains(&short) {
            let (&[a, b], &[r]) = (&operands[..], &results[..]) else {
                return false;
            };
            let t = m.value_type(r);
            if m.value_type(a) != t || m.value_type(b) != t {
                return false;
            }
            let _ = write!(self.out, "{name} ");
            self.values(&[a, b]);
            self.attr_dict(op, &[]);
            let _ = write!(self.out, " : {t}");
            return true;
        }
        if short == "cmpi" || short == "cmpf" {
            let (&[a, b], &[r]) = (&operands[..], &results[..]) else {
                return false;
            };
            let table: &[&str] = if short == "cmpi" {
                &arith::CMPI_PREDICATES
            } else {
                &arith::CMPF_PREDICATES
            };
            let predicate = match attr_is(m, op, "predicate") {
                Some(Attribute::Int {
                    value,
                    ty: Type::Int(64),
                }) => usize::try_from(*value).ok().and_then(|i| table.get(i)),
                _ => None,
            };
            let Some(predicate) = predicate else {
                return false;
            };
            if *m.value_type(r) != Type::i1() || m.value_type(a) != m.value_type(b) {
                return false;
            }
            let _ = write!(self.out, "{name} {predicate}, ");
            self.values(&[a, b]);
            self.attr_dict(op, &["predicate"]);
            let _ = write!(self.out, " : {}", m.value_type(a));
            return true;
        }
        if short == "select" {
            let (&[c, a, b], &[r]) = (&operands[..], &results[..]) else {
                return false;
            };
            let t = m.value_type(r);
            if *m.value_type(c) != Type::i1() || m.value_type(a) != t || m.value_type(b) != t {
                return false;
            }
            self.out.push_str("arith.select ");
            self.values(&[c, a, b]);
            self.attr_dict(op, &[]);
            let _ = write!(self.out, " : {t}");
            return true;
        }
        if arith::cast_kind(&name).is_some() {
            let (&[x], &[r]) = (&operands[..], &results[..]) else {
                return false;
            };
            let _ = write!(self.out, "{name} ");
            self.value(x);
            self.attr_dict(op, &[]);
            let _ = write!(self.out, " : {} to {}", m.value_type(x), m.value_type(r));
            return true;
        }
        false
    }

    fn print_memref(&mut self, op: Op, short: &str) -> bool {
        let m = self.m;
        if !m.op_regions(op).is_empty() {
            return false;
        }
        let operands = m.operands(op).to_vec();
        let results = m.results(op).to_vec();
        let name = m.op_name(op).to_string();
        match short {
            "alloc" | "alloca" => {
                let [r] = results[..] else { return false };
                if !operands.is_empty() || m.value_type(r).as_memref().is_none() {
                    return false;
                }
                let _ = write!(self.out, "{name}()");
                self.attr_dict(op, &[]);
                let _ = write!(self.out, " : {}", m.value_type(r));
                true
            }
            "dealloc" => {
                let [x] = operands[..] else { return false };
                if !results.is_empty() {
                    return false;
                }
                self.out.push_str("memref.dealloc ");
                self.value(x);
                self.attr_dict(op, &[]);
                let _ = write!(self.out, " : {}", m.value_type(x));
                true
            }
            "load" | "store" => {
                let first = if short == "load" { 1 } else { 2 };
                if operands.len() < first {
                    return false;
                }
                let memref = operands[first - 1];
                let Type::MemRef(mt) = m.value_type(memref) else {
                    return false;
                };
                if short == "load" {
                    match results[..] {
                        [r] if m.value_type(r) == &*mt.elem => {}
                        _ => return false,
                    }
                } else if !results.is_empty() {
                    return false;
                }
                let _ = write!(self.out, "{name} ");
                if short == "store" {
                    self.value(operands[0]);
                    self.out.push_str(", ");
                }
                self.value(memref);
                self.out.push('[');
                self.values(&operands[first..]);
                self.out.push(']');
                self.attr_dict(op, &[]);
                let _ = write!(self.out, " : {}", m.value_type(memref));
                true
            }
            "copy" => {
                let [a, b] = operands[..] else { return false };
                if !results.is_empty() {
                    return false;
                }
                self.out.push_str("memref.copy ");
                self.values(&[a, b]);
                self.attr_dict(op, &[]);
                let _ = write!(self.out, " : {} to {}", m.value_type(a), m.value_type(b));
                true
            }
            _ => false,
        }
    }

    fn print_scf(&mut self, op: Op, short: &str) -> bool {
        let m = self.m;
        let operands = m.operands(op).to_vec();
        if !m.results(op).is_empty() {
            return false;
        }
        match short {
            "for" => {
                let [lb, ub, step] = operands[..] else {
                    return false;
                };
                if [lb, ub, step]
                    .iter()
                    .any(|v| *m.value_type(*v) != Type::Index)
                    || m.op_regions(op).len() != 1
                {
                    return false;
                }
                let Some((body, iv, elide)) = self.loop_body(op, "scf.yield") else {
                    return false;
                };
                self.out.push_str("scf.for ");
                self.value(iv);
                self.out.push_str(" = ");
                self.value(lb);
                self.out.push_str(" to ");
                self.value(ub);
                self.out.push_str(" step ");
                self.value(step);
                self.print_single_block_region(body, elide);
                self.attr_dict(op, &[]);
                true
            }
            "if" => {
                let [c] = operands[..] else { return false };
                if *m.value_type(c) != Type::i1() || m.op_regions(op).len() != 2 {
                    return false;
                }
                let Some((then_block, then_elide)) = self.yield_block(op, 0, "scf.yield") else {
                    return false;
                };
                let else_part = if m.region_blocks(m.op_regions(op)[1]).is_empty() {
                    None
                } else {
                    match self.yield_block(op, 1, "scf.yield") {
                        Some(x) => Some(x),
                        None => return false,
                    }
                };
                self.out.push_str("scf.if ");
                self.value(c);
                self.print_single_block_region(then_block, then_elide);
                if let Some((b, elide)) = else_part {
                    self.out.push_str(" else");
                    self.print_single_block_region(b, elide);
                }
                self.attr_dict(op, &[]);
                true
            }
            "yield" => self.print_yield(op),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AffineExpr as E;

    fn show(e: &E) -> String {
        let mut s = String::new();
        write_expr(&mut s, e, 0, &mut dim_sym_name);
        s
    }

    #[test]
    fn expressions_print_invertibly() {
        let d = E::Dim;
        let c = E::Const;
        assert_eq!(show(&d(0).sub(d(1))), "d0 - d1");
        assert_eq!(show(&d(0).add(c(-3))), "d0 - 3");
        // `d0 - 3` is read back as `d0 + -3`, so `d0 + 3 * -1` must not print that way.
        assert_eq!(show(&d(0).add(c(3).mul(c(-1)))), "d0 + 3 * -1");
        assert_eq!(show(&d(0).add(c(i64::MIN))), "d0 + -9223372036854775808");
        assert_eq!(show(&d(0).mul(c(16)).add(E::Sym(0))), "d0 * 16 + s0");
        assert_eq!(
            show(&d(0).mul(d(1).add(c(1)).mul(c(2)))),
            "d0 * ((d1 + 1) * 2)"
        );
        assert_eq!(show(&d(0).mul(c(-1)).add(c(15))), "-d0 + 15");
        assert_eq!(show(&c(2).mul(d(0).add(d(1)).mul(c(-1)))), "2 * -(d0 + d1)");
        assert_eq!(show(&d(0).mul(c(2)).mul(c(-1))), "-(d0 * 2)");
    }

    #[test]
    fn suffix_ids_and_generated_names() {
        assert!(is_usable_hint("A") && is_usable_hint("c0_i32") && is_usable_hint("x.y-1"));
        assert!(
            !is_usable_hint("0")
                && !is_usable_hint("arg3")
                && !is_usable_hint("a b")
                && !is_usable_hint("")
        );
        assert!(is_usable_hint("arg") && is_usable_hint("arg_1") && !is_usable_hint("1a"));
    }
}

//! Hash-consed terms in normal form: the values of symbolic execution.
//!
//! A term is a node over other terms, stored once ([`TermStore::intern`]),
//! so two computations of the same value get the same [`TermId`] and
//! comparing two outputs is comparing two integers. Equality of ids is
//! sound (equal ids denote equal values on every input) because every
//! normalization applied when a term is built is an identity of the
//! operation's semantics:
//!
//! - integer `+`, `-` and `*` of one width build a polynomial with
//!   coefficients modulo `2^width` over atoms (terms that are not
//!   polynomials): wrap-around arithmetic is a commutative ring, so sums
//!   and products in any order or grouping, `x - x`, `2 * x` and `x + x`
//!   meet in one form;
//! - operations on constants fold with the concrete semantics (the same
//!   functions the interpreter runs);
//! - float `+` and `*` order their two operands (IEEE addition and
//!   multiplication are commutative, and NaN results are one canonical
//!   NaN), but are never reassociated unless the store was created with
//!   `fp_reassoc`, which the report then records;
//! - `select` with equal arms is that arm; a few cast identities hold
//!   (`trunc(ext(x)) = x`).
//!
//! Ids that differ do not prove values differ: a product too large to
//! expand stays a product, and identities beyond these are not searched.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use accc_ir::dialects::arith::width_mask;
use accc_ir::semantics::{
    FloatCompare, FloatFormat, FloatOp, FloatUnary, IntCompare, IntOp, ScalarType,
};

/// A term in a [`TermStore`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TermId(pub u32);

/// A product of atoms (sorted, with repetition), the key of a polynomial
/// term.
pub type Monomial = Box<[TermId]>;

/// Products with more terms than this are not expanded.
const MAX_POLY_TERMS: usize = 4096;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Node {
    /// Element `offset` (row-major) of kernel argument `param`, as the
    /// kernel receives it.
    Input {
        param: u32,
        offset: u32,
    },
    Int {
        width: u32,
        bits: u64,
    },
    Float {
        format: FloatFormat,
        bits: u64,
    },
    /// `constant + Σ coeff · monomial`, coefficients non-zero modulo
    /// `2^width`, monomials sorted; at least one term, and not a single
    /// atom with coefficient 1 and no constant (that is the atom itself).
    Poly {
        width: u32,
        constant: u64,
        terms: Box<[(Monomial, u64)]>,
    },
    /// `base + k · add`, an integer sum not yet in normal form: a
    /// reduction adds one term per iteration, and keeping the partial
    /// sums as a chain makes each addition O(1). [`TermStore::canonical`]
    /// gives the polynomial it stands for, which is what every other
    /// operation and the comparison of outputs see.
    Sum {
        width: u32,
        base: TermId,
        add: TermId,
        k: u64,
    },
    IntOp {
        op: IntOp,
        width: u32,
        a: TermId,
        b: TermId,
    },
    IntCompare {
        cmp: IntCompare,
        width: u32,
        a: TermId,
        b: TermId,
    },
    Select {
        cond: TermId,
        t: TermId,
        f: TermId,
    },
    Resize {
        a: TermId,
        from: u32,
        to: u32,
        signed: bool,
    },
    FloatOp {
        op: FloatOp,
        format: FloatFormat,
        a: TermId,
        b: TermId,
    },
    /// `base op add` for float `+` or `*` with `fp_reassoc`: like
    /// [`Node::Sum`], a chain in progress whose normal form
    /// ([`TermStore::canonical`]) is a [`Node::FloatAc`].
    FloatChain {
        op: FloatOp,
        format: FloatFormat,
        base: TermId,
        add: TermId,
    },
    /// Float `+` or `*` over a sorted multiset, only with `fp_reassoc`.
    FloatAc {
        op: FloatOp,
        format: FloatFormat,
        args: Box<[TermId]>,
    },
    FloatUnary {
        op: FloatUnary,
        format: FloatFormat,
        a: TermId,
    },
    FloatCompare {
        cmp: FloatCompare,
        format: FloatFormat,
        a: TermId,
        b: TermId,
    },
    IntToFloat {
        a: TermId,
        from: u32,
        signed: bool,
        to: FloatFormat,
    },
    FloatToInt {
        a: TermId,
        from: FloatFormat,
        to: u32,
        signed: bool,
    },
    FloatConvert {
        a: TermId,
        from: FloatFormat,
        to: FloatFormat,
    },
    Bitcast {
        a: TermId,
        from: ScalarType,
        to: ScalarType,
    },
}

/// A kernel argument as terms name it.
#[derive(Clone, Debug)]
pub struct InputInfo {
    pub name: String,
    pub shape: Vec<i64>,
    /// The element type (the type of a scalar argument).
    pub ty: ScalarType,
}

/// The hash-consed terms of one verification.
#[derive(Debug, Default)]
pub struct TermStore {
    nodes: Vec<Node>,
    /// The id of each node with its hash, compared through `nodes` (each
    /// node is stored once; the table grows without hashing nodes again).
    ids: hashbrown::HashTable<(TermId, u64)>,
    /// The normal form of each [`Node::Sum`] canonicalized so far.
    canonical: HashMap<TermId, TermId, FxBuild>,
    /// Float `+` and `*` are associative too.
    pub fp_reassoc: bool,
    /// The kernel's arguments, for printing inputs.
    pub inputs: Vec<InputInfo>,
}

impl TermStore {
    pub fn new(fp_reassoc: bool) -> TermStore {
        TermStore {
            fp_reassoc,
            ..TermStore::default()
        }
    }

    /// The id of `node`, adding it if new.
    pub fn intern(&mut self, node: Node) -> TermId {
        use std::hash::BuildHasher;
        let hash = FxBuild.hash_one(&node);
        let nodes = &self.nodes;
        if let Some((id, _)) = self
            .ids
            .find(hash, |(id, h)| *h == hash && nodes[id.0 as usize] == node)
        {
            return *id;
        }
        let id = TermId(self.nodes.len() as u32);
        self.nodes.push(node);
        self.ids.insert_unique(hash, (id, hash), |(_, h)| *h);
        id
    }

    pub fn node(&self, id: TermId) -> &Node {
        &self.nodes[id.0 as usize]
    }

    /// How many distinct terms exist.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn int(&mut self, width: u32, bits: u64) -> TermId {
        self.intern(Node::Int {
            width,
            bits: bits & width_mask(width),
        })
    }

    /// The constant bits of `id`, if it is an integer or float constant.
    pub fn constant(&self, id: TermId) -> Option<u64> {
        match self.node(id) {
            Node::Int { bits, .. } | Node::Float { bits, .. } => Some(*bits),
            _ => None,
        }
    }

    // -----------------------------------------------------------------
    // Integer polynomials
    // -----------------------------------------------------------------

    /// `id` as `(constant, terms)` of a polynomial of `width`.
    fn as_poly(&self, id: TermId, width: u32) -> (u64, Vec<(Monomial, u64)>) {
        match self.node(id) {
            Node::Int { bits, .. } => (*bits, Vec::new()),
            Node::Poly {
                constant, terms, ..
            } => (*constant, terms.to_vec()),
            _ => (
                0,
                vec![(vec![id].into_boxed_slice(), 1 & width_mask(width))],
            ),
        }
    }

    /// The term of a polynomial in normal form.
    fn intern_poly(&mut self, width: u32, constant: u64, terms: Vec<(Monomial, u64)>) -> TermId {
        let mask = width_mask(width);
        let mut terms: Vec<(Monomial, u64)> = terms
            .into_iter()
            .map(|(mono, c)| (mono, c & mask))
            .filter(|(_, c)| *c != 0)
            .collect();
        terms.sort_by(|a, b| a.0.cmp(&b.0));
        let constant = constant & mask;
        match terms.as_slice() {
            [] => self.int(width, constant),
            [(mono, 1)] if constant == 0 && mono.len() == 1 => mono[0],
            _ => self.intern(Node::Poly {
                width,
                constant,
                terms: terms.into_boxed_slice(),
            }),
        }
    }

    /// `a * b` on `width`-bit integers, expanded unless too large.
    fn poly_mul(&mut self, width: u32, a: TermId, b: TermId) -> TermId {
        // The common case, two atoms (a reduction's `x * y`), without
        // building and merging term lists.
        let atom = |n: &Node| !matches!(n, Node::Int { .. } | Node::Poly { .. });
        if atom(self.node(a)) && atom(self.node(b)) {
            let mono: Monomial = Box::new([a.min(b), a.max(b)]);
            return self.intern_poly(width, 0, vec![(mono, 1)]);
        }
        let (ca, ta) = self.as_poly(a, width);
        let (cb, tb) = self.as_poly(b, width);
        let size = (ta.len() + 1) * (tb.len() + 1);
        if size > MAX_POLY_TERMS {
            let (a, b) = (a.min(b), a.max(b));
            return self.intern(Node::IntOp {
                op: IntOp::Mul,
                width,
                a,
                b,
            });
        }
        let mut acc: HashMap<Monomial, u64, FxBuild> = HashMap::default();
        let mut add = |mono: Monomial, c: u64| {
            let e = acc.entry(mono).or_insert(0);
            *e = e.wrapping_add(c);
        };
        for (ma, xa) in &ta {
            add(ma.clone(), xa.wrapping_mul(cb));
            for (mb, xb) in &tb {
                let mut mono: Vec<TermId> = ma.iter().chain(mb.iter()).copied().collect();
                mono.sort();
                add(mono.into_boxed_slice(), xa.wrapping_mul(*xb));
            }
        }
        for (mb, xb) in &tb {
            add(mb.clone(), xb.wrapping_mul(ca));
        }
        let terms = acc.into_iter().collect();
        self.intern_poly(width, ca.wrapping_mul(cb), terms)
    }

    /// The normal form of `id`: the polynomial a [`Node::Sum`] chain
    /// stands for, the multiset a [`Node::FloatChain`] stands for, else
    /// `id` itself.
    pub fn canonical(&mut self, id: TermId) -> TermId {
        match *self.node(id) {
            Node::Sum { width, .. } => self.canonical_sum(id, width),
            Node::FloatChain { op, format, .. } => self.canonical_float(id, op, format),
            _ => id,
        }
    }

    /// Whether `t` is a chain of the kind `pending` accepts not yet in
    /// normal form.
    fn pending(&self, t: TermId, kind: &impl Fn(&Node) -> bool) -> bool {
        kind(self.node(t)) && !self.canonical.contains_key(&t)
    }

    /// The pending chain nodes reachable from `root` through chain
    /// operands (`links`), each once, descendants before ancestors.
    fn chain_post_order(
        &self,
        root: TermId,
        kind: &impl Fn(&Node) -> bool,
        links: impl Fn(&Node) -> [TermId; 2],
    ) -> Vec<TermId> {
        let mut order = Vec::new();
        let mut seen: HashSet<TermId, FxBuild> = HashSet::default();
        let mut stack = vec![(root, false)];
        while let Some((t, finished)) = stack.pop() {
            if finished {
                order.push(t);
                continue;
            }
            if !seen.insert(t) {
                continue;
            }
            stack.push((t, true));
            for c in links(self.node(t)) {
                if self.pending(c, kind) && !seen.contains(&c) {
                    stack.push((c, false));
                }
            }
        }
        order
    }

    /// The polynomial of a sum chain. Coefficients flow from the root to
    /// the leaves in topological order, so a partial sum used twice (a
    /// DAG, not a tree) costs once: linear in the chain's nodes.
    fn canonical_sum(&mut self, id: TermId, width: u32) -> TermId {
        if let Some(c) = self.canonical.get(&id) {
            return *c;
        }
        let is_sum = |n: &Node| matches!(n, Node::Sum { width: w, .. } if *w == width);
        let order = self.chain_post_order(id, &is_sum, |n| match n {
            Node::Sum { base, add, .. } => [*base, *add],
            _ => unreachable!("only sums are followed"),
        });
        let mask = width_mask(width);
        let mut coef: HashMap<TermId, u64, FxBuild> = HashMap::default();
        coef.insert(id, 1);
        let mut leaves: Vec<(TermId, u64)> = Vec::new();
        for &t in order.iter().rev() {
            let c = coef.get(&t).copied().unwrap_or(0);
            let Node::Sum { base, add, k, .. } = *self.node(t) else {
                continue;
            };
            for (child, m) in [(base, 1), (add, k)] {
                let cc = c.wrapping_mul(m) & mask;
                if self.pending(child, &is_sum) {
                    let e = coef.entry(child).or_insert(0);
                    *e = e.wrapping_add(cc) & mask;
                } else {
                    leaves.push((child, cc));
                }
            }
        }
        let mut constant = 0u64;
        let mut terms: HashMap<Monomial, u64, FxBuild> = HashMap::default();
        for (leaf, c) in leaves {
            let leaf = match self.node(leaf) {
                Node::Sum { .. } | Node::FloatChain { .. } => self.canonical(leaf),
                _ => leaf,
            };
            let (tc, tt) = self.as_poly(leaf, width);
            constant = constant.wrapping_add(tc.wrapping_mul(c));
            for (mono, x) in tt {
                let e = terms.entry(mono).or_insert(0);
                *e = e.wrapping_add(x.wrapping_mul(c)) & mask;
            }
        }
        let result = self.intern_poly(width, constant, terms.into_iter().collect());
        self.canonical.insert(id, result);
        result
    }

    /// The [`Node::FloatAc`] a float chain stands for: its operands
    /// (through nested chains and multisets of the same op), each in
    /// normal form, sorted. A chain node reached by two paths is put in
    /// normal form first and stays one operand (a value added twice),
    /// which keeps the work linear.
    fn canonical_float(&mut self, id: TermId, op: FloatOp, format: FloatFormat) -> TermId {
        if let Some(c) = self.canonical.get(&id) {
            return *c;
        }
        let is_chain = |n: &Node| matches!(n, Node::FloatChain { op: o, format: f, .. } if *o == op && *f == format);
        let links = |n: &Node| match n {
            Node::FloatChain { base, add, .. } => [*base, *add],
            _ => unreachable!("only chains are followed"),
        };
        let order = self.chain_post_order(id, &is_chain, links);
        let mut parents: HashMap<TermId, u32, FxBuild> = HashMap::default();
        for &t in &order {
            for c in links(self.node(t)) {
                if self.pending(c, &is_chain) {
                    *parents.entry(c).or_insert(0) += 1;
                }
            }
        }
        // Shared nodes first (descendants before ancestors), then the root.
        let shared: Vec<TermId> = order
            .iter()
            .copied()
            .filter(|t| parents.get(t).copied().unwrap_or(0) > 1)
            .collect();
        for t in shared.into_iter().chain([id]) {
            let mut args = Vec::new();
            let mut stack = vec![t];
            while let Some(x) = stack.pop() {
                match self.node(x) {
                    Node::FloatChain { base, add, .. } if x == t || self.pending(x, &is_chain) => {
                        stack.push(*base);
                        stack.push(*add);
                    }
                    Node::FloatAc {
                        op: o,
                        format: f,
                        args: xs,
                    } if *o == op && *f == format => args.extend_from_slice(xs),
                    _ => {
                        // A chain shared in this DAG stays one operand; any
                        // other normal form of the same op is flattened.
                        let c = self.canonical(x);
                        let shared = parents.get(&x).copied().unwrap_or(0) > 1;
                        match self.node(c) {
                            Node::FloatAc {
                                op: o,
                                format: f,
                                args: xs,
                            } if *o == op && *f == format && !shared => args.extend_from_slice(xs),
                            _ => args.push(c),
                        }
                    }
                }
            }
            args.sort();
            let result = if args.len() == 1 {
                args[0]
            } else {
                self.intern(Node::FloatAc {
                    op,
                    format,
                    args: args.into_boxed_slice(),
                })
            };
            self.canonical.insert(t, result);
        }
        self.canonical[&id]
    }

    /// An integer operation on two terms, not both constants.
    pub fn int_op(&mut self, op: IntOp, width: u32, a: TermId, b: TermId) -> TermId {
        if let IntOp::Add | IntOp::Sub = op {
            let k = if op == IntOp::Add {
                1
            } else {
                width_mask(width)
            };
            return self.intern(Node::Sum {
                width,
                base: a,
                add: b,
                k,
            });
        }
        let (a, b) = (self.canonical(a), self.canonical(b));
        match op {
            IntOp::Mul => self.poly_mul(width, a, b),
            IntOp::And | IntOp::Or | IntOp::Xor => {
                let (a, b) = (a.min(b), a.max(b));
                if a == b && op != IntOp::Xor {
                    return a;
                }
                self.intern(Node::IntOp { op, width, a, b })
            }
            _ => self.intern(Node::IntOp { op, width, a, b }),
        }
    }

    /// Float `+`/`*` of two terms: operands ordered, or flattened into a
    /// multiset with `fp_reassoc`.
    pub fn float_comm(&mut self, op: FloatOp, format: FloatFormat, a: TermId, b: TermId) -> TermId {
        if !self.fp_reassoc {
            let (a, b) = (a.min(b), a.max(b));
            return self.intern(Node::FloatOp { op, format, a, b });
        }
        // A chain, put in normal form when used: each addition of a
        // reduction is O(1).
        self.intern(Node::FloatChain {
            op,
            format,
            base: a,
            add: b,
        })
    }

    // -----------------------------------------------------------------
    // Printing
    // -----------------------------------------------------------------

    /// `id` as text, at most about `limit` characters (longer terms are
    /// cut with `…`).
    /// Where two terms differ: the innermost pair of differing subterms
    /// under a common context, and for polynomials and reassociated
    /// float sums the summands only one side has (`before only: ...;
    /// after only: ...`). Empty when the terms are equal.
    pub fn diff(&self, a: TermId, b: TermId, limit: usize) -> String {
        if a == b {
            return String::new();
        }
        let (na, nb) = (self.node(a), self.node(b));
        let summands = |only_a: Vec<String>, only_b: Vec<String>| {
            let list = |xs: Vec<String>| {
                if xs.is_empty() {
                    "nothing".to_string()
                } else {
                    let n = xs.len();
                    let mut shown: Vec<String> = xs.into_iter().take(4).collect();
                    if n > 4 {
                        shown.push(format!("and {} more", n - 4));
                    }
                    shown.join(", ")
                }
            };
            format!(
                "before only: {}; after only: {}",
                list(only_a),
                list(only_b)
            )
        };
        match (na, nb) {
            (
                Node::Poly {
                    width: wa,
                    constant: ca,
                    terms: ta,
                },
                Node::Poly {
                    width: wb,
                    constant: cb,
                    terms: tb,
                },
            ) if wa == wb => {
                let show = |(m, c): &(Monomial, u64)| {
                    let c = accc_interp::concrete::sext(*c, *wa);
                    let atoms: Vec<String> = m.iter().map(|x| self.show(*x, limit / 4)).collect();
                    if c == 1 {
                        atoms.join("*")
                    } else {
                        format!("{c}*{}", atoms.join("*"))
                    }
                };
                let only_a: Vec<String> = ta.iter().filter(|t| !tb.contains(t)).map(show).collect();
                let only_b: Vec<String> = tb.iter().filter(|t| !ta.contains(t)).map(show).collect();
                let constants = format!(
                    "the constant is {} before, {} after",
                    accc_interp::concrete::sext(*ca, *wa),
                    accc_interp::concrete::sext(*cb, *wb)
                );
                match (only_a.is_empty() && only_b.is_empty(), ca == cb) {
                    (true, _) => constants,
                    (false, true) => summands(only_a, only_b),
                    (false, false) => format!("{}; {constants}", summands(only_a, only_b)),
                }
            }
            (
                Node::FloatAc {
                    op: oa, args: xa, ..
                },
                Node::FloatAc {
                    op: ob, args: xb, ..
                },
            ) if oa == ob => {
                let mut rest_b: Vec<TermId> = xb.to_vec();
                let mut only_a = Vec::new();
                for x in xa.iter() {
                    match rest_b.iter().position(|y| y == x) {
                        Some(i) => {
                            rest_b.remove(i);
                        }
                        None => only_a.push(self.show(*x, limit / 4)),
                    }
                }
                let only_b = rest_b.iter().map(|x| self.show(*x, limit / 4)).collect();
                summands(only_a, only_b)
            }
            _ => {
                // One differing child under the same head: look inside it.
                let (ha, ca) = head(na);
                let (hb, cb) = head(nb);
                if ha == hb && ca.len() == cb.len() {
                    let differing: Vec<usize> =
                        (0..ca.len()).filter(|i| ca[*i] != cb[*i]).collect();
                    if let [i] = differing.as_slice() {
                        return self.diff(ca[*i], cb[*i], limit);
                    }
                }
                format!("{} against {}", self.show(a, limit), self.show(b, limit))
            }
        }
    }

    pub fn show(&self, id: TermId, limit: usize) -> String {
        let mut out = String::new();
        self.write(id, &mut out, limit);
        if out.len() > limit {
            let mut cut = limit;
            while !out.is_char_boundary(cut) {
                cut -= 1;
            }
            out.truncate(cut);
            out.push('…');
        }
        out
    }

    fn write(&self, id: TermId, out: &mut String, limit: usize) {
        if out.len() > limit {
            return;
        }
        let list = |this: &Self, out: &mut String, name: &str, xs: &[TermId]| {
            out.push_str(name);
            out.push('(');
            for (i, x) in xs.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                this.write(*x, out, limit);
            }
            out.push(')');
        };
        match self.node(id) {
            Node::Input { param, offset } => {
                let info = self.inputs.get(*param as usize);
                let name = info.map_or("arg", |i| i.name.as_str());
                out.push_str(name);
                out.push('[');
                let shape = info.map(|i| i.shape.as_slice()).unwrap_or(&[]);
                out.push_str(&unflatten(*offset as i64, shape));
                out.push(']');
            }
            Node::Int { width, bits } => {
                let v = accc_interp::concrete::sext(*bits, *width);
                let _ = write!(out, "{v}");
            }
            Node::Float { format, bits } => {
                let _ = write!(out, "{:?}(0x{bits:x})", format);
            }
            Node::Poly {
                width,
                constant,
                terms,
            } => {
                out.push('(');
                for (i, (mono, c)) in terms.iter().enumerate() {
                    if i > 0 {
                        out.push_str(" + ");
                    }
                    let c = accc_interp::concrete::sext(*c, *width);
                    if c != 1 {
                        let _ = write!(out, "{c}*");
                    }
                    for (k, atom) in mono.iter().enumerate() {
                        if k > 0 {
                            out.push('*');
                        }
                        self.write(*atom, out, limit);
                    }
                }
                if *constant != 0 {
                    let _ = write!(out, " + {}", accc_interp::concrete::sext(*constant, *width));
                }
                out.push(')');
            }
            Node::Sum {
                width,
                base,
                add,
                k,
            } => {
                out.push('(');
                self.write(*base, out, limit);
                let k = accc_interp::concrete::sext(*k, *width);
                let _ = write!(out, " {} ", if k < 0 { "-" } else { "+" });
                if k.unsigned_abs() != 1 {
                    let _ = write!(out, "{}*", k.unsigned_abs());
                }
                self.write(*add, out, limit);
                out.push(')');
            }
            Node::IntOp { op, a, b, .. } => {
                list(self, out, &format!("{op:?}").to_lowercase(), &[*a, *b])
            }
            Node::IntCompare { cmp, a, b, .. } => {
                list(self, out, &format!("cmp_{cmp:?}").to_lowercase(), &[*a, *b])
            }
            Node::Select { cond, t, f } => list(self, out, "select", &[*cond, *t, *f]),
            Node::Resize {
                a,
                from,
                to,
                signed,
            } => {
                let name = if to < from {
                    format!("trunc_i{to}")
                } else if *signed {
                    format!("sext_i{to}")
                } else {
                    format!("zext_i{to}")
                };
                list(self, out, &name, &[*a]);
            }
            Node::FloatOp { op, a, b, .. } => {
                list(self, out, &format!("{op:?}f").to_lowercase(), &[*a, *b])
            }
            Node::FloatChain { op, base, add, .. } => list(
                self,
                out,
                &format!("{op:?}f").to_lowercase(),
                &[*base, *add],
            ),
            Node::FloatAc { op, args, .. } => {
                list(self, out, &format!("{op:?}f*").to_lowercase(), args)
            }
            Node::FloatUnary { op, a, .. } => {
                list(self, out, &format!("{op:?}").to_lowercase(), &[*a])
            }
            Node::FloatCompare { cmp, a, b, .. } => list(
                self,
                out,
                &format!("cmpf_{cmp:?}").to_lowercase(),
                &[*a, *b],
            ),
            Node::IntToFloat { a, to, signed, .. } => {
                let name = format!("{}itofp_{to:?}", if *signed { "s" } else { "u" });
                list(self, out, &name.to_lowercase(), &[*a]);
            }
            Node::FloatToInt { a, to, signed, .. } => {
                let name = format!("fpto{}i_i{to}", if *signed { "s" } else { "u" });
                list(self, out, &name, &[*a]);
            }
            Node::FloatConvert { a, to, .. } => {
                list(self, out, &format!("fconv_{to:?}").to_lowercase(), &[*a])
            }
            Node::Bitcast { a, to, .. } => list(self, out, &format!("bitcast_{to:?}"), &[*a]),
        }
    }
}

/// FxHash (rotate, xor, multiply): much faster than SipHash on the small
/// keys terms are, and no denial-of-service concern applies here.
#[derive(Clone, Copy, Debug, Default)]
pub struct FxBuild;

#[derive(Clone, Copy, Debug, Default)]
pub struct FxHasher(u64);

const FX_SEED: u64 = 0x517c_c1b7_2722_0a95;

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(FX_SEED);
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl std::hash::BuildHasher for FxBuild {
    type Hasher = FxHasher;
    fn build_hasher(&self) -> FxHasher {
        FxHasher::default()
    }
}

/// `offset` as a row-major index of `shape`, `i, j, ...`.
pub fn unflatten(offset: i64, shape: &[i64]) -> String {
    if shape.is_empty() {
        return if offset == 0 {
            String::new()
        } else {
            offset.to_string()
        };
    }
    let mut rest = offset;
    let mut index = vec![0; shape.len()];
    for (d, size) in shape.iter().enumerate().rev() {
        let size = (*size).max(1);
        index[d] = rest % size;
        rest /= size;
    }
    index
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A node with its child terms taken out (replaced by id 0), and the
/// children in order: two nodes with equal heads differ only in their
/// children.
fn head(node: &Node) -> (Node, Vec<TermId>) {
    let z = TermId(0);
    let mut n = node.clone();
    let children = match &mut n {
        Node::Input { .. } | Node::Int { .. } | Node::Float { .. } | Node::Poly { .. } => vec![],
        Node::FloatAc { args, .. } => {
            let out = args.to_vec();
            *args = Box::new([]);
            out
        }
        Node::Sum { base, add, .. } | Node::FloatChain { base, add, .. } => {
            vec![std::mem::replace(base, z), std::mem::replace(add, z)]
        }
        Node::IntOp { a, b, .. }
        | Node::IntCompare { a, b, .. }
        | Node::FloatOp { a, b, .. }
        | Node::FloatCompare { a, b, .. } => {
            vec![std::mem::replace(a, z), std::mem::replace(b, z)]
        }
        Node::Select { cond, t, f } => vec![
            std::mem::replace(cond, z),
            std::mem::replace(t, z),
            std::mem::replace(f, z),
        ],
        Node::Resize { a, .. }
        | Node::FloatUnary { a, .. }
        | Node::IntToFloat { a, .. }
        | Node::FloatToInt { a, .. }
        | Node::FloatConvert { a, .. }
        | Node::Bitcast { a, .. } => vec![std::mem::replace(a, z)],
    };
    (n, children)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn atoms(s: &mut TermStore) -> (TermId, TermId, TermId) {
        let a = s.intern(Node::Input {
            param: 0,
            offset: 0,
        });
        let b = s.intern(Node::Input {
            param: 0,
            offset: 1,
        });
        let c = s.intern(Node::Input {
            param: 0,
            offset: 2,
        });
        (a, b, c)
    }

    #[test]
    fn integer_sums_meet_in_any_order_and_grouping() {
        let mut s = TermStore::new(false);
        let (a, b, c) = atoms(&mut s);
        let ab = s.int_op(IntOp::Add, 32, a, b);
        let left = s.int_op(IntOp::Add, 32, ab, c);
        let bc = s.int_op(IntOp::Add, 32, c, b);
        let right = s.int_op(IntOp::Add, 32, bc, a);
        assert_ne!(left, right, "sums in progress are chains");
        assert_eq!(s.canonical(left), s.canonical(right));
        // a * (b + c) == a*c + b*a
        let prod = s.int_op(IntOp::Mul, 32, a, bc);
        let ac = s.int_op(IntOp::Mul, 32, a, c);
        let ba = s.int_op(IntOp::Mul, 32, b, a);
        let sum = s.int_op(IntOp::Add, 32, ac, ba);
        assert_eq!(prod, s.canonical(sum));
    }

    #[test]
    fn cancellation_and_wraparound_coefficients() {
        let mut s = TermStore::new(false);
        let (a, b, _) = atoms(&mut s);
        let ab = s.int_op(IntOp::Add, 8, a, b);
        let back = s.int_op(IntOp::Sub, 8, ab, b);
        assert_eq!(s.canonical(back), a);
        // 128*a + 128*a == 0 on 8 bits.
        let k = s.int(8, 128);
        let ka = s.int_op(IntOp::Mul, 8, k, a);
        let twice = s.int_op(IntOp::Add, 8, ka, ka);
        assert_eq!(s.canonical(twice), s.int(8, 0));
    }

    #[test]
    fn float_sums_commute_but_do_not_reassociate() {
        let mut s = TermStore::new(false);
        let (a, b, c) = atoms(&mut s);
        let f = FloatFormat::F32;
        let ab = s.float_comm(FloatOp::Add, f, a, b);
        let ba = s.float_comm(FloatOp::Add, f, b, a);
        assert_eq!(ab, ba);
        let left = s.float_comm(FloatOp::Add, f, ab, c);
        let bc = s.float_comm(FloatOp::Add, f, b, c);
        let right = s.float_comm(FloatOp::Add, f, a, bc);
        assert_ne!(left, right);

        let mut r = TermStore::new(true);
        let (a, b, c) = atoms(&mut r);
        let ab = r.float_comm(FloatOp::Add, f, a, b);
        let left = r.float_comm(FloatOp::Add, f, ab, c);
        let bc = r.float_comm(FloatOp::Add, f, b, c);
        let right = r.float_comm(FloatOp::Add, f, a, bc);
        assert_eq!(r.canonical(left), r.canonical(right));
    }

    #[test]
    fn terms_print_with_input_names_and_indices() {
        let mut s = TermStore::new(false);
        s.inputs.push(InputInfo {
            name: "A".into(),
            shape: vec![2, 3],
            ty: ScalarType::Int(32),
        });
        let (a, b, _) = atoms(&mut s);
        let three = s.int(32, 3);
        let tb = s.int_op(IntOp::Mul, 32, three, b);
        let sum = s.int_op(IntOp::Add, 32, a, tb);
        assert_eq!(s.show(sum, 100), "(A[0, 0] + (3*A[0, 1]))");
        let sum = s.canonical(sum);
        assert_eq!(s.show(sum, 100), "(A[0, 0] + 3*A[0, 1])");
        assert_eq!(s.show(sum, 5), "(A[0,…");
    }
}

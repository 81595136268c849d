//! Concrete witnesses: evaluating terms on concrete inputs.
//!
//! Two different terms are two different expressions, which almost always
//! means two different functions, but not always (an identity the normal
//! form does not know). Before the verifier says *not equivalent* it looks
//! for inputs on which the two terms evaluate to different bits, with the
//! interpreter's concrete domain; the inputs are pseudo-random per seed
//! (integers over their whole range, floats in [-2, 2)).

use std::collections::HashMap;

use accc_interp::concrete::Concrete;
use accc_ir::dialects::arith::width_mask;
use accc_ir::semantics::{round_f64_to_format, Domain, Fault, ScalarType};

use crate::term::{FxBuild, Node, TermId, TermStore};

/// SplitMix64: the value of input number `key` under `seed`.
fn mix(seed: u64, key: u64) -> u64 {
    let mut z = seed
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(key)
        .wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce5_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A pseudo-random value of type `ty` from the random bits `r`, drawn
/// from one of four distributions by `seed`: the whole range (floats in
/// [-2, 2)), non-positive values, small non-negative values, and sparse
/// ones (1 with probability 1/8, else 0). Differences that only show on
/// some inputs (a maximum seeded with 0 instead of -inf, a sign or zero
/// extension) show on one of them.
fn value_of(ty: ScalarType, r: u64, seed: u64) -> u64 {
    let unit = (r >> 11) as f64 / (1u64 << 53) as f64;
    let (x, i): (f64, i64) = match seed % 4 {
        0 => (unit * 4.0 - 2.0, r as i64),
        1 => (-unit * 2.0, -((r % 9) as i64)),
        2 => (unit * 2.0, (r % 9) as i64),
        _ => {
            let one = r & 7 == 0;
            (f64::from(u8::from(one)), i64::from(one))
        }
    };
    match ty {
        ScalarType::Int(w) => (i as u64) & width_mask(w),
        ScalarType::Float(f) => round_f64_to_format(x, f),
    }
}

/// The operands of a node.
fn children(node: &Node) -> Vec<TermId> {
    match node {
        Node::Input { .. } | Node::Int { .. } | Node::Float { .. } => vec![],
        Node::Poly { terms, .. } => terms.iter().flat_map(|(m, _)| m.iter().copied()).collect(),
        Node::Sum { base, add, .. } | Node::FloatChain { base, add, .. } => vec![*base, *add],
        Node::IntOp { a, b, .. }
        | Node::IntCompare { a, b, .. }
        | Node::FloatOp { a, b, .. }
        | Node::FloatCompare { a, b, .. } => vec![*a, *b],
        Node::Select { cond, t, f } => vec![*cond, *t, *f],
        Node::FloatAc { args, .. } => args.to_vec(),
        Node::Resize { a, .. }
        | Node::FloatUnary { a, .. }
        | Node::IntToFloat { a, .. }
        | Node::FloatToInt { a, .. }
        | Node::FloatConvert { a, .. }
        | Node::Bitcast { a, .. } => vec![*a],
    }
}

/// The bits of `roots` on the inputs of `seed`; `Err` if evaluating them
/// faults (a division by zero on these inputs).
pub fn evaluate(store: &TermStore, roots: &[TermId], seed: u64) -> Result<Vec<u64>, Fault> {
    let mut values: HashMap<TermId, u64, FxBuild> = HashMap::default();
    let mut d = Concrete;
    for &root in roots {
        // Post-order without recursion: sums of long reductions are deep.
        let mut stack = vec![(root, false)];
        while let Some((id, ready)) = stack.pop() {
            if values.contains_key(&id) {
                continue;
            }
            let node = store.node(id);
            if !ready {
                stack.push((id, true));
                for c in children(node) {
                    if !values.contains_key(&c) {
                        stack.push((c, false));
                    }
                }
                continue;
            }
            let v = |t: &TermId| values[t];
            let bits = match node {
                Node::Input { param, offset } => {
                    let ty = store
                        .inputs
                        .get(*param as usize)
                        .map_or(ScalarType::Int(64), |i| i.ty);
                    let key = (u64::from(*param) << 32) | u64::from(*offset);
                    value_of(ty, mix(seed, key), seed)
                }
                Node::Int { bits, .. } | Node::Float { bits, .. } => *bits,
                Node::Poly {
                    width,
                    constant,
                    terms,
                } => {
                    let mut acc = *constant;
                    for (mono, c) in terms.iter() {
                        let product = mono.iter().fold(*c, |p, atom| p.wrapping_mul(v(atom)));
                        acc = acc.wrapping_add(product);
                    }
                    acc & width_mask(*width)
                }
                Node::Sum {
                    width,
                    base,
                    add,
                    k,
                } => v(base).wrapping_add(v(add).wrapping_mul(*k)) & width_mask(*width),
                Node::IntOp { op, width, a, b } => d.int_op(*op, *width, &v(a), &v(b))?,
                Node::IntCompare { cmp, width, a, b } => d.int_compare(*cmp, *width, &v(a), &v(b)),
                Node::Select { cond, t, f } => d.select(&v(cond), &v(t), &v(f)),
                Node::Resize {
                    a,
                    from,
                    to,
                    signed,
                } => d.int_resize(&v(a), *from, *to, *signed),
                Node::FloatOp { op, format, a, b } => d.float_op(*op, *format, &v(a), &v(b)),
                Node::FloatChain {
                    op,
                    format,
                    base,
                    add,
                } => d.float_op(*op, *format, &v(base), &v(add)),
                Node::FloatAc { op, format, args } => {
                    let mut it = args.iter();
                    let first = it.next().map(v).unwrap_or(0);
                    it.fold(first, |acc, x| d.float_op(*op, *format, &acc, &v(x)))
                }
                Node::FloatUnary { op, format, a } => d.float_unary(*op, *format, &v(a)),
                Node::FloatCompare { cmp, format, a, b } => {
                    d.float_compare(*cmp, *format, &v(a), &v(b))
                }
                Node::IntToFloat {
                    a,
                    from,
                    signed,
                    to,
                } => d.int_to_float(&v(a), *from, *signed, *to),
                Node::FloatToInt {
                    a,
                    from,
                    to,
                    signed,
                } => d.float_to_int(&v(a), *from, *to, *signed),
                Node::FloatConvert { a, from, to } => d.float_convert(&v(a), *from, *to),
                Node::Bitcast { a, from, to } => d.bitcast(&v(a), *from, *to),
            };
            values.insert(id, bits);
        }
    }
    Ok(roots.iter().map(|r| values[r]).collect())
}

/// The first of `seeds` on which `a` and `b` (values of type `ty`)
/// evaluate differently, with both values. Two NaNs are equal: their
/// payloads and signs are not specified (`docs/semantics.md`). Floats
/// within `tolerance` (relative, at least 1 in magnitude) are equal too:
/// reassociated sums (`fp_reassoc`) differ by rounding.
pub fn find(
    store: &TermStore,
    a: TermId,
    b: TermId,
    ty: ScalarType,
    tolerance: f64,
    seeds: u64,
) -> Option<(u64, u64, u64)> {
    let same = |x: u64, y: u64| {
        if x == y {
            return true;
        }
        let ScalarType::Float(f) = ty else {
            return false;
        };
        let (u, v) = (
            accc_ir::semantics::format_to_f64(x, f),
            accc_ir::semantics::format_to_f64(y, f),
        );
        (u.is_nan() && v.is_nan())
            || (tolerance > 0.0 && (u - v).abs() <= tolerance * u.abs().max(v.abs()).max(1.0))
    };
    (0..seeds).find_map(|seed| match evaluate(store, &[a, b], seed) {
        Ok(v) if !same(v[0], v[1]) => Some((seed, v[0], v[1])),
        _ => None,
    })
}

/// `bits` of type `ty` as a number.
pub fn show_value(ty: ScalarType, bits: u64) -> String {
    match ty {
        ScalarType::Int(w) => accc_interp::concrete::sext(bits, w).to_string(),
        ScalarType::Float(f) => format!("{}", accc_ir::semantics::format_to_f64(bits, f)),
    }
}

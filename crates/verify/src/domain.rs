//! The symbolic domain: a value is a [`TermId`]. Operations whose operands
//! are all constants fold with the interpreter's concrete domain (one
//! meaning of every primitive), so index arithmetic and loop bounds stay
//! concrete; the others build terms in normal form ([`TermStore`]).

use accc_interp::concrete::Concrete;
use accc_ir::semantics::{
    Domain, Fault, FloatCompare, FloatFormat, FloatOp, FloatUnary, IntCompare, IntOp, ScalarType,
};

use std::collections::HashSet;

use crate::term::{FxBuild, Node, TermId, TermStore};

/// [`Domain`] over the terms of a store.
pub struct Symbolic<'s> {
    pub store: &'s mut TermStore,
    /// Primitive operations applied (the verifier's op count).
    pub ops: u64,
    /// Every divisor that is not a constant (in normal form): a division
    /// faults when its divisor is 0, so a rewrite may only divide by what
    /// the original divides by.
    pub divisors: HashSet<TermId, FxBuild>,
}

impl Symbolic<'_> {
    fn float(&mut self, format: FloatFormat, bits: u64) -> TermId {
        self.store.intern(Node::Float { format, bits })
    }

    fn c(&self, v: &TermId) -> Option<u64> {
        self.store.constant(*v)
    }

    /// The normal form of an operand (sums in progress become polynomials).
    fn canon(&mut self, v: &TermId) -> TermId {
        self.store.canonical(*v)
    }
}

impl Domain for Symbolic<'_> {
    type Value = TermId;

    fn int_const(&mut self, width: u32, bits: u64) -> TermId {
        self.store.int(width, bits)
    }

    fn float_const(&mut self, format: FloatFormat, bits: u64) -> TermId {
        self.float(format, bits)
    }

    fn int_op(&mut self, op: IntOp, width: u32, a: &TermId, b: &TermId) -> Result<TermId, Fault> {
        self.ops += 1;
        // A sum in progress stays a chain; every other operation sees its
        // operands in normal form (where `x - x + 4` is the constant 4).
        let (a, b) = match op {
            IntOp::Add | IntOp::Sub => (*a, *b),
            _ => (self.canon(a), self.canon(b)),
        };
        if let (Some(x), Some(y)) = (self.c(&a), self.c(&b)) {
            let bits = Concrete.int_op(op, width, &x, &y)?;
            return Ok(self.store.int(width, bits));
        }
        if let IntOp::DivS | IntOp::DivU | IntOp::RemS | IntOp::RemU = op {
            match self.c(&b) {
                Some(0) => return Err(Fault::DivisionByZero),
                Some(_) => {}
                None => {
                    self.divisors.insert(b);
                }
            }
        }
        Ok(self.store.int_op(op, width, a, b))
    }

    fn int_compare(&mut self, cmp: IntCompare, width: u32, a: &TermId, b: &TermId) -> TermId {
        self.ops += 1;
        let (a, b) = (&self.canon(a), &self.canon(b));
        if let (Some(x), Some(y)) = (self.c(a), self.c(b)) {
            let bits = Concrete.int_compare(cmp, width, &x, &y);
            return self.store.int(1, bits);
        }
        if a == b {
            let holds = matches!(cmp, IntCompare::Eq | IntCompare::Sle | IntCompare::Ule);
            return self.store.int(1, u64::from(holds));
        }
        let (a, b) = match cmp {
            IntCompare::Eq | IntCompare::Ne => ((*a).min(*b), (*a).max(*b)),
            _ => (*a, *b),
        };
        self.store.intern(Node::IntCompare { cmp, width, a, b })
    }

    fn select(&mut self, cond: &TermId, t: &TermId, f: &TermId) -> TermId {
        self.ops += 1;
        let (cond, t, f) = (&self.canon(cond), &self.canon(t), &self.canon(f));
        if let Some(c) = self.c(cond) {
            return if c & 1 == 1 { *t } else { *f };
        }
        if t == f {
            return *t;
        }
        self.store.intern(Node::Select {
            cond: *cond,
            t: *t,
            f: *f,
        })
    }

    fn int_resize(&mut self, a: &TermId, from: u32, to: u32, signed: bool) -> TermId {
        self.ops += 1;
        let a = &self.canon(a);
        if let Some(x) = self.c(a) {
            let bits = Concrete.int_resize(&x, from, to, signed);
            return self.store.int(to, bits);
        }
        if from == to {
            return *a;
        }
        // Truncating an extension back to its source width is the source.
        if let Node::Resize {
            a: inner,
            from: inner_from,
            to: inner_to,
            ..
        } = *self.store.node(*a)
        {
            if inner_to == from && to == inner_from && to < from {
                return inner;
            }
        }
        self.store.intern(Node::Resize {
            a: *a,
            from,
            to,
            signed,
        })
    }

    fn float_op(&mut self, op: FloatOp, format: FloatFormat, a: &TermId, b: &TermId) -> TermId {
        self.ops += 1;
        if let (Some(x), Some(y)) = (self.c(a), self.c(b)) {
            let bits = Concrete.float_op(op, format, &x, &y);
            return self.float(format, bits);
        }
        match op {
            FloatOp::Add | FloatOp::Mul => self.store.float_comm(op, format, *a, *b),
            _ => {
                let (a, b) = (self.canon(a), self.canon(b));
                self.store.intern(Node::FloatOp { op, format, a, b })
            }
        }
    }

    fn float_unary(&mut self, op: FloatUnary, format: FloatFormat, a: &TermId) -> TermId {
        self.ops += 1;
        let a = &self.canon(a);
        if let Some(x) = self.c(a) {
            let bits = Concrete.float_unary(op, format, &x);
            return self.float(format, bits);
        }
        self.store.intern(Node::FloatUnary { op, format, a: *a })
    }

    fn float_compare(
        &mut self,
        cmp: FloatCompare,
        format: FloatFormat,
        a: &TermId,
        b: &TermId,
    ) -> TermId {
        self.ops += 1;
        let (a, b) = (&self.canon(a), &self.canon(b));
        if let (Some(x), Some(y)) = (self.c(a), self.c(b)) {
            let bits = Concrete.float_compare(cmp, format, &x, &y);
            return self.store.int(1, bits);
        }
        let (a, b) = match cmp {
            FloatCompare::Eq | FloatCompare::Unordered => ((*a).min(*b), (*a).max(*b)),
            _ => (*a, *b),
        };
        self.store.intern(Node::FloatCompare { cmp, format, a, b })
    }

    fn int_to_float(&mut self, a: &TermId, from: u32, signed: bool, to: FloatFormat) -> TermId {
        self.ops += 1;
        let a = &self.canon(a);
        if let Some(x) = self.c(a) {
            let bits = Concrete.int_to_float(&x, from, signed, to);
            return self.float(to, bits);
        }
        self.store.intern(Node::IntToFloat {
            a: *a,
            from,
            signed,
            to,
        })
    }

    fn float_to_int(&mut self, a: &TermId, from: FloatFormat, to: u32, signed: bool) -> TermId {
        self.ops += 1;
        let a = &self.canon(a);
        if let Some(x) = self.c(a) {
            let bits = Concrete.float_to_int(&x, from, to, signed);
            return self.store.int(to, bits);
        }
        self.store.intern(Node::FloatToInt {
            a: *a,
            from,
            to,
            signed,
        })
    }

    fn float_convert(&mut self, a: &TermId, from: FloatFormat, to: FloatFormat) -> TermId {
        self.ops += 1;
        let a = &self.canon(a);
        if let Some(x) = self.c(a) {
            let bits = Concrete.float_convert(&x, from, to);
            return self.float(to, bits);
        }
        if from == to {
            return *a;
        }
        self.store.intern(Node::FloatConvert { a: *a, from, to })
    }

    fn bitcast(&mut self, a: &TermId, from: ScalarType, to: ScalarType) -> TermId {
        self.ops += 1;
        let a = &self.canon(a);
        if let Some(x) = self.c(a) {
            return match to {
                ScalarType::Int(w) => self.store.int(w, x),
                ScalarType::Float(f) => self.float(f, x),
            };
        }
        if from == to {
            return *a;
        }
        if let Node::Bitcast {
            a: inner, from: f0, ..
        } = *self.store.node(*a)
        {
            if f0 == to {
                return inner;
            }
        }
        self.store.intern(Node::Bitcast { a: *a, from, to })
    }
}

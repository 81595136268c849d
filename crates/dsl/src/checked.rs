//! The checked program: what [`crate::check`] produces and what the lowering
//! to IR consumes.
//!
//! Guarantees, for every value of these types built by the checker:
//! - every name is resolved to an id (`ParamId`, `LocalId`, `LoopVarId`,
//!   `KernelId`) that indexes the owning [`Kernel`]'s (or the [`Program`]'s)
//!   vectors; constants are folded away into integer literals;
//! - every shape is concrete (`Vec<i64>`, every size >= 1);
//! - every expression carries its [`Ty`]; the operands of a binary operator,
//!   `min`, `max` and `select`'s branches have the same type; an assigned
//!   value has the element type of its target; a call argument matches its
//!   parameter's element type and shape;
//! - every tensor index and every loop bound is an [`Affine`] form over loop
//!   variables of enclosing loops only;
//! - no kernel calls itself, directly or indirectly.
//!
//! The structure maps one to one onto MLIR's func/affine/arith/math/memref:
//! a [`Kernel`] is a `func.func` whose tensor parameters are memrefs (inputs
//! then outputs) and scalar parameters plain values; a [`Loop`] is an
//! `affine.for` with step 1; a [`Stmt::Let`] of a tensor is a `memref.alloc`,
//! of a scalar a rank-0 `memref.alloca` plus a store; loads and stores are
//! `affine.load`/`affine.store` with the [`Affine`] indices; a
//! [`Stmt::Call`] is a `func.call`.

use crate::ast::ser_span;
use crate::ast::{AssignOp, BinOp, ElemType, ScheduleStep};
use accc_ir::diag::Span;
use serde::Serialize;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        pub struct $name(pub u32);
        impl $name {
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

id_type!(
    /// Index into [`Program::kernels`].
    KernelId
);
id_type!(
    /// Index into [`Kernel::params`] (inputs first, then outputs).
    ParamId
);
id_type!(
    /// Index into [`Kernel::locals`].
    LocalId
);
id_type!(
    /// Index into [`Kernel::loop_vars`]. Unique per kernel: two loops never
    /// share an id even if they share a name. An inner loop's id is always
    /// larger than the ids of the loops around it.
    LoopVarId
);

#[derive(Clone, Debug, Serialize)]
pub struct Program {
    pub consts: Vec<Const>,
    pub kernels: Vec<Kernel>,
    pub schedules: Vec<Schedule>,
}

impl Program {
    pub fn kernel(&self, name: &str) -> Option<(KernelId, &Kernel)> {
        self.kernels
            .iter()
            .enumerate()
            .find(|(_, k)| k.name == name)
            .map(|(i, k)| (KernelId(i as u32), k))
    }
}

/// `const NAME = value;`, evaluated.
#[derive(Clone, Debug, Serialize)]
pub struct Const {
    pub name: String,
    pub value: i64,
    #[serde(serialize_with = "ser_span")]
    pub span: Span,
}

#[derive(Clone, Debug, Serialize)]
pub struct Kernel {
    pub name: String,
    #[serde(serialize_with = "ser_span")]
    pub span: Span,
    /// Inputs in declaration order, then outputs in declaration order.
    pub params: Vec<Param>,
    pub locals: Vec<Local>,
    pub loop_vars: Vec<LoopVar>,
    pub body: Vec<Stmt>,
    /// Kernels this one calls directly, without repetition, in first-call order.
    pub callees: Vec<KernelId>,
}

impl Kernel {
    pub fn inputs(&self) -> impl Iterator<Item = (ParamId, &Param)> {
        self.params
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.is_output)
            .map(|(i, p)| (ParamId(i as u32), p))
    }
    pub fn outputs(&self) -> impl Iterator<Item = (ParamId, &Param)> {
        self.params
            .iter()
            .enumerate()
            .filter(|(_, p)| p.is_output)
            .map(|(i, p)| (ParamId(i as u32), p))
    }
    pub fn param(&self, id: ParamId) -> Option<&Param> {
        self.params.get(id.index())
    }
    pub fn local(&self, id: LocalId) -> Option<&Local> {
        self.locals.get(id.index())
    }
    pub fn loop_var(&self, id: LoopVarId) -> Option<&LoopVar> {
        self.loop_vars.get(id.index())
    }
    /// Element type and shape of a tensor (or scalar) reference.
    pub fn tensor(&self, tensor: TensorRef) -> Option<(&str, ElemType, &Shape)> {
        match tensor {
            TensorRef::Param(p) => self.param(p).map(|p| (p.name.as_str(), p.elem, &p.shape)),
            TensorRef::Local(l) => self.local(l).map(|l| (l.name.as_str(), l.elem, &l.shape)),
        }
    }
}

/// A scalar or a tensor with a concrete shape (row-major, every size >= 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Shape {
    Scalar,
    Tensor(Vec<i64>),
}

impl Shape {
    pub fn dims(&self) -> Option<&[i64]> {
        match self {
            Shape::Scalar => None,
            Shape::Tensor(d) => Some(d),
        }
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shape::Scalar => f.write_str("scalar"),
            Shape::Tensor(d) => {
                let dims: Vec<String> = d.iter().map(|x| x.to_string()).collect();
                write!(f, "[{}]", dims.join(", "))
            }
        }
    }
}

/// A kernel parameter. Outputs are always tensors.
#[derive(Clone, Debug, Serialize)]
pub struct Param {
    pub name: String,
    #[serde(serialize_with = "ser_span")]
    pub span: Span,
    pub elem: ElemType,
    pub shape: Shape,
    pub is_output: bool,
}

/// A `let`: a local tensor (no initial value) or a mutable local scalar.
#[derive(Clone, Debug, Serialize)]
pub struct Local {
    pub name: String,
    #[serde(serialize_with = "ser_span")]
    pub span: Span,
    pub elem: ElemType,
    pub shape: Shape,
}

/// A loop variable. Its name is the loop's name for schedules (`k`, then
/// `k.o`/`k.i` after a split).
#[derive(Clone, Debug, Serialize)]
pub struct LoopVar {
    pub name: String,
    #[serde(serialize_with = "ser_span")]
    pub span: Span,
}

#[derive(Clone, Debug, Serialize)]
pub enum Stmt {
    Loop(Loop),
    /// Declares `local` here. A tensor local has no `init`; a scalar local
    /// always has one, of its element type.
    Let {
        local: LocalId,
        init: Option<Expr>,
        #[serde(serialize_with = "ser_span")]
        span: Span,
    },
    /// `target op= value`; `value.ty` is the target's element type.
    Assign {
        target: Place,
        op: AssignOp,
        value: Expr,
        #[serde(serialize_with = "ser_span")]
        span: Span,
    },
    /// Calls another kernel; `args` line up with the callee's `params`.
    Call {
        callee: KernelId,
        args: Vec<CallArg>,
        #[serde(serialize_with = "ser_span")]
        span: Span,
    },
}

/// `for var in lo..hi` with step 1. A `grid(E1, E2)` loop is two nested
/// `Loop`s, outermost first, each from 0.
#[derive(Clone, Debug, Serialize)]
pub struct Loop {
    pub var: LoopVarId,
    pub lo: Affine,
    pub hi: Affine,
    pub body: Vec<Stmt>,
    /// The whole `for` statement.
    #[serde(serialize_with = "ser_span")]
    pub span: Span,
}

/// Where an assignment writes.
#[derive(Clone, Debug, Serialize)]
pub enum Place {
    /// One element of an output parameter or a local tensor.
    Element {
        tensor: TensorRef,
        indices: Vec<Affine>,
    },
    /// A scalar local.
    Scalar(LocalId),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum TensorRef {
    Param(ParamId),
    Local(LocalId),
}

#[derive(Clone, Debug, Serialize)]
pub enum CallArg {
    Tensor(TensorRef),
    Scalar(Expr),
}

/// The type of an expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Ty {
    Elem(ElemType),
    /// A loop variable or arithmetic on loop variables (MLIR `index`).
    Index,
    /// A comparison result (MLIR `i1`); only `select`'s condition.
    Bool,
}

impl std::fmt::Display for Ty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ty::Elem(e) => f.write_str(e.name()),
            Ty::Index => f.write_str("index"),
            Ty::Bool => f.write_str("bool"),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Expr {
    pub kind: ExprKind,
    pub ty: Ty,
    #[serde(serialize_with = "ser_span")]
    pub span: Span,
}

#[derive(Clone, Debug, Serialize)]
pub enum ExprKind {
    /// An integer constant of type `ty` (an integer element type or index);
    /// fits `ty`.
    Int(i64),
    /// A float constant of float type `ty` (may be infinite: `inf`).
    Float(f64),
    ScalarParam(ParamId),
    ScalarLocal(LocalId),
    /// Type `index`.
    LoopVar(LoopVarId),
    /// Reads one element; `indices.len()` is the tensor's rank.
    Load {
        tensor: TensorRef,
        indices: Vec<Affine>,
    },
    /// Negation of a signed integer, float or index.
    Neg(Box<Expr>),
    /// Both operands have the same type; `ty` is that type, or `Bool` for a
    /// comparison. Integer `/` and `%` truncate toward zero (as in C) and
    /// follow the signedness of the type.
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    Intrinsic {
        func: Intrinsic,
        args: Vec<Expr>,
    },
    /// Converts `operand` (an element type or index) to `ty`.
    Cast(Box<Expr>),
}

/// The built-in functions. Argument rules are in docs/language.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Intrinsic {
    Min,
    Max,
    Abs,
    Exp,
    Log,
    Sqrt,
    Rsqrt,
    Tanh,
    /// `max(x, 0)`.
    Relu,
    /// Round half to even.
    Round,
    /// `select(cond, a, b)`.
    Select,
}

impl Intrinsic {
    pub const ALL: [Intrinsic; 11] = [
        Intrinsic::Min,
        Intrinsic::Max,
        Intrinsic::Abs,
        Intrinsic::Exp,
        Intrinsic::Log,
        Intrinsic::Sqrt,
        Intrinsic::Rsqrt,
        Intrinsic::Tanh,
        Intrinsic::Relu,
        Intrinsic::Round,
        Intrinsic::Select,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Intrinsic::Min => "min",
            Intrinsic::Max => "max",
            Intrinsic::Abs => "abs",
            Intrinsic::Exp => "exp",
            Intrinsic::Log => "log",
            Intrinsic::Sqrt => "sqrt",
            Intrinsic::Rsqrt => "rsqrt",
            Intrinsic::Tanh => "tanh",
            Intrinsic::Relu => "relu",
            Intrinsic::Round => "round",
            Intrinsic::Select => "select",
        }
    }

    pub fn from_name(name: &str) -> Option<Intrinsic> {
        Intrinsic::ALL.into_iter().find(|i| i.name() == name)
    }

    pub fn arity(self) -> usize {
        match self {
            Intrinsic::Min | Intrinsic::Max => 2,
            Intrinsic::Select => 3,
            _ => 1,
        }
    }

    /// Only defined on floats.
    pub fn needs_float(self) -> bool {
        matches!(
            self,
            Intrinsic::Exp
                | Intrinsic::Log
                | Intrinsic::Sqrt
                | Intrinsic::Rsqrt
                | Intrinsic::Tanh
                | Intrinsic::Round
        )
    }
}

/// An affine form `constant + Σ coeff·var` over loop variables.
///
/// Canonical: `terms` is sorted by variable id, with no zero coefficient
/// and no repeated variable, so two equal forms compare equal.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Affine {
    pub constant: i64,
    pub terms: Vec<(LoopVarId, i64)>,
}

impl Affine {
    pub fn constant(value: i64) -> Affine {
        Affine {
            constant: value,
            terms: Vec::new(),
        }
    }

    pub fn var(var: LoopVarId) -> Affine {
        Affine {
            constant: 0,
            terms: vec![(var, 1)],
        }
    }

    /// The value when there are no loop variables.
    pub fn as_constant(&self) -> Option<i64> {
        self.terms.is_empty().then_some(self.constant)
    }

    pub fn coeff(&self, var: LoopVarId) -> i64 {
        self.terms
            .iter()
            .find(|(v, _)| *v == var)
            .map_or(0, |(_, c)| *c)
    }

    /// `self + factor * other`, or `None` on overflow.
    pub fn add_scaled(&self, other: &Affine, factor: i64) -> Option<Affine> {
        let constant = self
            .constant
            .checked_add(other.constant.checked_mul(factor)?)?;
        let mut terms = self.terms.clone();
        for &(var, coeff) in &other.terms {
            let add = coeff.checked_mul(factor)?;
            match terms.iter_mut().find(|(v, _)| *v == var) {
                Some((_, c)) => *c = c.checked_add(add)?,
                None => terms.push((var, add)),
            }
        }
        terms.retain(|(_, c)| *c != 0);
        terms.sort_by_key(|(v, _)| *v);
        Some(Affine { constant, terms })
    }

    /// `factor * self`, or `None` on overflow.
    pub fn scale(&self, factor: i64) -> Option<Affine> {
        Affine::constant(0).add_scaled(self, factor)
    }
}

/// A `schedule` block whose kernel exists. The steps are kept as written;
/// the schedule applier checks and applies them.
#[derive(Clone, Debug, Serialize)]
pub struct Schedule {
    pub name: String,
    pub kernel: KernelId,
    pub steps: Vec<ScheduleStep>,
    #[serde(serialize_with = "ser_span")]
    pub span: Span,
}

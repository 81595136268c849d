//! The syntax tree of an `.acc` file, exactly as written.
//!
//! Produced by [`crate::parse`], consumed by [`crate::check`]. Nothing here is
//! resolved or typed yet: names are strings, dimensions are unevaluated
//! expressions. Every node carries the [`Span`] of the text it came from, so
//! any later stage can point at it. The tree derives `serde::Serialize` (the
//! driver prints it with `--emit ast`); a span serializes as `[start, end]`
//! byte offsets.

use accc_ir::diag::Span;
use serde::{Serialize, Serializer};

/// Serializes a [`Span`] (which lives in `accc-ir` and is not `Serialize`) as
/// `[start, end]`.
pub(crate) fn ser_span<S: Serializer>(span: &Span, serializer: S) -> Result<S::Ok, S::Error> {
    [span.start, span.end].serialize(serializer)
}

/// A whole file: its items in source order.
#[derive(Clone, Debug, Serialize)]
pub struct Program {
    pub items: Vec<Item>,
}

#[derive(Clone, Debug, Serialize)]
pub enum Item {
    Const(ConstDecl),
    Kernel(KernelDecl),
    Schedule(ScheduleDecl),
}

/// A name as written, with where it was written.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Ident {
    pub name: String,
    #[serde(serialize_with = "ser_span")]
    pub span: Span,
}

/// `const NAME = expr;`
#[derive(Clone, Debug, Serialize)]
pub struct ConstDecl {
    pub name: Ident,
    pub value: Expr,
    #[serde(serialize_with = "ser_span")]
    pub span: Span,
}

/// `kernel NAME(params) -> (outputs) { body }`
#[derive(Clone, Debug, Serialize)]
pub struct KernelDecl {
    pub name: Ident,
    pub params: Vec<Param>,
    /// Empty when the `-> (...)` list is missing or empty (the checker rejects both).
    pub outputs: Vec<Param>,
    pub body: Block,
    /// From `kernel` to the end of the parameter/output list: where
    /// diagnostics about the signature point.
    #[serde(serialize_with = "ser_span")]
    pub signature_span: Span,
    #[serde(serialize_with = "ser_span")]
    pub span: Span,
}

/// `NAME: TYPE` or `NAME: TYPE[dims]`.
#[derive(Clone, Debug, Serialize)]
pub struct Param {
    pub name: Ident,
    pub ty: TypeExpr,
    #[serde(serialize_with = "ser_span")]
    pub span: Span,
}

/// An element type with optional dimensions: `f32`, `i8[M, K]`.
#[derive(Clone, Debug, Serialize)]
pub struct TypeExpr {
    pub elem: ElemType,
    /// `None` for a scalar, `Some(dims)` for a tensor.
    pub dims: Option<Vec<Expr>>,
    #[serde(serialize_with = "ser_span")]
    pub span: Span,
}

/// The element types of the language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum ElemType {
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    F16,
    BF16,
    F32,
}

impl ElemType {
    pub const ALL: [ElemType; 10] = [
        ElemType::I8,
        ElemType::I16,
        ElemType::I32,
        ElemType::I64,
        ElemType::U8,
        ElemType::U16,
        ElemType::U32,
        ElemType::F16,
        ElemType::BF16,
        ElemType::F32,
    ];

    /// The spelling in source text (`"i8"`, `"bf16"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ElemType::I8 => "i8",
            ElemType::I16 => "i16",
            ElemType::I32 => "i32",
            ElemType::I64 => "i64",
            ElemType::U8 => "u8",
            ElemType::U16 => "u16",
            ElemType::U32 => "u32",
            ElemType::F16 => "f16",
            ElemType::BF16 => "bf16",
            ElemType::F32 => "f32",
        }
    }

    pub fn from_name(name: &str) -> Option<ElemType> {
        ElemType::ALL.into_iter().find(|t| t.name() == name)
    }

    pub fn is_float(self) -> bool {
        matches!(self, ElemType::F16 | ElemType::BF16 | ElemType::F32)
    }

    pub fn is_int(self) -> bool {
        !self.is_float()
    }

    pub fn is_signed(self) -> bool {
        !matches!(self, ElemType::U8 | ElemType::U16 | ElemType::U32)
    }

    /// Width in bits.
    pub fn bits(self) -> u32 {
        match self {
            ElemType::I8 | ElemType::U8 => 8,
            ElemType::I16 | ElemType::U16 | ElemType::F16 | ElemType::BF16 => 16,
            ElemType::I32 | ElemType::U32 | ElemType::F32 => 32,
            ElemType::I64 => 64,
        }
    }

    /// The inclusive value range of an integer type; `None` for floats.
    pub fn int_range(self) -> Option<(i128, i128)> {
        if self.is_float() {
            return None;
        }
        let bits = self.bits();
        Some(if self.is_signed() {
            (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
        } else {
            (0, (1i128 << bits) - 1)
        })
    }

    /// The largest finite magnitude of a float type; `None` for integers.
    pub fn float_max(self) -> Option<f64> {
        match self {
            ElemType::F16 => Some(65504.0),
            ElemType::BF16 => Some(3.3895313892515355e38),
            ElemType::F32 => Some(f32::MAX as f64),
            _ => None,
        }
    }
}

impl std::fmt::Display for ElemType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `{ stmts }`
#[derive(Clone, Debug, Serialize)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    #[serde(serialize_with = "ser_span")]
    pub span: Span,
}

#[derive(Clone, Debug, Serialize)]
pub struct Stmt {
    pub kind: StmtKind,
    #[serde(serialize_with = "ser_span")]
    pub span: Span,
}

#[derive(Clone, Debug, Serialize)]
pub enum StmtKind {
    /// `for a, b in grid(E1, E2) { ... }` or `for i in range(lo, hi) { ... }`.
    For {
        vars: Vec<Ident>,
        iter: LoopIter,
        body: Block,
    },
    /// `let name: TYPE[dims];` (local tensor) or `let name: TYPE = init;`
    /// (local scalar). The checker rejects the other two combinations.
    Let {
        name: Ident,
        ty: TypeExpr,
        init: Option<Expr>,
    },
    /// `target op value;`
    Assign {
        target: Target,
        op: AssignOp,
        value: Expr,
    },
    /// `kernel_name(args);`: inputs then outputs, by position.
    Call { callee: Ident, args: Vec<Expr> },
}

#[derive(Clone, Debug, Serialize)]
pub enum LoopIter {
    Grid {
        extents: Vec<Expr>,
        #[serde(serialize_with = "ser_span")]
        span: Span,
    },
    Range {
        lo: Expr,
        hi: Expr,
        #[serde(serialize_with = "ser_span")]
        span: Span,
    },
}

impl LoopIter {
    pub fn span(&self) -> Span {
        match self {
            LoopIter::Grid { span, .. } | LoopIter::Range { span, .. } => *span,
        }
    }
}

/// The left side of an assignment: `C[i, j]` or a scalar `x`.
#[derive(Clone, Debug, Serialize)]
pub struct Target {
    pub name: Ident,
    /// `None` for a scalar target.
    pub indices: Option<Vec<Expr>>,
    #[serde(serialize_with = "ser_span")]
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum AssignOp {
    /// `=`
    Set,
    /// `+=`
    Add,
    /// `-=`
    Sub,
    /// `*=`
    Mul,
    /// `max=`
    Max,
    /// `min=`
    Min,
}

impl AssignOp {
    pub fn symbol(self) -> &'static str {
        match self {
            AssignOp::Set => "=",
            AssignOp::Add => "+=",
            AssignOp::Sub => "-=",
            AssignOp::Mul => "*=",
            AssignOp::Max => "max=",
            AssignOp::Min => "min=",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Expr {
    pub kind: ExprKind,
    #[serde(serialize_with = "ser_span")]
    pub span: Span,
}

#[derive(Clone, Debug, Serialize)]
pub enum ExprKind {
    /// A non-negative integer literal (a minus sign is a [`UnaryOp::Neg`]).
    Int(i64),
    /// A float literal (`1.0`, `1e-5`); `inf` is `f64::INFINITY`.
    Float(f64),
    /// The `inf` keyword.
    Inf,
    /// A bare name: a constant, a scalar, a loop variable, or a tensor passed
    /// whole to a kernel call.
    Name(Ident),
    /// `A[i, k]`
    Access {
        tensor: Ident,
        indices: Vec<Expr>,
    },
    /// `f(args)`: an intrinsic (`min`, `exp`, `select`, ...) or a cast when
    /// the callee is a type name (`i32(x)`).
    Call {
        callee: Ident,
        args: Vec<Expr>,
    },
    Unary {
        op: UnaryOp,
        operand: Box<Expr>,
    },
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `( e )`, kept so spans and `--emit ast` show what was written.
    Paren(Box<Expr>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum UnaryOp {
    Neg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge
        )
    }
}

/// `schedule NAME for KERNEL { steps }`. Recorded, not interpreted: the
/// schedule applier (accc-passes) gives the steps their meaning.
#[derive(Clone, Debug, Serialize)]
pub struct ScheduleDecl {
    pub name: Ident,
    pub kernel: Ident,
    pub steps: Vec<ScheduleStep>,
    #[serde(serialize_with = "ser_span")]
    pub span: Span,
}

/// `[r1, r2 =] primitive(args);`
#[derive(Clone, Debug, Serialize)]
pub struct ScheduleStep {
    /// The names the step binds (`io, ii = split(...)`), possibly none.
    pub results: Vec<Ident>,
    pub primitive: Ident,
    pub args: Vec<ScheduleArg>,
    #[serde(serialize_with = "ser_span")]
    pub span: Span,
}

/// A positional (`key: None`) or keyword (`key = value`) argument.
#[derive(Clone, Debug, Serialize)]
pub struct ScheduleArg {
    pub key: Option<Ident>,
    pub value: ScheduleValue,
    #[serde(serialize_with = "ser_span")]
    pub span: Span,
}

#[derive(Clone, Debug, Serialize)]
pub struct ScheduleValue {
    pub kind: ScheduleValueKind,
    #[serde(serialize_with = "ser_span")]
    pub span: Span,
}

#[derive(Clone, Debug, Serialize)]
pub enum ScheduleValueKind {
    Int(i64),
    Float(f64),
    /// A `"..."` string, without the quotes (no escapes exist).
    Str(String),
    /// A dotted name: `k`, `k.o`, `gemm.C`.
    Path(Vec<Ident>),
    List(Vec<ScheduleValue>),
}

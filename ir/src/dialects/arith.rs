//! The `arith` dialect: constants, integer and float arithmetic,
//! comparisons, `select` and casts.
//!
//! Integers are signless; the op says how to read them (`divsi`/`divui`,
//! `extsi`/`extui`, `cmpi slt`/`ult`). `arith.constant` holds its value in
//! the `value` attribute; `cmpi`/`cmpf` hold an `i64` `predicate` using
//! MLIR's numbering (see [`CMPI_PREDICATES`], [`CMPF_PREDICATES`]).

use super::expect_counts;
use crate::attrs::Attribute;
use crate::builder::Builder;
use crate::entity::{Op, Value};
use crate::module::{Module, OpSpec};
use crate::types::Type;

/// `arith.cmpi` predicates in MLIR's order (the index is the attribute value).
pub const CMPI_PREDICATES: [&str; 10] = [
    "eq", "ne", "slt", "sle", "sgt", "sge", "ult", "ule", "ugt", "uge",
];
/// `arith.cmpf` predicates in MLIR's order.
pub const CMPF_PREDICATES: [&str; 16] = [
    "false", "oeq", "ogt", "oge", "olt", "ole", "one", "ord", "ueq", "ugt", "uge", "ult", "ule",
    "une", "uno", "true",
];

/// Binary ops on integers (and `index`).
pub const INT_BINARY: [&str; 19] = [
    "addi",
    "subi",
    "muli",
    "divsi",
    "divui",
    "remsi",
    "remui",
    "maxsi",
    "maxui",
    "minsi",
    "minui",
    "andi",
    "ori",
    "xori",
    "shli",
    "shrsi",
    "shrui",
    "floordivsi",
    "ceildivsi",
];
/// Binary ops on floats.
pub const FLOAT_BINARY: [&str; 9] = [
    "addf", "subf", "mulf", "divf", "remf", "maximumf", "minimumf", "maxnumf", "minnumf",
];
/// Casts: `(name, from is int/index?, to is int/index?)`.
pub const CASTS: [(&str, CastKind); 12] = [
    ("extsi", CastKind::IntWiden),
    ("extui", CastKind::IntWiden),
    ("trunci", CastKind::IntNarrow),
    ("sitofp", CastKind::IntToFloat),
    ("uitofp", CastKind::IntToFloat),
    ("fptosi", CastKind::FloatToInt),
    ("fptoui", CastKind::FloatToInt),
    ("extf", CastKind::FloatWiden),
    ("truncf", CastKind::FloatNarrow),
    ("index_cast", CastKind::IndexCast),
    ("index_castui", CastKind::IndexCast),
    ("bitcast", CastKind::Bitcast),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CastKind {
    IntWiden,
    IntNarrow,
    IntToFloat,
    FloatToInt,
    FloatWiden,
    FloatNarrow,
    IndexCast,
    Bitcast,
}

pub fn cast_kind(op_name: &str) -> Option<CastKind> {
    let short = op_name.strip_prefix("arith.")?;
    CASTS.iter().find(|(n, _)| *n == short).map(|(_, k)| *k)
}

pub fn build_constant(b: &mut Builder, value: Attribute) -> Value {
    let ty = match &value {
        Attribute::Int { ty, .. } | Attribute::Float { ty, .. } => ty.clone(),
        Attribute::Bool(_) => Type::i1(),
        _ => Type::Index,
    };
    b.insert_value(
        OpSpec::new("arith.constant")
            .attr("value", value)
            .results([ty]),
    )
}

pub fn build_index_constant(b: &mut Builder, value: i64) -> Value {
    build_constant(b, Attribute::index(value))
}

/// A binary op (`name` without the `arith.` prefix), result typed as `lhs`.
pub fn build_binary(b: &mut Builder, name: &str, lhs: Value, rhs: Value) -> Value {
    let ty = b.module.value_type(lhs).clone();
    b.insert_value(
        OpSpec::new(format!("arith.{name}"))
            .operands([lhs, rhs])
            .results([ty]),
    )
}

pub fn build_cmpi(b: &mut Builder, predicate: &str, lhs: Value, rhs: Value) -> Value {
    let p = CMPI_PREDICATES
        .iter()
        .position(|x| *x == predicate)
        .unwrap_or(0) as i64;
    b.insert_value(
        OpSpec::new("arith.cmpi")
            .operands([lhs, rhs])
            .attr("predicate", Attribute::i64(p))
            .results([Type::i1()]),
    )
}

pub fn build_cmpf(b: &mut Builder, predicate: &str, lhs: Value, rhs: Value) -> Value {
    let p = CMPF_PREDICATES
        .iter()
        .position(|x| *x == predicate)
        .unwrap_or(0) as i64;
    b.insert_value(
        OpSpec::new("arith.cmpf")
            .operands([lhs, rhs])
            .attr("predicate", Attribute::i64(p))
            .results([Type::i1()]),
    )
}

pub fn build_select(b: &mut Builder, cond: Value, t: Value, f: Value) -> Value {
    let ty = b.module.value_type(t).clone();
    b.insert_value(
        OpSpec::new("arith.select")
            .operands([cond, t, f])
            .results([ty]),
    )
}

pub fn build_cast(b: &mut Builder, name: &str, v: Value, to: Type) -> Value {
    b.insert_value(
        OpSpec::new(format!("arith.{name}"))
            .operands([v])
            .results([to]),
    )
}

/// The constant value of a value defined by `arith.constant`.
pub fn constant_value(m: &Module, v: Value) -> Option<&Attribute> {
    let op = m.defining_op(v)?;
    (m.op_name(op) == "arith.constant")
        .then(|| m.attr(op, "value"))
        .flatten()
}

pub(crate) fn verify(m: &Module, op: Op) -> Result<(), String> {
    let full = m.op_name(op);
    let name = full.strip_prefix("arith.").unwrap_or(full);
    let operand_ty = |i: usize| m.value_type(m.operand(op, i));
    if INT_BINARY.contains(&name) || FLOAT_BINARY.contains(&name) {
        expect_counts(m, op, 2, 1)?;
        let (a, b, r) = (operand_ty(0), operand_ty(1), m.value_type(m.result(op, 0)));
        if a != b || a != r {
            return Err(format!(
                "operand and result types must match, found `{a}`, `{b}` -> `{r}`"
            ));
        }
        let ok = if INT_BINARY.contains(&name) {
            a.is_int_or_index()
        } else {
            a.is_float()
        };
        if !ok {
            return Err(format!("does not apply to `{a}`"));
        }
        return Ok(());
    }
    if let Some(kind) = cast_kind(full) {
        expect_counts(m, op, 1, 1)?;
        let (from, to) = (operand_ty(0), m.value_type(m.result(op, 0)));
        let int_w = |t: &Type| t.int_width();
        let flt_w = |t: &Type| t.float_width();
        let ok = match kind {
            CastKind::IntWiden => matches!((int_w(from), int_w(to)), (Some(a), Some(b)) if a < b),
            CastKind::IntNarrow => matches!((int_w(from), int_w(to)), (Some(a), Some(b)) if a > b),
            CastKind::IntToFloat => from.is_int() && to.is_float(),
            CastKind::FloatToInt => from.is_float() && to.is_int(),
            CastKind::FloatWiden => matches!((flt_w(from), flt_w(to)), (Some(a), Some(b)) if a < b),
            CastKind::FloatNarrow => {
                matches!((flt_w(from), flt_w(to)), (Some(a), Some(b)) if a > b)
            }
            CastKind::IndexCast => {
                (*from == Type::Index && to.is_int()) || (from.is_int() && *to == Type::Index)
            }
            CastKind::Bitcast => {
                let w = |t: &Type| t.int_width().or(t.float_width());
                w(from).is_some() && w(from) == w(to)
            }
        };
        if !ok {
            return Err(format!("cannot cast `{from}` to `{to}`"));
        }
        return Ok(());
    }
    match name {
        "constant" => {
            expect_counts(m, op, 0, 1)?;
            let r = m.value_type(m.result(op, 0));
            match m.attr(op, "value") {
                Some(Attribute::Int { ty, .. }) if ty == r && r.is_int_or_index() => Ok(()),
                Some(Attribute::Float { ty, .. }) if ty == r && r.is_float() => Ok(()),
                Some(Attribute::Bool(_)) if *r == Type::i1() => Ok(()),
                Some(a) => Err(format!("value `{a}` does not match the result type `{r}`")),
                None => Err("requires a `value` attribute".into()),
            }
        }
        "cmpi" | "cmpf" => {
            expect_counts(m, op, 2, 1)?;
            let (a, b) = (operand_ty(0), operand_ty(1));
            if a != b {
                return Err(format!("compares `{a}` with `{b}`"));
            }
            let (ok, n) = if name == "cmpi" {
                (a.is_int_or_index(), 10)
            } else {
                (a.is_float(), 16)
            };
            if !ok {
                return Err(format!("does not apply to `{a}`"));
            }
            match m.attr(op, "predicate").and_then(Attribute::as_int) {
                Some(p) if (0..n).contains(&p) => {}
                _ => return Err("requires a valid `predicate`".into()),
            }
            if *m.value_type(m.result(op, 0)) != Type::i1() {
                return Err("the result must be `i1`".into());
            }
            Ok(())
        }
        "negf" => {
            expect_counts(m, op, 1, 1)?;
            if !operand_ty(0).is_float() || operand_ty(0) != m.value_type(m.result(op, 0)) {
                return Err("needs a float operand and the same result type".into());
            }
            Ok(())
        }
        "select" => {
            expect_counts(m, op, 3, 1)?;
            if *operand_ty(0) != Type::i1() {
                return Err(format!(
                    "the condition must be `i1`, found `{}`",
                    operand_ty(0)
                ));
            }
            if operand_ty(1) != operand_ty(2) || operand_ty(1) != m.value_type(m.result(op, 0)) {
                return Err("both choices and the result must have the same type".into());
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

// ---- Meaning -------------------------------------------------------------
//
// Each op resolves once into an [`ArithOp`] (so engines don't re-read names
// and attributes per execution) and [`apply`] gives its value over any
// [`Domain`]: the one definition the interpreter and the verifier share.

use crate::semantics::{
    derived, Domain, Fault, FloatCompare, FloatFormat, FloatOp, IntCompare, IntOp, ScalarType,
};

/// An `arith` op with its types resolved.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ArithOp {
    Constant {
        ty: ScalarType,
        bits: u64,
    },
    Int {
        op: IntBinary,
        width: u32,
    },
    Float {
        op: FloatBinary,
        format: FloatFormat,
    },
    NegF(FloatFormat),
    CmpI {
        predicate: u8,
        width: u32,
    },
    CmpF {
        predicate: u8,
        format: FloatFormat,
    },
    Select,
    Cast(Cast),
}

impl ArithOp {
    /// Whether the op's two operands can be swapped without changing its
    /// value on any input (`docs/semantics.md`: wrap-around `+`, `*`,
    /// bitwise ops, integer max/min, IEEE `+` and `*` with one canonical
    /// NaN, and the float max/min family, which order `-0 < +0`). The
    /// verifier orders the operands of such ops, so `max(a, b)` and
    /// `max(b, a)` build one term.
    pub fn is_commutative(&self) -> bool {
        match self {
            ArithOp::Int { op, .. } => matches!(
                op,
                IntBinary::AddI
                    | IntBinary::MulI
                    | IntBinary::MaxSI
                    | IntBinary::MaxUI
                    | IntBinary::MinSI
                    | IntBinary::MinUI
                    | IntBinary::AndI
                    | IntBinary::OrI
                    | IntBinary::XOrI
            ),
            ArithOp::Float { op, .. } => matches!(
                op,
                FloatBinary::AddF
                    | FloatBinary::MulF
                    | FloatBinary::MaximumF
                    | FloatBinary::MinimumF
                    | FloatBinary::MaxNumF
                    | FloatBinary::MinNumF
            ),
            _ => false,
        }
    }
}

/// The ops of [`INT_BINARY`], in that order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntBinary {
    AddI,
    SubI,
    MulI,
    DivSI,
    DivUI,
    RemSI,
    RemUI,
    MaxSI,
    MaxUI,
    MinSI,
    MinUI,
    AndI,
    OrI,
    XOrI,
    ShLI,
    ShRSI,
    ShRUI,
    FloorDivSI,
    CeilDivSI,
}

/// The ops of [`FLOAT_BINARY`], in that order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloatBinary {
    AddF,
    SubF,
    MulF,
    DivF,
    RemF,
    MaximumF,
    MinimumF,
    MaxNumF,
    MinNumF,
}

/// A conversion with its source and target types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cast {
    /// `extsi`, `extui`, `trunci`, `index_cast`, `index_castui`.
    Resize {
        from: u32,
        to: u32,
        signed: bool,
    },
    IntToFloat {
        from: u32,
        signed: bool,
        to: FloatFormat,
    },
    FloatToInt {
        from: FloatFormat,
        to: u32,
        signed: bool,
    },
    FloatConvert {
        from: FloatFormat,
        to: FloatFormat,
    },
    Bitcast {
        from: ScalarType,
        to: ScalarType,
    },
}

const INT_BINARY_OPS: [IntBinary; 19] = [
    IntBinary::AddI,
    IntBinary::SubI,
    IntBinary::MulI,
    IntBinary::DivSI,
    IntBinary::DivUI,
    IntBinary::RemSI,
    IntBinary::RemUI,
    IntBinary::MaxSI,
    IntBinary::MaxUI,
    IntBinary::MinSI,
    IntBinary::MinUI,
    IntBinary::AndI,
    IntBinary::OrI,
    IntBinary::XOrI,
    IntBinary::ShLI,
    IntBinary::ShRSI,
    IntBinary::ShRUI,
    IntBinary::FloorDivSI,
    IntBinary::CeilDivSI,
];
const FLOAT_BINARY_OPS: [FloatBinary; 9] = [
    FloatBinary::AddF,
    FloatBinary::SubF,
    FloatBinary::MulF,
    FloatBinary::DivF,
    FloatBinary::RemF,
    FloatBinary::MaximumF,
    FloatBinary::MinimumF,
    FloatBinary::MaxNumF,
    FloatBinary::MinNumF,
];

/// Resolves a verified `arith` op; `Err` names what is unsupported.
pub fn resolve(m: &Module, op: Op) -> Result<ArithOp, String> {
    let full = m.op_name(op);
    let name = full.strip_prefix("arith.").unwrap_or(full);
    let scalar = |v: Value| {
        ScalarType::of(m.value_type(v))
            .ok_or_else(|| format!("`{full}` on non-scalar type `{}`", m.value_type(v)))
    };
    let int_width = |v: Value| match scalar(v)? {
        ScalarType::Int(w) => Ok(w),
        ScalarType::Float(_) => Err(format!("`{full}` expects integers")),
    };
    let float_format = |v: Value| match scalar(v)? {
        ScalarType::Float(f) => Ok(f),
        ScalarType::Int(_) => Err(format!("`{full}` expects floats")),
    };
    if let Some(i) = INT_BINARY.iter().position(|n| *n == name) {
        let width = int_width(m.operand(op, 0))?;
        return Ok(ArithOp::Int {
            op: INT_BINARY_OPS[i],
            width,
        });
    }
    if let Some(i) = FLOAT_BINARY.iter().position(|n| *n == name) {
        let format = float_format(m.operand(op, 0))?;
        return Ok(ArithOp::Float {
            op: FLOAT_BINARY_OPS[i],
            format,
        });
    }
    let predicate = || {
        m.attr(op, "predicate")
            .and_then(Attribute::as_int)
            .map(|p| p as u8)
            .ok_or_else(|| format!("`{full}` has no predicate"))
    };
    Ok(match name {
        "constant" => {
            let ty = scalar(m.result(op, 0))?;
            let bits = match (m.attr(op, "value"), ty) {
                (Some(Attribute::Int { value, .. }), ScalarType::Int(w)) => {
                    (*value as u64) & width_mask(w)
                }
                (Some(Attribute::Bool(b)), _) => u64::from(*b),
                (Some(Attribute::Float { bits, .. }), ScalarType::Float(f)) => {
                    crate::semantics::round_f64_to_format(f64::from_bits(*bits), f)
                }
                _ => return Err(format!("`{full}` has an unsupported value")),
            };
            ArithOp::Constant { ty, bits }
        }
        "negf" => ArithOp::NegF(float_format(m.operand(op, 0))?),
        "cmpi" => ArithOp::CmpI {
            predicate: predicate()?,
            width: int_width(m.operand(op, 0))?,
        },
        "cmpf" => ArithOp::CmpF {
            predicate: predicate()?,
            format: float_format(m.operand(op, 0))?,
        },
        "select" => ArithOp::Select,
        _ => {
            let (from_v, to_v) = (m.operand(op, 0), m.result(op, 0));
            let cast = match name {
                "extsi" | "trunci" | "index_cast" => Cast::Resize {
                    from: int_width(from_v)?,
                    to: int_width(to_v)?,
                    signed: true,
                },
                "extui" | "index_castui" => Cast::Resize {
                    from: int_width(from_v)?,
                    to: int_width(to_v)?,
                    signed: false,
                },
                "sitofp" | "uitofp" => Cast::IntToFloat {
                    from: int_width(from_v)?,
                    signed: name == "sitofp",
                    to: float_format(to_v)?,
                },
                "fptosi" | "fptoui" => Cast::FloatToInt {
                    from: float_format(from_v)?,
                    to: int_width(to_v)?,
                    signed: name == "fptosi",
                },
                "extf" | "truncf" => Cast::FloatConvert {
                    from: float_format(from_v)?,
                    to: float_format(to_v)?,
                },
                "bitcast" => Cast::Bitcast {
                    from: scalar(from_v)?,
                    to: scalar(to_v)?,
                },
                _ => return Err(format!("`{full}` has no defined meaning")),
            };
            ArithOp::Cast(cast)
        }
    })
}

/// The low `width` bits.
#[inline]
pub fn width_mask(width: u32) -> u64 {
    if width >= 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    }
}

/// An op whose meaning is exactly one domain primitive. Engines may run
/// these directly; [`apply`] routes them through the same table, so the
/// meaning is still stated once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Primitive {
    Int(IntOp, u32),
    Float(FloatOp, FloatFormat),
    Resize { from: u32, to: u32, signed: bool },
}

impl Primitive {
    #[inline(always)]
    pub fn apply<D: Domain>(
        self,
        d: &mut D,
        a: &D::Value,
        b: &D::Value,
    ) -> Result<D::Value, Fault> {
        Ok(match self {
            Primitive::Int(op, w) => d.int_op(op, w, a, b)?,
            Primitive::Float(op, f) => d.float_op(op, f, a, b),
            Primitive::Resize { from, to, signed } => d.int_resize(a, from, to, signed),
        })
    }
}

/// The primitive `op` is, if it is one.
#[inline]
pub fn primitive(op: &ArithOp) -> Option<Primitive> {
    Some(match *op {
        ArithOp::Int { op, width } => Primitive::Int(
            match op {
                IntBinary::AddI => IntOp::Add,
                IntBinary::SubI => IntOp::Sub,
                IntBinary::MulI => IntOp::Mul,
                IntBinary::DivSI => IntOp::DivS,
                IntBinary::DivUI => IntOp::DivU,
                IntBinary::RemSI => IntOp::RemS,
                IntBinary::RemUI => IntOp::RemU,
                IntBinary::AndI => IntOp::And,
                IntBinary::OrI => IntOp::Or,
                IntBinary::XOrI => IntOp::Xor,
                IntBinary::ShLI => IntOp::Shl,
                IntBinary::ShRSI => IntOp::ShrS,
                IntBinary::ShRUI => IntOp::ShrU,
                _ => return None,
            },
            width,
        ),
        ArithOp::Float { op, format } => Primitive::Float(
            match op {
                FloatBinary::AddF => FloatOp::Add,
                FloatBinary::SubF => FloatOp::Sub,
                FloatBinary::MulF => FloatOp::Mul,
                FloatBinary::DivF => FloatOp::Div,
                FloatBinary::RemF => FloatOp::Rem,
                _ => return None,
            },
            format,
        ),
        ArithOp::Cast(Cast::Resize { from, to, signed }) => Primitive::Resize { from, to, signed },
        _ => return None,
    })
}

/// The value of `op` applied to `args` (its operands, in order).
#[inline]
pub fn apply<D: Domain>(d: &mut D, op: &ArithOp, args: &[D::Value]) -> Result<D::Value, Fault> {
    if let Some(p) = primitive(op) {
        let b = args.get(1).unwrap_or(&args[0]);
        return p.apply(d, &args[0], b);
    }
    Ok(match *op {
        ArithOp::Constant { ty, bits } => match ty {
            ScalarType::Int(w) => d.int_const(w, bits),
            ScalarType::Float(f) => d.float_const(f, bits),
        },
        ArithOp::Int { op, width } => int_binary(d, op, width, &args[0], &args[1])?,
        ArithOp::Float { op, format } => {
            let (a, b) = (&args[0], &args[1]);
            match op {
                FloatBinary::MaximumF => derived::float_extremum(d, format, true, true, a, b),
                FloatBinary::MinimumF => derived::float_extremum(d, format, false, true, a, b),
                FloatBinary::MaxNumF => derived::float_extremum(d, format, true, false, a, b),
                FloatBinary::MinNumF => derived::float_extremum(d, format, false, false, a, b),
                _ => unreachable!("primitive float ops are handled above"),
            }
        }
        ArithOp::NegF(f) => d.float_unary(crate::semantics::FloatUnary::Neg, f, &args[0]),
        ArithOp::CmpI { predicate, width } => cmpi(d, predicate, width, &args[0], &args[1]),
        ArithOp::CmpF { predicate, format } => cmpf(d, predicate, format, &args[0], &args[1])?,
        ArithOp::Select => d.select(&args[0], &args[1], &args[2]),
        ArithOp::Cast(cast) => {
            let a = &args[0];
            match cast {
                Cast::Resize { from, to, signed } => d.int_resize(a, from, to, signed),
                Cast::IntToFloat { from, signed, to } => d.int_to_float(a, from, signed, to),
                Cast::FloatToInt { from, to, signed } => d.float_to_int(a, from, to, signed),
                Cast::FloatConvert { from, to } => d.float_convert(a, from, to),
                Cast::Bitcast { from, to } => d.bitcast(a, from, to),
            }
        }
    })
}

#[inline]
fn int_binary<D: Domain>(
    d: &mut D,
    op: IntBinary,
    w: u32,
    a: &D::Value,
    b: &D::Value,
) -> Result<D::Value, Fault> {
    match op {
        IntBinary::MaxSI => Ok(derived::int_extremum(d, w, true, true, a, b)),
        IntBinary::MaxUI => Ok(derived::int_extremum(d, w, true, false, a, b)),
        IntBinary::MinSI => Ok(derived::int_extremum(d, w, false, true, a, b)),
        IntBinary::MinUI => Ok(derived::int_extremum(d, w, false, false, a, b)),
        IntBinary::FloorDivSI => derived::floor_div(d, w, a, b),
        IntBinary::CeilDivSI => derived::ceil_div(d, w, a, b),
        _ => unreachable!("primitive integer ops are handled by `primitive`"),
    }
}
/// `cmpi` in MLIR's predicate numbering ([`CMPI_PREDICATES`]); the
/// "greater" predicates swap the operands.
fn cmpi<D: Domain>(d: &mut D, predicate: u8, w: u32, a: &D::Value, b: &D::Value) -> D::Value {
    let (cmp, swap) = match predicate {
        0 => (IntCompare::Eq, false),
        1 => (IntCompare::Ne, false),
        2 => (IntCompare::Slt, false),
        3 => (IntCompare::Sle, false),
        4 => (IntCompare::Slt, true),
        5 => (IntCompare::Sle, true),
        6 => (IntCompare::Ult, false),
        7 => (IntCompare::Ule, false),
        8 => (IntCompare::Ult, true),
        _ => (IntCompare::Ule, true),
    };
    if swap {
        d.int_compare(cmp, w, b, a)
    } else {
        d.int_compare(cmp, w, a, b)
    }
}

/// `cmpf` in MLIR's numbering ([`CMPF_PREDICATES`]): ordered predicates are
/// the primitive comparisons (false on NaN); unordered ones are "either is
/// NaN, or the ordered comparison".
fn cmpf<D: Domain>(
    d: &mut D,
    predicate: u8,
    f: FloatFormat,
    a: &D::Value,
    b: &D::Value,
) -> Result<D::Value, Fault> {
    let name = CMPF_PREDICATES[usize::from(predicate).min(15)];
    if name == "false" || name == "true" {
        return Ok(d.int_const(1, u64::from(name == "true")));
    }
    let unordered = d.float_compare(FloatCompare::Unordered, f, a, b);
    let relation = &name[1..];
    let ordered_holds = match relation {
        "eq" => d.float_compare(FloatCompare::Eq, f, a, b),
        "lt" => d.float_compare(FloatCompare::Lt, f, a, b),
        "le" => d.float_compare(FloatCompare::Le, f, a, b),
        "gt" => d.float_compare(FloatCompare::Lt, f, b, a),
        "ge" => d.float_compare(FloatCompare::Le, f, b, a),
        "ne" => {
            let lt = d.float_compare(FloatCompare::Lt, f, a, b);
            let gt = d.float_compare(FloatCompare::Lt, f, b, a);
            d.int_op(IntOp::Or, 1, &lt, &gt)?
        }
        // `ord` / `uno`: only NaN-ness decides.
        "rd" => d.int_const(1, 1),
        _ => d.int_const(1, 0),
    };
    if name.starts_with('o') {
        let not_unordered = {
            let one = d.int_const(1, 1);
            d.int_op(IntOp::Xor, 1, &unordered, &one)?
        };
        d.int_op(IntOp::And, 1, &not_unordered, &ordered_holds)
    } else {
        d.int_op(IntOp::Or, 1, &unordered, &ordered_holds)
    }
}

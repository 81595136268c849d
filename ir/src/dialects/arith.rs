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

//! The `math` dialect: elementwise functions on floats (`exp`, `log`,
//! `sqrt`, `rsqrt`, `tanh`, `absf`, `roundeven`, `floor`, `ceil`) and
//! `math.absi` on integers.

use super::expect_counts;
use crate::builder::Builder;
use crate::entity::{Op, Value};
use crate::module::{Module, OpSpec};

pub const FLOAT_UNARY: [&str; 10] = [
    "exp",
    "log",
    "sqrt",
    "rsqrt",
    "tanh",
    "absf",
    "roundeven",
    "floor",
    "ceil",
    "round",
];

/// A unary op (`name` without the `math.` prefix), result typed as its operand.
pub fn build_unary(b: &mut Builder, name: &str, v: Value) -> Value {
    let ty = b.module.value_type(v).clone();
    b.insert_value(
        OpSpec::new(format!("math.{name}"))
            .operands([v])
            .results([ty]),
    )
}

pub(crate) fn verify(m: &Module, op: Op) -> Result<(), String> {
    let full = m.op_name(op);
    let name = full.strip_prefix("math.").unwrap_or(full);
    let is_float_op = FLOAT_UNARY.contains(&name);
    if !is_float_op && name != "absi" {
        return Ok(());
    }
    expect_counts(m, op, 1, 1)?;
    let (a, r) = (
        m.value_type(m.operand(op, 0)),
        m.value_type(m.result(op, 0)),
    );
    if a != r {
        return Err(format!("result type `{r}` differs from operand type `{a}`"));
    }
    if (is_float_op && !a.is_float()) || (!is_float_op && !a.is_int()) {
        return Err(format!("does not apply to `{a}`"));
    }
    Ok(())
}

// ---- Meaning -------------------------------------------------------------

use crate::semantics::{Domain, Fault, FloatFormat, FloatUnary, IntCompare, IntOp, ScalarType};

/// A `math` op with its type resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MathOp {
    Float { op: FloatUnary, format: FloatFormat },
    AbsI { width: u32 },
}

pub fn resolve(m: &Module, op: Op) -> Result<MathOp, String> {
    let full = m.op_name(op);
    let name = full.strip_prefix("math.").unwrap_or(full);
    let ty = ScalarType::of(m.value_type(m.operand(op, 0)));
    let float_op = match name {
        "exp" => FloatUnary::Exp,
        "log" => FloatUnary::Log,
        "sqrt" => FloatUnary::Sqrt,
        "rsqrt" => FloatUnary::Rsqrt,
        "tanh" => FloatUnary::Tanh,
        "absf" => FloatUnary::Abs,
        "roundeven" => FloatUnary::RoundEven,
        "round" => FloatUnary::Round,
        "floor" => FloatUnary::Floor,
        "ceil" => FloatUnary::Ceil,
        "absi" => {
            return match ty {
                Some(ScalarType::Int(width)) => Ok(MathOp::AbsI { width }),
                _ => Err(format!("`{full}` expects an integer")),
            }
        }
        _ => return Err(format!("`{full}` has no defined meaning")),
    };
    match ty {
        Some(ScalarType::Float(format)) => Ok(MathOp::Float {
            op: float_op,
            format,
        }),
        _ => Err(format!("`{full}` expects a float")),
    }
}

/// The value of a `math` op: the float functions are primitives; `absi` is
/// `x < 0 ? 0 - x : x` with wrap-around (`abs(MIN) = MIN`).
#[inline]
pub fn apply<D: Domain>(d: &mut D, op: &MathOp, args: &[D::Value]) -> Result<D::Value, Fault> {
    Ok(match *op {
        MathOp::Float { op, format } => d.float_unary(op, format, &args[0]),
        MathOp::AbsI { width } => {
            let zero = d.int_const(width, 0);
            let negative = d.int_compare(IntCompare::Slt, width, &args[0], &zero);
            let negated = d.int_op(IntOp::Sub, width, &zero, &args[0])?;
            d.select(&negative, &negated, &args[0])
        }
    })
}

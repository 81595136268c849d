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

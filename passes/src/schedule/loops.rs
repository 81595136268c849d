//! Finding loops by name, and the loop facts primitives share.
//!
//! Loops carry `loop_name` (the DSL variable, or the name a step gave them)
//! and the outermost loop of each nest carries `op_name`, the nest's stage
//! name (`S_i_j`). Names may repeat within a kernel (two nests over `i`);
//! a schedule then qualifies them with the stage: `S_i_j_1.i`.

use accc_ir::affine::{AffineExpr, AffineMap};
use accc_ir::attrs::Attribute;
use accc_ir::dialects::affine;
use accc_ir::{Builder, Module, Op, Value, ValueMap};

use super::ScheduleError;

/// A loop of a kernel with its names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoopRef {
    pub op: Op,
    /// `loop_name`.
    pub name: String,
    /// `op_name` of the outermost loop of its nest, if any.
    pub stage: Option<String>,
}

impl LoopRef {
    /// `stage.name`, or `name` without a stage.
    pub fn qualified(&self) -> String {
        match &self.stage {
            Some(s) => format!("{s}.{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// Every named `affine.for` of `func`, outermost first in program order.
pub fn loop_names(m: &Module, func: Op) -> Vec<LoopRef> {
    let mut out = Vec::new();
    m.walk(func, &mut |op| {
        if m.op_name(op) != "affine.for" {
            return;
        }
        let Some(name) = m.attr(op, "loop_name").and_then(Attribute::as_str) else {
            return;
        };
        out.push(LoopRef {
            op,
            name: name.to_string(),
            stage: stage_of(m, op),
        });
    });
    out
}

/// The `op_name` of the outermost `affine.for` enclosing `op` (itself
/// included).
fn stage_of(m: &Module, op: Op) -> Option<String> {
    affine::stage_of(m, op).map(str::to_string)
}

/// The loop `name` names in `func`: a `loop_name`, or `stage.loop_name`.
pub(crate) fn find_loop(m: &Module, func: Op, name: &str) -> Result<LoopRef, ScheduleError> {
    let loops = loop_names(m, func);
    let exact: Vec<&LoopRef> = loops.iter().filter(|l| l.name == name).collect();
    let found: Vec<&LoopRef> = if exact.is_empty() {
        loops
            .iter()
            .filter(|l| {
                l.stage.as_ref().is_some_and(|s| {
                    name.strip_prefix(s.as_str())
                        .and_then(|rest| rest.strip_prefix('.'))
                        == Some(l.name.as_str())
                })
            })
            .collect()
    } else {
        exact
    };
    let kernel = accc_ir::dialects::func::sym_name(m, func).unwrap_or("?");
    match found.as_slice() {
        [one] => Ok((*one).clone()),
        [] => {
            let mut names: Vec<String> = Vec::new();
            for l in &loops {
                if !names.contains(&l.name) {
                    names.push(l.name.clone());
                }
            }
            let listed = if names.is_empty() {
                "it has no named loops".to_string()
            } else {
                format!("loops are: {}", names.join(", "))
            };
            Err(ScheduleError::new(format!(
                "no loop named `{name}` in kernel `{kernel}`; {listed}"
            )))
        }
        many => Err(ScheduleError::new(format!(
            "loop name `{name}` is ambiguous in kernel `{kernel}`"
        ))
        .with_hint(format!(
            "qualify it with its stage: {}",
            many.iter()
                .map(|l| format!("`{}`", l.qualified()))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// `(lower, upper, step)` and trip count of a loop with constant bounds.
pub(crate) fn constant_loop(
    m: &Module,
    l: &LoopRef,
    primitive: &str,
) -> Result<(i64, i64, i64, i64), ScheduleError> {
    let Some((lb, ub, step)) = affine::constant_bounds(m, l.op) else {
        return Err(ScheduleError::new(format!(
            "`{primitive}` needs a loop with constant bounds; loop `{}` has bounds that depend on other values",
            l.name
        )));
    };
    let step = step.max(1);
    let trips = if ub > lb {
        ((i128::from(ub) - i128::from(lb) + i128::from(step) - 1) / i128::from(step)) as i64
    } else {
        0
    };
    Ok((lb, ub, step, trips))
}

/// The body ops of a loop, without its terminator.
pub(crate) fn body_ops(m: &Module, op: Op) -> Vec<Op> {
    let Some(body) = m.entry_block(op, 0) else {
        return Vec::new();
    };
    let ops = m.block_ops(body);
    let n = ops.len().saturating_sub(1);
    ops[..n].to_vec()
}

/// An IR-manipulation failure inside a primitive (a bug, not bad input).
pub(crate) fn internal(e: impl std::fmt::Display) -> ScheduleError {
    ScheduleError::new(format!("internal error while rewriting: {e}"))
        .with_hint("this is a bug in accc; please report it with the schedule")
}

/// A loop's `loop_name` (`?` if it has none).
pub(crate) fn loop_name(m: &Module, op: Op) -> String {
    m.attr(op, "loop_name")
        .and_then(Attribute::as_str)
        .unwrap_or("?")
        .to_string()
}

/// Sets a loop's `loop_name` and its induction variable's name hint.
pub(crate) fn name_loop(m: &mut Module, op: Op, name: &str) {
    m.set_attr(op, "loop_name", Attribute::string(name));
    if let Some(iv) = affine::induction_var(m, op) {
        m.set_name_hint(iv, value_hint(name));
    }
}

/// Is `op` one of `ops` or nested in one of them?
pub(crate) fn inside_any(m: &Module, ops: &[Op], op: Op) -> bool {
    ops.iter().any(|o| *o == op || m.is_proper_ancestor(*o, op))
}

/// `base`, `base_1`, `base_2`, ...: the first not in `taken`.
pub(crate) fn fresh(base: &str, taken: &[String]) -> String {
    let mut name = base.to_string();
    let mut k = 1;
    while taken.contains(&name) {
        name = format!("{base}_{k}");
        k += 1;
    }
    name
}

/// A schedule name as an SSA name hint (`i.o` prints as `%i_o`).
pub(crate) fn value_hint(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Clones `ops` (in order) before `anchor`, with `iv` replaced by `expr`
/// over `new` (over no values: a constant iteration).
pub(crate) fn clone_with_iv(
    m: &mut Module,
    ops: &[Op],
    anchor: Op,
    iv: Value,
    new: &[Value],
    expr: &AffineExpr,
) -> Result<Vec<Op>, ScheduleError> {
    let mut map = ValueMap::new();
    let mut clones = Vec::new();
    for &op in ops {
        let c = m.clone_op(op, &mut map);
        let (block, at) = m.op_position(anchor).ok_or_else(|| internal("detached"))?;
        m.insert_op(block, at, c).map_err(internal)?;
        clones.push(c);
    }
    substitute_iv_in(m, &clones, iv, new, expr)?;
    Ok(clones)
}

/// Replaces the uses of `iv` nested in `ops` by `expr` over `new`: in
/// affine maps directly, elsewhere through an `affine.apply` before the
/// first op.
pub(crate) fn substitute_iv_in(
    m: &mut Module,
    ops: &[Op],
    iv: Value,
    new: &[Value],
    expr: &AffineExpr,
) -> Result<(), ScheduleError> {
    let mut users: Vec<Op> = m
        .uses(iv)
        .iter()
        .map(|u| u.op)
        .filter(|op| inside_any(m, ops, *op))
        .collect();
    users.dedup();
    let mut apply: Option<Value> = None;
    for op in users {
        if affine::substitute_dim(m, op, iv, new, expr) {
            continue;
        }
        let v = match apply {
            Some(v) => v,
            None => {
                let mut b = Builder::before(m, ops[0]).ok_or_else(|| internal("detached"))?;
                let map = AffineMap::new(new.len() as u32, 0, vec![expr.clone()]);
                let v = affine::build_apply(&mut b, map, new);
                apply = Some(v);
                v
            }
        };
        for u in m.uses(iv).to_vec() {
            if u.op == op {
                m.set_operand(op, u.index as usize, v);
            }
        }
    }
    Ok(())
}

/// The stage names (`op_name`) of the ops nested in `scope`, in program
/// order, with their ops.
pub(crate) fn stage_names(m: &Module, scope: Op) -> Vec<(Op, String)> {
    let mut out = Vec::new();
    m.walk(scope, &mut |op| {
        if let Some(n) = m.attr(op, "op_name").and_then(Attribute::as_str) {
            out.push((op, n.to_string()));
        }
    });
    out
}

//! Kernels that call kernels: `compose(schedule)` and `inline(callee)`.
//!
//! `compose(S)` applies the schedule `S`, written for a kernel `K2` that
//! this kernel calls, at the call sites (Allo's `compose`): `K2` is cloned
//! into a new function `K2_S`, `S`'s steps are applied to the clone, and
//! this kernel's calls to `K2` call the clone instead. `K2` itself, which
//! other kernels may call or run on its own, is unchanged.
//!
//! `inline(callee)` replaces every call of `callee` (a kernel's name, or
//! the function `compose` made) in this kernel by the callee's body, the
//! callee's parameters replaced by the call's arguments. The callee's stage
//! and buffer names keep their names unless this kernel already uses them,
//! in which case they get a fresh suffix; the step reports the stage names
//! so later steps can address the inlined loops.

use accc_ir::attrs::Attribute;
use accc_ir::dialects::func;
use accc_ir::{Module, Op, ValueMap};

use super::access::tensors;
use super::loops::{fresh, internal, value_hint};
use super::{Args, Schedule, ScheduleError, StepReport};

/// A schedule that `compose` steps refer to by name.
#[derive(Clone, Debug, PartialEq)]
pub struct Component {
    /// The schedule's name, as `compose(name)` writes it.
    pub name: String,
    /// The kernel it is written for.
    pub kernel: String,
    pub schedule: Schedule,
}

pub(crate) fn apply_compose(
    m: &mut Module,
    func: Op,
    args: &Args,
    parent: &Schedule,
) -> Result<StepReport, ScheduleError> {
    let components = &parent.components;
    args.expect(1, 1, &[])?;
    let name = args.name(0, "the schedule to compose")?;
    let Some(c) = components.iter().find(|c| c.name == name) else {
        let known: Vec<String> = components
            .iter()
            .map(|c| format!("`{}` (for `{}`)", c.name, c.kernel))
            .collect();
        return Err(
            ScheduleError::new(format!("no schedule named `{name}` to compose"))
                .at(args.span(0))
                .with_hint(if known.is_empty() {
                    "compose takes a schedule written for a kernel this kernel calls".to_string()
                } else {
                    format!("schedules: {}", known.join(", "))
                }),
        );
    };
    let kernel = func::sym_name(m, func).unwrap_or("?").to_string();
    let calls = calls_to(m, func, &c.kernel);
    if calls.is_empty() {
        return Err(ScheduleError::new(format!(
            "schedule `{name}` is for kernel `{}`, which kernel `{kernel}` does not call",
            c.kernel
        ))
        .at(args.span(0)));
    }
    let callee = m
        .lookup_symbol(&c.kernel)
        .ok_or_else(|| internal("a called kernel the module does not define"))?;
    let symbols: Vec<String> = func::functions(m)
        .filter_map(|f| func::sym_name(m, f).map(str::to_string))
        .collect();
    let clone_name = fresh(&format!("{}_{name}", c.kernel), &symbols);
    let mut map = ValueMap::new();
    let clone = m.clone_op(callee, &mut map);
    let (block, at) = m
        .op_position(func)
        .ok_or_else(|| internal("detached kernel"))?;
    m.insert_op(block, at, clone).map_err(internal)?;
    m.set_attr(clone, "sym_name", Attribute::string(clone_name.as_str()));
    m.set_attr(clone, "accc.composed", Attribute::string(name));
    // The callee's schedule may reassociate floats when the caller's may.
    let schedule = c
        .schedule
        .clone()
        .with_fp_reassoc(c.schedule.fp_reassoc || parent.fp_reassoc);
    let trace = schedule.apply(m, &clone_name).map_err(|e| {
        let span = e.span;
        ScheduleError {
            message: format!(
                "in schedule `{name}`, composed for the calls to `{}`: {}",
                c.kernel, e.message
            ),
            span: span.or(args.span(0)),
            hint: e.hint,
        }
    })?;
    for call in &calls {
        m.set_attr(*call, "callee", Attribute::SymbolRef(clone_name.clone()));
    }
    Ok(StepReport {
        summary: format!(
            "applied schedule `{name}` ({} step(s)) to `{clone_name}`, a copy of `{}`, which the {} call(s) in `{kernel}` now call",
            trace.steps.len(),
            c.kernel,
            calls.len()
        ),
        names: vec![clone_name],
    })
}

pub(crate) fn apply_inline(
    m: &mut Module,
    func: Op,
    args: &Args,
) -> Result<StepReport, ScheduleError> {
    args.expect(1, 1, &[])?;
    let callee_name = args.name(0, "the kernel whose calls to inline")?;
    let kernel = func::sym_name(m, func).unwrap_or("?").to_string();
    let calls = calls_to(m, func, callee_name);
    if calls.is_empty() {
        let mut called: Vec<String> = Vec::new();
        m.walk(func, &mut |op| {
            if let Some(c) = callee(m, op) {
                if !called.contains(&c) {
                    called.push(c);
                }
            }
        });
        return Err(ScheduleError::new(format!(
            "kernel `{kernel}` has no call to `{callee_name}`"
        ))
        .at(args.span(0))
        .with_hint(if called.is_empty() {
            "it calls no kernels".to_string()
        } else {
            format!("it calls: {}", called.join(", "))
        }));
    }
    let callee = m
        .lookup_symbol(callee_name)
        .ok_or_else(|| internal("a called kernel the module does not define"))?;
    if callee == func {
        return Err(ScheduleError::new(format!("kernel `{kernel}` calls itself")).at(args.span(0)));
    }
    let body = m
        .entry_block(callee, 0)
        .ok_or_else(|| internal("no body"))?;
    let params = m.block_args(body).to_vec();
    let ops = m.block_ops(body).to_vec();
    let Some((_, inner)) = ops.split_last() else {
        return Err(internal("an empty kernel"));
    };
    let mut stages = Vec::new();
    for call in &calls {
        if !m.results(*call).is_empty() {
            return Err(ScheduleError::new(format!(
                "the call to `{callee_name}` at {} returns values; only calls of kernels, which write their outputs, can be inlined",
                m.op(*call).loc
            )));
        }
        let mut map = ValueMap::new();
        for (p, a) in params.iter().zip(m.operands(*call).to_vec()) {
            map.insert(*p, a);
        }
        let (block, at) = m
            .op_position(*call)
            .ok_or_else(|| internal("detached call"))?;
        let mut clones = Vec::new();
        for (k, &op) in inner.iter().enumerate() {
            let c = m.clone_op(op, &mut map);
            m.insert_op(block, at + k, c).map_err(internal)?;
            clones.push(c);
        }
        m.erase_op(*call).map_err(internal)?;
        stages.extend(rename_clashes(m, func, &clones));
        widen_buffers(m, func, block, &clones)?;
    }
    // A function `compose` made for these calls has no other callers now.
    let composed = m.attr(callee, "accc.composed").is_some();
    let still_called = func::functions(m).any(|f| !calls_to(m, f, callee_name).is_empty());
    if composed && !still_called {
        m.erase_op(callee).map_err(internal)?;
    }
    Ok(StepReport {
        summary: format!(
            "inlined {} call(s) to `{callee_name}` into `{kernel}`{}",
            calls.len(),
            if stages.is_empty() {
                String::new()
            } else {
                format!("; its stages here: {}", stages.join(", "))
            }
        ),
        names: stages,
    })
}

/// When the call was in the kernel's top block, the callee's buffers are
/// allocated at the kernel's entry and freed before its return, like the
/// kernel's own, so that later steps can move its nests past the place
/// where the callee freed them (`compute_at` of an inlined producer).
fn widen_buffers(
    m: &mut Module,
    func: Op,
    block: accc_ir::Block,
    clones: &[Op],
) -> Result<(), ScheduleError> {
    let entry = m.entry_block(func, 0).ok_or_else(|| internal("no body"))?;
    if block != entry {
        return Ok(());
    }
    let ret = m
        .block_terminator(entry)
        .ok_or_else(|| internal("no return"))?;
    for &op in clones {
        match m.op_name(op) {
            "memref.alloc" if m.operands(op).is_empty() => {
                let first = m.block_ops(entry)[0];
                m.move_op_before(op, first).map_err(internal)?;
            }
            "memref.dealloc" => m.move_op_before(op, ret).map_err(internal)?,
            _ => {}
        }
    }
    Ok(())
}

/// The callee of a `func.call`.
fn callee(m: &Module, op: Op) -> Option<String> {
    (m.op_name(op) == "func.call")
        .then(|| m.attr(op, "callee").and_then(Attribute::as_symbol))
        .flatten()
        .map(str::to_string)
}

/// The calls to `name` nested in `func`.
fn calls_to(m: &Module, func: Op, name: &str) -> Vec<Op> {
    let mut out = Vec::new();
    m.walk(func, &mut |op| {
        if callee(m, op).as_deref() == Some(name) {
            out.push(op);
        }
    });
    out
}

/// Gives the stages (`op_name`) and buffers of the inlined `ops` fresh
/// names where the rest of `func` already uses theirs; returns the stage
/// names.
fn rename_clashes(m: &mut Module, func: Op, ops: &[Op]) -> Vec<String> {
    let inside = |m: &Module, o: Op| super::loops::inside_any(m, ops, o);
    let mut stages_taken: Vec<String> = super::loops::stage_names(m, func)
        .into_iter()
        .filter(|(o, _)| !inside(m, *o))
        .map(|(_, n)| n)
        .collect();
    let mut buffers_taken: Vec<String> = Vec::new();
    for (n, v) in tensors(m, func) {
        if !m.defining_op(v).is_some_and(|d| inside(m, d)) {
            buffers_taken.push(n);
        }
    }
    let mut stages = Vec::new();
    let mut renames: Vec<(Op, &str, String)> = Vec::new();
    for &root in ops {
        m.walk(root, &mut |o| {
            if let Some(n) = m.attr(o, "op_name").and_then(Attribute::as_str) {
                let name = fresh(n, &stages_taken);
                stages_taken.push(name.clone());
                stages.push(name.clone());
                renames.push((o, "op_name", name));
            }
            if matches!(m.op_name(o), "memref.alloc" | "memref.alloca") {
                let current = m
                    .attr(o, "accc.buffer")
                    .or_else(|| m.attr(o, "name"))
                    .and_then(Attribute::as_str);
                if let Some(n) = current.filter(|n| buffers_taken.iter().any(|t| t == n)) {
                    let name = fresh(n, &buffers_taken);
                    buffers_taken.push(name.clone());
                    for key in ["name", "accc.buffer"] {
                        if m.attr(o, key).is_some() {
                            renames.push((o, key, name.clone()));
                        }
                    }
                }
            }
        });
    }
    for (o, key, name) in renames {
        if key != "op_name" {
            let r = m.result(o, 0);
            m.set_name_hint(r, value_hint(&name));
        }
        m.set_attr(o, key, Attribute::string(name));
    }
    stages
}

//! Schedule primitives: each a rewrite of a kernel's tensor IR with a
//! precise precondition, applied one step at a time.
//!
//! A [`Schedule`] is a list of [`Step`]s, written in the DSL (`schedule S
//! for K { io, ii = split(i, 16); ... }`, converted by `accc_dsl`) or
//! built in Rust with one method per primitive:
//!
//! ```
//! use accc_passes::schedule::Schedule;
//! let text = r#"
//! func.func @k(%x: memref<8xi32>) {
//!   affine.for %i = 0 to 8 {
//!     %v = affine.load %x[%i] : memref<8xi32>
//!     %w = arith.addi %v, %v : i32
//!     affine.store %w, %x[%i] : memref<8xi32>
//!   } {loop_name = "i", op_name = "S_i"}
//!   return
//! }"#;
//! let mut module =
//!     accc_ir::parse_module(&accc_ir::diag::SourceFile::new("k.mlir", text)).unwrap();
//! let trace = Schedule::new().split("i", 4).apply(&mut module, "k").unwrap();
//! assert_eq!(trace.steps[0].report.names, ["i.o", "i.i"]);
//! ```
//!
//! Applying a schedule verifies the module after every step and records a
//! [`Trace`]: each step with its [`StepReport`] and the IR before and after
//! it, which `--print-ir-after-each` prints and the verifier checks step by
//! step. A step whose precondition fails returns a [`ScheduleError`] that
//! names the step's source span, and leaves the module as it was before
//! that step.

mod access;
mod annotate;
mod buffer;
mod compose;
mod compute_at;
mod fission;
mod hoist;
mod loops;
mod partition;
mod pipeline;
mod reorder;
mod reuse;
mod split;
pub mod tensorize;
mod tile;
mod unroll;

use std::sync::Arc;

use accc_ir::diag::{Diagnostic, Span};
use accc_ir::Module;

pub use compose::Component;
pub use loops::{loop_names, LoopRef};

/// A schedule: steps applied in order to one kernel.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Schedule {
    pub steps: Vec<Step>,
    /// The schedules `compose` steps name, each for a kernel this one
    /// calls.
    pub components: Vec<Component>,
    /// Float `+` and `*` may be reassociated: `reorder` (and `tile`) may
    /// then change the order in which a float reduction adds its terms
    /// (off by default: the results would round differently).
    pub fp_reassoc: bool,
    /// The target instructions `tensorize` may map loop nests onto.
    pub intrinsics: tensorize::IntrinsicSet,
}

/// One step: `binds = primitive(args)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub primitive: String,
    /// Names the step binds (`io, ii = split(i, 16)`), possibly none.
    pub binds: Vec<String>,
    pub args: Vec<Arg>,
    /// Where the step is written, for errors.
    pub span: Option<Span>,
}

/// A positional (`key: None`) or keyword (`key = value`) argument.
#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    pub key: Option<String>,
    pub value: ArgValue,
    pub span: Option<Span>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ArgValue {
    Int(i64),
    Float(f64),
    Str(String),
    /// A name, dotted parts joined by `.` (`k`, `k.o`, `S_i_j.i`).
    Name(String),
    List(Vec<ArgValue>),
}

impl ArgValue {
    pub fn as_int(&self) -> Option<i64> {
        match self {
            ArgValue::Int(v) => Some(*v),
            _ => None,
        }
    }

    pub fn as_name(&self) -> Option<&str> {
        match self {
            ArgValue::Name(n) => Some(n),
            _ => None,
        }
    }
}

impl Step {
    /// The values of the positional arguments, in order.
    pub fn positional(&self) -> Vec<&ArgValue> {
        self.args
            .iter()
            .filter(|a| a.key.is_none())
            .map(|a| &a.value)
            .collect()
    }

    /// The value of keyword argument `key`, if the step gives it.
    pub fn keyword(&self, key: &str) -> Option<&ArgValue> {
        self.args
            .iter()
            .find(|a| a.key.as_deref() == Some(key))
            .map(|a| &a.value)
    }
}

impl std::fmt::Display for ArgValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArgValue::Int(v) => write!(f, "{v}"),
            ArgValue::Float(v) => write!(f, "{v:?}"),
            ArgValue::Str(s) => write!(f, "\"{s}\""),
            ArgValue::Name(n) => write!(f, "{n}"),
            ArgValue::List(items) => {
                write!(f, "[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{v}")?;
                }
                write!(f, "]")
            }
        }
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.binds.is_empty() {
            write!(f, "{} = ", self.binds.join(", "))?;
        }
        write!(f, "{}(", self.primitive)?;
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            if let Some(k) = &a.key {
                write!(f, "{k} = ")?;
            }
            write!(f, "{}", a.value)?;
        }
        write!(f, ")")
    }
}

/// What a step changed.
#[derive(Clone, Debug, PartialEq)]
pub struct StepReport {
    /// One line: what was rewritten.
    pub summary: String,
    /// Names the step created (new loops, buffers), in the order the step
    /// binds them.
    pub names: Vec<String>,
}

/// One applied step.
#[derive(Clone, Debug)]
pub struct TraceEntry {
    pub step: Step,
    pub report: StepReport,
    /// The IR before and after the step; one step's `after` is the next
    /// step's `before` (shared, not copied).
    pub before: Arc<Module>,
    pub after: Arc<Module>,
}

/// Every step of an applied schedule, in order.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    pub steps: Vec<TraceEntry>,
    /// The intrinsics the schedule could tensorize onto: what the
    /// intrinsic ops in its programs mean ([`tensorize::expand`]).
    pub intrinsics: tensorize::IntrinsicSet,
}

/// A step that could not be applied.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ScheduleError {
    pub message: String,
    /// The step's span (or its argument's), when it came from source.
    pub span: Option<Span>,
    pub hint: Option<String>,
}

impl ScheduleError {
    pub fn new(message: impl Into<String>) -> ScheduleError {
        ScheduleError {
            message: message.into(),
            span: None,
            hint: None,
        }
    }

    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> ScheduleError {
        self.hint = Some(hint.into());
        self
    }

    /// Sets the span unless one is already set.
    #[must_use]
    fn at(mut self, span: Option<Span>) -> ScheduleError {
        self.span = self.span.or(span);
        self
    }

    /// As a diagnostic (located at the step when the span is known).
    pub fn to_diagnostic(&self) -> Diagnostic {
        let mut d = Diagnostic::error(self.message.clone());
        if let Some(span) = self.span {
            d = d.with_primary(span, "");
        }
        if let Some(h) = &self.hint {
            d = d.with_hint(h.clone());
        }
        d
    }
}

/// The primitives, with their signatures, for error messages and
/// `docs/primitives.md`.
pub const PRIMITIVES: &[(&str, &str)] = &[
    (
        "split",
        "outer, inner = split(loop, factor, tail = guard|error)",
    ),
    (
        "tile",
        "io, jo, ii, ji = tile(i, j, fi, fj, tail = guard|error)",
    ),
    ("reorder", "reorder(l1, l2, ...)"),
    ("fuse", "fused = fuse(outer, inner)"),
    ("unroll", "unroll(loop, factor = 0)"),
    ("parallel", "parallel(loop)"),
    ("bind", "bind(loop, axis)"),
    ("unfold", "unfold([l1, l2, ...], name)"),
    ("fission", "pre1, ... = fission(loop, levels = 1)"),
    ("buffer_at", "buf = buffer_at(tensor, loop, mem = space)"),
    ("hoist", "hoist(buffer_or_tensor, loop)"),
    ("double_buffer", "double_buffer(buffer, loop, copies = 2)"),
    ("pipeline", "pipeline(loop, stages = 2)"),
    ("compute_at", "loops... = compute_at(stage, loop)"),
    ("reuse_at", "buf = reuse_at(tensor, loop, mem = space)"),
    (
        "partition",
        "partition(buffer, dim, kind = block|cyclic|complete, factor = banks)",
    ),
    ("compose", "fn = compose(schedule)"),
    ("inline", "stages... = inline(callee)"),
];

impl Schedule {
    pub fn new() -> Schedule {
        Schedule::default()
    }

    fn push(mut self, primitive: &str, binds: &[&str], args: Vec<Arg>) -> Schedule {
        self.steps.push(Step {
            primitive: primitive.to_string(),
            binds: binds.iter().map(|s| s.to_string()).collect(),
            args,
            span: None,
        });
        self
    }

    /// `buffer = primitive(tensor, loop, mem = space)`.
    fn push_staging(
        self,
        primitive: &str,
        buffer: &str,
        tensor: &str,
        loop_name: &str,
        mem: Option<&str>,
    ) -> Schedule {
        let mut args = vec![name(tensor), name(loop_name)];
        if let Some(space) = mem {
            args.push(keyword("mem", space));
        }
        self.push(primitive, &[buffer], args)
    }

    /// `split(loop, factor)`: the loop becomes an outer loop over blocks of
    /// `factor` iterations and an inner loop within a block (named
    /// `loop.o` and `loop.i`); a factor that does not divide the trip count
    /// is an error (see [`Schedule::split_guarded`]).
    pub fn split(self, loop_name: &str, factor: i64) -> Schedule {
        self.push("split", &[], vec![name(loop_name), int(factor)])
    }

    /// `split(loop, factor, tail = guard)`: like [`Schedule::split`], with
    /// the last, partial block guarded by an `affine.if`.
    pub fn split_guarded(self, loop_name: &str, factor: i64) -> Schedule {
        self.push(
            "split",
            &[],
            vec![name(loop_name), int(factor), keyword("tail", "guard")],
        )
    }

    /// `outer, inner = split(loop, factor)` with the new loops named.
    pub fn split_as(self, loop_name: &str, factor: i64, outer: &str, inner: &str) -> Schedule {
        self.push("split", &[outer, inner], vec![name(loop_name), int(factor)])
    }

    /// `tile(i, j, fi, fj)`: split both loops and order the band
    /// `i.o, j.o, i.i, j.i`.
    pub fn tile(self, i: &str, j: &str, fi: i64, fj: i64) -> Schedule {
        self.push("tile", &[], vec![name(i), name(j), int(fi), int(fj)])
    }

    /// `reorder(l1, l2, ...)`: permutes the listed loops of a perfect band
    /// into the given order (outermost first).
    pub fn reorder(self, loops: &[&str]) -> Schedule {
        self.push("reorder", &[], loops.iter().map(|l| name(l)).collect())
    }

    /// `fission(loop, levels)`: distributes the `levels` loops around
    /// `loop` at the gap before it; the ops before the gap move to copies
    /// named `<name>.pre`.
    pub fn fission(self, loop_name: &str, levels: i64) -> Schedule {
        self.push(
            "fission",
            &[],
            vec![name(loop_name), keyword_int("levels", levels)],
        )
    }

    /// `buffer = buffer_at(tensor, loop, mem = space)`: stages the box of
    /// `tensor` one iteration of `loop` touches in a local buffer named
    /// `buffer` (in memory space `mem`, if given).
    ///
    /// ```
    /// # use accc_passes::schedule::Schedule;
    /// let s = Schedule::new()
    ///     .split_as("k", 16, "ko", "ki")
    ///     .buffer_at("abuf", "A", "ko", Some("scratchpad"))
    ///     .double_buffer("abuf", "ko", 2)
    ///     .pipeline("ko", 2);
    /// assert_eq!(s.steps[1].to_string(), "abuf = buffer_at(A, ko, mem = scratchpad)");
    /// ```
    pub fn buffer_at(
        self,
        buffer: &str,
        tensor: &str,
        loop_name: &str,
        mem: Option<&str>,
    ) -> Schedule {
        self.push_staging("buffer_at", buffer, tensor, loop_name, mem)
    }

    /// `double_buffer(buffer, loop, copies = n)`: `n` alternating slots
    /// selected by the iteration of `loop`.
    pub fn double_buffer(self, buffer: &str, loop_name: &str, copies: i64) -> Schedule {
        self.push(
            "double_buffer",
            &[],
            vec![name(buffer), name(loop_name), keyword_int("copies", copies)],
        )
    }

    /// `pipeline(loop, stages = n)`: the copy-ins of iteration `i + n - 1`
    /// are issued before the compute of iteration `i`.
    pub fn pipeline(self, loop_name: &str, stages: i64) -> Schedule {
        self.push(
            "pipeline",
            &[],
            vec![name(loop_name), keyword_int("stages", stages)],
        )
    }

    /// `hoist(buffer_or_tensor, loop)`: moves a buffer's copies out of
    /// `loop`, or, for a tensor with no copies there, its loads whose
    /// indices do not change with `loop` (scalar promotion).
    ///
    /// ```
    /// use accc_passes::schedule::Schedule;
    /// // Stage A per k, then copy it once per (i, j) instead of per k...
    /// let staged = Schedule::new().buffer_at("abuf", "A", "k", None).hoist("abuf", "k");
    /// // ...or load A[i, k] once per k after moving j inside k.
    /// let promoted = Schedule::new().reorder(&["k", "j"]).hoist("A", "j");
    /// assert_eq!(staged.steps.len(), 2);
    /// assert_eq!(promoted.steps[1].to_string(), "hoist(A, j)");
    /// ```
    pub fn hoist(self, tensor: &str, loop_name: &str) -> Schedule {
        self.push("hoist", &[], vec![name(tensor), name(loop_name)])
    }

    /// `unroll(loop, factor)`; factor 0 unrolls fully.
    pub fn unroll(self, loop_name: &str, factor: i64) -> Schedule {
        self.push("unroll", &[], vec![name(loop_name), int(factor)])
    }

    /// `fuse(outer, inner)`: one loop named `outer_inner`.
    pub fn fuse(self, outer: &str, inner: &str) -> Schedule {
        self.push("fuse", &[], vec![name(outer), name(inner)])
    }

    /// `parallel(loop)`: marks a loop without carried dependences parallel.
    pub fn parallel(self, loop_name: &str) -> Schedule {
        self.push("parallel", &[], vec![name(loop_name)])
    }

    /// `bind(loop, axis)`: binds a loop without carried dependences to a
    /// target axis (`block.x`, `thread.x`, `warpgroup`, `partition`, ...).
    pub fn bind(self, loop_name: &str, axis: &str) -> Schedule {
        self.push("bind", &[], vec![name(loop_name), name(axis)])
    }

    /// `unfold([loops], array)`: marks a perfect band as a spatial array.
    pub fn unfold(self, loops: &[&str], array: &str) -> Schedule {
        let list = Arg {
            key: None,
            value: ArgValue::List(
                loops
                    .iter()
                    .map(|l| ArgValue::Name(l.to_string()))
                    .collect(),
            ),
            span: None,
        };
        self.push("unfold", &[], vec![list, name(array)])
    }

    /// `compute_at(stage, loop)`: computes the producer nest `stage` inside
    /// `loop`, only the box of its result one iteration of `loop` reads.
    pub fn compute_at(self, stage: &str, loop_name: &str) -> Schedule {
        self.push("compute_at", &[], vec![name(stage), name(loop_name)])
    }

    /// `buffer = reuse_at(tensor, loop, mem = space)`: a sliding window of
    /// `tensor` along `loop`; each iteration loads only the rows the
    /// window gains.
    pub fn reuse_at(
        self,
        buffer: &str,
        tensor: &str,
        loop_name: &str,
        mem: Option<&str>,
    ) -> Schedule {
        self.push_staging("reuse_at", buffer, tensor, loop_name, mem)
    }

    /// `partition(buffer, dim, kind, factor)`: splits dimension `dim` of a
    /// local buffer into a bank and an offset dimension; `kind` is
    /// `block`, `cyclic` or `complete` (which ignores `factor`).
    pub fn partition(self, buffer: &str, dim: i64, kind: &str, factor: i64) -> Schedule {
        let mut args = vec![name(buffer), int(dim), keyword("kind", kind)];
        if kind != "complete" {
            args.push(keyword_int("factor", factor));
        }
        self.push("partition", &[], args)
    }

    /// `compose(name)`: applies `schedule` (written for `kernel`, which
    /// this kernel calls) to a copy of `kernel` that the calls then call.
    pub fn compose(mut self, name_: &str, kernel: &str, schedule: Schedule) -> Schedule {
        self.components.retain(|c| c.name != name_);
        self.components.push(Component {
            name: name_.to_string(),
            kernel: kernel.to_string(),
            schedule,
        });
        self.push("compose", &[], vec![name(name_)])
    }

    /// `inline(callee)`: replaces the calls of `callee` by its body.
    pub fn inline(self, callee: &str) -> Schedule {
        self.push("inline", &[], vec![name(callee)])
    }

    /// Lets the schedule reorder float reductions (see
    /// [`Schedule::fp_reassoc`]); the verifier must then be told too.
    pub fn with_intrinsics(mut self, intrinsics: tensorize::IntrinsicSet) -> Schedule {
        self.intrinsics = intrinsics;
        self
    }

    pub fn with_fp_reassoc(mut self, on: bool) -> Schedule {
        self.fp_reassoc = on;
        self
    }

    /// Applies every step to `kernel` in order; see the module docs.
    pub fn apply(&self, module: &mut Module, kernel: &str) -> Result<Trace, ScheduleError> {
        let mut trace = Trace {
            intrinsics: self.intrinsics.clone(),
            ..Trace::default()
        };
        let mut before = Arc::new(module.clone());
        for step in &self.steps {
            let report = match apply_step(module, kernel, step, self) {
                Ok(r) => r,
                Err(e) => {
                    *module = Module::clone(&before);
                    return Err(e.at(step.span));
                }
            };
            if let Err(errors) = accc_ir::verify::verify_module(module) {
                let text = errors
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; ");
                *module = Module::clone(&before);
                return Err(ScheduleError::new(format!(
                    "internal error: `{}` produced invalid IR: {text}",
                    step.primitive
                ))
                .at(step.span)
                .with_hint("this is a bug in accc; please report it with the schedule"));
            }
            let after = Arc::new(module.clone());
            trace.steps.push(TraceEntry {
                step: step.clone(),
                report,
                before: std::mem::replace(&mut before, after.clone()),
                after,
            });
        }
        Ok(trace)
    }
}

fn name(s: &str) -> Arg {
    Arg {
        key: None,
        value: ArgValue::Name(s.to_string()),
        span: None,
    }
}

fn int(v: i64) -> Arg {
    Arg {
        key: None,
        value: ArgValue::Int(v),
        span: None,
    }
}

fn keyword_int(key: &str, value: i64) -> Arg {
    Arg {
        key: Some(key.to_string()),
        value: ArgValue::Int(value),
        span: None,
    }
}

fn keyword(key: &str, value: &str) -> Arg {
    Arg {
        key: Some(key.to_string()),
        value: ArgValue::Name(value.to_string()),
        span: None,
    }
}

/// Applies one step.
fn apply_step(
    m: &mut Module,
    kernel: &str,
    step: &Step,
    schedule: &Schedule,
) -> Result<StepReport, ScheduleError> {
    let Some(func) = m.lookup_symbol(kernel) else {
        return Err(ScheduleError::new(format!("no kernel named `{kernel}`")));
    };
    let args = Args::new(step)?;
    match step.primitive.as_str() {
        "split" => split::apply(m, func, &args),
        "tile" => tile::apply(m, func, &args, schedule.fp_reassoc),
        "reorder" => reorder::apply(m, func, &args, schedule.fp_reassoc),
        "buffer_at" => buffer::apply(m, func, &args),
        "fission" => fission::apply(m, func, &args),
        "hoist" => hoist::apply(m, func, &args),
        "parallel" => annotate::apply_parallel(m, func, &args),
        "bind" => annotate::apply_bind(m, func, &args),
        "unfold" => annotate::apply_unfold(m, func, &args),
        "unroll" => unroll::apply_unroll(m, func, &args),
        "fuse" => unroll::apply_fuse(m, func, &args),
        "double_buffer" => pipeline::apply_double_buffer(m, func, &args),
        "pipeline" => pipeline::apply_pipeline(m, func, &args),
        "compute_at" => compute_at::apply(m, func, &args),
        "reuse_at" => reuse::apply(m, func, &args),
        "tensorize" => tensorize::apply(m, func, &args, &schedule.intrinsics),
        "partition" => partition::apply(m, func, &args),
        "compose" => compose::apply_compose(m, func, &args, schedule),
        "inline" => compose::apply_inline(m, func, &args),
        other => {
            let known: Vec<&str> = PRIMITIVES.iter().map(|(n, _)| *n).collect();
            Err(
                ScheduleError::new(format!("unknown schedule primitive `{other}`"))
                    .with_hint(format!("primitives: {}", known.join(", "))),
            )
        }
    }
}

/// A step's arguments, checked against a primitive's signature.
pub(crate) struct Args<'s> {
    step: &'s Step,
    positional: Vec<&'s Arg>,
}

impl<'s> Args<'s> {
    fn new(step: &'s Step) -> Result<Args<'s>, ScheduleError> {
        let mut positional = Vec::new();
        let mut seen_keyword = false;
        for a in &step.args {
            match &a.key {
                None if seen_keyword => {
                    return Err(ScheduleError::new(
                        "a positional argument follows a keyword argument",
                    )
                    .at(a.span))
                }
                None => positional.push(a),
                Some(_) => seen_keyword = true,
            }
        }
        Ok(Args { step, positional })
    }

    fn signature(&self) -> String {
        PRIMITIVES
            .iter()
            .find(|(n, _)| *n == self.step.primitive)
            .map(|(_, s)| s.to_string())
            .unwrap_or_default()
    }

    fn usage_error(&self, message: String, span: Option<Span>) -> ScheduleError {
        ScheduleError::new(message)
            .at(span)
            .with_hint(format!("usage: {}", self.signature()))
    }

    /// Errors unless there are between `min` and `max` positional
    /// arguments and only the listed keywords.
    pub fn expect(&self, min: usize, max: usize, keywords: &[&str]) -> Result<(), ScheduleError> {
        let n = self.positional.len();
        if n < min || n > max {
            let wanted = if min == max {
                format!("{min}")
            } else {
                format!("{min} to {max}")
            };
            return Err(self.usage_error(
                format!(
                    "`{}` takes {wanted} positional argument(s), got {n}",
                    self.step.primitive
                ),
                self.positional.get(max).and_then(|a| a.span),
            ));
        }
        for a in &self.step.args {
            if let Some(k) = &a.key {
                if !keywords.contains(&k.as_str()) {
                    return Err(self.usage_error(
                        format!("`{}` has no argument `{k}`", self.step.primitive),
                        a.span,
                    ));
                }
            }
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.positional.len()
    }

    pub fn span(&self, i: usize) -> Option<Span> {
        self.positional.get(i).and_then(|a| a.span)
    }

    /// Positional argument `i` as a name.
    pub fn name(&self, i: usize, what: &str) -> Result<&'s str, ScheduleError> {
        match self.positional.get(i).map(|a| &a.value) {
            Some(ArgValue::Name(n)) => Ok(n),
            Some(other) => Err(self.usage_error(
                format!("expected {what} (a name), found `{other}`"),
                self.span(i),
            )),
            None => Err(self.usage_error(format!("missing {what}"), None)),
        }
    }

    /// Positional argument `i`, whatever its kind.
    pub fn value(&self, i: usize) -> Option<&'s ArgValue> {
        self.positional.get(i).map(|a| &a.value)
    }

    /// Positional argument `i` as an integer.
    pub fn int(&self, i: usize, what: &str) -> Result<i64, ScheduleError> {
        match self.positional.get(i).map(|a| &a.value) {
            Some(ArgValue::Int(v)) => Ok(*v),
            Some(other) => Err(self.usage_error(
                format!("expected {what} (an integer), found `{other}`"),
                self.span(i),
            )),
            None => Err(self.usage_error(format!("missing {what}"), None)),
        }
    }

    /// Keyword argument `key` as one of `choices`, or `default`.
    pub fn choice(
        &self,
        key: &str,
        choices: &[&'static str],
        default: &'static str,
    ) -> Result<&'static str, ScheduleError> {
        let Some(a) = self.keyword(key) else {
            return Ok(default);
        };
        let text = match &a.value {
            ArgValue::Name(n) | ArgValue::Str(n) => n.as_str(),
            _ => "",
        };
        choices
            .iter()
            .find(|c| **c == text)
            .copied()
            .ok_or_else(|| {
                self.usage_error(
                    format!(
                        "`{key}` must be one of {}, found `{}`",
                        choices.join(", "),
                        a.value
                    ),
                    a.span,
                )
            })
    }

    /// Keyword argument `key` as a name or string, if given.
    pub fn keyword_name(&self, key: &str) -> Result<Option<&'s str>, ScheduleError> {
        let Some(a) = self.keyword(key) else {
            return Ok(None);
        };
        match &a.value {
            ArgValue::Name(n) | ArgValue::Str(n) => Ok(Some(n)),
            other => {
                Err(self.usage_error(format!("`{key}` must be a name, found `{other}`"), a.span))
            }
        }
    }

    /// Keyword argument `key` as an integer, or `default`.
    pub fn keyword_int(&self, key: &str, default: i64) -> Result<i64, ScheduleError> {
        let Some(a) = self.keyword(key) else {
            return Ok(default);
        };
        match &a.value {
            ArgValue::Int(v) => Ok(*v),
            other => Err(self.usage_error(
                format!("`{key}` must be an integer, found `{other}`"),
                a.span,
            )),
        }
    }

    /// The span of keyword argument `key`, if given.
    pub fn keyword_span(&self, key: &str) -> Option<Span> {
        self.keyword(key).and_then(|a| a.span)
    }

    /// Keyword argument `key`, if given.
    fn keyword(&self, key: &str) -> Option<&'s Arg> {
        self.step
            .args
            .iter()
            .find(|a| a.key.as_deref() == Some(key))
    }

    /// The names bound by the step, or `defaults` when it binds none;
    /// errors if it binds a different number.
    pub fn binds(&self, defaults: Vec<String>) -> Result<Vec<String>, ScheduleError> {
        let binds = &self.step.binds;
        if binds.is_empty() {
            return Ok(defaults);
        }
        if binds.len() != defaults.len() {
            return Err(self.usage_error(
                format!(
                    "`{}` creates {} name(s) here, but the step binds {}",
                    self.step.primitive,
                    defaults.len(),
                    binds.len()
                ),
                self.step.span,
            ));
        }
        Ok(binds.clone())
    }
}

//! accc as a library: the same pipeline the `accc` driver runs, for tools
//! that embed accc.
//!
//! ```no_run
//! use accc::{compile, CompileOptions, SourceFile};
//! let file = SourceFile::new("gemm.acc", std::fs::read_to_string("examples/gemm.acc").unwrap());
//! let module = compile(&file, &CompileOptions { kernel: Some("gemm_512x512x512".into()), ..Default::default() })
//!     .map_err(|diags| accc::render_diagnostics(&file, &diags))
//!     .unwrap();
//! println!("{}", accc::ir::text::print_module(&module));
//! ```
//!
//! Every stage reports problems as located [`Diagnostic`]s; nothing here
//! panics on user input.

pub use accc_dsl as dsl;
pub use accc_interp as interp;
pub use accc_ir as ir;
pub use accc_ir::diag::{render as render_diagnostics, Diagnostic, SourceFile, Span};
pub use accc_passes as passes;
pub use accc_sim as sim;
pub use accc_targets as targets;
pub use accc_tensor as tensor;
pub use accc_verify as verify;

pub mod fullsize;
pub mod gemmini;
pub mod run;

pub use fullsize::verify_schedule;

use accc_ir::Module;

/// What to compile from a source file.
#[derive(Clone, Debug)]
pub struct CompileOptions {
    /// Only this kernel (and the kernels it calls); all kernels when `None`.
    pub kernel: Option<String>,
    /// A schedule of the file to apply to the kernel.
    pub schedule: Option<String>,
    /// Let the schedule reorder float reductions (`--fp-reassoc`).
    pub fp_reassoc: bool,
    /// The target instructions `tensorize` may use; by default Gemmini's
    /// for its default configuration ([`gemmini::default_intrinsics`]).
    pub intrinsics: passes::schedule::tensorize::IntrinsicSet,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            kernel: None,
            schedule: None,
            fp_reassoc: false,
            intrinsics: gemmini::default_intrinsics().clone(),
        }
    }
}

/// Parses, checks and lowers an `.acc` file to a verified IR module,
/// applying the schedule named in `options` if any.
pub fn compile(file: &SourceFile, options: &CompileOptions) -> Result<Module, Vec<Diagnostic>> {
    compile_traced(file, options).map(|(module, _)| module)
}

/// [`compile`], also returning the trace of the applied schedule (empty
/// without one): every step with the IR before and after it.
pub fn compile_traced(
    file: &SourceFile,
    options: &CompileOptions,
) -> Result<(Module, passes::schedule::Trace), Vec<Diagnostic>> {
    let program = dsl::parse_and_check(file)?;
    compile_checked(file, &program, options)
}

/// [`compile_traced`] for a program already parsed and checked (`file`
/// holds the text its spans point into).
pub fn compile_checked(
    file: &SourceFile,
    program: &dsl::checked::Program,
    options: &CompileOptions,
) -> Result<(Module, passes::schedule::Trace), Vec<Diagnostic>> {
    let Some(name) = &options.schedule else {
        let module = dsl::lower::lower_program(file, program, options.kernel.as_deref())?;
        return Ok((module, passes::schedule::Trace::default()));
    };
    let Some(schedule) = program.schedules.iter().find(|s| s.name == *name) else {
        let known: Vec<&str> = program.schedules.iter().map(|s| s.name.as_str()).collect();
        return Err(vec![Diagnostic::error(format!(
            "no schedule named `{name}` in {}",
            file.name()
        ))
        .with_primary(Span::new(0, 0), "")
        .with_hint(if known.is_empty() {
            "this file declares no schedules".to_string()
        } else {
            format!("schedules in this file: {}", known.join(", "))
        })]);
    };
    let target = &program.kernels[schedule.kernel.index()].name;
    if let Some(kernel) = &options.kernel {
        if target != kernel {
            return Err(vec![Diagnostic::error(format!(
                "schedule `{name}` is for kernel `{target}`, not `{kernel}`"
            ))
            .with_primary(schedule.span, "declared here")]);
        }
    }
    let mut module = dsl::lower::lower_program(file, program, Some(target))?;
    let steps = schedule_steps(program, schedule)
        .with_fp_reassoc(options.fp_reassoc)
        .with_intrinsics(options.intrinsics.clone());
    let trace = steps
        .apply(&mut module, target)
        .map_err(|e| vec![e.to_diagnostic()])?;
    prune_unreachable(&mut module, target);
    Ok((module, trace))
}

/// Verifies every step of an applied schedule against the program before
/// it: one outcome per step, each program run once
/// ([`verify::verify_sequence`]).
pub fn verify_trace(
    trace: &passes::schedule::Trace,
    kernel: &str,
    options: &verify::Options,
) -> Vec<verify::Outcome> {
    let trace = match expand_trace(trace) {
        Ok(t) => t,
        Err(reason) => {
            return trace
                .steps
                .iter()
                .map(|_| verify::Outcome::unknown(reason.clone()))
                .collect()
        }
    };
    let mut programs: Vec<&Module> = trace
        .steps
        .first()
        .map(|s| &*s.before)
        .into_iter()
        .collect();
    programs.extend(trace.steps.iter().map(|s| &*s.after));
    verify::verify_sequence(&programs, kernel, options)
}

/// The trace with the intrinsic ops of its programs replaced by what
/// they mean ([`passes::schedule::tensorize::expand`]), so the verifier
/// sees only ops it knows; each program is expanded once (a step's `after`
/// stays the next step's `before`).
pub fn expand_trace(trace: &passes::schedule::Trace) -> Result<passes::schedule::Trace, String> {
    use std::sync::Arc;
    let mut out = trace.clone();
    if trace.intrinsics.is_empty() {
        return Ok(out);
    }
    let expand = |m: &Arc<Module>| -> Result<Arc<Module>, String> {
        let mut copy = Module::clone(m);
        let n = passes::schedule::tensorize::expand(&mut copy, &trace.intrinsics)
            .map_err(|e| e.message)?;
        Ok(if n == 0 { m.clone() } else { Arc::new(copy) })
    };
    let mut previous: Option<Arc<Module>> = None;
    for entry in &mut out.steps {
        entry.before = match previous.take() {
            Some(p) => p,
            None => expand(&entry.before)?,
        };
        entry.after = expand(&entry.after)?;
        previous = Some(entry.after.clone());
    }
    Ok(out)
}

/// The programs with their intrinsic ops replaced by what they mean
/// (`None` when none has any).
pub fn expand_all(
    programs: &[&Module],
    intrinsics: &passes::schedule::tensorize::IntrinsicSet,
) -> Result<Option<Vec<Module>>, String> {
    if intrinsics.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(programs.len());
    let mut any = false;
    for p in programs {
        let mut m = Module::clone(p);
        any |= passes::schedule::tensorize::expand(&mut m, intrinsics).map_err(|e| e.message)? > 0;
        out.push(m);
    }
    Ok(any.then_some(out))
}

/// Erases the functions `kernel` no longer reaches through calls (a
/// callee whose calls `compose` redirected to a scheduled copy), so the
/// module holds the kernel and what it calls, as lowering made it.
fn prune_unreachable(module: &mut Module, kernel: &str) {
    use accc_ir::dialects::func;
    let mut reached = vec![kernel.to_string()];
    let mut i = 0;
    while i < reached.len() {
        if let Some(f) = module.lookup_symbol(&reached[i]) {
            module.walk(f, &mut |op| {
                let callee = (module.op_name(op) == "func.call")
                    .then(|| module.attr(op, "callee").and_then(|a| a.as_symbol()))
                    .flatten();
                if let Some(c) = callee.filter(|c| !reached.iter().any(|r| r == c)) {
                    reached.push(c.to_string());
                }
            });
        }
        i += 1;
    }
    let dead: Vec<_> = func::functions(module)
        .filter(|f| func::sym_name(module, *f).is_some_and(|n| !reached.iter().any(|r| r == n)))
        .collect();
    for f in dead {
        let _ = module.erase_op(f);
    }
}

/// A checked DSL schedule as the steps `accc_passes` applies, with the
/// schedules its `compose` steps name (recursively; a schedule that
/// composes itself is left to fail when applied).
pub fn schedule_steps(
    program: &dsl::checked::Program,
    schedule: &dsl::checked::Schedule,
) -> passes::schedule::Schedule {
    schedule_steps_within(program, schedule, &mut Vec::new())
}

fn schedule_steps_within(
    program: &dsl::checked::Program,
    schedule: &dsl::checked::Schedule,
    open: &mut Vec<String>,
) -> passes::schedule::Schedule {
    use passes::schedule::{Arg, ArgValue, Step};
    fn value(v: &dsl::ast::ScheduleValue) -> ArgValue {
        match &v.kind {
            dsl::ast::ScheduleValueKind::Int(i) => ArgValue::Int(*i),
            dsl::ast::ScheduleValueKind::Float(f) => ArgValue::Float(*f),
            dsl::ast::ScheduleValueKind::Str(s) => ArgValue::Str(s.clone()),
            dsl::ast::ScheduleValueKind::Path(parts) => ArgValue::Name(
                parts
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join("."),
            ),
            dsl::ast::ScheduleValueKind::List(items) => {
                ArgValue::List(items.iter().map(value).collect())
            }
        }
    }
    open.push(schedule.name.clone());
    let mut components = Vec::new();
    for step in schedule
        .steps
        .iter()
        .filter(|s| s.primitive.name == "compose")
    {
        let Some(dsl::ast::ScheduleValueKind::Path(parts)) =
            step.args.first().map(|a| &a.value.kind)
        else {
            continue;
        };
        let name = parts
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(".");
        let found = program.schedules.iter().find(|s| s.name == name);
        if let Some(sub) = found.filter(|_| !open.contains(&name)) {
            components.push(passes::schedule::Component {
                name: name.clone(),
                kernel: program.kernels[sub.kernel.index()].name.clone(),
                schedule: schedule_steps_within(program, sub, open),
            });
        }
    }
    open.pop();
    passes::schedule::Schedule {
        components,
        steps: schedule
            .steps
            .iter()
            .map(|s| Step {
                primitive: s.primitive.name.clone(),
                binds: s.results.iter().map(|r| r.name.clone()).collect(),
                args: s
                    .args
                    .iter()
                    .map(|a| Arg {
                        key: a.key.as_ref().map(|k| k.name.clone()),
                        value: value(&a.value),
                        span: Some(a.span),
                    })
                    .collect(),
                span: Some(s.span),
            })
            .collect(),
        fp_reassoc: false,
        intrinsics: Default::default(),
    }
}

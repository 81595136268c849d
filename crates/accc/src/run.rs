//! Running a kernel: inputs from `.npy` files or a seed, execution on the
//! interpreter or a target, outputs to `.npy` files, and checking against
//! the interpreter (the reference semantics, `docs/semantics.md`).
//!
//! A run never loses results: outputs are written before a failed check is
//! reported, and a failing target leaves its work directory in place when
//! the user asked to keep it.

use std::path::{Path, PathBuf};
use std::time::Instant;

use accc_interp::{InterpError, Interpreter};
use accc_ir::dialects::func::{self, KernelParam};
use accc_ir::Module;
use accc_tensor::compare::{compare, Mismatch};
use accc_tensor::random::{generate, Distribution};
use accc_tensor::{npy, DType, Tensor};

/// Where a kernel runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// The reference interpreter.
    Interp,
    /// The portable C target, compiled with the system C compiler.
    C,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Target::Interp => "interp",
            Target::C => "c",
        })
    }
}

/// How to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub target: Target,
    /// Read inputs from `DIR/<name>.npy`; generate them when `None`.
    pub inputs: Option<PathBuf>,
    /// Write outputs to `DIR/<name>.npy`.
    pub outputs: Option<PathBuf>,
    pub seed: u64,
    pub distribution: Distribution,
    /// Compare the outputs with the interpreter's.
    pub check: bool,
    /// Where the C target builds (a temporary directory when `None`).
    pub work_dir: Option<PathBuf>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            target: Target::Interp,
            inputs: None,
            outputs: None,
            seed: 0,
            distribution: Distribution::Uniform,
            check: false,
            work_dir: None,
        }
    }
}

/// The first differing element of a checked run.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FirstMismatch {
    pub output: String,
    pub index: Vec<usize>,
    pub expected: String,
    pub got: String,
}

/// What a run did; `--json` prints it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RunReport {
    pub kernel: String,
    pub target: Target,
    /// `None` unless checked.
    pub correct: Option<bool>,
    pub max_abs_err: Option<f64>,
    pub mismatches: Option<usize>,
    /// Wall time of the kernel itself (not of compiling or file I/O).
    pub wall_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_mismatch: Option<FirstMismatch>,
    /// Ops the interpreter executed (interpreter runs only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interp_ops: Option<u64>,
    #[serde(skip)]
    pub outputs: Vec<(String, Tensor)>,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Interp(#[from] InterpError),
    #[error(transparent)]
    C(#[from] accc_targets::c::CError),
    #[error("{0}")]
    Io(String),
}

/// The kernel's inputs and zero-filled outputs, in parameter order.
pub fn prepare_arguments(
    params: &[KernelParam],
    options: &RunOptions,
) -> Result<Vec<Tensor>, RunError> {
    params
        .iter()
        .map(|p| {
            let (dtype, shape) = param_layout(p)?;
            if p.is_output {
                return Ok(Tensor::zeros(dtype, shape));
            }
            match &options.inputs {
                Some(dir) => {
                    npy::read_expect(&dir.join(format!("{}.npy", p.name)), &p.name, dtype, &shape)
                        .map_err(|e| RunError::Input(e.to_string()))
                }
                None => Ok(generate(
                    dtype,
                    &shape,
                    options.distribution,
                    options.seed,
                    &p.name,
                )),
            }
        })
        .collect()
}

/// A parameter's element type and shape.
fn param_layout(p: &KernelParam) -> Result<(DType, Vec<usize>), RunError> {
    let dtype = DType::from_name(&p.dtype).ok_or_else(|| {
        RunError::Input(format!(
            "parameter `{}` has element type `{}`, which cannot be read from or written to .npy files",
            p.name, p.dtype
        ))
    })?;
    let shape = match p.memref() {
        Some(mr) => mr.shape.iter().map(|d| *d as usize).collect(),
        None => Vec::new(),
    };
    Ok((dtype, shape))
}

/// The kernel to run: `kernel` if given, else the module's only kernel
/// that no other function calls.
pub fn pick_kernel(module: &Module, kernel: Option<&str>) -> Result<String, RunError> {
    let funcs: Vec<_> = func::functions(module).collect();
    let names: Vec<String> = funcs
        .iter()
        .filter_map(|f| func::sym_name(module, *f).map(str::to_string))
        .collect();
    if let Some(k) = kernel {
        return if names.iter().any(|n| n == k) {
            Ok(k.to_string())
        } else {
            Err(RunError::Input(format!(
                "no kernel named `{k}`; kernels are: {}",
                names.join(", ")
            )))
        };
    }
    let mut called = std::collections::HashSet::new();
    for f in &funcs {
        module.walk(*f, &mut |op| {
            if module.op_name(op) == "func.call" {
                if let Some(c) = module.attr(op, "callee").and_then(|a| a.as_symbol()) {
                    called.insert(c.to_string());
                }
            }
        });
    }
    let roots: Vec<&String> = names.iter().filter(|n| !called.contains(*n)).collect();
    match roots.as_slice() {
        [one] => Ok((*one).clone()),
        _ => Err(RunError::Input(format!(
            "the file defines {} kernels; choose one with --kernel: {}",
            names.len(),
            names.join(", ")
        ))),
    }
}

/// Runs `kernel` of `module` as `options` say.
pub fn run_kernel(
    module: &Module,
    kernel: &str,
    options: &RunOptions,
) -> Result<RunReport, RunError> {
    run_kernel_checked_against(module, module, kernel, options)
}

/// [`run_kernel`] where `--check` runs the interpreter on `reference`
/// instead: the kernel before its schedule, so a check compares the
/// scheduled kernel on the target with the unscheduled one.
pub fn run_kernel_checked_against(
    module: &Module,
    reference: &Module,
    kernel: &str,
    options: &RunOptions,
) -> Result<RunReport, RunError> {
    let func_op = module
        .lookup_symbol(kernel)
        .ok_or_else(|| RunError::Input(format!("no kernel named `{kernel}`")))?;
    let params = func::kernel_params(module, func_op);
    let args = prepare_arguments(&params, options)?;

    let run_interp = |m: &Module, args: &[Tensor]| -> Result<(Vec<Tensor>, f64, u64), RunError> {
        let interp = Interpreter::new(m)?;
        let mut args = args.to_vec();
        let start = Instant::now();
        let stats = interp.run(kernel, &mut args)?;
        Ok((args, start.elapsed().as_secs_f64() * 1e3, stats.ops))
    };

    let (results, wall_ms, interp_ops) = match options.target {
        Target::Interp => {
            let (results, ms, ops) = run_interp(module, &args)?;
            (results, ms, Some(ops))
        }
        Target::C => {
            let (results, ms) = run_c(module, kernel, &params, &args, options)?;
            (results, ms, None)
        }
    };
    let outputs: Vec<(String, Tensor)> = params
        .iter()
        .zip(results)
        .filter(|(p, _)| p.is_output)
        .map(|(p, t)| (p.name.clone(), t))
        .collect();
    if let Some(dir) = &options.outputs {
        write_outputs(dir, &outputs)?;
    }

    let mut report = RunReport {
        kernel: kernel.to_string(),
        target: options.target,
        correct: None,
        max_abs_err: None,
        mismatches: None,
        wall_ms,
        first_mismatch: None,
        interp_ops,
        outputs: Vec::new(),
    };
    if options.check {
        let reference = if options.target == Target::Interp && std::ptr::eq(module, reference) {
            outputs.iter().map(|(_, t)| t.clone()).collect()
        } else {
            let (all, _, _) = run_interp(reference, &args)?;
            params
                .iter()
                .zip(all)
                .filter(|(p, _)| p.is_output)
                .map(|(_, t)| t)
                .collect::<Vec<_>>()
        };
        let (mut mismatches, mut max_abs_err, mut first) = (0usize, 0f64, None);
        for ((name, got), expected) in outputs.iter().zip(&reference) {
            let c = compare(expected, got)
                .map_err(|e| RunError::Io(format!("output `{name}`: {e}")))?;
            mismatches += c.mismatches;
            max_abs_err = max_abs_err.max(c.max_abs_err);
            if first.is_none() {
                first = c.first.map(
                    |Mismatch {
                         index,
                         expected,
                         got,
                     }| FirstMismatch {
                        output: name.clone(),
                        index,
                        expected,
                        got,
                    },
                );
            }
        }
        report.correct = Some(mismatches == 0);
        report.mismatches = Some(mismatches);
        report.max_abs_err = Some(max_abs_err);
        report.first_mismatch = first;
    }
    report.outputs = outputs;
    Ok(report)
}

fn write_outputs(dir: &Path, outputs: &[(String, Tensor)]) -> Result<(), RunError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| RunError::Io(format!("cannot create `{}`: {e}", dir.display())))?;
    for (name, t) in outputs {
        npy::write(&dir.join(format!("{name}.npy")), t).map_err(|e| RunError::Io(e.to_string()))?;
    }
    Ok(())
}

/// Emits, compiles and runs the kernel as C; returns all arguments after
/// the run (inputs unchanged, outputs as written) and the kernel's time.
fn run_c(
    module: &Module,
    kernel: &str,
    params: &[KernelParam],
    args: &[Tensor],
    options: &RunOptions,
) -> Result<(Vec<Tensor>, f64), RunError> {
    use accc_targets::c;
    let program = c::emit_kernel(module, kernel)?;
    let temp;
    let work: &Path = match &options.work_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| RunError::Io(format!("cannot create `{}`: {e}", dir.display())))?;
            dir
        }
        None => {
            temp = tempfile::tempdir()
                .map_err(|e| RunError::Io(format!("cannot create a temporary directory: {e}")))?;
            temp.path()
        }
    };
    let exe = c::build(&program, work)?;
    let (in_dir, out_dir) = (work.join("inputs"), work.join("outputs"));
    for dir in [&in_dir, &out_dir] {
        std::fs::create_dir_all(dir)
            .map_err(|e| RunError::Io(format!("cannot create `{}`: {e}", dir.display())))?;
    }
    for (p, t) in params.iter().zip(args) {
        if !p.is_output {
            npy::write(&in_dir.join(format!("{}.npy", p.name)), t)
                .map_err(|e| RunError::Io(e.to_string()))?;
        }
    }
    let run = c::run(&exe, &in_dir, &out_dir)?;
    let mut results = Vec::with_capacity(args.len());
    for (p, t) in params.iter().zip(args) {
        if p.is_output {
            let (dtype, shape) = param_layout(p)?;
            let path = out_dir.join(format!("{}.npy", p.name));
            results.push(
                npy::read_expect(&path, &p.name, dtype, &shape)
                    .map_err(|e| RunError::Io(format!("the C harness wrote a bad output: {e}")))?,
            );
        } else {
            results.push(t.clone());
        }
    }
    Ok((results, run.kernel_ns as f64 / 1e6))
}

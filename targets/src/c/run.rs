//! Compiling an emitted program with the host C compiler and running it.

use super::emit::CProgram;
use super::error::CError;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The flags every emitted program is compiled with (after `$CC`, before
/// any extra flags):
///
/// - `-std=c99`: the dialect the emitter writes (also turns off GNU
///   extensions that would change float semantics).
/// - `-O2`: the emitted loops are plain C meant for the optimizer.
/// - `-ffp-contract=off`: never fuse `a * b + c` into an FMA (one rounding
///   instead of two would change results).
/// - `-fno-fast-math`: no reassociation, no flush of subnormals, NaNs and
///   signed zeros respected.
/// - `-fno-builtin-{exp,log,tanh}{,f}`: the compiler must call glibc's
///   transcendental functions rather than evaluate them itself (GCC folds
///   constant arguments with MPFR, which can differ from glibc in the last
///   bit). Only these: the other math functions used (`sqrt`, `floor`,
///   `ceil`, `round`, `rint`, `fabs`, `fmod`) are exact or correctly
///   rounded, so folding or inlining them cannot change a result, and
///   keeping them builtin keeps `sqrtf` one instruction in inner loops.
/// - `-fno-math-errno`: `errno` is never read, so math calls need not set
///   it; lets `sqrtf` inline without an error path. Results are unchanged.
pub const C_FLAGS: &[&str] = &[
    "-std=c99",
    "-O2",
    "-ffp-contract=off",
    "-fno-fast-math",
    "-fno-builtin-exp",
    "-fno-builtin-expf",
    "-fno-builtin-log",
    "-fno-builtin-logf",
    "-fno-builtin-tanh",
    "-fno-builtin-tanhf",
    "-fno-math-errno",
];

/// A compiled kernel program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CExecutable {
    path: PathBuf,
    kernel: String,
}

impl CExecutable {
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn kernel(&self) -> &str {
        &self.kernel
    }
}

/// What one run measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CRun {
    /// Wall-clock time of the kernel call alone (`CLOCK_MONOTONIC`).
    pub kernel_ns: u64,
}

/// The C compiler: `$CC` (which may carry arguments, `ccache gcc`), else `cc`.
pub fn c_compiler() -> Vec<String> {
    match std::env::var("CC") {
        Ok(cc) if !cc.trim().is_empty() => cc.split_whitespace().map(str::to_string).collect(),
        _ => vec!["cc".to_string()],
    }
}

/// Writes `<work_dir>/<kernel>.c` and compiles it to `<work_dir>/<kernel>`.
pub fn build(program: &CProgram, work_dir: &Path) -> Result<CExecutable, CError> {
    build_with_flags(program, work_dir, &[])
}

/// [`build`] with extra compiler flags after [`C_FLAGS`] (warnings,
/// sanitizers, `-march=native`).
pub fn build_with_flags(
    program: &CProgram,
    work_dir: &Path,
    extra_flags: &[&str],
) -> Result<CExecutable, CError> {
    std::fs::create_dir_all(work_dir).map_err(|error| CError::Io {
        action: "create",
        path: work_dir.to_path_buf(),
        error,
    })?;
    let source = work_dir.join(format!("{}.c", program.file_stem()));
    let exe = work_dir.join(program.file_stem());
    std::fs::write(&source, program.source()).map_err(|error| CError::Io {
        action: "write",
        path: source.clone(),
        error,
    })?;
    let cc = c_compiler();
    let output = Command::new(&cc[0])
        .args(&cc[1..])
        .args(C_FLAGS)
        .args(extra_flags)
        .arg("-o")
        .arg(&exe)
        .arg(&source)
        .arg("-lm")
        .output()
        .map_err(|error| CError::CompilerUnavailable {
            cc: cc.join(" "),
            error,
        })?;
    if !output.status.success() {
        return Err(CError::CompileFailed {
            cc: cc.join(" "),
            file: source,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    Ok(CExecutable {
        path: exe,
        kernel: program.kernel().to_string(),
    })
}

/// Runs the program on `inputs` (a directory of `.npy` files), writing its
/// outputs to `outputs` (created if missing).
pub fn run(exe: &CExecutable, inputs: &Path, outputs: &Path) -> Result<CRun, CError> {
    run_with_env(exe, inputs, outputs, &[])
}

/// [`run`] with extra environment variables (e.g. sanitizer options).
pub fn run_with_env(
    exe: &CExecutable,
    inputs: &Path,
    outputs: &Path,
    env: &[(&str, &str)],
) -> Result<CRun, CError> {
    std::fs::create_dir_all(outputs).map_err(|error| CError::Io {
        action: "create",
        path: outputs.to_path_buf(),
        error,
    })?;
    let output = Command::new(&exe.path)
        .arg(inputs)
        .arg(outputs)
        .envs(env.iter().copied())
        .output()
        .map_err(|error| CError::Io {
            action: "run",
            path: exe.path.clone(),
            error,
        })?;
    interpret(exe, &output)
}

fn interpret(exe: &CExecutable, output: &Output) -> Result<CRun, CError> {
    let stderr = String::from_utf8_lossy(&output.stderr)
        .trim_end()
        .to_string();
    let failed = |status: String| CError::RunFailed {
        exe: exe.path.clone(),
        status,
        stderr: stderr.clone(),
    };
    match output.status.code() {
        Some(0) => {
            let stdout = String::from_utf8_lossy(&output.stdout);
            stdout
                .lines()
                .find_map(|l| l.strip_prefix("kernel_ns ")?.trim().parse().ok())
                .map(|kernel_ns| CRun { kernel_ns })
                .ok_or_else(|| failed("exit status 0 but no `kernel_ns` line on stdout".into()))
        }
        Some(2) => Err(CError::Input(stderr)),
        Some(3) => Err(CError::Fault(stderr)),
        Some(code) => Err(failed(format!("exit status {code}"))),
        None => Err(failed(describe_signal(output))),
    }
}

#[cfg(unix)]
fn describe_signal(output: &Output) -> String {
    use std::os::unix::process::ExitStatusExt;
    match output.status.signal() {
        Some(s) => format!("killed by signal {s}"),
        None => "no exit status".to_string(),
    }
}

#[cfg(not(unix))]
fn describe_signal(_: &Output) -> String {
    "no exit status".to_string()
}

//! The `accc` driver: compile `.acc` files to IR, run passes on IR text.
//!
//! Exit codes: 0 success, 1 a diagnosed error in the user's input (printed
//! with location), 2 a usage error (bad flags).

use accc::ir::text::{parse_module, print_module};
use accc::{CompileOptions, Diagnostic, SourceFile};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "accc",
    version,
    about = "accc: a compiler for tensor accelerators",
    long_about = "accc compiles kernels written in the .acc language (an algorithm plus \
                  schedules) into an MLIR-style tensor IR, and from there to accelerator code.\n\n\
                  Examples:\n  accc compile examples/gemm.acc --kernel gemm_512x512x512 --emit ir\n  \
                  accc compile examples/softmax.acc --emit ast --json\n  \
                  accc opt kernel.mlir --pass canonicalize --pass dce --print-ir-after-each\n  \
                  accc run examples/gemm.acc --kernel gemm_64x64x64 --target c --check --json"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Print the IR after every pass (to stderr).
    #[arg(long, global = true)]
    print_ir_after_each: bool,
    /// Machine-readable output: results and diagnostics as JSON on stdout.
    #[arg(long, global = true)]
    json: bool,
    /// Do not verify the schedule's steps before compiling or running
    /// (`compile` and `run` prove every step equivalent by default).
    #[arg(long, global = true)]
    no_verify: bool,
    /// Let the verifier treat float `+` and `*` as associative, so a
    /// reordered float reduction counts as equivalent (recorded in the
    /// verdicts).
    #[arg(long, global = true)]
    fp_reassoc: bool,
    /// Symbolic operations the verifier may spend per kernel run (on
    /// `compile`, `run` and `verify`); a kernel over it is not verified
    /// (a warning, or `unknown`).
    #[arg(long, global = true, value_name = "OPS", default_value_t = 40_000_000)]
    verify_budget: u64,
}

/// The verifier's options from the global flags.
fn verify_options(cli: &Cli) -> accc::verify::Options {
    accc::verify::Options {
        fp_reassoc: cli.fp_reassoc,
        budget: cli.verify_budget,
    }
}

#[derive(Subcommand)]
enum Command {
    /// Parse, check and lower an .acc file; print its AST or IR.
    Compile {
        /// The .acc source file.
        file: PathBuf,
        /// Compile only this kernel (and the kernels it calls).
        #[arg(long)]
        kernel: Option<String>,
        /// Apply this schedule of the file.
        #[arg(long)]
        schedule: Option<String>,
        /// What to print.
        #[arg(long, value_enum, default_value_t = Emit::Ir)]
        emit: Emit,
        /// The level to compile to: the tensor IR, or Gemmini (its
        /// dialect with `--emit ir`, Gemmini C with `--emit c`).
        #[arg(long, value_enum, default_value_t = CompileTarget::Tensor)]
        target: CompileTarget,
        /// The Gemmini hardware description (TOML; keys not set keep
        /// Gemmini's default configuration).
        #[arg(long, value_name = "CFG")]
        hw: Option<PathBuf>,
        /// Write the output here instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Print source locations (`loc(...)`) in the IR.
        #[arg(long)]
        locations: bool,
    },
    /// Read IR text (MLIR syntax), run passes on it, print it.
    Opt {
        /// The .mlir file (`-` for stdin).
        file: PathBuf,
        /// A pass to run; repeat for a pipeline. Known: canonicalize, dce.
        #[arg(long = "pass", value_name = "NAME")]
        passes: Vec<String>,
        /// Print in MLIR's generic op syntax.
        #[arg(long)]
        generic: bool,
        /// Write the output here instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Run a kernel on the interpreter or a target, optionally checking it
    /// against the interpreter.
    Run {
        /// The .acc source file.
        file: PathBuf,
        /// The kernel to run (needed when the file has several).
        #[arg(long)]
        kernel: Option<String>,
        /// Apply this schedule of the file first.
        #[arg(long)]
        schedule: Option<String>,
        /// Where to run.
        #[arg(long, value_enum, default_value_t = TargetArg::Interp)]
        target: TargetArg,
        /// Read each input from DIR/<name>.npy (scalars as 0-d arrays).
        #[arg(long, value_name = "DIR")]
        inputs: Option<PathBuf>,
        /// Write each output to DIR/<name>.npy.
        #[arg(long, value_name = "DIR")]
        outputs: Option<PathBuf>,
        /// Seed of the generated inputs (without --inputs).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Distribution of generated inputs: uniform (full integer range,
        /// floats in [-1, 1)) or sparse (1 with probability 1/8, else 0).
        #[arg(long, default_value = "uniform")]
        dist: accc::tensor::random::Distribution,
        /// Compare the outputs with the interpreter's, element by element.
        #[arg(long)]
        check: bool,
        /// Build the C target in DIR and keep it (default: a temporary
        /// directory, removed afterwards).
        #[arg(long, value_name = "DIR")]
        work_dir: Option<PathBuf>,
        /// The Gemmini hardware description (`--target gemmini`).
        #[arg(long, value_name = "CFG")]
        hw: Option<PathBuf>,
        /// Run the emitted Gemmini C with this shell command instead of
        /// the built-in emulator (`--target gemmini`): `{c}` is replaced by
        /// the C file, `{dir}` by the directory holding it and the headers,
        /// `{seed}` by the seed. The command must print Autocomp's lines,
        /// `Correct result` and `latency: N cycles`.
        #[arg(long, value_name = "CMD")]
        eval_cmd: Option<String>,
    },
    /// Prove a schedule's steps equivalent, one by one, by symbolic
    /// execution; or compare two schedules (`--against`) or two IR files
    /// (`--equiv A.mlir B.mlir`). Exits 0 only when everything is
    /// equivalent.
    Verify {
        /// The .acc source file (not with --equiv).
        file: Option<PathBuf>,
        /// The kernel (needed when the file, or the IR files, have several).
        #[arg(long)]
        kernel: Option<String>,
        /// The schedule whose steps to verify.
        #[arg(long)]
        schedule: Option<String>,
        /// Compare the result of --schedule with that of this schedule of
        /// the same kernel.
        #[arg(long, value_name = "S2", requires = "schedule")]
        against: Option<String>,
        /// Compare two IR files with the same kernel signature.
        #[arg(long, num_args = 2, value_names = ["A", "B"], conflicts_with_all = ["file", "schedule"])]
        equiv: Vec<PathBuf>,
        /// Also verify the lowering to this target (after the schedule's
        /// steps).
        #[arg(long, value_enum, default_value_t = CompileTarget::Tensor)]
        target: CompileTarget,
        /// The Gemmini hardware description (`--target gemmini`).
        #[arg(long, value_name = "CFG")]
        hw: Option<PathBuf>,
    },
    /// Run every schedule of a file on a target and print a table of
    /// cycles and utilization per kernel and kind of schedule (the prefix
    /// of its name before `_`: naive, library, hand, ...), with the ideal
    /// cycles and the bound data movement sets; `-o` writes it as
    /// Markdown (docs/benchmarks.md is made this way).
    Bench {
        /// The target (only gemmini).
        #[arg(value_enum)]
        target: BenchTarget,
        /// The .acc files with the kernels and schedules.
        #[arg(default_values = ["examples/gemmini.acc", "examples/gemmini_conv.acc"])]
        files: Vec<PathBuf>,
        /// The Gemmini hardware description.
        #[arg(long, value_name = "CFG")]
        hw: Option<PathBuf>,
        /// Only schedules whose name contains this text.
        #[arg(long, value_name = "TEXT")]
        filter: Option<String>,
        /// Write the Markdown table here (as well as printing it).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Run a C program written against Gemmini's C API on accc's Gemmini
    /// emulator: build it with the host C compiler against accc's
    /// gemmini.h, run it, and report the cycles between its last two
    /// read_cycles() calls, utilization and per-controller busy time.
    Emulate {
        /// The program's C sources.
        #[arg(required = true)]
        sources: Vec<PathBuf>,
        /// The hardware description (TOML; keys not set keep Gemmini's
        /// default configuration).
        #[arg(long, value_name = "CFG")]
        hw: Option<PathBuf>,
        /// Build in DIR and keep it (headers, shared object).
        #[arg(long, value_name = "DIR")]
        work_dir: Option<PathBuf>,
        /// Stop the program after this many seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 600)]
        timeout: u64,
        /// Arguments passed to the program's main (after `--`).
        #[arg(last = true)]
        args: Vec<String>,
    },
}

/// The hidden first argument that turns `accc` into the host process of a
/// program on the Gemmini emulator (`accc_sim::host::serve`).
const GEMMINI_HOST: &str = "__gemmini-host";

#[derive(Clone, Copy, ValueEnum)]
enum TargetArg {
    /// The reference interpreter.
    Interp,
    /// Portable C99, compiled with the system `cc` (or `$CC`).
    C,
    /// Gemmini C on the built-in Gemmini emulator (or `--eval-cmd`).
    Gemmini,
}

#[derive(Clone, Copy, ValueEnum)]
enum Emit {
    /// The syntax tree (JSON).
    Ast,
    /// The IR in MLIR syntax (tensor IR, or the Gemmini dialect).
    Ir,
    /// C: Gemmini C with a self-checking harness (`--target gemmini`).
    C,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum BenchTarget {
    /// Gemmini on the built-in emulator.
    Gemmini,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum CompileTarget {
    /// The scheduled tensor IR.
    Tensor,
    /// Gemmini: instructions, addresses and C against Gemmini's C API.
    Gemmini,
}

/// A failure already explained to the user.
struct Reported;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(GEMMINI_HOST) {
        accc::sim::host::serve(&args[2..]);
    }
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Reported) => ExitCode::from(1),
    }
}

fn run(cli: &Cli) -> Result<(), Reported> {
    match &cli.command {
        Command::Compile {
            file,
            kernel,
            schedule,
            emit,
            target,
            hw,
            output,
            locations,
        } => {
            let source = read_source(cli, file)?;
            let text = match emit {
                Emit::Ast => {
                    let program =
                        accc::dsl::parse(&source).map_err(|d| report(cli, &source, &d))?;
                    accc::dsl::parse_and_check(&source).map_err(|d| report(cli, &source, &d))?;
                    serde_json::to_string_pretty(&program)
                        .map_err(|e| fail(cli, &format!("cannot serialize the AST: {e}")))?
                }
                Emit::C if *target == CompileTarget::Tensor => {
                    return Err(fail(cli, "`--emit c` needs `--target gemmini` (the portable C program is `accc run --target c --work-dir DIR`)"));
                }
                _ if *target == CompileTarget::Gemmini => {
                    let cfg = hardware(cli, hw.as_deref())?;
                    let built =
                        gemmini_build(cli, &source, kernel.as_deref(), schedule.as_deref(), &cfg)?;
                    match emit {
                        Emit::C => built.program.source,
                        _ => accc::ir::text::print_module(&built.lowered),
                    }
                }
                Emit::C => unreachable!("handled above"),
                Emit::Ir => {
                    let options = CompileOptions {
                        kernel: kernel.clone(),
                        schedule: schedule.clone(),
                        fp_reassoc: cli.fp_reassoc,
                        ..Default::default()
                    };
                    let (module, trace) = accc::compile_traced(&source, &options)
                        .map_err(|d| report(cli, &source, &d))?;
                    if cli.print_ir_after_each {
                        print_trace(&module, &trace);
                    }
                    gate(cli, &source, &options, &module, &trace)?;
                    let options = accc::ir::text::PrintOptions {
                        print_locations: *locations,
                        ..Default::default()
                    };
                    let ir = accc::ir::text::print_module_with(&module, &options);
                    if cli.json {
                        serde_json::json!({ "file": file, "kernel": kernel, "ir": ir }).to_string()
                    } else {
                        ir
                    }
                }
            };
            write_output(cli, output.as_deref(), &text)
        }
        Command::Opt {
            file,
            passes,
            generic,
            output,
        } => {
            let source = read_source(cli, file)?;
            let mut module = parse_module(&source).map_err(|d| report(cli, &source, &d))?;
            let mut manager = accc::passes::PassManager::new();
            for name in passes {
                manager
                    .add_by_name(name)
                    .map_err(|e| fail(cli, &e.to_string()))?;
            }
            let print_each = cli.print_ir_after_each;
            manager
                .run(&mut module, |pass, m| {
                    if print_each {
                        eprintln!("// -----// IR after {pass} //----- //\n{}", print_module(m));
                    }
                })
                .map_err(|e| fail(cli, &e.to_string()))?;
            let options = accc::ir::text::PrintOptions {
                generic: *generic,
                ..Default::default()
            };
            let ir = accc::ir::text::print_module_with(&module, &options);
            let text = if cli.json {
                serde_json::json!({ "file": file, "passes": passes, "ir": ir }).to_string()
            } else {
                ir
            };
            write_output(cli, output.as_deref(), &text)
        }
        Command::Run {
            file,
            kernel,
            schedule,
            target,
            inputs,
            outputs,
            seed,
            dist,
            check,
            work_dir,
            hw,
            eval_cmd,
        } => {
            if let TargetArg::Gemmini = target {
                if inputs.is_some() || outputs.is_some() || *check {
                    return Err(fail(cli, "`--target gemmini` generates its inputs from --seed and checks its outputs against its own gold result; --inputs, --outputs and --check do not apply"));
                }
                let cfg = hardware(cli, hw.as_deref())?;
                return gemmini_run(
                    cli,
                    file,
                    kernel.as_deref(),
                    schedule.as_deref(),
                    &cfg,
                    *seed,
                    work_dir.as_deref(),
                    eval_cmd.as_deref(),
                );
            }
            if hw.is_some() || eval_cmd.is_some() {
                return Err(fail(
                    cli,
                    "--hw and --eval-cmd apply to `--target gemmini` only",
                ));
            }
            let options = accc::run::RunOptions {
                target: match target {
                    TargetArg::Interp => accc::run::Target::Interp,
                    TargetArg::C => accc::run::Target::C,
                    TargetArg::Gemmini => unreachable!("handled above"),
                },
                inputs: inputs.clone(),
                outputs: outputs.clone(),
                seed: *seed,
                distribution: *dist,
                check: *check,
                work_dir: work_dir.clone(),
            };
            run_command(cli, file, kernel.as_deref(), schedule.as_deref(), options)
        }
        Command::Bench {
            target: BenchTarget::Gemmini,
            files,
            hw,
            filter,
            output,
        } => {
            let cfg = hardware(cli, hw.as_deref())?;
            bench_gemmini(cli, files, &cfg, filter.as_deref(), output.as_deref())
        }
        Command::Emulate {
            sources,
            hw,
            work_dir,
            timeout,
            args,
        } => emulate_command(
            cli,
            sources,
            hw.as_deref(),
            work_dir.as_deref(),
            *timeout,
            args,
        ),
        Command::Verify {
            file,
            kernel,
            schedule,
            against,
            equiv,
            target,
            hw,
        } => {
            let options = verify_options(cli);
            let gemmini = match target {
                CompileTarget::Gemmini => Some(hardware(cli, hw.as_deref())?),
                CompileTarget::Tensor => None,
            };
            verify_command(
                cli,
                file.as_deref(),
                kernel.as_deref(),
                schedule.as_deref(),
                against.as_deref(),
                equiv,
                gemmini.as_ref(),
                &options,
            )
        }
    }
}

/// `--work-dir DIR` (created), or a temporary directory removed when the
/// returned guard drops.
fn work_directory(
    cli: &Cli,
    work_dir: Option<&Path>,
) -> Result<(Option<tempfile::TempDir>, PathBuf), Reported> {
    match work_dir {
        Some(d) => {
            std::fs::create_dir_all(d)
                .map_err(|e| fail(cli, &format!("cannot create `{}`: {e}", d.display())))?;
            Ok((None, d.to_path_buf()))
        }
        None => {
            let temp = tempfile::tempdir()
                .map_err(|e| fail(cli, &format!("cannot create a temporary directory: {e}")))?;
            let dir = temp.path().to_path_buf();
            Ok((Some(temp), dir))
        }
    }
}

/// Writes a built Gemmini program and the headers it needs to `dir`;
/// returns the C file.
fn write_program(
    cli: &Cli,
    cfg: &accc::targets::gemmini::hardware::HardwareConfig,
    built: &GemminiBuild,
    dir: &Path,
) -> Result<PathBuf, Reported> {
    accc::sim::host::write_headers(dir, cfg).map_err(|e| fail(cli, &e.to_string()))?;
    let c_file = dir.join(format!("{}.c", built.kernel));
    std::fs::write(&c_file, &built.program.source)
        .map_err(|e| fail(cli, &format!("cannot write `{}`: {e}", c_file.display())))?;
    Ok(c_file)
}

/// Runs a built Gemmini program on the emulator in `dir` (with the
/// headers): the emulator's outcome.
fn emulate_built(
    cli: &Cli,
    cfg: &accc::targets::gemmini::hardware::HardwareConfig,
    built: &GemminiBuild,
    dir: &Path,
    seed: u64,
) -> Result<accc::sim::host::Outcome, Reported> {
    let c_file = write_program(cli, cfg, built, dir)?;
    emulate_files(cli, cfg, &[c_file], dir, &[seed.to_string()], None)
}

/// Builds C sources against the headers in `dir` and runs them on the
/// emulator in a host process (this executable).
fn emulate_files(
    cli: &Cli,
    cfg: &accc::targets::gemmini::hardware::HardwareConfig,
    sources: &[PathBuf],
    dir: &Path,
    args: &[String],
    timeout: Option<std::time::Duration>,
) -> Result<accc::sim::host::Outcome, Reported> {
    use accc::sim::host;
    let lib = host::build(sources, dir, dir).map_err(|e| fail(cli, &e.to_string()))?;
    let exe = std::env::current_exe()
        .map_err(|e| fail(cli, &format!("cannot find the accc executable: {e}")))?;
    host::run(&exe, &[GEMMINI_HOST], &lib, cfg, args, timeout)
        .map_err(|e| fail(cli, &e.to_string()))
}

/// One row of `accc bench gemmini`: a kernel and its schedules' runs.
struct BenchRow {
    kernel: String,
    shape: String,
    macs: u64,
    /// (kind, cycles, utilization, proved steps / steps), by kind.
    runs: Vec<(String, Option<u64>, Option<f64>, String)>,
    /// Cycles data movement needs at least (each input read once, each
    /// output written once, at the DMA bandwidth).
    bound: u64,
}

/// `accc bench gemmini FILE...`.
fn bench_gemmini(
    cli: &Cli,
    files: &[PathBuf],
    cfg: &accc::targets::gemmini::hardware::HardwareConfig,
    filter: Option<&str>,
    output: Option<&Path>,
) -> Result<(), Reported> {
    let mut rows: Vec<BenchRow> = Vec::new();
    let mut kinds: Vec<String> = Vec::new();
    let dir = tempfile::tempdir()
        .map_err(|e| fail(cli, &format!("cannot create a temporary directory: {e}")))?;
    let started = std::time::Instant::now();
    for file in files {
        let source = read_source(cli, file)?;
        let program = accc::dsl::parse_and_check(&source).map_err(|d| report(cli, &source, &d))?;
        for schedule in &program.schedules {
            if filter.is_some_and(|f| !schedule.name.contains(f)) {
                continue;
            }
            let kernel = program.kernels[schedule.kernel.index()].name.clone();
            let kind = schedule.name.split('_').next().unwrap_or("").to_string();
            if !kinds.contains(&kind) {
                kinds.push(kind.clone());
            }
            eprintln!("bench: {} ({kernel})", schedule.name);
            let built = gemmini_build(cli, &source, Some(&kernel), Some(&schedule.name), cfg)?;
            let outcome = emulate_built(cli, cfg, &built, dir.path(), 0)?;
            let correct = outcome.exit_code == Some(0)
                && outcome.error.is_none()
                && outcome.stdout.contains("Correct result");
            if !correct {
                return Err(fail(
                    cli,
                    &format!(
                        "schedule `{}` ran incorrectly: {}",
                        schedule.name,
                        outcome.error.clone().unwrap_or_else(|| outcome
                            .stdout
                            .lines()
                            .find(|l| l.contains("Incorrect"))
                            .unwrap_or("no result")
                            .to_string())
                    ),
                ));
            }
            let figures = outcome.report.unwrap_or_default();
            let row = match rows.iter_mut().position(|r| r.kernel == kernel) {
                Some(i) => &mut rows[i],
                None => {
                    let module = accc::compile(
                        &source,
                        &CompileOptions {
                            kernel: Some(kernel.clone()),
                            ..Default::default()
                        },
                    )
                    .map_err(|d| report(cli, &source, &d))?;
                    let (shape, bound) = gemm_traffic(&module, &kernel, cfg);
                    rows.push(BenchRow {
                        kernel: kernel.clone(),
                        shape,
                        macs: figures.macs,
                        runs: Vec::new(),
                        bound,
                    });
                    rows.last_mut().expect("just pushed")
                }
            };
            row.runs.push((
                kind,
                Some(figures.cycles),
                Some(figures.utilization),
                format!("{}/{}", built.verified.proved, built.verified.steps),
            ));
        }
    }
    let peak = cfg.peak_macs_per_cycle();
    let mut md = String::new();
    md.push_str(&format!(
        "| kernel | shape | ideal cycles | data movement (max util.) |{}\n",
        kinds
            .iter()
            .map(|k| format!(" {k} cycles | {k} util. |"))
            .collect::<String>()
    ));
    md.push_str(&format!(
        "|---|---|---:|---:|{}\n",
        "---:|---:|".repeat(kinds.len())
    ));
    for r in &rows {
        let ideal = r.macs.div_ceil(peak);
        let cells: String = kinds
            .iter()
            .map(|k| match r.runs.iter().find(|x| &x.0 == k) {
                Some((_, Some(c), Some(u), v)) => format!(
                    " {c} | {:.1}%{} |",
                    100.0 * u,
                    if v.starts_with('0') || v.split('/').next() != v.split('/').nth(1) {
                        format!(" ({v} verified)")
                    } else {
                        String::new()
                    }
                ),
                _ => " - | - |".to_string(),
            })
            .collect();
        md.push_str(&format!(
            "| {} | {} | {} | {} ({:.1}%) |{cells}\n",
            r.kernel,
            r.shape,
            ideal,
            r.bound,
            (100.0 * ideal as f64 / r.bound.max(1) as f64).min(100.0)
        ));
    }
    print!("{md}");
    let summary = format!(
        "{} schedules in {:.0} s",
        rows.iter().map(|r| r.runs.len()).sum::<usize>(),
        started.elapsed().as_secs_f64()
    );
    eprintln!("bench: {summary}");
    if let Some(path) = output {
        write_bench_doc(cli, path, cfg, &md, &summary)?;
    }
    Ok(())
}

/// The shape of a GEMM-like kernel (its inputs' and outputs' sizes) and
/// the cycles its minimum data movement takes: every input byte moved in
/// once and every output byte moved out once at `dma.bus_bytes` per cycle
/// each way, or the ideal compute time if longer.
fn gemm_traffic(
    module: &accc::ir::Module,
    kernel: &str,
    cfg: &accc::targets::gemmini::hardware::HardwareConfig,
) -> (String, u64) {
    use accc::ir::Type;
    let Some(f) = module.lookup_symbol(kernel) else {
        return (String::new(), 0);
    };
    let Some(entry) = module.entry_block(f, 0) else {
        return (String::new(), 0);
    };
    let mut inputs = 0u64;
    let mut outputs = 0u64;
    let mut shapes = Vec::new();
    for (i, &a) in module.block_args(entry).iter().enumerate() {
        if let Type::MemRef(mt) = module.value_type(a) {
            let bytes = mt.shape.iter().product::<i64>() as u64
                * match &*mt.elem {
                    Type::Int(n) => u64::from(n.div_ceil(8)),
                    _ => 4,
                };
            shapes.push(mt.shape.clone());
            if accc::ir::dialects::func::arg_attr(module, f, i, "accc.output").is_some() {
                outputs += bytes;
            } else {
                inputs += bytes;
            }
        }
    }
    let shape = match shapes.as_slice() {
        [a, b, ..] if a.len() == 2 && b.len() == 2 => format!("{} x {} x {}", a[0], a[1], b[1]),
        // NHWC input, RSCK weights, NPQK output: a convolution.
        [_, w, y] if w.len() == 4 && y.len() == 4 => format!(
            "{} x {}x{}, {} -> {} ch, {}x{}",
            y[0], y[1], y[2], w[2], w[3], w[0], w[1]
        ),
        _ => shapes
            .iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(", "),
    };
    let bw = u64::from(cfg.dma.bus_bytes);
    (shape, inputs.div_ceil(bw).max(outputs.div_ceil(bw)))
}

fn write_bench_doc(
    cli: &Cli,
    path: &Path,
    cfg: &accc::targets::gemmini::hardware::HardwareConfig,
    table: &str,
    summary: &str,
) -> Result<(), Reported> {
    let text = format!(
        "# Benchmarks\n\n\
         ## Gemmini GEMMs on the built-in emulator\n\n\
         Generated by `accc bench gemmini -o docs/benchmarks.md` (run it again to regenerate this table;\n\
         this run: {summary}, most of it verification, on the machine that ran it). Each schedule of\n\
         `examples/gemmini.acc` and `examples/gemmini_conv.acc` is verified step by step, lowered\n\
         to Gemmini instructions (verified too), emitted as Gemmini C, built and run on accc's Gemmini\n\
         emulator (`docs/gemmini-emulator.md`) with DIM {dim}, a {spad} KiB scratchpad, a {acc} KiB\n\
         accumulator and a {bus} B/cycle DMA; every run's result is compared element by element with the\n\
         unscheduled kernel compiled as portable C.\n\n\
         - **shape**: M x K x N of a GEMM; of a convolution, batch x output pixels, input -> output\n\
         channels, and the filter.\n\
         - **ideal cycles**: MACs / DIM^2 ({peak} MACs per cycle).\n\
         - **data movement**: the cycles the minimum data movement takes (every input byte moved in once,\n\
         every output byte moved out once, at {bus} bytes per cycle each way), and the utilization it\n\
         allows (ideal / data movement, at most 100%). At 100% the shape is bound by data movement as\n\
         much as by compute: no schedule can hide the transfers completely.\n\
         - **naive**: every 16x16 block of A and B moved in, computed and moved out in turn (Exo's\n\
         unoptimized code). **library**: the tile sizes of Gemmini's software library\n\
         (`tiled_matmul_auto`; tiles that do not divide the problem are replaced by the nearest divisor,\n\
         see the comments in the example). **hand**: the best hand-written schedule. **os**: the hand\n\
         schedule with the output-stationary matmul (`gemmini.matmul_os`). **rows**: the convolutions'\n\
         schedules (rows of output pixels by 16 output channels, nine taps of 16 input channels each).\n\
         - A cell marks `(p/n verified)` when fewer than all n steps (schedule steps plus the lowering)\n\
         were proved.\n\n{table}",
        dim = cfg.dim(),
        spad = cfg.scratchpad.kib,
        acc = cfg.accumulator.kib,
        bus = cfg.dma.bus_bytes,
        peak = cfg.peak_macs_per_cycle(),
    );
    std::fs::write(path, text)
        .map_err(|e| fail(cli, &format!("cannot write `{}`: {e}", path.display())))
}

/// `accc run --target gemmini`: build, run on the emulator (or the user's
/// evaluator) and report.
#[allow(clippy::too_many_arguments)]
fn gemmini_run(
    cli: &Cli,
    file: &Path,
    kernel: Option<&str>,
    schedule: Option<&str>,
    cfg: &accc::targets::gemmini::hardware::HardwareConfig,
    seed: u64,
    work_dir: Option<&Path>,
    eval_cmd: Option<&str>,
) -> Result<(), Reported> {
    let source = read_source(cli, file)?;
    let built = gemmini_build(cli, &source, kernel, schedule, cfg)?;
    let (_temp, dir) = work_directory(cli, work_dir)?;
    let c_file = write_program(cli, cfg, &built, &dir)?;
    let started = std::time::Instant::now();
    let mut result = serde_json::json!({
        "kernel": built.kernel,
        "target": "gemmini",
        "schedule": schedule,
        "evaluator": if eval_cmd.is_some() { "command" } else { "emulator" },
    });
    let (ok, stdout) = match eval_cmd {
        Some(cmd) => {
            let cmd = cmd
                .replace("{c}", &c_file.display().to_string())
                .replace("{dir}", &dir.display().to_string())
                .replace("{seed}", &seed.to_string());
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(&cmd)
                .output()
                .map_err(|e| fail(cli, &format!("cannot run `{cmd}`: {e}")))?;
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            let cycles = stdout.lines().find_map(|l| {
                l.trim()
                    .strip_prefix("latency: ")?
                    .strip_suffix(" cycles")?
                    .trim()
                    .parse::<u64>()
                    .ok()
            });
            let correct = out.status.success() && stdout.contains("Correct result");
            result["correct"] = correct.into();
            result["cycles"] = cycles.into();
            result["macs"] = built.program.macs.into();
            result["utilization"] = cycles
                .filter(|c| *c > 0)
                .zip(built.program.macs)
                .map(|(c, macs)| macs as f64 / (cfg.peak_macs_per_cycle() as f64 * c as f64))
                .into();
            if !out.status.success() {
                eprint!("{}", String::from_utf8_lossy(&out.stderr));
            }
            (correct, stdout)
        }
        None => {
            let outcome = emulate_files(cli, cfg, &[c_file], &dir, &[seed.to_string()], None)?;
            let emulated = emulation_json(cfg, &outcome);
            for key in [
                "correct",
                "cycles",
                "macs",
                "utilization",
                "load_busy",
                "exec_busy",
                "store_busy",
                "spad_rows_peak",
                "acc_rows_peak",
                "commands",
                "error",
            ] {
                result[key] = emulated[key].clone();
            }
            let correct = outcome.exit_code == Some(0)
                && outcome.error.is_none()
                && outcome.stdout.contains("Correct result");
            result["correct"] = correct.into();
            if !correct {
                eprint!("{}", outcome.stderr);
            }
            (correct, outcome.stdout)
        }
    };
    let macs = result["macs"].as_u64().or(built.program.macs);
    result["ideal_cycles"] = macs.map(|m| m.div_ceil(cfg.peak_macs_per_cycle())).into();
    result["wall_ms"] = (started.elapsed().as_secs_f64() * 1e3).into();
    if cli.json {
        println!("{result}");
    } else {
        let pct = |k: &str| {
            result[k]
                .as_f64()
                .map(|x| format!("{:.1}%", 100.0 * x))
                .unwrap_or_else(|| "-".into())
        };
        println!(
            "ran `{}` on gemmini ({}): {} cycles for {} MACs (ideal {}), utilization {}",
            built.kernel,
            result["evaluator"].as_str().unwrap_or("emulator"),
            result["cycles"],
            result["macs"],
            result["ideal_cycles"],
            pct("utilization"),
        );
        if eval_cmd.is_none() {
            println!(
                "  busy: load {}, execute {}, store {}; rows used: {} scratchpad, {} accumulator",
                pct("load_busy"),
                pct("exec_busy"),
                pct("store_busy"),
                result["spad_rows_peak"],
                result["acc_rows_peak"]
            );
        }
        println!(
            "check: {}",
            if ok {
                "correct (equal to the reference kernel, element by element)"
            } else {
                "INCORRECT"
            }
        );
    }
    if ok {
        Ok(())
    } else {
        let first = stdout
            .lines()
            .find(|l| l.starts_with("Incorrect"))
            .unwrap_or("the program failed")
            .to_string();
        let why = result["error"]
            .as_str()
            .map(str::to_string)
            .unwrap_or(first);
        Err(fail(cli, &why))
    }
}

/// A kernel compiled for Gemmini: scheduled, verified, lowered (verified
/// too) and emitted as C.
struct GemminiBuild {
    kernel: String,
    lowered: accc::ir::Module,
    program: accc::targets::gemmini::emit::GemminiProgram,
    verified: Verified,
}

/// The Gemmini pipeline of `compile --target gemmini` and `run --target
/// gemmini`: the schedule's steps and the lowering pass the verification
/// gate; the C's gold result is the unscheduled kernel.
fn gemmini_build(
    cli: &Cli,
    source: &SourceFile,
    kernel: Option<&str>,
    schedule: Option<&str>,
    cfg: &accc::targets::gemmini::hardware::HardwareConfig,
) -> Result<GemminiBuild, Reported> {
    let intrinsics = accc::gemmini::intrinsics(cfg)
        .map_err(|e| fail(cli, &format!("the Gemmini intrinsics: {e}")))?;
    let options = CompileOptions {
        kernel: kernel.map(str::to_string),
        schedule: schedule.map(str::to_string),
        fp_reassoc: cli.fp_reassoc,
        intrinsics: intrinsics.clone(),
    };
    let (module, trace) =
        accc::compile_traced(source, &options).map_err(|d| report(cli, source, &d))?;
    if cli.print_ir_after_each {
        print_trace(&module, &trace);
    }
    let mut verified = gate(cli, source, &options, &module, &trace)?;
    verified.steps += 1;
    let kernel = accc::run::pick_kernel(&module, options.kernel.as_deref())
        .map_err(|e| fail(cli, &e.to_string()))?;
    let vopts = verify_options(cli);
    let lowered = accc::gemmini::lower(
        &module,
        &kernel,
        &intrinsics,
        (!cli.no_verify).then_some(&vopts),
    )
    .map_err(|e| fail(cli, &e.to_string()))?;
    if cli.print_ir_after_each {
        eprintln!(
            "// -----// IR after lowering to Gemmini //----- //\n{}",
            print_module(&lowered.module)
        );
    }
    if !cli.no_verify {
        match &lowered.verdict.verdict {
            accc::verify::Verdict::Equivalent => verified.proved += 1,
            accc::verify::Verdict::NotEquivalent { counterexample } => {
                return Err(fail(
                    cli,
                    &format!(
                        "the lowering to Gemmini is not equivalent to the scheduled kernel:\n{}",
                        counterexample.render().trim_end()
                    ),
                ));
            }
            accc::verify::Verdict::Unknown { reason, .. } => {
                eprintln!("warning: the lowering to Gemmini was not verified: {reason}");
            }
        }
    }
    let reference_options = CompileOptions {
        kernel: Some(kernel.clone()),
        ..Default::default()
    };
    let reference =
        accc::compile(source, &reference_options).map_err(|d| report(cli, source, &d))?;
    let program = accc::targets::gemmini::emit::emit(
        &lowered.module,
        &reference,
        &kernel,
        cfg,
        &intrinsics,
        &Default::default(),
    )
    .map_err(|e| fail(cli, &e.to_string()))?;
    Ok(GemminiBuild {
        kernel,
        lowered: lowered.module,
        program,
        verified,
    })
}

/// The hardware description of `--hw`, or Gemmini's default.
fn hardware(
    cli: &Cli,
    hw: Option<&Path>,
) -> Result<accc::targets::gemmini::hardware::HardwareConfig, Reported> {
    use accc::targets::gemmini::hardware::HardwareConfig;
    match hw {
        Some(path) => HardwareConfig::load(path).map_err(|e| fail(cli, &e.to_string())),
        None => Ok(HardwareConfig::default()),
    }
}

/// `accc emulate`: a C program on the Gemmini emulator.
fn emulate_command(
    cli: &Cli,
    sources: &[PathBuf],
    hw: Option<&Path>,
    work_dir: Option<&Path>,
    timeout: u64,
    args: &[String],
) -> Result<(), Reported> {
    use accc::sim::host;
    let cfg = hardware(cli, hw)?;
    for s in sources {
        if !s.is_file() {
            return Err(fail(
                cli,
                &format!("cannot read `{}`: no such file", s.display()),
            ));
        }
    }
    let (_temp, dir) = work_directory(cli, work_dir)?;
    host::write_headers(&dir, &cfg).map_err(|e| fail(cli, &e.to_string()))?;
    let outcome = emulate_files(
        cli,
        &cfg,
        sources,
        &dir,
        args,
        Some(std::time::Duration::from_secs(timeout)),
    )?;
    let ok = outcome.exit_code == Some(0) && outcome.error.is_none();
    if cli.json {
        println!("{}", emulation_json(&cfg, &outcome));
    } else {
        print!("{}", outcome.stdout);
        eprint!("{}", outcome.stderr);
        if let (Some(r), None) = (&outcome.report, &outcome.error) {
            println!(
                "emulator: {} cycles, {} MACs, utilization {:.1}% of {} MACs/cycle; busy: load {:.1}%, execute {:.1}%, store {:.1}%; rows used: {} scratchpad, {} accumulator",
                r.cycles,
                r.macs,
                100.0 * r.utilization,
                cfg.peak_macs_per_cycle(),
                100.0 * r.load_busy,
                100.0 * r.exec_busy,
                100.0 * r.store_busy,
                r.spad_rows_peak,
                r.acc_rows_peak
            );
        }
    }
    if ok {
        return Ok(());
    }
    let why = match (&outcome.error, outcome.exit_code, outcome.signal) {
        (Some(e), _, _) => format!("the emulator stopped the program: {e}"),
        (None, Some(code), _) => format!("the program exited with status {code}"),
        (None, None, Some(sig)) => format!("the program was killed by signal {sig}"),
        (None, None, None) => "the program ended abnormally".to_string(),
    };
    if cli.json {
        Err(Reported)
    } else {
        Err(fail(cli, &why))
    }
}

/// The JSON of an emulated run: the fields of `accc run --target gemmini
/// --json` plus the program's output.
fn emulation_json(
    cfg: &accc::targets::gemmini::hardware::HardwareConfig,
    outcome: &accc::sim::host::Outcome,
) -> serde_json::Value {
    let r = outcome.report.clone().unwrap_or_default();
    serde_json::json!({
        "correct": outcome.exit_code == Some(0) && outcome.error.is_none(),
        "exit_code": outcome.exit_code,
        "signal": outcome.signal,
        "error": outcome.error,
        "cycles": r.cycles,
        "macs": r.macs,
        "utilization": r.utilization,
        "peak_macs_per_cycle": cfg.peak_macs_per_cycle(),
        "load_busy": r.load_busy,
        "exec_busy": r.exec_busy,
        "store_busy": r.store_busy,
        "spad_rows_peak": r.spad_rows_peak,
        "acc_rows_peak": r.acc_rows_peak,
        "commands": r.commands,
        "cycle_reads": r.cycle_reads,
        "stdout": outcome.stdout,
        "stderr": outcome.stderr,
    })
}

/// The verification gate of `compile` and `run`: every schedule step is
/// verified against the program before it. A step found not equivalent
/// stops the command with its counterexample; a step the verifier cannot
/// decide (over the budget, data-dependent control) is a warning, as is
/// `--no-verify`.
fn gate(
    cli: &Cli,
    source: &SourceFile,
    options: &CompileOptions,
    module: &accc::ir::Module,
    trace: &accc::passes::schedule::Trace,
) -> Result<Verified, Reported> {
    let mut verified = Verified {
        steps: trace.steps.len(),
        proved: 0,
    };
    if trace.steps.is_empty() {
        return Ok(verified);
    }
    if cli.no_verify {
        eprintln!(
            "warning: --no-verify: the {} schedule step(s) were NOT verified",
            trace.steps.len()
        );
        return Ok(verified);
    }
    let kernel = accc::run::pick_kernel(module, options.kernel.as_deref())
        .map_err(|e| fail(cli, &e.to_string()))?;
    let outcomes = accc::verify_schedule(source, options, trace, &kernel, &verify_options(cli));
    let mut unverified = Vec::new();
    for (i, (entry, outcome)) in trace.steps.iter().zip(&outcomes).enumerate() {
        match &outcome.verdict {
            accc::verify::Verdict::Equivalent => verified.proved += 1,
            accc::verify::Verdict::NotEquivalent { counterexample } => {
                let d = Diagnostic::error(format!(
                    "step {} (`{}`) is not equivalent to the program before it",
                    i + 1,
                    entry.step
                ))
                .with_hint(counterexample.render().trim_end().to_string());
                let d = match entry.step.span {
                    Some(span) => d.with_primary(span, "this step"),
                    None => d,
                };
                return Err(report(cli, source, &[d]));
            }
            accc::verify::Verdict::Unknown {
                reason,
                over_budget,
            } => unverified.push((
                format!("step {} (`{}`)", i + 1, entry.step),
                reason,
                *over_budget,
            )),
        }
    }
    if unverified.is_empty() {
        return Ok(verified);
    }
    let head = format!(
        "warning: {} of {} schedule step(s) could not be verified",
        unverified.len(),
        trace.steps.len()
    );
    // One reason for every step (a kernel over the budget) is said once.
    if unverified.len() > 1 && unverified.iter().all(|(_, r, _)| *r == unverified[0].1) {
        eprintln!("{head}: {}", unverified[0].1);
    } else {
        eprintln!("{head}:");
        for (step, reason, _) in &unverified {
            eprintln!("  {step}: {reason}");
        }
    }
    if unverified.iter().any(|(_, _, over)| *over) {
        eprintln!("  (a larger --verify-budget verifies larger kernels, at the cost of time)");
    }
    Ok(verified)
}

/// How many of a pipeline's steps (schedule steps, and a lowering) the
/// verifier proved.
#[derive(Clone, Copy, Debug)]
struct Verified {
    steps: usize,
    proved: usize,
}

/// One verified comparison: what was compared and the outcome.
struct Checked {
    what: String,
    outcome: accc::verify::Outcome,
}

#[allow(clippy::too_many_arguments)]
fn verify_command(
    cli: &Cli,
    file: Option<&Path>,
    kernel: Option<&str>,
    schedule: Option<&str>,
    against: Option<&str>,
    equiv: &[PathBuf],
    gemmini: Option<&accc::targets::gemmini::hardware::HardwareConfig>,
    options: &accc::verify::Options,
) -> Result<(), Reported> {
    let mut checked: Vec<Checked> = Vec::new();
    let intrinsics = match gemmini {
        Some(cfg) => accc::gemmini::intrinsics(cfg)
            .map_err(|e| fail(cli, &format!("the Gemmini intrinsics: {e}")))?,
        None => accc::gemmini::default_intrinsics().clone(),
    };
    if let [a, b] = equiv {
        let (sa, sb) = (read_source(cli, a)?, read_source(cli, b)?);
        let ma = parse_module(&sa).map_err(|d| report(cli, &sa, &d))?;
        let mb = parse_module(&sb).map_err(|d| report(cli, &sb, &d))?;
        let k = accc::run::pick_kernel(&ma, kernel).map_err(|e| fail(cli, &e.to_string()))?;
        checked.push(Checked {
            what: format!("{} == {}", a.display(), b.display()),
            outcome: accc::verify::verify(&ma, &mb, &k, options),
        });
    } else {
        let Some(file) = file else {
            return Err(fail(
                cli,
                "give an .acc file with --schedule, or --equiv A.mlir B.mlir",
            ));
        };
        let Some(schedule) = schedule else {
            return Err(fail(cli, "give the schedule to verify: --schedule NAME"));
        };
        let source = read_source(cli, file)?;
        let compile_options = |s: &str| CompileOptions {
            kernel: kernel.map(str::to_string),
            schedule: Some(s.to_string()),
            fp_reassoc: cli.fp_reassoc,
            intrinsics: intrinsics.clone(),
        };
        let compile = |s: &str| {
            accc::compile_traced(&source, &compile_options(s)).map_err(|d| report(cli, &source, &d))
        };
        let (module, trace) = compile(schedule)?;
        let k = accc::run::pick_kernel(&module, kernel).map_err(|e| fail(cli, &e.to_string()))?;
        match against {
            Some(other) => {
                let (theirs, _) = compile(other)?;
                checked.push(Checked {
                    what: format!("schedule {schedule} == schedule {other}"),
                    outcome: accc::verify::verify(&module, &theirs, &k, options),
                });
            }
            None => {
                let outcomes =
                    accc::verify_schedule(&source, &compile_options(schedule), &trace, &k, options);
                for (i, (entry, outcome)) in trace.steps.iter().zip(outcomes).enumerate() {
                    checked.push(Checked {
                        what: format!("step {}: {}", i + 1, entry.step),
                        outcome,
                    });
                }
                if gemmini.is_some() {
                    let lowered = accc::gemmini::lower(&module, &k, &intrinsics, Some(options))
                        .map_err(|e| fail(cli, &e.to_string()))?;
                    checked.push(Checked {
                        what: "lowering to gemmini".to_string(),
                        outcome: lowered.verdict,
                    });
                }
            }
        }
    }
    let all = checked.iter().all(|c| c.outcome.verdict.is_equivalent());
    if cli.json {
        let items: Vec<_> = checked
            .iter()
            .map(|c| serde_json::json!({ "what": c.what, "outcome": c.outcome }))
            .collect();
        println!(
            "{}",
            serde_json::json!({ "equivalent": all, "checks": items })
        );
    } else {
        if checked.is_empty() {
            println!("the schedule has no steps: nothing to verify");
        }
        for c in &checked {
            let o = &c.outcome;
            println!(
                "{}: {} ({}{}, {:.1} ms, {} ops, {} terms)",
                c.what,
                o.verdict.word(),
                o.method,
                if o.fp_reassoc { ", fp-reassoc" } else { "" },
                o.millis,
                o.ops,
                o.terms
            );
            if !o.detail.is_empty() {
                println!("  {}", o.detail);
            }
            match &o.verdict {
                accc::verify::Verdict::NotEquivalent { counterexample } => {
                    print!("{}", counterexample.render())
                }
                accc::verify::Verdict::Unknown { reason, .. } => println!("  {reason}"),
                accc::verify::Verdict::Equivalent => {}
            }
        }
    }
    if all {
        Ok(())
    } else {
        Err(Reported)
    }
}

/// `--print-ir-after-each` for a compile: the lowered IR, then the IR
/// after every schedule step, on stderr.
fn print_trace(module: &accc::ir::Module, trace: &accc::passes::schedule::Trace) {
    let lowered = trace.steps.first().map_or(module, |s| &s.before);
    eprintln!(
        "// -----// IR after lower-to-ir //----- //\n{}",
        print_module(lowered)
    );
    for (i, entry) in trace.steps.iter().enumerate() {
        eprintln!(
            "// -----// IR after step {}: {} //----- //\n// {}\n{}",
            i + 1,
            entry.step,
            entry.report.summary,
            print_module(&entry.after)
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn run_command(
    cli: &Cli,
    file: &Path,
    kernel: Option<&str>,
    schedule: Option<&str>,
    options: accc::run::RunOptions,
) -> Result<(), Reported> {
    let source = read_source(cli, file)?;
    let compile_options = CompileOptions {
        kernel: kernel.map(str::to_string),
        schedule: schedule.map(str::to_string),
        fp_reassoc: cli.fp_reassoc,
        ..Default::default()
    };
    let (module, trace) =
        accc::compile_traced(&source, &compile_options).map_err(|d| report(cli, &source, &d))?;
    if cli.print_ir_after_each {
        print_trace(&module, &trace);
    }
    gate(cli, &source, &compile_options, &module, &trace)?;
    let kernel = accc::run::pick_kernel(&module, kernel).map_err(|e| fail(cli, &e.to_string()))?;
    // A check compares with the kernel as written, before its schedule.
    let reference = trace.steps.first().map_or(&module, |s| &s.before);
    let report_run = accc::run::run_kernel_checked_against(&module, reference, &kernel, &options)
        .map_err(|e| report_run_error(cli, &source, &e))?;
    if cli.json {
        println!(
            "{}",
            serde_json::to_string(&report_run).expect("a run report is plain data")
        );
    } else {
        let ops = report_run
            .interp_ops
            .map(|n| format!(", {n} ops executed"))
            .unwrap_or_default();
        println!(
            "ran `{}` on {} in {:.3} ms{ops}",
            report_run.kernel, report_run.target, report_run.wall_ms
        );
        for (name, t) in &report_run.outputs {
            let dir = options
                .outputs
                .as_ref()
                .map(|d| format!(" -> {}", d.join(format!("{name}.npy")).display()))
                .unwrap_or_default();
            println!("  output `{name}`: {}{:?}{dir}", t.dtype, t.shape);
        }
        match (report_run.correct, &report_run.first_mismatch) {
            (Some(true), _) => println!("check: correct (bit-for-bit equal to the interpreter)"),
            (Some(false), Some(m)) => println!(
                "check: {} mismatching elements (max abs error {}); first at {}{:?}: expected {}, got {}",
                report_run.mismatches.unwrap_or(0),
                report_run.max_abs_err.unwrap_or(0.0),
                m.output,
                m.index,
                m.expected,
                m.got
            ),
            _ => {}
        }
    }
    if report_run.correct == Some(false) {
        return Err(Reported);
    }
    Ok(())
}

/// Prints a run failure. Faults of the running kernel (from the
/// interpreter or from the C target's checks) located in `source` are
/// shown on the source line with a caret.
fn report_run_error(cli: &Cli, source: &SourceFile, error: &accc::run::RunError) -> Reported {
    use accc::interp::InterpError;
    use accc::ir::Location;
    use accc::run::RunError;
    use accc::targets::c::CError;
    // (file, line, col, what happened, op)
    let located: Option<(String, u32, u32, String, String)> = match error {
        RunError::Interp(InterpError::Fault {
            fault,
            op,
            location: Location::FileLineCol { file, line, col },
        }) => Some((file.clone(), *line, *col, fault.to_string(), op.clone())),
        // The C harness prints `FILE:LINE:COL: error: WHAT in `OP``.
        RunError::C(CError::Fault(message)) => (|| {
            let (place, rest) = message.trim().split_once(": error: ")?;
            let mut parts = place.rsplitn(3, ':');
            let col = parts.next()?.parse().ok()?;
            let line = parts.next()?.parse().ok()?;
            let file = parts.next()?.to_string();
            let (what, op) = rest.rsplit_once(" in `")?;
            Some((
                file,
                line,
                col,
                what.to_string(),
                op.trim_end_matches('`').to_string(),
            ))
        })(),
        _ => None,
    };
    if let Some((file, line, col, what, op)) = located {
        if file == source.name() {
            if let Some(offset) = source.offset_of(line, col) {
                let d = Diagnostic::error(what).with_primary(
                    accc::Span::new(offset, offset + 1),
                    format!("in `{op}` lowered from here"),
                );
                return report(cli, source, &[d]);
            }
        }
    }
    fail(cli, &error.to_string())
}

fn read_source(cli: &Cli, path: &Path) -> Result<SourceFile, Reported> {
    let text = if path == Path::new("-") {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .map_err(|e| fail(cli, &format!("cannot read standard input: {e}")))?;
        s
    } else {
        let bytes = std::fs::read(path)
            .map_err(|e| fail(cli, &format!("cannot read `{}`: {e}", path.display())))?;
        String::from_utf8(bytes).map_err(|e| {
            fail(
                cli,
                &format!(
                    "`{}` is not UTF-8 text (invalid byte at offset {})",
                    path.display(),
                    e.utf8_error().valid_up_to()
                ),
            )
        })?
    };
    Ok(SourceFile::new(path.display().to_string(), text))
}

fn write_output(cli: &Cli, output: Option<&Path>, text: &str) -> Result<(), Reported> {
    let mut text = text.to_string();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    match output {
        None => {
            print!("{text}");
            Ok(())
        }
        Some(path) => std::fs::write(path, text)
            .map_err(|e| fail(cli, &format!("cannot write `{}`: {e}", path.display()))),
    }
}

/// Prints diagnostics (rendered with source lines, or as JSON).
fn report(cli: &Cli, source: &SourceFile, diagnostics: &[Diagnostic]) -> Reported {
    if cli.json {
        let items: Vec<_> = diagnostics
            .iter()
            .map(|d| {
                let (line, col) = d
                    .primary_span()
                    .map(|s| source.line_col(s.start as usize))
                    .unwrap_or((0, 0));
                serde_json::json!({
                    "severity": format!("{:?}", d.severity).to_lowercase(),
                    "message": d.message,
                    "file": source.name(),
                    "line": line,
                    "col": col,
                    "hints": d.hints,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({ "ok": false, "diagnostics": items })
        );
    } else {
        eprint!("{}", accc::render_diagnostics(source, diagnostics));
        let n = diagnostics.len();
        eprintln!("{n} error{} emitted", if n == 1 { "" } else { "s" });
    }
    Reported
}

/// Prints a failure that has no source location.
fn fail(cli: &Cli, message: &str) -> Reported {
    if cli.json {
        println!(
            "{}",
            serde_json::json!({ "ok": false, "diagnostics": [{ "severity": "error", "message": message }] })
        );
    } else {
        eprintln!("error: {message}");
    }
    Reported
}

//! The two implementations of docs/semantics.md agree on every kernel of
//! every example: the interpreter and the portable C target produce
//! bit-identical outputs (all NaNs equal) on three input sets (seeds 0 and
//! 1 uniform, seed 2 Autocomp's sparse 0/1 inputs).
//!
//! The interpreter is the slow side (about 4-8 ns per executed op), and
//! the example GEMMs and convolutions run 1-4 billion ops each, so kernels
//! estimated above [`LARGE_OPS`] executed ops run in their own test (most
//! of this file's time); both tests check their kernels on all three
//! seeds, the large one only the cheapest of kernels that differ in their
//! sizes alone.
//! Kernels run on two threads. Set `ACCC_EXAMPLES=gemm.acc,softmax.acc` to
//! check only some files while working on them.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use accc_interp::Interpreter;
use accc_ir::diag::SourceFile;
use accc_ir::dialects::func::{self, KernelParam};
use accc_ir::Module;
use accc_tensor::compare::compare;
use accc_tensor::random::{generate, Distribution};
use accc_tensor::{npy, DType, Tensor};

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn layout(p: &KernelParam) -> (DType, Vec<usize>) {
    let dtype = DType::from_name(&p.dtype).expect("example element types are .npy types");
    let shape = p
        .memref()
        .map(|m| m.shape.iter().map(|d| *d as usize).collect())
        .unwrap_or_default();
    (dtype, shape)
}

const SEEDS: [(u64, Distribution); 3] = [
    (0, Distribution::Uniform),
    (1, Distribution::Uniform),
    (2, Distribution::Sparse),
];

/// Checks one kernel on all seeds; returns a description of each failure.
fn check_kernel(
    module: &Module,
    file: &str,
    kernel: &str,
    work: &Path,
    seeds: &[(u64, Distribution)],
) -> Vec<String> {
    let mut failures = Vec::new();
    let f = module.lookup_symbol(kernel).expect("kernel exists");
    let params = func::kernel_params(module, f);
    let interp = Interpreter::new(module).expect("examples interpret");
    let program = accc_targets::c::emit_kernel(module, kernel).expect("examples emit as C");
    let dir = work.join(kernel);
    std::fs::create_dir_all(&dir).unwrap();
    let exe = accc_targets::c::build(&program, &dir).expect("emitted C compiles");
    for &(seed, dist) in seeds {
        let mut args: Vec<Tensor> = params
            .iter()
            .map(|p| {
                let (dtype, shape) = layout(p);
                if p.is_output {
                    Tensor::zeros(dtype, shape)
                } else {
                    generate(dtype, &shape, dist, seed, &p.name)
                }
            })
            .collect();
        let (inputs, outputs) = (
            dir.join(format!("in{seed}")),
            dir.join(format!("out{seed}")),
        );
        std::fs::create_dir_all(&inputs).unwrap();
        std::fs::create_dir_all(&outputs).unwrap();
        for (p, t) in params.iter().zip(&args) {
            if !p.is_output {
                npy::write(&inputs.join(format!("{}.npy", p.name)), t).unwrap();
            }
        }
        let c_result = accc_targets::c::run(&exe, &inputs, &outputs);
        let interp_result = interp.run(kernel, &mut args);
        match (interp_result, c_result) {
            (Ok(_), Ok(_)) => {}
            (i, c) => {
                failures.push(format!(
                    "{file}::{kernel} seed {seed}: interpreter {:?}, C {:?}",
                    i.map(|_| "ok").map_err(|e| e.to_string()),
                    c.map(|_| "ok").map_err(|e| e.to_string())
                ));
                continue;
            }
        }
        for (p, expected) in params.iter().zip(&args).filter(|(p, _)| p.is_output) {
            let (dtype, shape) = layout(p);
            let got = npy::read_expect(
                &outputs.join(format!("{}.npy", p.name)),
                &p.name,
                dtype,
                &shape,
            )
            .expect("the C harness writes its outputs");
            let c = compare(expected, &got).expect("same dtype and shape");
            if c.mismatches > 0 {
                let m = c.first.expect("mismatches have a first");
                failures.push(format!(
                    "{file}::{kernel} seed {seed}: output `{}` differs in {} of {} elements; first at {:?}: interpreter {}, C {}",
                    p.name, c.mismatches, c.elements, m.index, m.expected, m.got
                ));
            }
        }
    }
    failures
}

/// Kernels estimated to execute more ops than this are checked by the
/// large-example test.
const LARGE_OPS: u64 = 300_000_000;

/// Executed ops of `func`, estimated from constant loop trip counts (each
/// op once per execution, a loop once per iteration); loops with other
/// bounds count as one trip.
fn estimate_ops(m: &Module, f: accc_ir::Op) -> u64 {
    fn block(m: &Module, b: accc_ir::Block) -> u64 {
        m.block_ops(b).iter().map(|op| one(m, *op)).sum()
    }
    fn one(m: &Module, op: accc_ir::Op) -> u64 {
        let trips = accc_ir::dialects::affine::constant_bounds(m, op)
            .map(|(lb, ub, step)| ((ub - lb).max(0) as u64).div_ceil(step.max(1) as u64))
            .unwrap_or(1);
        let inner: u64 = (0..m.op_regions(op).len())
            .filter_map(|r| m.entry_block(op, r))
            .map(|b| block(m, b))
            .sum();
        1 + trips.saturating_mul(inner)
    }
    m.entry_block(f, 0).map_or(0, |b| block(m, b))
}

/// Of large kernels that differ only in their sizes (the six GEMM shapes
/// of one form, the four convolutions), the cheapest: the interpreter and
/// the C target run the same ops on them, and each large run costs
/// minutes in a debug build. The structure is the printed IR with its
/// numbers masked as the verifier's shrink compares codes
/// ([`accc::fullsize::mask_numbers`]), the kernel's name left out.
fn one_per_structure(mut jobs: Vec<(String, Module, String)>) -> Vec<(String, Module, String)> {
    jobs.sort_by_cached_key(|(_, m, k)| {
        estimate_ops(m, m.lookup_symbol(k).expect("kernel exists"))
    });
    let mut seen = std::collections::HashSet::new();
    jobs.retain(|(_, m, k)| {
        let text = accc_ir::text::print_module(m).replace(k.as_str(), "kernel");
        seen.insert(accc::fullsize::mask_numbers(&text))
    });
    jobs
}

fn check_examples(large: bool) {
    let only: Option<Vec<String>> = std::env::var("ACCC_EXAMPLES")
        .ok()
        .map(|s| s.split(',').map(str::to_string).collect());
    let mut files: Vec<PathBuf> = std::fs::read_dir(examples_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "acc"))
        .collect();
    files.sort();
    let mut jobs: Vec<(String, Module, String)> = Vec::new();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if only.as_ref().is_some_and(|o| !o.contains(&name)) {
            continue;
        }
        let source = SourceFile::new(name.clone(), std::fs::read_to_string(&path).unwrap());
        let program = accc_dsl::parse_and_check(&source).expect("examples check");
        for kernel in &program.kernels {
            let module = accc_dsl::lower::lower_program(&source, &program, Some(&kernel.name))
                .expect("examples lower");
            let f = module.lookup_symbol(&kernel.name).expect("kernel exists");
            if (estimate_ops(&module, f) > LARGE_OPS) == large {
                jobs.push((name.clone(), module, kernel.name.clone()));
            }
        }
    }
    if large {
        jobs = one_per_structure(jobs);
    }
    if jobs.is_empty() {
        eprintln!(
            "no {} examples selected",
            if large { "large" } else { "small" }
        );
        return;
    }
    let seeds = &SEEDS[..];
    let work = tempfile::tempdir().unwrap();
    let queue = Mutex::new(jobs.iter());
    let failures = Mutex::new(Vec::new());
    let checked = Mutex::new(0usize);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let Some((file, module, kernel)) = queue.lock().unwrap().next() else {
                    break;
                };
                let found = check_kernel(module, file, kernel, work.path(), seeds);
                failures.lock().unwrap().extend(found);
                *checked.lock().unwrap() += 1;
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    let checked = checked.into_inner().unwrap();
    assert_eq!(checked, jobs.len());
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!(
        "interpreter == C on {checked} kernels x {} seeds",
        seeds.len()
    );
}

#[test]
fn interpreter_and_c_agree_on_every_example() {
    check_examples(false);
}

#[test]
fn interpreter_and_c_agree_on_the_large_examples() {
    check_examples(true);
}

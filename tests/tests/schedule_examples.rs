//! Every schedule primitive on every example where it applies: each kernel
//! of `examples/*.acc`, its sizes shrunk (every `const` above 8 becomes
//! 5, 6 or 7) so the interpreter and the verifier run it in milliseconds,
//! gets every step the primitive can take on it: each loop, each pair of
//! directly nested loops, each tensor at each loop, each stage at each
//! loop, and for the memory primitives the steps that need a staged buffer
//! first (`buffer_at` then `hoist`, `double_buffer` + `pipeline`,
//! `partition`).
//!
//! A step is either refused, leaving the module exactly as it was, or
//! applied; an applied schedule must give bit-identical outputs to the
//! unscheduled kernel on the interpreter and be proven equivalent to it by
//! the verifier, and the first schedule of each
//! primitive applied on each example file also runs as C against the
//! unscheduled kernel on the interpreter. No step may panic or leave
//! invalid IR. Each file's test pins, as an insta snapshot, how many
//! schedules of each primitive applied to each kernel.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{catch_unwind, AssertUnwindSafe};

use accc::run::{run_kernel, run_kernel_checked_against, RunOptions, Target};
use accc_ir::attrs::Attribute;
use accc_ir::diag::SourceFile;
use accc_ir::dialects::{affine, func};
use accc_ir::Module;
use accc_passes::schedule::{loop_names, Schedule};
use accc_tensor::Tensor;

/// The example's text with every integer `const` above 8 shrunk to 5-7.
fn shrink(text: &str) -> String {
    text.lines()
        .map(|line| {
            let Some(rest) = line.strip_prefix("const ") else {
                return line.to_string();
            };
            let Some((name, value)) = rest.split_once('=') else {
                return line.to_string();
            };
            let (value, tail) = value.split_once(';').unwrap_or((value, ""));
            match value.trim().parse::<i64>() {
                Ok(v) if v > 8 => format!("const {}= {};{tail}", name, 5 + v % 3),
                _ => line.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The kernels of an example file, each lowered on its own.
fn kernels(file: &str) -> Vec<(String, Module)> {
    let path = format!("{}/../examples/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = shrink(&std::fs::read_to_string(&path).expect("examples are readable"));
    let source = SourceFile::new(file, text);
    let program = accc_dsl::parse_and_check(&source)
        .unwrap_or_else(|e| panic!("{file} shrunk does not check: {e:?}"));
    let names: Vec<String> = program.kernels.iter().map(|k| k.name.clone()).collect();
    names
        .into_iter()
        .map(|k| {
            let m = accc_dsl::lower::lower_program(&source, &program, Some(&k))
                .unwrap_or_else(|e| panic!("{file}: {k} does not lower: {e:?}"));
            (k, m)
        })
        .collect()
}

/// The steps to try on kernel `k`, as `(primitive, schedule)`.
fn candidates(m: &Module, k: &str) -> Vec<(&'static str, Schedule)> {
    let f = m.lookup_symbol(k).expect("the kernel exists");
    let loops = loop_names(m, f);
    // A loop's name as a step names it: bare when unique, else qualified.
    let label = |i: usize| {
        let l = &loops[i];
        if loops.iter().filter(|o| o.name == l.name).count() == 1 {
            l.name.clone()
        } else {
            l.qualified()
        }
    };
    let labels: Vec<String> = (0..loops.len()).map(label).collect();
    // Directly nested pairs (outer, inner).
    let mut pairs = Vec::new();
    for (i, outer) in loops.iter().enumerate() {
        for (j, inner) in loops.iter().enumerate() {
            if m.parent_op(inner.op) == Some(outer.op) {
                pairs.push((i, j));
            }
        }
    }
    let mut tensors: Vec<String> = func::kernel_params(m, f)
        .into_iter()
        .filter(|p| p.memref().is_some())
        .map(|p| p.name)
        .collect();
    let mut stages = BTreeSet::new();
    m.walk(f, &mut |op| {
        if matches!(m.op_name(op), "memref.alloc" | "memref.alloca") {
            if let Some(n) = m.attr(op, "name").and_then(Attribute::as_str) {
                tensors.push(n.to_string());
            }
        }
        if let Some(s) = m.attr(op, "op_name").and_then(Attribute::as_str) {
            stages.insert(s.to_string());
        }
    });
    let s = Schedule::new;
    let mut out: Vec<(&'static str, Schedule)> = Vec::new();
    for (i, l) in labels.iter().enumerate() {
        out.push(("split", s().split_guarded(l, 2)));
        out.push(("unroll", s().unroll(l, 2)));
        let trips =
            affine::constant_bounds(m, loops[i].op).map(|(lb, ub, step)| (ub - lb) / step.max(1));
        if trips.is_some_and(|t| t <= 8) {
            out.push(("unroll", s().unroll(l, 0)));
        }
        out.push(("fission", s().fission(l, 1)));
        out.push(("parallel", s().parallel(l)));
        out.push(("bind", s().bind(l, "thread.x")));
        out.push(("unfold", s().unfold(&[l], "pe")));
        for t in &tensors {
            out.push(("hoist", s().hoist(t, l)));
            out.push(("reuse_at", s().reuse_at("win", t, l, None)));
            out.push(("buffer_at", s().buffer_at("sbuf", t, l, None)));
            out.push((
                "partition",
                s().buffer_at("sbuf", t, l, None)
                    .partition("sbuf", 0, "cyclic", 2),
            ));
            out.push((
                "pipeline",
                s().buffer_at("sbuf", t, l, None)
                    .double_buffer("sbuf", l, 2)
                    .pipeline(l, 2),
            ));
            out.push(("hoist", s().buffer_at("sbuf", t, l, None).hoist("sbuf", l)));
        }
        for stage in &stages {
            out.push(("compute_at", s().compute_at(stage, l)));
        }
    }
    for &(i, j) in &pairs {
        let (a, b) = (&labels[i], &labels[j]);
        out.push(("reorder", s().reorder(&[b, a])));
        out.push(("tile", s().tile(a, b, 2, 2)));
        out.push(("fuse", s().fuse(a, b)));
    }
    out
}

/// Outputs of `kernel` on the interpreter, inputs from `seed`.
fn interp(m: &Module, kernel: &str, seed: u64) -> Vec<(String, Tensor)> {
    let options = RunOptions {
        target: Target::Interp,
        seed,
        ..RunOptions::default()
    };
    run_kernel(m, kernel, &options)
        .unwrap_or_else(|e| panic!("{kernel} fails on the interpreter: {e}"))
        .outputs
}

/// Applies every candidate to every kernel of `file`; returns how many
/// schedules of each primitive applied, per kernel.
fn sweep(file: &str) -> BTreeMap<String, BTreeMap<&'static str, usize>> {
    let mut table = BTreeMap::new();
    let mut on_c: BTreeSet<&'static str> = BTreeSet::new();
    for (k, base) in kernels(file) {
        let expected = interp(&base, &k, 7);
        // The unscheduled kernel runs symbolically once; every applied
        // schedule is proven equivalent to it.
        let mut reference = accc::verify::Reference::new(&base, &k, &Default::default());
        let mut applied: BTreeMap<&'static str, usize> = BTreeMap::new();
        for (primitive, schedule) in candidates(&base, &k) {
            let text: Vec<String> = schedule.steps.iter().map(|s| s.to_string()).collect();
            let what = format!("{file}: {k} {{ {} }}", text.join("; "));
            // Step by step, so a refusal is checked against the module
            // just before it (the steps before it stay applied).
            let mut m = base.clone();
            let mut refused = false;
            for step in &schedule.steps {
                let before = m.clone();
                let one = Schedule {
                    steps: vec![step.clone()],
                    components: Vec::new(),
                    fp_reassoc: false,
                    intrinsics: Default::default(),
                };
                match catch_unwind(AssertUnwindSafe(|| one.apply(&mut m, &k))) {
                    Err(_) => panic!("{what}: `{step}` panicked"),
                    Ok(Err(e)) => {
                        assert!(
                            !e.message.starts_with("internal error"),
                            "{what}: `{step}` left invalid IR: {e}"
                        );
                        if let Err(diff) = accc_ir::structurally_equal(&before, &m) {
                            panic!(
                                "{what}: `{step}` was refused ({e}) but changed the module: {diff}"
                            );
                        }
                        refused = true;
                        break;
                    }
                    Ok(Ok(_)) => {}
                }
            }
            match refused {
                true => {}
                false => {
                    let got = interp(&m, &k, 7);
                    assert!(got == expected, "{what} changes the outputs");
                    let proof = reference.verify(&m);
                    assert!(
                        proof.verdict.is_equivalent(),
                        "the verifier does not prove {what}: {:?}",
                        proof.verdict
                    );
                    *applied.entry(primitive).or_default() += 1;
                    if on_c.insert(primitive) {
                        let options = RunOptions {
                            target: Target::C,
                            seed: 7,
                            check: true,
                            ..RunOptions::default()
                        };
                        let report = run_kernel_checked_against(&m, &base, &k, &options)
                            .unwrap_or_else(|e| panic!("{what} on C: {e}"));
                        assert_eq!(
                            report.correct,
                            Some(true),
                            "{what} on C: first mismatch {:?}",
                            report.first_mismatch
                        );
                    }
                }
            }
        }
        table.insert(k, applied);
    }
    table
}

const PRIMITIVES: &[&str] = &[
    "split",
    "tile",
    "reorder",
    "fuse",
    "unroll",
    "fission",
    "buffer_at",
    "hoist",
    "pipeline",
    "partition",
    "reuse_at",
    "compute_at",
    "parallel",
    "bind",
    "unfold",
];

/// Sweeps `file` and pins, with insta, how many schedules of each
/// primitive applied to each of its kernels, so a primitive that stops
/// applying (or starts) shows in review.
fn sweep_and_pin(file: &str) {
    let mut table = format!("{:<28}", "kernel");
    for p in PRIMITIVES {
        table.push_str(&format!(" {:>5}", &p[..p.len().min(5)]));
    }
    table.push('\n');
    for (k, applied) in sweep(file) {
        table.push_str(&format!("{k:<28}"));
        for p in PRIMITIVES {
            let n = applied.get(p).copied().unwrap_or(0);
            let cell = if n == 0 {
                "-".to_string()
            } else {
                n.to_string()
            };
            table.push_str(&format!(" {cell:>5}"));
        }
        table.push('\n');
        // Every kernel has loops to split, unroll and stage.
        for p in ["split", "unroll", "buffer_at"] {
            assert!(
                applied.contains_key(p),
                "{file}: `{p}` applied nowhere in {k}"
            );
        }
    }
    println!("{table}");
    insta::assert_snapshot!(file.replace('.', "_"), table);
}

macro_rules! example_tests {
    ($($test:ident => $file:literal),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                sweep_and_pin($file);
            }
        )*

        /// Every example file has its test above.
        #[test]
        fn every_example_is_swept() {
            let listed: BTreeSet<String> =
                std::fs::read_dir(format!("{}/../examples", env!("CARGO_MANIFEST_DIR")))
                    .expect("examples/ is readable")
                    .filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .filter(|n| n.ends_with(".acc"))
                    .collect();
            let swept: BTreeSet<String> = [$($file),*].iter().map(|f| f.to_string()).collect();
            assert_eq!(listed, swept, "a new example must join this sweep");
        }
    };
}

example_tests! {
    attention => "attention.acc",
    batched_matmul => "batched_matmul.acc",
    blend => "blend.acc",
    conv1d => "conv1d.acc",
    conv2d => "conv2d.acc",
    gemm => "gemm.acc",
    gemm_bias_relu => "gemm_bias_relu.acc",
    gemm_int8 => "gemm_int8.acc",
    gemmini => "gemmini.acc",
    gemmini_conv => "gemmini_conv.acc",
    layernorm => "layernorm.acc",
    rmsnorm => "rmsnorm.acc",
    softmax => "softmax.acc",
}

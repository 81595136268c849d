//! Random schedules preserve what a kernel computes.
//!
//! A case is a sequence of 1-8 drawn steps over small versions of four
//! kernels: a GEMM (i32), a conv2d (i8 inputs, i32 output), an RMSNorm
//! (f32) and a two-stage blur (i32, a producer into a local buffer). The
//! steps are every loop and memory primitive (all but `compose` and
//! `inline`, which need a called kernel). A drawn step holds no names, only
//! choices: which primitive, indices into the kernel's loop list, a factor
//! from a small set. It is resolved against the module as it is when the
//! step is applied (the loop and stage names of [`loop_names`] then, the
//! buffers staged so far), so every step
//! names something that exists, and steps that make sense together
//! (`buffer_at`, then `double_buffer` and `pipeline` at the loop it staged
//! in) are drawn often enough to apply.
//!
//! The property, for every step:
//! - a step whose precondition fails is refused with a [`ScheduleError`]
//!   and leaves the module exactly as it was; an "internal error" (the step
//!   produced IR the verifier rejects: `apply` verifies after each step) or
//!   a panic fails the test;
//! - an applied step leaves a module whose outputs on the interpreter are
//!   bit-identical to the unscheduled kernel's on the same seeded inputs,
//!   and that the verifier (`accc-verify`) proves equivalent to the module
//!   before the step;
//! - for about one case in four, the final module, compiled as C, gives the
//!   same outputs too.
//!
//! A case counts only if at least one of its steps applied (others are
//! rejected and redrawn), and each test checks that at least a quarter of
//! its cases applied three steps or more. The runner's seed is fixed, so CI
//! sees the same cases every run; `PROPTEST_CASES=N` changes how many and
//! `PROPTEST_RNG_SEED=N` draws others. A failure prints the applied steps
//! as a DSL schedule, with the kernel and the input seed, so
//! `accc run --schedule` reproduces it.
//!
//! [`ScheduleError`]: accc_passes::schedule::ScheduleError

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use accc::run::{run_kernel, RunError, RunOptions, Target};
use accc::verify::Options as VerifyOptions;
use accc::CompileOptions;
use accc_ir::diag::SourceFile;
use accc_ir::Module;
use accc_passes::schedule::{loop_names, Arg, ArgValue, LoopRef, Schedule, Step};
use accc_targets::c::CError;
use accc_tensor::compare::compare;
use accc_tensor::Tensor;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngAlgorithm, RngSeed, TestCaseError, TestError, TestRunner};

/// A kernel the random schedules run on.
struct Kernel {
    name: &'static str,
    text: &'static str,
    /// The tensors `buffer_at` may stage.
    tensors: &'static [&'static str],
    /// The runner's RNG seed for this kernel.
    rng_seed: u64,
}

const GEMM: Kernel = Kernel {
    name: "gemm",
    text: r#"
kernel gemm(A: i32[6, 5], B: i32[5, 4]) -> (C: i32[6, 4]) {
  for i, j in grid(6, 4) {
    C[i, j] = 0;
    for k in range(0, 5) {
      C[i, j] += A[i, k] * B[k, j];
    }
  }
}
"#,
    tensors: &["A", "B", "C"],
    rng_seed: 0x6e33,
};

const CONV2D: Kernel = Kernel {
    name: "conv2d",
    text: r#"
kernel conv2d(X: i8[1, 2, 5, 6], Wt: i8[3, 2, 3, 3]) -> (Y: i32[1, 3, 3, 4]) {
  for n, f, oh, ow in grid(1, 3, 3, 4) {
    Y[n, f, oh, ow] = 0;
    for c, r, s in grid(2, 3, 3) {
      Y[n, f, oh, ow] += i32(X[n, c, oh + r, ow + s]) * i32(Wt[f, c, r, s]);
    }
  }
}
"#,
    tensors: &["X", "Wt", "Y"],
    rng_seed: 0xc0f2,
};

/// `examples/rmsnorm.acc` at 6 x 20; its two column loops, both `c` in the
/// example, are `cs` and `cy` here so that a step can name each.
const RMSNORM: Kernel = Kernel {
    name: "rmsnorm",
    text: r#"
const ROWS = 6;
const COLS = 20;

kernel rmsnorm(X: f32[ROWS, COLS], G: f32[COLS]) -> (Y: f32[ROWS, COLS]) {
  for r in range(0, ROWS) {
    let ss: f32 = 0.0;
    for cs in range(0, COLS) {
      ss += X[r, cs] * X[r, cs];
    }
    let inv: f32 = rsqrt(ss / f32(COLS) + 1e-6);
    for cy in range(0, COLS) {
      Y[r, cy] = X[r, cy] * inv * G[cy];
    }
  }
}
"#,
    tensors: &["X", "G", "Y"],
    rng_seed: 0x4a5e,
};

/// A two-stage stencil: a horizontal blur into a local buffer, then a
/// vertical one; the producer `compute_at`, `reuse_at` and `partition`
/// work on.
const BLUR: Kernel = Kernel {
    name: "blur",
    text: r#"
kernel blur(X: i32[8, 10]) -> (Y: i32[6, 8]) {
  let bx: i32[8, 8];
  for y, x in grid(8, 8) {
    bx[y, x] = X[y, x] + X[y, x + 1] + X[y, x + 2];
  }
  for y, x in grid(6, 8) {
    Y[y, x] = bx[y, x] + bx[y + 1, x] + bx[y + 2, x];
  }
}
"#,
    tensors: &["X", "bx", "Y"],
    rng_seed: 0xb1e5,
};

fn lower(k: &Kernel) -> Module {
    let options = CompileOptions {
        kernel: Some(k.name.to_string()),
        ..CompileOptions::default()
    };
    let file = SourceFile::new(format!("{}.acc", k.name), k.text);
    accc::compile(&file, &options).expect("test kernels compile")
}

// ---------------------------------------------------------------------------
// Drawn steps
// ---------------------------------------------------------------------------

/// One step as drawn: the primitive and its choices, named later.
/// `at` indexes the loop list (outermost first, in program order); a band
/// of `len` loops starts there, and a pair of loops is `at` and the one
/// `gap` places after it (often the loop directly inside).
#[derive(Clone, Debug)]
enum Draw {
    Split {
        at: Index,
        factor: i64,
        guard: bool,
    },
    Tile {
        at: Index,
        gap: usize,
        factors: (i64, i64),
        guard: bool,
    },
    Reorder {
        at: Index,
        len: usize,
        permutation: Index,
    },
    Fuse {
        at: Index,
        gap: usize,
    },
    Unroll {
        at: Index,
        factor: i64,
    },
    Fission {
        at: Index,
        levels: i64,
    },
    BufferAt {
        tensor: Index,
        at: Index,
        mem: Option<&'static str>,
    },
    /// `at: None` is the loop the buffer was staged at. With no buffer
    /// staged yet, these three stage one instead: `buffer` picks the
    /// tensor, at `at` or the outermost loop. With no buffer
    /// double-buffered yet, a pipeline double-buffers one instead.
    Hoist {
        buffer: Index,
        at: Option<Index>,
    },
    DoubleBuffer {
        buffer: Index,
        at: Option<Index>,
        copies: i64,
    },
    Pipeline {
        buffer: Index,
        at: Option<Index>,
        stages: i64,
    },
    Parallel {
        at: Index,
    },
    Bind {
        at: Index,
        axis: &'static str,
    },
    Unfold {
        at: Index,
        len: usize,
    },
    ReuseAt {
        tensor: Index,
        at: Index,
    },
    /// `hoist` of a kernel tensor's loads.
    HoistLoads {
        tensor: Index,
        at: Index,
    },
    /// On a staged buffer (staging one first if there is none).
    Partition {
        buffer: Index,
        dim: i64,
        kind: &'static str,
        factor: i64,
    },
    /// `stage` indexes the module's stage names.
    ComputeAt {
        stage: Index,
        at: Index,
    },
}

/// The non-identity orders of two and three loops.
const ORDERS_2: &[&[usize]] = &[&[1, 0]];
const ORDERS_3: &[&[usize]] = &[&[0, 2, 1], &[1, 0, 2], &[1, 2, 0], &[2, 0, 1], &[2, 1, 0]];

fn draw() -> impl Strategy<Value = Draw> {
    let factor = || prop::sample::select(vec![2i64, 3, 4]);
    // Some other loop, or (`None`) the loop the buffer was staged at.
    let other_loop = |p: f64| prop::option::weighted(p, any::<Index>());
    prop_oneof![
        3 => (any::<Index>(), factor(), any::<bool>())
            .prop_map(|(at, factor, guard)| Draw::Split { at, factor, guard }),
        2 => (any::<Index>(), 1usize..=2, factor(), factor(), any::<bool>())
            .prop_map(|(at, gap, fi, fj, guard)| Draw::Tile { at, gap, factors: (fi, fj), guard }),
        2 => (any::<Index>(), 2usize..=3, any::<Index>())
            .prop_map(|(at, len, permutation)| Draw::Reorder { at, len, permutation }),
        1 => (any::<Index>(), 1usize..=2).prop_map(|(at, gap)| Draw::Fuse { at, gap }),
        2 => (any::<Index>(), prop::sample::select(vec![0i64, 2, 3]))
            .prop_map(|(at, factor)| Draw::Unroll { at, factor }),
        2 => (any::<Index>(), 1i64..=3).prop_map(|(at, levels)| Draw::Fission { at, levels }),
        2 => (
            any::<Index>(),
            any::<Index>(),
            prop::sample::select(vec![None, Some("scratchpad"), Some("accumulator")]),
        )
            .prop_map(|(tensor, at, mem)| Draw::BufferAt { tensor, at, mem }),
        2 => (any::<Index>(), other_loop(0.5)).prop_map(|(buffer, at)| Draw::Hoist { buffer, at }),
        2 => (any::<Index>(), other_loop(0.5), 2i64..=3)
            .prop_map(|(buffer, at, copies)| Draw::DoubleBuffer { buffer, at, copies }),
        3 => (any::<Index>(), other_loop(0.25), prop::sample::select(vec![2i64, 2, 3]))
            .prop_map(|(buffer, at, stages)| Draw::Pipeline { buffer, at, stages }),
        1 => any::<Index>().prop_map(|at| Draw::Parallel { at }),
        1 => (
            any::<Index>(),
            prop::sample::select(vec!["block.x", "thread.x", "thread.y", "partition"]),
        )
            .prop_map(|(at, axis)| Draw::Bind { at, axis }),
        1 => (any::<Index>(), 1usize..=2).prop_map(|(at, len)| Draw::Unfold { at, len }),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(tensor, at)| Draw::ReuseAt { tensor, at }),
        1 => (any::<Index>(), any::<Index>())
            .prop_map(|(tensor, at)| Draw::HoistLoads { tensor, at }),
        1 => (
            any::<Index>(),
            0i64..=2,
            prop::sample::select(vec!["block", "cyclic", "complete"]),
            factor(),
        )
            .prop_map(|(buffer, dim, kind, factor)| Draw::Partition { buffer, dim, kind, factor }),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(stage, at)| Draw::ComputeAt { stage, at }),
    ]
}

/// One case: the steps, the input seed, and whether the final module also
/// runs as C.
#[derive(Clone, Debug)]
struct Case {
    draws: Vec<Draw>,
    seed: u64,
    on_c: bool,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(draw(), 1..=8),
        0u64..1000,
        prop::bool::weighted(0.25),
    )
        .prop_map(|(draws, seed, on_c)| Case { draws, seed, on_c })
}

// ---------------------------------------------------------------------------
// Naming a drawn step in the current module
// ---------------------------------------------------------------------------

/// A buffer staged by an applied `buffer_at`: its name, the loop it was
/// staged at, and its slots once double-buffered.
#[derive(Clone, Debug)]
struct Staged {
    buffer: String,
    at: String,
    copies: Option<i64>,
}

/// What an applied step adds to the buffers steps can name.
enum Effect {
    None,
    Stages(Staged),
    Copies { buffer: String, copies: i64 },
}

/// The current loops' names, each as a step can name it: the bare name
/// when unique, else qualified with its stage (which may still be
/// ambiguous; the step is then refused).
fn loop_labels(m: &Module, kernel: &str) -> Vec<String> {
    let func = m
        .lookup_symbol(kernel)
        .expect("the kernel stays in the module");
    let loops: Vec<LoopRef> = loop_names(m, func);
    loops
        .iter()
        .map(|l| {
            if loops.iter().filter(|o| o.name == l.name).count() == 1 {
                l.name.clone()
            } else {
                l.qualified()
            }
        })
        .collect()
}

/// The stage names of the kernel's loop nests, each once.
fn stage_names(m: &Module, kernel: &str) -> Vec<String> {
    let func = m
        .lookup_symbol(kernel)
        .expect("the kernel stays in the module");
    let mut stages: Vec<String> = Vec::new();
    for l in loop_names(m, func) {
        if let Some(s) = l.stage.filter(|s| !stages.contains(s)) {
            stages.push(s);
        }
    }
    stages
}

/// The step `draw` stands for in the module whose loops are `labels` and
/// whose buffers are `staged`, and what it adds to them if it applies.
fn resolve(
    draw: &Draw,
    labels: &[String],
    stages: &[String],
    k: &Kernel,
    staged: &[Staged],
) -> (Step, Effect) {
    // A kernel whose loops are all unrolled still gets a step, which is
    // refused: the name exists nowhere.
    let label = |at: &Index| -> String {
        if labels.is_empty() {
            NO_LOOP.to_string()
        } else {
            at.get(labels).clone()
        }
    };
    // `len` consecutive loops in program order, distinct where there are
    // enough.
    let run_from = |at: &Index, len: usize| -> Vec<String> {
        if labels.is_empty() {
            return vec![NO_LOOP.to_string(); len];
        }
        let start = at.index(labels.len()).min(labels.len().saturating_sub(len));
        (0..len)
            .map(|d| labels[(start + d).min(labels.len() - 1)].clone())
            .collect()
    };
    let stage = |tensor: &Index, at: String, mem: Option<&str>| -> (Schedule, Effect) {
        let buffer = format!("buf{}", staged.len());
        let tensor = k.tensors[tensor.index(k.tensors.len())];
        let schedule = Schedule::new().buffer_at(&buffer, tensor, &at, mem);
        let effect = Effect::Stages(Staged {
            buffer,
            at,
            copies: None,
        });
        (schedule, effect)
    };
    // The loop for a step on buffer `s`: `at`, or where `s` was staged.
    let loop_for = |s: &Staged, at: &Option<Index>| at.as_ref().map_or_else(|| s.at.clone(), label);
    let s = Schedule::new();
    let (schedule, effect) = match draw {
        Draw::Split { at, factor, guard } => {
            let schedule = if *guard {
                s.split_guarded(&label(at), *factor)
            } else {
                s.split(&label(at), *factor)
            };
            (schedule, Effect::None)
        }
        Draw::Tile {
            at,
            gap,
            factors,
            guard,
        } => {
            let pair = run_from(at, gap + 1);
            let mut schedule = s.tile(&pair[0], &pair[*gap], factors.0, factors.1);
            if *guard {
                // The builder has no guarded tile; the DSL's `tail = guard`.
                schedule.steps[0].args.push(Arg {
                    key: Some("tail".to_string()),
                    value: ArgValue::Name("guard".to_string()),
                    span: None,
                });
            }
            (schedule, Effect::None)
        }
        Draw::Reorder {
            at,
            len,
            permutation,
        } => {
            let band = run_from(at, *len);
            let order = permutation.get(if *len == 2 { ORDERS_2 } else { ORDERS_3 });
            let names: Vec<&str> = order.iter().map(|&i| band[i].as_str()).collect();
            (s.reorder(&names), Effect::None)
        }
        Draw::Fuse { at, gap } => {
            let pair = run_from(at, gap + 1);
            (s.fuse(&pair[0], &pair[*gap]), Effect::None)
        }
        Draw::Unroll { at, factor } => (s.unroll(&label(at), *factor), Effect::None),
        Draw::Fission { at, levels } => (s.fission(&label(at), *levels), Effect::None),
        Draw::BufferAt { tensor, at, mem } => stage(tensor, label(at), *mem),
        Draw::Hoist { buffer, at }
        | Draw::DoubleBuffer { buffer, at, .. }
        | Draw::Pipeline { buffer, at, .. }
            if staged.is_empty() =>
        {
            let at = at.as_ref().map_or_else(
                || labels.first().map_or(NO_LOOP, String::as_str).to_string(),
                label,
            );
            stage(buffer, at, None)
        }
        Draw::Partition { buffer, .. } if staged.is_empty() => {
            let at = labels.first().map_or(NO_LOOP, String::as_str).to_string();
            stage(buffer, at, None)
        }
        Draw::Partition {
            buffer,
            dim,
            kind,
            factor,
        } => {
            let picked = buffer.get(staged);
            (
                s.partition(&picked.buffer, *dim, kind, *factor),
                Effect::None,
            )
        }
        Draw::ReuseAt { tensor, at } => {
            let buffer = format!("buf{}", staged.len());
            let at = label(at);
            let tensor = k.tensors[tensor.index(k.tensors.len())];
            let schedule = s.reuse_at(&buffer, tensor, &at, None);
            let effect = Effect::Stages(Staged {
                buffer,
                at,
                copies: None,
            });
            (schedule, effect)
        }
        Draw::HoistLoads { tensor, at } => {
            let tensor = k.tensors[tensor.index(k.tensors.len())];
            (s.hoist(tensor, &label(at)), Effect::None)
        }
        Draw::ComputeAt { stage, at } => {
            let stage = if stages.is_empty() {
                "no_stage".to_string()
            } else {
                stage.get(stages).clone()
            };
            (s.compute_at(&stage, &label(at)), Effect::None)
        }
        Draw::Hoist { buffer, at } => {
            let picked = buffer.get(staged);
            (s.hoist(&picked.buffer, &loop_for(picked, at)), Effect::None)
        }
        Draw::DoubleBuffer { buffer, at, copies } => {
            let picked = buffer.get(staged);
            let schedule = s.double_buffer(&picked.buffer, &loop_for(picked, at), *copies);
            let effect = Effect::Copies {
                buffer: picked.buffer.clone(),
                copies: *copies,
            };
            (schedule, effect)
        }
        Draw::Pipeline { buffer, at, stages } => {
            // At the loop of a double-buffered buffer; with none, the
            // draw double-buffers one with `stages` slots instead.
            let slotted: Vec<&Staged> = staged.iter().filter(|s| s.copies.is_some()).collect();
            if slotted.is_empty() {
                let picked = buffer.get(staged);
                let schedule = s.double_buffer(&picked.buffer, &loop_for(picked, at), *stages);
                let effect = Effect::Copies {
                    buffer: picked.buffer.clone(),
                    copies: *stages,
                };
                (schedule, effect)
            } else {
                let picked = buffer.get(&slotted);
                (s.pipeline(&loop_for(picked, at), *stages), Effect::None)
            }
        }
        Draw::Parallel { at } => (s.parallel(&label(at)), Effect::None),
        Draw::Bind { at, axis } => (s.bind(&label(at), axis), Effect::None),
        Draw::Unfold { at, len } => {
            let band = run_from(at, *len);
            let names: Vec<&str> = band.iter().map(String::as_str).collect();
            (s.unfold(&names, "pe"), Effect::None)
        }
    };
    let mut steps = schedule.steps;
    (steps.remove(0), effect)
}

/// The name a step gets for a loop when the kernel has none left.
const NO_LOOP: &str = "no_loop";

// ---------------------------------------------------------------------------
// Running a case
// ---------------------------------------------------------------------------

/// The outputs of `kernel` in `m` on `target`, inputs generated from `seed`.
fn outputs(
    m: &Module,
    kernel: &str,
    target: Target,
    seed: u64,
) -> Result<Vec<(String, Tensor)>, RunError> {
    let options = RunOptions {
        target,
        seed,
        ..RunOptions::default()
    };
    run_kernel(m, kernel, &options).map(|report| report.outputs)
}

/// Where `got` first differs from `expected`, if anywhere.
fn first_difference(expected: &[(String, Tensor)], got: &[(String, Tensor)]) -> Option<String> {
    for ((name, e), (_, g)) in expected.iter().zip(got) {
        if e == g {
            continue;
        }
        let c = compare(e, g).expect("a schedule keeps the kernel's signature");
        return Some(match c.first {
            Some(m) => format!(
                "output `{name}` differs in {} of {} elements; first at {:?}: expected {}, got {}",
                c.mismatches, c.elements, m.index, m.expected, m.got
            ),
            // Different NaN bits, which `compare` treats as equal.
            None => format!("output `{name}` differs in the bits of a NaN"),
        });
    }
    None
}

/// The applied steps as a DSL schedule for the kernel, and the step that
/// failed, if any.
fn reproduction(k: &Kernel, applied: &[Step], failing: Option<&Step>, seed: u64) -> String {
    let mut text = format!("kernel `{}` with inputs of seed {seed}:{}", k.name, k.text);
    text.push_str(&format!("schedule repro for {} {{\n", k.name));
    for step in applied {
        text.push_str(&format!("  {step};\n"));
    }
    if let Some(step) = failing {
        text.push_str(&format!("  {step};  // <- this step\n"));
    }
    text.push('}');
    text
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a non-text panic".to_string())
}

/// What one passing case did.
struct CaseOutcome {
    /// The primitives of the applied steps, in order.
    applied: Vec<String>,
    refused: usize,
    ran_c: bool,
}

/// Applies the case's steps one by one, checking each; then runs the final
/// module as C if the case says so.
fn check_case(k: &Kernel, base: &Module, case: &Case) -> Result<CaseOutcome, TestCaseError> {
    let expected = outputs(base, k.name, Target::Interp, case.seed)
        .unwrap_or_else(|e| panic!("the unscheduled {} runs: {e}", k.name));
    let mut m = base.clone();
    let mut staged: Vec<Staged> = Vec::new();
    let mut applied: Vec<Step> = Vec::new();
    let mut refused = 0;
    for draw in &case.draws {
        let labels = loop_labels(&m, k.name);
        let stages = stage_names(&m, k.name);
        let (step, effect) = resolve(draw, &labels, &stages, k, &staged);
        let fail = |what: String, applied: &[Step]| {
            TestCaseError::fail(format!(
                "{what}\n{}",
                reproduction(k, applied, Some(&step), case.seed)
            ))
        };
        let before = m.clone();
        let schedule = Schedule {
            steps: vec![step.clone()],
            components: Vec::new(),
            fp_reassoc: false,
            intrinsics: Default::default(),
        };
        match catch_unwind(AssertUnwindSafe(|| schedule.apply(&mut m, k.name))) {
            Err(payload) => {
                return Err(fail(
                    format!("`{step}` panicked: {}", panic_message(payload.as_ref())),
                    &applied,
                ))
            }
            Ok(Err(e)) if e.message.starts_with("internal error") => {
                return Err(fail(format!("`{step}` failed: {e}"), &applied))
            }
            Ok(Err(e)) => {
                if let Err(diff) = accc_ir::structurally_equal(&before, &m) {
                    return Err(fail(
                        format!("`{step}` was refused ({e}) but changed the module: {diff}"),
                        &applied,
                    ));
                }
                refused += 1;
            }
            Ok(Ok(_)) => {
                let got = outputs(&m, k.name, Target::Interp, case.seed).map_err(|e| {
                    fail(
                        format!("after `{step}` the interpreter fails: {e}"),
                        &applied,
                    )
                })?;
                if let Some(difference) = first_difference(&expected, &got) {
                    return Err(fail(
                        format!("after `{step}` on the interpreter: {difference}"),
                        &applied,
                    ));
                }
                // The verifier proves the step (it must accept every legal one).
                let proof = accc::verify::verify(&before, &m, k.name, &VerifyOptions::default());
                if !proof.verdict.is_equivalent() {
                    return Err(fail(
                        format!("the verifier does not prove `{step}`: {:?}", proof.verdict),
                        &applied,
                    ));
                }
                applied.push(step);
                match effect {
                    Effect::None => {}
                    Effect::Stages(s) => staged.push(s),
                    Effect::Copies { buffer, copies } => {
                        for s in staged.iter_mut().filter(|s| s.buffer == buffer) {
                            s.copies = Some(copies);
                        }
                    }
                }
            }
        }
    }
    let ran_c = case.on_c && !applied.is_empty();
    if ran_c {
        let fail = |what: String| {
            TestCaseError::fail(format!(
                "{what}\n{}",
                reproduction(k, &applied, None, case.seed)
            ))
        };
        let got = match outputs(&m, k.name, Target::C, case.seed) {
            Ok(got) => got,
            Err(RunError::C(e @ CError::CompilerUnavailable { .. })) => panic!(
                "{e}\nthis test needs a C compiler (`cc`, or `$CC`); scripts/setup.sh installs gcc"
            ),
            Err(e) => return Err(fail(format!("the scheduled kernel fails on C: {e}"))),
        };
        if let Some(difference) = first_difference(&expected, &got) {
            return Err(fail(format!("the scheduled kernel on C: {difference}")));
        }
    }
    Ok(CaseOutcome {
        applied: applied.iter().map(|s| s.primitive.clone()).collect(),
        refused,
        ran_c,
    })
}

/// Totals over the cases that counted.
#[derive(Default)]
struct Totals {
    cases: usize,
    cases_with_three: usize,
    applied: BTreeMap<String, usize>,
    refused: usize,
    c_runs: usize,
}

/// `PROPTEST_CASES` and `PROPTEST_RNG_SEED` override the number of cases
/// and the kernel's seed, to look further than CI does.
fn config(rng_seed: u64) -> Config {
    Config {
        cases: env_number("PROPTEST_CASES").unwrap_or(64),
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(env_number("PROPTEST_RNG_SEED").unwrap_or(rng_seed)),
        // The failure message is the reproducer.
        failure_persistence: None,
        // Shrinking reruns C builds: bound it.
        max_shrink_iters: 512,
        max_shrink_time: 120_000,
        ..Config::default()
    }
}

fn env_number<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok()?.parse().ok()
}

/// Runs the property on `k` and checks the run exercised what it should.
fn random_schedules_preserve(k: &Kernel) {
    let base = lower(k);
    let totals = RefCell::new(Totals::default());
    let mut runner = TestRunner::new(config(k.rng_seed));
    let result = runner.run(&case(), |case| {
        let outcome = check_case(k, &base, &case)?;
        if outcome.applied.is_empty() {
            return Err(TestCaseError::reject("no step applied"));
        }
        let mut t = totals.borrow_mut();
        t.cases += 1;
        t.cases_with_three += usize::from(outcome.applied.len() >= 3);
        for p in outcome.applied {
            *t.applied.entry(p).or_default() += 1;
        }
        t.refused += outcome.refused;
        t.c_runs += usize::from(outcome.ran_c);
        Ok(())
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, case)) => {
            panic!("{reason}\nthe drawn case (before naming): {case:?}")
        }
        Err(TestError::Abort(reason)) => panic!("{}: {reason}", k.name),
    }
    let t = totals.into_inner();
    let applied: usize = t.applied.values().sum();
    println!(
        "{}: {} cases, {applied} steps applied, {} refused; {} cases with 3+ applied steps, {} run as C; applied: {:?}",
        k.name, t.cases, t.refused, t.cases_with_three, t.c_runs, t.applied
    );
    assert!(
        t.cases_with_three * 4 >= t.cases,
        "{}: only {} of {} cases applied 3 or more steps",
        k.name,
        t.cases_with_three,
        t.cases
    );
    assert!(t.c_runs > 0, "{}: no case ran as C", k.name);
}

#[test]
fn random_schedules_preserve_gemm() {
    random_schedules_preserve(&GEMM);
}

#[test]
fn random_schedules_preserve_conv2d() {
    random_schedules_preserve(&CONV2D);
}

#[test]
fn random_schedules_preserve_rmsnorm() {
    random_schedules_preserve(&RMSNORM);
}

#[test]
fn random_schedules_preserve_blur() {
    random_schedules_preserve(&BLUR);
}

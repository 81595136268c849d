//! Every schedule primitive preserves what a kernel computes: the scheduled
//! kernel, run on the interpreter and compiled as C, gives bit-identical
//! outputs to the unscheduled kernel on the interpreter, on the same seeded
//! inputs. Split, reorder and tile keep each element's reduction order, so
//! floats are compared exactly too.

use accc::run::{run_kernel_checked_against, RunOptions, Target};
use accc::CompileOptions;
use accc_interp::Interpreter;
use accc_ir::diag::SourceFile;
use accc_ir::dialects::func;
use accc_ir::Module;
use accc_passes::schedule::Schedule;
use accc_tensor::random::{generate, Distribution};
use accc_tensor::{DType, Tensor};

const GEMM: &str = r#"
kernel gemm(A: i32[24, 20], B: i32[20, 18]) -> (C: i32[24, 18]) {
  for i, j in grid(24, 18) {
    C[i, j] = 0;
    for k in range(0, 20) {
      C[i, j] += A[i, k] * B[k, j];
    }
  }
}
"#;

const CONV: &str = r#"
kernel conv(X: i8[2, 3, 9, 10], Wt: i8[4, 3, 3, 3]) -> (Y: i32[2, 4, 7, 8]) {
  for n, f, oh, ow in grid(2, 4, 7, 8) {
    Y[n, f, oh, ow] = 0;
    for c, r, s in grid(3, 3, 3) {
      Y[n, f, oh, ow] += i32(X[n, c, oh + r, ow + s]) * i32(Wt[f, c, r, s]);
    }
  }
}
"#;

fn lower(name: &str, text: &str, kernel: &str) -> Module {
    let options = CompileOptions {
        kernel: Some(kernel.to_string()),
        ..CompileOptions::default()
    };
    accc::compile(&SourceFile::new(name, text), &options).expect("test kernels compile")
}

fn example(file: &str, kernel: &str) -> Module {
    let path = format!("{}/../examples/{file}", env!("CARGO_MANIFEST_DIR"));
    lower(file, &std::fs::read_to_string(path).unwrap(), kernel)
}

/// Outputs of `kernel` in `m` on seeded inputs.
fn run(m: &Module, kernel: &str, seed: u64) -> Vec<Tensor> {
    let f = m.lookup_symbol(kernel).unwrap();
    let params = func::kernel_params(m, f);
    let mut args: Vec<Tensor> = params
        .iter()
        .map(|p| {
            let dtype = DType::from_name(&p.dtype).unwrap();
            let shape: Vec<usize> = p
                .memref()
                .map(|t| t.shape.iter().map(|d| *d as usize).collect())
                .unwrap_or_default();
            if p.is_output {
                Tensor::zeros(dtype, shape)
            } else {
                generate(dtype, &shape, Distribution::Uniform, seed, &p.name)
            }
        })
        .collect();
    Interpreter::new(m).unwrap().run(kernel, &mut args).unwrap();
    params
        .iter()
        .zip(args)
        .filter(|(p, _)| p.is_output)
        .map(|(_, t)| t)
        .collect()
}

/// Applies `schedule` and checks the outputs on two seeds.
fn check(m: &Module, kernel: &str, schedule: Schedule) {
    let mut scheduled = m.clone();
    let trace = schedule
        .apply(&mut scheduled, kernel)
        .unwrap_or_else(|e| panic!("{schedule:?} failed: {e}"));
    assert_eq!(trace.steps.len(), schedule.steps.len());
    assert!(
        accc_ir::structurally_equal(m, &scheduled).is_err(),
        "{schedule:?} changed nothing"
    );
    for seed in [0, 1] {
        assert_eq!(
            run(m, kernel, seed),
            run(&scheduled, kernel, seed),
            "{schedule:?}, seed {seed}"
        );
    }
    // The scheduled kernel compiled as C against the unscheduled one on
    // the interpreter.
    let options = RunOptions {
        target: Target::C,
        seed: 2,
        check: true,
        ..RunOptions::default()
    };
    let report = run_kernel_checked_against(&scheduled, m, kernel, &options)
        .unwrap_or_else(|e| panic!("{schedule:?} on C: {e}"));
    assert_eq!(
        report.correct,
        Some(true),
        "{schedule:?} on C: {} mismatches, first {:?}",
        report.mismatches.unwrap_or(0),
        report.first_mismatch
    );
}

#[test]
fn split_reorder_and_tile_preserve_gemm() {
    let m = lower("gemm.acc", GEMM, "gemm");
    let k = "gemm";
    check(&m, k, Schedule::new().split("i", 8));
    check(&m, k, Schedule::new().split_guarded("i", 7));
    check(&m, k, Schedule::new().split_as("k", 5, "ko", "ki"));
    check(&m, k, Schedule::new().split_guarded("k", 3));
    check(&m, k, Schedule::new().reorder(&["j", "i"]));
    check(&m, k, Schedule::new().tile("i", "j", 8, 6));
    check(
        &m,
        k,
        Schedule::new()
            .split_guarded("i", 5)
            .split_guarded("j", 4)
            .reorder(&["j.o", "i.o", "j.i", "i.i"]),
    );
    check(
        &m,
        k,
        Schedule::new()
            .tile("i", "j", 8, 6)
            .split("k", 4)
            .reorder(&["j.i", "i.i"]),
    );
}

#[test]
fn split_reorder_and_tile_preserve_conv2d() {
    let m = lower("conv.acc", CONV, "conv");
    let k = "conv";
    check(&m, k, Schedule::new().tile("ow", "f", 4, 2));
    check(&m, k, Schedule::new().reorder(&["ow", "f", "n", "oh"]));
    check(&m, k, Schedule::new().reorder(&["s", "r", "c"]));
    check(
        &m,
        k,
        Schedule::new()
            .split_guarded("c", 2)
            .reorder(&["s", "c.o", "r", "c.i"]),
    );
}

#[test]
fn split_preserves_softmax_example() {
    let m = example("softmax.acc", "softmax");
    check(&m, "softmax", Schedule::new().split("r", 16));
    check(&m, "softmax", Schedule::new().split_guarded("r", 5));
}

#[test]
fn staging_primitives_preserve_gemm() {
    let m = lower("gemm.acc", GEMM, "gemm");
    let k = "gemm";
    let band = || {
        Schedule::new()
            .split_as("i", 8, "io", "ii")
            .split_as("j", 6, "jo", "ji")
            .split_as("k", 5, "ko", "ki")
            .reorder(&["io", "jo", "ii", "ji"])
    };
    check(
        &m,
        k,
        band().fission("ko", 2).reorder(&["ko", "ii", "ji", "ki"]),
    );
    check(
        &m,
        k,
        band().buffer_at("cbuf", "C", "jo", Some("accumulator")),
    );
    check(
        &m,
        k,
        band()
            .buffer_at("abuf", "A", "jo", None)
            .hoist("abuf", "jo"),
    );
    // A buffer the loop writes: its copy-in and copy-out move out together.
    check(
        &m,
        k,
        band()
            .buffer_at("cbuf", "C", "ko", None)
            .hoist("cbuf", "ko"),
    );
    check(
        &m,
        k,
        band()
            .fission("ko", 2)
            .reorder(&["ko", "ii", "ji", "ki"])
            .buffer_at("cbuf", "C", "jo", None)
            .buffer_at("abuf", "A", "ko", None)
            .buffer_at("bbuf", "B", "ko", None)
            .double_buffer("abuf", "ko", 3)
            .double_buffer("bbuf", "ko", 3)
            .pipeline("ko", 3),
    );
    // Ragged tiles: clamped copies and guarded loops.
    check(
        &m,
        k,
        Schedule::new()
            .split_guarded("i", 7)
            .split_guarded("k", 6)
            .buffer_at("abuf", "A", "k.o", None)
            .double_buffer("abuf", "k.o", 2)
            .pipeline("k.o", 2),
    );
}

#[test]
fn loop_primitives_preserve_gemm() {
    let m = lower("gemm.acc", GEMM, "gemm");
    let k = "gemm";
    check(&m, k, Schedule::new().unroll("k", 0));
    check(&m, k, Schedule::new().unroll("k", 3));
    check(&m, k, Schedule::new().unroll("k", 4).unroll("j", 5));
    check(&m, k, Schedule::new().fuse("i", "j"));
    check(&m, k, Schedule::new().fuse("i", "j").unroll("i_j", 7));
    check(
        &m,
        k,
        Schedule::new()
            .parallel("i")
            .bind("j", "thread.x")
            .tile("i", "j", 4, 6)
            .unfold(&["i.i", "j.i"], "pe"),
    );
}

#[test]
fn staging_and_loop_primitives_preserve_conv2d() {
    let m = lower("conv.acc", CONV, "conv");
    let k = "conv";
    // The input's box per output row carries the 2-row halo of the window.
    check(
        &m,
        k,
        Schedule::new().buffer_at("xbuf", "X", "oh", Some("scratchpad")),
    );
    check(
        &m,
        k,
        Schedule::new()
            .split_guarded("ow", 3)
            .buffer_at("xbuf", "X", "ow.o", None)
            .buffer_at("ybuf", "Y", "ow.o", None),
    );
    check(&m, k, Schedule::new().unroll("s", 0).unroll("r", 2));
    check(
        &m,
        k,
        Schedule::new()
            .parallel("f")
            .fuse("oh", "ow")
            .unroll("oh_ow", 5),
    );
    check(
        &m,
        k,
        Schedule::new()
            .fission("c", 4)
            .buffer_at("wbuf", "Wt", "f", None)
            .double_buffer("wbuf", "f", 2)
            .pipeline("f", 2),
    );
}

#[test]
fn loop_primitives_preserve_softmax_example() {
    let m = example("softmax.acc", "softmax");
    check(
        &m,
        "softmax",
        Schedule::new().split("r", 16).unroll("r.i", 4),
    );
    check(&m, "softmax", Schedule::new().parallel("r"));
    check(
        &m,
        "softmax",
        Schedule::new().buffer_at("xbuf", "X", "r", Some("sbuf")),
    );
}

const BLUR: &str = r#"
kernel blur(X: i32[10, 12]) -> (Y: i32[8, 10]) {
  let bx: i32[10, 10];
  for y, x in grid(10, 10) {
    bx[y, x] = X[y, x] + X[y, x + 1] + X[y, x + 2];
  }
  for y, x in grid(8, 10) {
    Y[y, x] = bx[y, x] + bx[y + 1, x] + bx[y + 2, x];
  }
}
"#;

const ATTN: &str = r#"
kernel probs(Q: f32[6, 5], K: f32[7, 5]) -> (P: f32[6, 7]) {
  let S: f32[6, 7];
  for i, j in grid(6, 7) {
    S[i, j] = 0.0;
    for d in range(0, 5) {
      S[i, j] += Q[i, d] * K[j, d];
    }
  }
  for i, j in grid(6, 7) {
    P[i, j] = S[i, j] * 0.5;
  }
}

kernel attn(Q: f32[6, 5], K: f32[7, 5], V: f32[7, 5]) -> (O: f32[6, 5]) {
  let P: f32[6, 7];
  let S: f32[6, 5];
  probs(Q, K, P);
  for i, d in grid(6, 5) {
    S[i, d] = 0.0;
    for j in range(0, 7) {
      S[i, d] += P[i, j] * V[j, d];
    }
    O[i, d] = S[i, d];
  }
}
"#;

#[test]
fn compute_at_and_reuse_at_preserve_stencils() {
    let m = lower("blur.acc", BLUR, "blur");
    let k = "blur";
    check(&m, k, Schedule::new().compute_at("S_y_x", "S_y_x_1.y"));
    check(&m, k, Schedule::new().compute_at("S_y_x", "S_y_x_1.x"));
    // Regenerated loops can be scheduled further; ragged tiles clamp the
    // producer's box to its range.
    check(
        &m,
        k,
        Schedule::new()
            .compute_at("S_y_x", "S_y_x_1.y")
            .split_guarded("S_y_x_1.y", 3)
            .reuse_at("xw", "X", "x_1", None),
    );
    check(
        &m,
        k,
        Schedule::new()
            .split_guarded("S_y_x_1.y", 3)
            .compute_at("S_y_x", "y.o"),
    );
    check(
        &m,
        k,
        Schedule::new().reuse_at("bxl", "bx", "S_y_x_1.y", None),
    );
    check(
        &m,
        k,
        Schedule::new()
            .reorder(&["S_y_x_1.x", "S_y_x_1.y"])
            .reuse_at("bxl", "bx", "S_y_x_1.y", Some("register")),
    );
    let conv = lower("conv.acc", CONV, "conv");
    check(
        &conv,
        "conv",
        Schedule::new().reuse_at("xw", "X", "ow", None),
    );
    check(
        &conv,
        "conv",
        Schedule::new()
            .reorder(&["n", "oh", "ow", "f"])
            .reuse_at("xl", "X", "oh", None),
    );
    check(
        &conv,
        "conv",
        Schedule::new()
            .split("ow", 2)
            .reuse_at("xw", "X", "ow.o", None),
    );
}

#[test]
fn partition_preserves_gemm() {
    let m = lower("gemm.acc", GEMM, "gemm");
    let k = "gemm";
    let staged = || {
        Schedule::new()
            .split_as("i", 8, "io", "ii")
            .buffer_at("abuf", "A", "io", None)
            .buffer_at("cbuf", "C", "io", None)
    };
    check(&m, k, staged().partition("abuf", 1, "cyclic", 3));
    check(&m, k, staged().partition("abuf", 1, "block", 6));
    check(
        &m,
        k,
        staged()
            .partition("abuf", 0, "complete", 0)
            .partition("cbuf", 1, "block", 4)
            .partition("cbuf", 0, "cyclic", 8),
    );
}

#[test]
fn compose_and_inline_preserve_a_calling_kernel() {
    let m = lower("attn.acc", ATTN, "attn");
    let k = "attn";
    let probs = || {
        Schedule::new()
            .compute_at("S_i_j", "S_i_j_1.i")
            .split("i", 2)
    };
    check(&m, k, Schedule::new().compose("fast", "probs", probs()));
    check(
        &m,
        k,
        Schedule::new()
            .compose("fast", "probs", probs())
            .inline("probs_fast")
            .split("S_i_d.i", 3),
    );
    check(
        &m,
        k,
        Schedule::new()
            .inline("probs")
            .compute_at("S_i_j_1", "S_i_d.i"),
    );
}

#[test]
fn a_failing_step_leaves_the_module_unchanged() {
    let m = lower("gemm.acc", GEMM, "gemm");
    let mut scheduled = m.clone();
    let err = Schedule::new()
        .split("i", 8)
        .split("j", 7)
        .apply(&mut scheduled, "gemm")
        .unwrap_err();
    assert_eq!(
        err.message,
        "split factor 7 does not divide the 18 iterations of loop `j`"
    );
    // The first step applied; the failing one left no trace.
    let once = {
        let mut x = m.clone();
        Schedule::new().split("i", 8).apply(&mut x, "gemm").unwrap();
        x
    };
    assert_eq!(accc_ir::structurally_equal(&once, &scheduled), Ok(()));
}

//! The IR each schedule primitive produces, pinned by insta snapshots: one
//! per primitive and kernel it applies to, on small versions of the GEMM,
//! conv2d and softmax examples. A snapshot is the printed module after the
//! whole schedule; the schedule (the primitive and the steps it needs
//! first) is the snapshot's description. `schedule_equality.rs` checks that
//! the same kind of schedules compute what the kernel computed; this file
//! shows how the IR changes, so a change in a primitive's output is seen in
//! review.

use accc::CompileOptions;
use accc_ir::diag::SourceFile;
use accc_ir::Module;
use accc_passes::schedule::Schedule;

/// `examples/gemm.acc` at 4 x 4 x 6, with i32 inputs.
const GEMM: &str = r#"
kernel gemm(A: i32[4, 4], B: i32[4, 6]) -> (C: i32[4, 6]) {
  for i, j in grid(4, 6) {
    C[i, j] = 0;
    for k in range(0, 4) {
      C[i, j] += A[i, k] * B[k, j];
    }
  }
}
"#;

/// `examples/conv2d.acc` (`conv2d_3x3_valid`) with one image of 2 x 6 x 6
/// and 2 filters.
const CONV2D: &str = r#"
kernel conv2d(X: i8[1, 2, 6, 6], Wt: i8[2, 2, 3, 3]) -> (Y: i32[1, 2, 4, 4]) {
  for n, f, oh, ow in grid(1, 2, 4, 4) {
    Y[n, f, oh, ow] = 0;
    for c, r, s in grid(2, 3, 3) {
      Y[n, f, oh, ow] += i32(X[n, c, oh + r, ow + s]) * i32(Wt[f, c, r, s]);
    }
  }
}
"#;

/// `examples/softmax.acc` at 4 x 6. The example names its three column
/// loops `c`, which a step cannot tell apart (they share the stage `S_r`);
/// here they are `cm` (the maximum), `ce` (exponentials and their sum) and
/// `cn` (normalization) so that steps can name each.
const SOFTMAX: &str = r#"
kernel softmax(X: f32[4, 6]) -> (Y: f32[4, 6]) {
  for r in range(0, 4) {
    let m: f32 = -inf;
    for cm in range(0, 6) {
      m max= X[r, cm];
    }
    let sum: f32 = 0.0;
    for ce in range(0, 6) {
      Y[r, ce] = exp(X[r, ce] - m);
      sum += Y[r, ce];
    }
    for cn in range(0, 6) {
      Y[r, cn] = Y[r, cn] / sum;
    }
  }
}
"#;

fn lower(kernel: &str, text: &str) -> Module {
    let options = CompileOptions {
        kernel: Some(kernel.to_string()),
        ..CompileOptions::default()
    };
    let file = SourceFile::new(format!("{kernel}.acc"), text);
    accc::compile(&file, &options).expect("test kernels compile")
}

/// Applies each `(snapshot name, schedule)` to a fresh copy of `kernel` and
/// snapshots the printed module; reports every schedule that fails to
/// apply at once.
fn snapshot_each(kernel: &str, text: &str, cases: Vec<(&str, Schedule)>) {
    let module = lower(kernel, text);
    let mut failures = Vec::new();
    for (name, schedule) in cases {
        let steps: Vec<String> = schedule.steps.iter().map(|s| s.to_string()).collect();
        let mut scheduled = module.clone();
        if let Err(e) = schedule.apply(&mut scheduled, kernel) {
            failures.push(format!("{name} ({}): {e}", steps.join("; ")));
            continue;
        }
        insta::with_settings!({
            description => format!("{kernel}: {}", steps.join("; ")),
            omit_expression => true,
        }, {
            insta::assert_snapshot!(name, accc_ir::print_module(&scheduled));
        });
    }
    assert!(
        failures.is_empty(),
        "schedules that did not apply:\n{}",
        failures.join("\n")
    );
}

#[test]
fn gemm_after_each_primitive() {
    let staged_k = || {
        Schedule::new()
            .split_as("k", 2, "ko", "ki")
            .buffer_at("abuf", "A", "ko", None)
            .double_buffer("abuf", "ko", 2)
    };
    snapshot_each(
        "gemm",
        GEMM,
        vec![
            ("gemm_split", Schedule::new().split("i", 2)),
            ("gemm_split_guarded", Schedule::new().split_guarded("j", 4)),
            ("gemm_tile", Schedule::new().tile("i", "j", 2, 3)),
            ("gemm_reorder", Schedule::new().reorder(&["j", "i"])),
            ("gemm_fuse", Schedule::new().fuse("i", "j")),
            ("gemm_unroll_full", Schedule::new().unroll("k", 0)),
            ("gemm_unroll_by_3", Schedule::new().unroll("k", 3)),
            ("gemm_fission", Schedule::new().fission("k", 2)),
            (
                "gemm_buffer_at",
                Schedule::new().buffer_at("abuf", "A", "i", Some("scratchpad")),
            ),
            (
                "gemm_hoist",
                Schedule::new()
                    .buffer_at("bbuf", "B", "i", None)
                    .hoist("bbuf", "i"),
            ),
            ("gemm_double_buffer", staged_k()),
            ("gemm_pipeline", staged_k().pipeline("ko", 2)),
            ("gemm_parallel", Schedule::new().parallel("i")),
            ("gemm_bind", Schedule::new().bind("j", "thread.x")),
            ("gemm_unfold", Schedule::new().unfold(&["i", "j"], "pe")),
            (
                "gemm_partition",
                Schedule::new()
                    .buffer_at("abuf", "A", "i", None)
                    .partition("abuf", 1, "cyclic", 2),
            ),
        ],
    );
}

#[test]
fn conv2d_after_each_primitive() {
    let staged_f = || {
        Schedule::new()
            .buffer_at("wbuf", "Wt", "f", None)
            .double_buffer("wbuf", "f", 2)
    };
    snapshot_each(
        "conv2d",
        CONV2D,
        vec![
            ("conv2d_split", Schedule::new().split("ow", 2)),
            (
                "conv2d_split_guarded",
                Schedule::new().split_guarded("oh", 3),
            ),
            ("conv2d_tile", Schedule::new().tile("oh", "ow", 2, 2)),
            ("conv2d_reorder", Schedule::new().reorder(&["s", "r", "c"])),
            ("conv2d_fuse", Schedule::new().fuse("oh", "ow")),
            ("conv2d_unroll_full", Schedule::new().unroll("s", 0)),
            ("conv2d_unroll_by_2", Schedule::new().unroll("r", 2)),
            ("conv2d_fission", Schedule::new().fission("c", 4)),
            (
                "conv2d_buffer_at",
                Schedule::new().buffer_at("xbuf", "X", "oh", Some("scratchpad")),
            ),
            (
                "conv2d_hoist",
                Schedule::new()
                    .buffer_at("wbuf", "Wt", "oh", None)
                    .hoist("wbuf", "oh"),
            ),
            ("conv2d_double_buffer", staged_f()),
            ("conv2d_pipeline", staged_f().pipeline("f", 2)),
            ("conv2d_parallel", Schedule::new().parallel("f")),
            ("conv2d_bind", Schedule::new().bind("f", "block.x")),
            ("conv2d_unfold", Schedule::new().unfold(&["oh", "ow"], "pe")),
            (
                "conv2d_reuse_at",
                Schedule::new().reuse_at("xw", "X", "ow", Some("register")),
            ),
        ],
    );
}

/// Softmax has a single loop `r` around three column loops, so `tile` has
/// no two nested loops to tile; `fission` has no legal gap (the scalars `m`
/// and `sum` are defined before every gap and used after it); `hoist` has
/// no copy independent of the loop it would leave.
#[test]
fn softmax_after_each_primitive() {
    let staged_r = || {
        Schedule::new()
            .buffer_at("xbuf", "X", "r", Some("sbuf"))
            .double_buffer("xbuf", "r", 2)
    };
    snapshot_each(
        "softmax",
        SOFTMAX,
        vec![
            ("softmax_split", Schedule::new().split("r", 2)),
            (
                "softmax_split_guarded",
                Schedule::new().split_guarded("ce", 4),
            ),
            (
                "softmax_reorder",
                Schedule::new().split("r", 2).reorder(&["r.i", "r.o"]),
            ),
            (
                "softmax_fuse",
                Schedule::new().split("r", 2).fuse("r.o", "r.i"),
            ),
            ("softmax_unroll_full", Schedule::new().unroll("cm", 0)),
            ("softmax_unroll_by_4", Schedule::new().unroll("cn", 4)),
            (
                "softmax_buffer_at",
                Schedule::new().buffer_at("xbuf", "X", "r", Some("sbuf")),
            ),
            ("softmax_double_buffer", staged_r()),
            ("softmax_pipeline", staged_r().pipeline("r", 2)),
            ("softmax_parallel", Schedule::new().parallel("r")),
            ("softmax_bind", Schedule::new().bind("r", "partition")),
            ("softmax_unfold", Schedule::new().unfold(&["r"], "rows")),
        ],
    );
}

/// A two-stage stencil for `compute_at`, and a kernel calling another for
/// `compose` and `inline`.
const BLUR: &str = r#"
kernel blur(X: i32[6, 6]) -> (Y: i32[4, 4]) {
  let bx: i32[6, 4];
  for y, x in grid(6, 4) {
    bx[y, x] = X[y, x] + X[y, x + 1] + X[y, x + 2];
  }
  for y, x in grid(4, 4) {
    Y[y, x] = bx[y, x] + bx[y + 1, x] + bx[y + 2, x];
  }
}
"#;

const CALLS: &str = r#"
kernel scale(X: i32[4]) -> (Y: i32[4]) {
  for i in range(0, 4) {
    Y[i] = X[i] * 3;
  }
}

kernel twice(X: i32[4]) -> (Z: i32[4]) {
  let t: i32[4];
  scale(X, t);
  for i in range(0, 4) {
    Z[i] = t[i] + 1;
  }
}
"#;

#[test]
fn producers_after_each_primitive() {
    snapshot_each(
        "blur",
        BLUR,
        vec![
            (
                "blur_compute_at",
                Schedule::new().compute_at("S_y_x", "S_y_x_1.y"),
            ),
            (
                "blur_reuse_at",
                Schedule::new().reuse_at("bxl", "bx", "S_y_x_1.y", None),
            ),
        ],
    );
    let unrolled = || Schedule::new().unroll("i", 2);
    snapshot_each(
        "twice",
        CALLS,
        vec![
            (
                "twice_compose",
                Schedule::new().compose("fast", "scale", unrolled()),
            ),
            (
                "twice_inline",
                Schedule::new().inline("scale").compute_at("S_i_1", "S_i.i"),
            ),
        ],
    );
}

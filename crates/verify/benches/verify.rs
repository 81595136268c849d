//! Verifier throughput: symbolic ops per second and time per schedule step.
//!
//! `cargo bench -p accc-verify` prints one table row per step of each
//! schedule below and a total per schedule. The steps are verified with
//! `accc_verify::verify_sequence`, which runs each program once (the
//! kernel before the schedule, then the IR after each step) and compares
//! neighbours. A row's "ops" counts the symbolic operations of the two
//! runs it compares and its time is the time of the new run and the
//! comparison; the total counts each run once.

use std::time::Instant;

use accc_ir::diag::SourceFile;
use accc_passes::schedule::Schedule;
use accc_verify::{verify_sequence, Options};

const GEMM: &str = r#"
kernel gemm(A: i8[M, K], B: i8[K, N]) -> (C: i32[M, N]) {
  for i, j in grid(M, N) {
    C[i, j] = 0;
    for k in range(0, K) {
      C[i, j] += i32(A[i, k]) * i32(B[k, j]);
    }
  }
}
"#;

const CONV: &str = r#"
kernel conv(X: i8[1, 8, 18, 18], Wt: i8[8, 8, 3, 3]) -> (Y: i32[1, 8, 16, 16]) {
  for n, f, oh, ow in grid(1, 8, 16, 16) {
    Y[n, f, oh, ow] = 0;
    for c, r, s in grid(8, 3, 3) {
      Y[n, f, oh, ow] += i32(X[n, c, oh + r, ow + s]) * i32(Wt[f, c, r, s]);
    }
  }
}
"#;

/// The tiled, staged, double-buffered, pipelined GEMM schedule of
/// `examples/gemm.acc`, with tiles of `t`.
fn tiled(t: i64) -> Schedule {
    Schedule::new()
        .split_as("i", t, "io", "ii")
        .split_as("j", t, "jo", "ji")
        .split_as("k", t, "ko", "ki")
        .reorder(&["io", "jo", "ii", "ji"])
        .fission("ko", 2)
        .reorder(&["ko", "ii", "ji", "ki"])
        .buffer_at("cbuf", "C", "jo", Some("accumulator"))
        .buffer_at("abuf", "A", "ko", Some("scratchpad"))
        .buffer_at("bbuf", "B", "ko", Some("scratchpad"))
        .double_buffer("abuf", "ko", 2)
        .double_buffer("bbuf", "ko", 2)
        .pipeline("ko", 2)
}

fn main() {
    let cases: Vec<(String, String, &str, Schedule)> = vec![
        (
            "gemm 32^3, tiles of 8".into(),
            GEMM.replace(['M', 'K', 'N'], "32"),
            "gemm",
            tiled(8),
        ),
        (
            "gemm 64^3, tiles of 16".into(),
            GEMM.replace(['M', 'K', 'N'], "64"),
            "gemm",
            tiled(16),
        ),
        (
            "systolic 64x64 (unfold), K = 64".into(),
            GEMM.replace(['M', 'K', 'N'], "64"),
            "gemm",
            Schedule::new()
                .unfold(&["i", "j"], "pe")
                .buffer_at("cbuf", "C", "j", Some("accumulator"))
                .buffer_at("abuf", "A", "j", None),
        ),
        (
            "conv 8x16x16, 3x3".into(),
            CONV.to_string(),
            "conv",
            Schedule::new()
                .split("ow", 4)
                .reorder(&["r", "c"])
                .buffer_at("xbuf", "X", "oh", None)
                .unroll("s", 0),
        ),
    ];
    println!("| schedule | step | ops | terms | ms | Mops/s |\n|---|---|---:|---:|---:|---:|");
    for (name, text, kernel, schedule) in cases {
        let file = SourceFile::new(format!("{kernel}.acc"), text);
        let program = accc_dsl::parse_and_check(&file).expect("bench kernels check");
        let mut m = accc_dsl::lower::lower_program(&file, &program, Some(kernel))
            .expect("bench kernels lower");
        let trace = schedule
            .apply(&mut m, kernel)
            .expect("bench schedules apply");
        let mut programs = vec![&*trace.steps[0].before];
        programs.extend(trace.steps.iter().map(|s| &*s.after));
        let start = Instant::now();
        let outcomes = verify_sequence(&programs, kernel, &Options::default());
        let ms = start.elapsed().as_secs_f64() * 1e3;
        for (entry, o) in trace.steps.iter().zip(&outcomes) {
            assert!(
                o.verdict.is_equivalent(),
                "{name}: {}: {:?}",
                entry.step,
                o.verdict
            );
            println!(
                "| {name} | `{}` | {} | {} | {:.1} | {:.2} |",
                entry.step,
                o.ops,
                o.terms,
                o.millis,
                o.ops as f64 / o.millis / 1e3
            );
        }
        // Each program ran once: the first, then one per step.
        let first = outcomes.first().map_or(0, |o| o.ops - o.ops_after);
        let ops: u64 = first + outcomes.iter().map(|o| o.ops_after).sum::<u64>();
        println!(
            "| {name} | **all {} steps** | {ops} | | {ms:.1} | {:.2} |",
            trace.steps.len(),
            ops as f64 / ms / 1e3
        );
    }
}

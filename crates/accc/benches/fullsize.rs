//! Verification at full size: time per schedule step of GEMMs far over
//! the symbolic budget (the six GEMM shapes of `examples/gemm.acc`).
//!
//! `cargo bench -p accc --bench fullsize` prints, for the tuned schedule
//! of each shape (tiled, staged in scratchpad and accumulator,
//! double-buffered, pipelined: the 12 steps of `gemm_512_tiled`), the
//! sizes the kernel was shrunk to, the symbolic operations of the
//! shrunken runs, the z3 queries, and the time of every step (including
//! lowering and scheduling the shrunken kernel, counted in step 1), then
//! the 512^3 schedule step by step.

use std::time::Instant;

use accc::verify::{Options, Verdict};
use accc::{CompileOptions, SourceFile};

/// A GEMM kernel of one shape and the tuned schedule with tiles
/// `(ti, tj, tk)`.
fn source(m: i64, k: i64, n: i64, (ti, tj, tk): (i64, i64, i64)) -> String {
    format!(
        r#"
const M = {m};
const K = {k};
const N = {n};
kernel gemm(A: i8[M, K], B: i8[K, N]) -> (C: i32[M, N]) {{
  for i, j in grid(M, N) {{
    C[i, j] = 0;
    for k in range(0, K) {{
      C[i, j] += i32(A[i, k]) * i32(B[k, j]);
    }}
  }}
}}
schedule tuned for gemm {{
  io, ii = split(i, {ti});
  jo, ji = split(j, {tj});
  ko, ki = split(k, {tk});
  reorder(io, jo, ii, ji);
  fission(ko, levels = 2);
  reorder(ko, ii, ji, ki);
  cbuf = buffer_at(C, jo, mem = accumulator);
  abuf = buffer_at(A, ko, mem = scratchpad);
  bbuf = buffer_at(B, ko, mem = scratchpad);
  double_buffer(abuf, ko);
  double_buffer(bbuf, ko);
  pipeline(ko, stages = 2);
}}
"#
    )
}

/// `(M, K, N, (tile_i, tile_j, tile_k))`.
type Shape = (i64, i64, i64, (i64, i64, i64));

fn main() {
    let shapes: [Shape; 6] = [
        (512, 512, 512, (64, 64, 64)),
        (12544, 64, 256, (64, 64, 64)),
        (12544, 256, 64, (64, 64, 64)),
        (3136, 128, 512, (64, 64, 64)),
        (3136, 512, 128, (64, 64, 64)),
        (784, 256, 1024, (56, 64, 64)),
    ];
    let options = Options::default();
    println!("Full-size verification of the tuned GEMM schedule (12 steps), release build");
    println!();
    println!(
        "| shape (M x K x N) | tiles | real symbolic ops | shrunk to | shrunk ops | z3 queries | verdicts | total (wall) | slowest step |"
    );
    println!("|---|---|---:|---|---:|---:|---|---:|---:|");
    let mut detail_512 = Vec::new();
    for (m, k, n, tiles) in shapes {
        let file = SourceFile::new("gemm.acc", source(m, k, n, tiles));
        let compile = CompileOptions {
            schedule: Some("tuned".into()),
            ..CompileOptions::default()
        };
        let (module, trace) = accc::compile_traced(&file, &compile).expect("the schedule applies");
        let f = module.lookup_symbol("gemm").expect("the kernel");
        let real_ops = accc::verify::exec::estimate_ops(&module, f);
        let start = Instant::now();
        let outcomes = accc::verify_schedule(&file, &compile, &trace, "gemm", &options);
        let total = start.elapsed().as_secs_f64() * 1e3;
        let proved = outcomes
            .iter()
            .filter(|o| o.verdict == Verdict::Equivalent)
            .count();
        let shrunk = outcomes
            .first()
            .and_then(|o| o.detail.split(';').next())
            .unwrap_or("")
            .trim_start_matches("shrunk to ")
            .to_string();
        let queries: u64 = outcomes
            .iter()
            .filter_map(|o| {
                let (_, rest) = o.detail.rsplit_once('(')?;
                rest.split_whitespace().next()?.parse::<u64>().ok()
            })
            .sum();
        let shrunk_ops: u64 = outcomes.iter().map(|o| o.ops_after).sum();
        let slowest = outcomes.iter().map(|o| o.millis).fold(0.0, f64::max);
        println!(
            "| {m} x {k} x {n} | {}x{}x{} | {real_ops} | {shrunk} | {shrunk_ops} | {queries} | {proved} of {} equivalent | {total:.0} ms | {slowest:.0} ms |",
            tiles.0,
            tiles.1,
            tiles.2,
            outcomes.len()
        );
        if m == 512 {
            detail_512 = trace
                .steps
                .iter()
                .zip(&outcomes)
                .map(|(e, o)| (e.step.to_string(), o.clone()))
                .collect();
        }
    }
    println!();
    println!("512^3, step by step:");
    println!();
    println!("| step | verdict | method | time | shrunken ops | obligations proved at full size |");
    println!("|---|---|---|---:|---:|---|");
    for (step, o) in &detail_512 {
        println!(
            "| {step} | {} | {} | {:.1} ms | {} | {} |",
            o.verdict.word(),
            o.method,
            o.millis,
            o.ops_after,
            o.detail.split("z3: ").nth(1).unwrap_or("")
        );
    }
    let total: f64 = detail_512.iter().map(|(_, o)| o.millis).sum();
    println!();
    println!(
        "512^3: the step times add up to {total:.0} ms for {} steps (both threads' work; the wall time is the table's total)",
        detail_512.len()
    );
}

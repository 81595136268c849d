//! Verification at full size: kernels over the symbolic budget.
//!
//! Legal schedules of 512^3 GEMMs are proved step by step by the shrunken
//! kernel and the z3 obligations (method `shrunk+z3`). The mutations
//! change only numbers in the real-size IR of one step, the kind of bug
//! that shows only at the real size (the shrunken kernel, with other
//! numbers, cannot see it): each must be refuted by an obligation, with
//! the violating iteration. The test prints both counts.

use accc::fullsize::step_obligations;
use accc::passes::schedule::Trace;
use accc::verify::obligation::{dependences, Cache, Failure};
use accc::verify::{Options, Verdict};
use accc::{CompileOptions, SourceFile};
use accc_ir::Module;

const SOURCE: &str = r#"
const M = 512;
const K = 512;
const N = 512;

kernel g(A: i8[M, K], B: i8[K, N]) -> (C: i32[M, N]) {
  for i, j in grid(M, N) {
    C[i, j] = 0;
    for k in range(0, K) {
      C[i, j] += i32(A[i, k]) * i32(B[k, j]);
    }
  }
}

const W = 300;
kernel wave(X: i32[W, W]) -> (Y: i32[W, W]) {
  for i, j in grid(W, W) {
    Y[i, j] = X[i, j];
  }
  for a in range(1, W) {
    for b in range(0, W - 1) {
      Y[a, b] = Y[a - 1, b + 1] + X[a, b];
    }
  }
}

kernel pad(X: i32[M]) -> (Y: i32[M]) {
  for p in range(0, M - 8) {
    Y[p] = X[p];
  }
}

kernel rows(X: f32[M, N]) -> (S: f32[M]) {
  for r in range(0, M) {
    S[r] = 0.0;
    for c in range(0, N) {
      S[r] += X[r, c];
    }
  }
}

schedule split64 for g { io, ii = split(i, 64); }
schedule guarded for g { io, ii = split(i, 100, tail = guard); }
schedule tiled for g { tile(i, j, 64, 32); }
schedule deep for g { ko, ki = split(k, 64); }
schedule unrolled for g { unroll(j, 3); }
schedule fused for g { fuse(i, j); }
schedule banked for g {
  io, ii = split(i, 64);
  abuf = buffer_at(A, io);
  partition(abuf, 1, kind = cyclic, factor = 4);
}
schedule tuned for g {
  io, ii = split(i, 64);
  jo, ji = split(j, 64);
  ko, ki = split(k, 64);
  reorder(io, jo, ii, ji);
  fission(ko, levels = 2);
  reorder(ko, ii, ji, ki);
  cbuf = buffer_at(C, jo, mem = accumulator);
  abuf = buffer_at(A, ko, mem = scratchpad);
  bbuf = buffer_at(B, ko, mem = scratchpad);
  double_buffer(abuf, ko);
  double_buffer(bbuf, ko);
  pipeline(ko, stages = 2);
}
schedule padded for pad { unroll(p, 4); }
schedule rswap for rows { co, ci = split(c, 64); reorder(ci, co); }
"#;

fn source() -> SourceFile {
    SourceFile::new("fullsize.acc", SOURCE)
}

fn options(schedule: &str) -> CompileOptions {
    CompileOptions {
        kernel: None,
        schedule: Some(schedule.to_string()),
        ..CompileOptions::default()
    }
}

fn trace(schedule: &str) -> (Trace, String) {
    let (module, trace) = accc::compile_traced(&source(), &options(schedule))
        .unwrap_or_else(|d| panic!("schedule {schedule} compiles: {d:?}"));
    let kernel = accc::run::pick_kernel(&module, None).expect("one kernel");
    (trace, kernel)
}

/// The IR as text with its source locations, so that the parsed copy's
/// accesses still match the originals'.
fn print(m: &Module) -> String {
    accc_ir::text::print_module_with(
        m,
        &accc_ir::text::PrintOptions {
            print_locations: true,
            ..Default::default()
        },
    )
}

fn parse(text: &str) -> Module {
    accc_ir::parse_module(&SourceFile::new("mutated.mlir", text))
        .unwrap_or_else(|d| panic!("the mutated IR parses: {d:?}\n{text}"))
}

/// A number-only edit of the IR after step `step` (1-based) of
/// `schedule`: every occurrence of `from` becomes `to`.
struct Mutation {
    name: &'static str,
    schedule: &'static str,
    step: usize,
    from: &'static str,
    to: &'static str,
    /// The obligation that must refute it (alternatives separated by
    /// `|`: the first to fail wins).
    by: &'static str,
}

const fn m(
    name: &'static str,
    schedule: &'static str,
    step: usize,
    from: &'static str,
    to: &'static str,
    by: &'static str,
) -> Mutation {
    Mutation {
        name,
        schedule,
        step,
        from,
        to,
        by,
    }
}

const MUTATIONS: &[Mutation] = &[
    m(
        "split: inner loop one short",
        "split64",
        1,
        "affine.for %ii = 0 to 64",
        "affine.for %ii = 0 to 63",
        "coverage",
    ),
    m(
        "split: one block too many",
        "split64",
        1,
        "affine.for %io = 0 to 8",
        "affine.for %io = 0 to 9",
        "bounds",
    ),
    m(
        "split: wrong block stride in the indices",
        "split64",
        1,
        "%io * 64 + %ii",
        "%io * 63 + %ii",
        "coverage",
    ),
    m(
        "split: inner loop one long",
        "deep",
        1,
        "affine.for %ki = 0 to 64",
        "affine.for %ki = 0 to 65",
        "bounds",
    ),
    m(
        "guarded split: tail one short",
        "guarded",
        1,
        "d0 * -100 + 512",
        "d0 * -100 + 511",
        "coverage",
    ),
    m(
        "guarded split: tail one long",
        "guarded",
        1,
        "d0 * -100 + 512",
        "d0 * -100 + 513",
        "bounds",
    ),
    m(
        "tile: second inner loop one short",
        "tiled",
        1,
        "affine.for %j_i = 0 to 32",
        "affine.for %j_i = 0 to 31",
        "coverage",
    ),
    m(
        "tile: first factor wrong in the indices",
        "tiled",
        1,
        "%i_o * 64 + %i_i",
        "%i_o * 32 + %i_i",
        "coverage",
    ),
    m(
        "unroll: main loop one group short",
        "unrolled",
        1,
        "affine.for %j = 0 to 510 step 3",
        "affine.for %j = 0 to 507 step 3",
        "instances",
    ),
    m(
        "unroll: peeled remainder redoes a column",
        "unrolled",
        1,
        ", 510]",
        ", 509]",
        "instances",
    ),
    m(
        "fuse: one iteration short",
        "fused",
        1,
        "affine.for %i_j = 0 to 262144",
        "affine.for %i_j = 0 to 262143",
        "instances",
    ),
    m(
        "fuse: wrong modulus",
        "fused",
        1,
        "%i_j mod 512",
        "%i_j mod 511",
        "dependences",
    ),
    m(
        "unroll: main loop runs past the range, inside the tensor",
        "padded",
        1,
        "affine.for %p = 0 to 504 step 4",
        "affine.for %p = 0 to 508 step 4",
        "instances",
    ),
    m(
        "buffer_at: copy-in with a wrong block stride",
        "tuned",
        8,
        "%ko * 64 + %abuf_1]",
        "%ko * 56 + %abuf_1]",
        "copies",
    ),
    m(
        "buffer_at: copy-in transposed",
        "tuned",
        8,
        "%A[%io * 64 + %abuf_0, %ko * 64 + %abuf_1]",
        "%A[%io * 64 + %abuf_1, %ko * 64 + %abuf_0]",
        "copies",
    ),
    m(
        "buffer_at: write-back one row down",
        "tuned",
        7,
        "%C[%io * 64 + %cbuf_0, %jo * 64 + %cbuf_1]",
        "%C[%io * 64 + %cbuf_0 + 1, %jo * 64 + %cbuf_1]",
        "bounds",
    ),
    m(
        "double_buffer: copy transposed",
        "tuned",
        10,
        "%abuf[%ko mod 2, %abuf_0, %abuf_1]",
        "%abuf[%ko mod 2, %abuf_1, %abuf_0]",
        "layouts",
    ),
    m(
        "buffer_at: accumulator buffer one row short",
        "tuned",
        7,
        "64x64xi32",
        "63x64xi32",
        "bounds",
    ),
    m(
        "buffer_at: write-back one column short",
        "tuned",
        7,
        "affine.for %cbuf_1 = 0 to 64",
        "affine.for %cbuf_1 = 0 to 63",
        "staging|copies",
    ),
    m(
        "buffer_at: copy-in one row short",
        "tuned",
        8,
        "affine.for %abuf_0 = 0 to 64",
        "affine.for %abuf_0 = 0 to 63",
        "staging|copies",
    ),
    m(
        "buffer_at: footprint offset by a tile too far",
        "tuned",
        9,
        "%ko * 64 + %bbuf_0",
        "%ko * 64 + %bbuf_0 + 64",
        "bounds",
    ),
    m(
        "partition: bank index modulo 3 for 4 banks",
        "banked",
        3,
        " mod 4,",
        " mod 3,",
        "layouts",
    ),
    m(
        "partition: offset within a bank divided by 5",
        "banked",
        3,
        " floordiv 4]",
        " floordiv 5]",
        "layouts",
    ),
    m(
        "double_buffer: one copy allocated",
        "tuned",
        10,
        "2x64x64xi8",
        "1x64x64xi8",
        "bounds",
    ),
    m(
        "pipeline: steady loop one iteration long",
        "tuned",
        12,
        "affine.for %ko = 0 to 7",
        "affine.for %ko = 0 to 8",
        "bounds",
    ),
    m(
        "pipeline: prefetch into the slot being read",
        "tuned",
        12,
        "[(%ko + 1) mod 2, %bbuf_0_1, %bbuf_1_1]",
        "[(%ko + 2) mod 2, %bbuf_0_1, %bbuf_1_1]",
        "instances",
    ),
    m(
        "pipeline: prefetch copies a row short",
        "tuned",
        12,
        "affine.for %bbuf_0_1 = 0 to 64",
        "affine.for %bbuf_0_1 = 0 to 63",
        "staging",
    ),
];

#[test]
fn number_only_bugs_at_full_size_are_refuted_by_an_obligation() {
    let mut rejected = 0;
    for mu in MUTATIONS {
        let (trace, kernel) = trace(mu.schedule);
        let entry = &trace.steps[mu.step - 1];
        let text = print(&entry.after);
        assert!(
            text.contains(mu.from),
            "{}: `{}` is not in the IR after step {} of {}:\n{text}",
            mu.name,
            mu.from,
            mu.step,
            mu.schedule
        );
        let mutated = parse(&text.replace(mu.from, mu.to));
        let mut cache = Cache::default();
        let result = step_obligations(
            &entry.step,
            &entry.report.names,
            &entry.before,
            &mutated,
            &kernel,
            false,
            &mut cache,
        );
        match result {
            Err((name, Failure::Violated(how))) => {
                assert!(
                    mu.by.split('|').any(|by| name.starts_with(by)),
                    "{}: refuted by `{name}`, expected `{}`: {how}",
                    mu.name,
                    mu.by
                );
                assert!(
                    how.contains("iteration"),
                    "{}: no iteration in {how}",
                    mu.name
                );
                rejected += 1;
                println!("rejected  {:<48} {name}: {how}", mu.name);
            }
            other => panic!("{}: the obligations say {other:?}", mu.name),
        }
    }
    println!(
        "{rejected} of {} full-size mutations rejected by an obligation",
        MUTATIONS.len()
    );
}

#[test]
fn legal_full_size_schedules_are_proved_step_by_step() {
    for schedule in [
        "split64", "guarded", "tiled", "deep", "unrolled", "fused", "tuned",
    ] {
        let (trace, kernel) = trace(schedule);
        let outcomes = accc::verify_schedule(
            &source(),
            &options(schedule),
            &trace,
            &kernel,
            &Options::default(),
        );
        assert_eq!(outcomes.len(), trace.steps.len());
        for (entry, o) in trace.steps.iter().zip(&outcomes) {
            assert_eq!(
                o.verdict,
                Verdict::Equivalent,
                "{schedule}: step `{}`: {}",
                entry.step,
                o.detail
            );
            assert_eq!(o.method, "shrunk+z3");
            assert!(o.detail.contains("shrunk to M = "), "{}", o.detail);
        }
    }
}

#[test]
fn a_reorder_across_a_dependence_at_full_size_gives_the_iteration_pair() {
    // The wavefront's loops interchanged by hand (the reorder primitive
    // refuses it): iteration (a, b) reads what (a - 1, b + 1) wrote.
    let (module, _) = accc::compile_traced(
        &source(),
        &CompileOptions {
            kernel: Some("wave".into()),
            ..CompileOptions::default()
        },
    )
    .expect("wave compiles");
    let text = print(&module);
    let interchange = |text: &str, outer: [&str; 2], inner: [&str; 2], names: bool| {
        let head = |l: [&str; 2]| format!("affine.for %{} = {} {{", l[0], l[1]);
        let from = format!("{}\n      {}", head(outer), head(inner));
        let to = format!("{}\n      {}", head(inner), head(outer));
        assert!(text.contains(&from), "{from}\n{text}");
        let mut out = text.replacen(&from, &to, 1);
        if names {
            // Each loop keeps its name (the stage name stays outermost).
            let (o, i) = (
                format!("}} {{loop_name = \"{}\"", outer[0]),
                format!("}} {{loop_name = \"{}\"", inner[0]),
            );
            out = out
                .replacen(&i, "@INNER@", 1)
                .replacen(&o, &i, 1)
                .replacen("@INNER@", &o, 1);
        }
        parse(&out)
    };
    let wave = interchange(&text, ["a", "1 to 300"], ["b", "0 to 299"], true);
    match dependences(&module, &wave, "wave", &[], false, &mut Cache::default()) {
        Err(Failure::Violated(how)) => {
            assert!(
                how.contains("S_a_b.a = ") && how.contains("S_a_b.b = "),
                "{how}"
            );
            assert!(how.contains("runs first after it"), "{how}");
            println!("{how}");
        }
        other => panic!("the interchange is accepted: {other:?}"),
    }
    // Swapping the loop headers but not their names changes what each
    // named iteration accesses: refuted before any dependence is looked at.
    let renamed = interchange(&text, ["a", "1 to 300"], ["b", "0 to 299"], false);
    match dependences(&module, &renamed, "wave", &[], false, &mut Cache::default()) {
        Err(Failure::Violated(how)) => {
            assert!(how.contains("where the original accessed"), "{how}")
        }
        other => panic!("the renamed interchange is accepted: {other:?}"),
    }
    // The interchange of the copy loop (no dependence) is fine.
    let copy = interchange(&text, ["i", "0 to 300"], ["j", "0 to 300"], true);
    assert_eq!(
        dependences(&module, &copy, "wave", &[], false, &mut Cache::default()),
        Ok(())
    );
}

#[test]
fn a_float_reduction_reordered_at_full_size_needs_fp_reassoc() {
    let relaxed_options = CompileOptions {
        fp_reassoc: true,
        ..options("rswap")
    };
    let (module, trace) =
        accc::compile_traced(&source(), &relaxed_options).expect("rswap compiles");
    let kernel = accc::run::pick_kernel(&module, None).expect("one kernel");
    let entry = &trace.steps[1];
    assert_eq!(entry.step.primitive, "reorder");
    let strict = dependences(
        &entry.before,
        &entry.after,
        &kernel,
        &[],
        false,
        &mut Cache::default(),
    );
    match strict {
        Err(Failure::Violated(how)) => assert!(how.contains("%S"), "{how}"),
        other => panic!("the float reorder is accepted without fp-reassoc: {other:?}"),
    }
    let relaxed = dependences(
        &entry.before,
        &entry.after,
        &kernel,
        &[],
        true,
        &mut Cache::default(),
    );
    assert_eq!(relaxed, Ok(()));
}

#[test]
fn a_schedule_whose_shrunken_code_differs_is_unknown_not_proved() {
    // Unrolling a loop fully: 64 copies at full size, fewer on the
    // shrunken kernel, so the shrunken kernel does not stand for it.
    let text = format!(
        "{SOURCE}\nschedule unrolled_fully for g {{ ko, ki = split(k, 64); unroll(ki, 0); }}\n"
    );
    let file = SourceFile::new("unrolled.acc", text);
    let (module, trace) =
        accc::compile_traced(&file, &options("unrolled_fully")).expect("unrolled_fully compiles");
    let kernel = accc::run::pick_kernel(&module, None).expect("one kernel");
    let outcomes = accc::verify_schedule(
        &file,
        &options("unrolled_fully"),
        &trace,
        &kernel,
        &Options::default(),
    );
    assert_eq!(
        outcomes[0].verdict,
        Verdict::Equivalent,
        "{}",
        outcomes[0].detail
    );
    match &outcomes[1].verdict {
        Verdict::Unknown { reason, .. } => {
            assert!(reason.contains("does not stand for it"), "{reason}")
        }
        other => panic!("the unrolled step is {other:?}"),
    }
}

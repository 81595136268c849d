//! The verifier rejects wrong rewrites and accepts legal ones.
//!
//! Each mutation takes the IR a legal schedule produced, edits one place
//! the way a buggy primitive (or a hand edit) would, and must be found
//! *not equivalent* to the scheduled IR, with a counterexample. Every
//! schedule the mutations start from must itself be proven equivalent to
//! the unscheduled kernel. The test prints both counts.

use accc::verify::{verify, Options, Verdict};
use accc::{CompileOptions, SourceFile};
use accc_ir::Module;

const SOURCE: &str = r#"
kernel mm(A: i32[8, 6], B: i32[6, 4]) -> (C: i32[8, 4]) {
  for i, j in grid(8, 4) {
    C[i, j] = 0;
    for k in range(0, 6) {
      C[i, j] += A[i, k] * B[k, j];
    }
  }
}

kernel wave(X: i32[8, 8]) -> (Y: i32[8, 8]) {
  for i, j in grid(8, 8) {
    Y[i, j] = X[i, j];
  }
  for a in range(1, 8) {
    for b in range(0, 7) {
      Y[a, b] = Y[a - 1, b + 1] + X[a, b];
    }
  }
}

kernel blur(X: i32[10, 12]) -> (Y: i32[8, 10]) {
  let bx: i32[10, 10];
  for y, x in grid(10, 10) {
    bx[y, x] = X[y, x] + X[y, x + 1] + X[y, x + 2];
  }
  for y, x in grid(8, 10) {
    Y[y, x] = bx[y, x] + bx[y + 1, x] + bx[y + 2, x];
  }
}

kernel rowsum(X: f32[4, 8]) -> (S: f32[4]) {
  for r in range(0, 4) {
    S[r] = 0.0;
    for c in range(0, 8) {
      S[r] += X[r, c];
    }
  }
}

kernel diff(X: i32[4], Y: i32[4]) -> (Z: i32[4]) {
  for i in range(0, 4) {
    Z[i] = X[i] - Y[i];
  }
}

kernel outer(A: i32[4], B: i32[4]) -> (C: i32[4]) {
  diff(A, B, C);
}

kernel mm8(A: i8[4, 6], B: i8[6, 4]) -> (C: i32[4, 4]) {
  for i, j in grid(4, 4) {
    C[i, j] = 0;
    for k in range(0, 6) {
      C[i, j] += i32(A[i, k]) * i32(B[k, j]);
    }
  }
}

kernel rowmax(X: f32[4, 6]) -> (Y: f32[4]) {
  for r in range(0, 4) {
    let m: f32 = -inf;
    for c in range(0, 6) {
      m max= X[r, c];
    }
    Y[r] = m;
  }
}

schedule split3 for mm { split(k, 3); }
schedule inlined for outer { inline(diff); }
schedule unrolled4 for mm8 { unroll(k, 4); }
schedule three for mm8 {
  ko, ki = split(k, 2);
  abuf = buffer_at(A, ko);
  double_buffer(abuf, ko, copies = 3);
  pipeline(ko, stages = 3);
}
schedule maxsplit for rowmax { split(c, 3); }
schedule guarded for mm { split(k, 4, tail = guard); unroll(j, 3); }
schedule tiled for mm { tile(i, j, 4, 2); }
schedule unrolled for mm { unroll(k, 4); }
schedule fissioned for mm { fission(k); }
schedule staged for mm {
  cbuf = buffer_at(C, j, mem = accumulator);
  ko, ki = split(k, 2);
  abuf = buffer_at(A, ko);
  double_buffer(abuf, ko);
  pipeline(ko);
}
schedule hoisted for mm { abuf = buffer_at(A, j); hoist(abuf, j); }
schedule plain for wave { }
schedule fused for wave { fuse(i, j); }
schedule computed for blur { compute_at(S_y_x, S_y_x_1.y); }
schedule reused for blur { reuse_at(bx, S_y_x_1.y); }
schedule banked for blur { partition(bx, 1, kind = cyclic, factor = 2); }
schedule rsplit for rowsum { split(c, 4); }
"#;

/// One wrong rewrite: the schedule whose IR it edits, and the edit (the
/// first occurrence of `from` becomes `to`).
struct Mutation {
    name: &'static str,
    schedule: &'static str,
    from: &'static str,
    to: &'static str,
}

const fn m(
    name: &'static str,
    schedule: &'static str,
    from: &'static str,
    to: &'static str,
) -> Mutation {
    Mutation {
        name,
        schedule,
        from,
        to,
    }
}

const MUTATIONS: &[Mutation] = &[
    // split
    m(
        "split: inner bound one short",
        "split3",
        "affine.for %k_i = 0 to 3",
        "affine.for %k_i = 0 to 2",
    ),
    m(
        "split: outer bound one short",
        "split3",
        "affine.for %k_o = 0 to 2",
        "affine.for %k_o = 0 to 1",
    ),
    m(
        "split: wrong stride in the index",
        "split3",
        "%A[%i, %k_o * 3 + %k_i]",
        "%A[%i, %k_o * 2 + %k_i]",
    ),
    m(
        "split: guarded tail dropped",
        "guarded",
        "(4, d0 * -4 + 6)>(%k_o)",
        "(4, d0 * -4 + 5)>(%k_o)",
    ),
    m(
        "split: guard off by one (reads past the end)",
        "guarded",
        "(4, d0 * -4 + 6)>(%k_o)",
        "(4, d0 * -4 + 7)>(%k_o)",
    ),
    // unroll
    m(
        "unroll: copy writes the wrong column",
        "guarded",
        "affine.store %11, %C[%i, %j + 1]",
        "affine.store %11, %C[%i, %j]",
    ),
    m(
        "unroll: remainder column dropped",
        "guarded",
        "affine.store %23, %C[%i, 3]",
        "affine.store %23, %C[%i, 2]",
    ),
    m(
        "unroll: step does not match the copies",
        "guarded",
        "affine.for %j = 0 to 3 step 3",
        "affine.for %j = 0 to 3 step 2",
    ),
    m(
        "unroll: copy uses the wrong offset",
        "unrolled",
        "%k + 1]",
        "%k + 2]",
    ),
    // tile / reorder
    m(
        "tile: inner index scaled wrongly",
        "tiled",
        "%i_o * 4 + %i_i",
        "%i_o * 2 + %i_i",
    ),
    m(
        "reorder: interchange across a dependence",
        "plain",
        "affine.for %a = 1 to 8 {\n      affine.for %b = 0 to 7 {",
        "affine.for %b = 0 to 7 {\n      affine.for %a = 1 to 8 {",
    ),
    // fuse
    m(
        "fuse: wrong column modulus",
        "fused",
        "%Y[%i_j floordiv 8, %i_j mod 8]",
        "%Y[%i_j floordiv 8, %i_j mod 4]",
    ),
    m(
        "fuse: trip count one short",
        "fused",
        "affine.for %i_j = 0 to 64",
        "affine.for %i_j = 0 to 63",
    ),
    // fission
    m(
        "fission: initialization dropped",
        "fissioned",
        "arith.constant 0 : i32",
        "arith.constant 1 : i32",
    ),
    // buffer_at
    m(
        "buffer_at: no write-back",
        "staged",
        "affine.for %cbuf_0_1 = 0 to 1",
        "affine.for %cbuf_0_1 = 0 to 0",
    ),
    m(
        "buffer_at: copy-in footprint one column short",
        "staged",
        "affine.for %abuf_1 = 0 to 2",
        "affine.for %abuf_1 = 0 to 1",
    ),
    m(
        "buffer_at: copy-out to the wrong element",
        "staged",
        "affine.store %14, %C[%i + %cbuf_0_1, %j + %cbuf_1_1]",
        "affine.store %14, %C[%i + %cbuf_0_1, %cbuf_1_1]",
    ),
    m(
        "buffer_at: accumulator init lost",
        "staged",
        "%1 = arith.constant 0 : i32",
        "%1 = arith.constant 7 : i32",
    ),
    // double_buffer / pipeline
    m(
        "double_buffer: swapped parity",
        "staged",
        "%abuf[(%ko + 1) mod 2, %abuf_0_1, %abuf_1_1]",
        "%abuf[%ko mod 2, %abuf_0_1, %abuf_1_1]",
    ),
    m(
        "pipeline: prologue skips iteration 0",
        "staged",
        "%A[%i + %abuf_0, %abuf_1]",
        "%A[%i + %abuf_0, %abuf_1 + 2]",
    ),
    m(
        "pipeline: prefetch of the current iteration",
        "staged",
        "%abuf_1_1 + %ko * 2 + 2]",
        "%abuf_1_1 + %ko * 2]",
    ),
    m(
        "pipeline: epilogue reads the wrong slot",
        "staged",
        "%9 = affine.load %abuf[0, 0, %ki_epi]",
        "%9 = affine.load %abuf[1, 0, %ki_epi]",
    ),
    m(
        "pipeline: steady state one iteration short",
        "staged",
        "affine.for %ko = 0 to 2",
        "affine.for %ko = 0 to 1",
    ),
    // hoist
    m(
        "hoist: hoisted copy loses the row",
        "hoisted",
        "%A[%i + %abuf_0, %abuf_1]",
        "%A[%abuf_0, %abuf_1]",
    ),
    // compute_at / reuse_at / partition
    m(
        "compute_at: halo one row short",
        "computed",
        "affine.for %y_1 = 0 to 3 {",
        "affine.for %y_1 = 0 to 2 {",
    ),
    m(
        "reuse_at: slide loads the wrong row",
        "reused",
        "%bx[%y_1 + %bx_reuse_0_1 + 2, %bx_reuse_1_1]",
        "%bx[%y_1 + %bx_reuse_0_1 + 1, %bx_reuse_1_1]",
    ),
    m(
        "reuse_at: no shift",
        "reused",
        "affine.for %bx_reuse_0_2 = 0 to 2",
        "affine.for %bx_reuse_0_2 = 0 to 0",
    ),
    m(
        "reuse_at: warm-up one row short",
        "reused",
        "affine.for %bx_reuse_0 = 0 to 2",
        "affine.for %bx_reuse_0 = 0 to 1",
    ),
    m(
        "partition: two elements share a bank slot",
        "banked",
        "affine.store %4, %bx[%y, %x mod 2, %x floordiv 2]",
        "affine.store %4, %bx[%y, %x mod 2, %x floordiv 4]",
    ),
    // index transposition, wrong arithmetic, wrong casts
    m(
        "index transposed",
        "split3",
        "%B[%k_o * 3 + %k_i, %j]",
        "%B[%j, %k_o * 3 + %k_i]",
    ),
    m(
        "arith: the accumulation subtracts",
        "split3",
        "arith.addi %4, %3",
        "arith.subi %4, %3",
    ),
    m(
        "arith: the product becomes a sum",
        "split3",
        "arith.muli %1, %2",
        "arith.addi %1, %2",
    ),
    m(
        "cast: sign extension became zero extension",
        "unrolled4",
        "%9 = arith.extsi %8 : i8 to i32",
        "%9 = arith.extui %8 : i8 to i32",
    ),
    m(
        "float: max became min",
        "maxsplit",
        "arith.maximumf %2, %1",
        "arith.minimumf %2, %1",
    ),
    m(
        "float: max seeded with 0 instead of -inf",
        "maxsplit",
        "arith.constant 0xFF800000 : f32",
        "arith.constant 0.0 : f32",
    ),
    // more unroll, split and pipeline shapes
    m(
        "unroll: remainder iteration dropped",
        "unrolled4",
        "%36 = affine.load %A[%i, 5]",
        "%36 = affine.load %A[%i, 4]",
    ),
    m(
        "unroll: main loop covers one copy too few",
        "unrolled4",
        "%22 = affine.load %A[%i, %k + 3]",
        "%22 = affine.load %A[%i, %k + 2]",
    ),
    m(
        "split: guarded inner loop skips its first iteration",
        "guarded",
        "affine.for %k_i = 0 to min",
        "affine.for %k_i = 1 to min",
    ),
    m(
        "pipeline (3 stages): second prologue loads the first block again",
        "three",
        "%A[%i + %abuf_0_1, %abuf_1_1 + 2]",
        "%A[%i + %abuf_0_1, %abuf_1_1]",
    ),
    m(
        "pipeline (3 stages): prefetch into the slot being read",
        "three",
        "%abuf[(%ko + 2) mod 3, %abuf_0_2, %abuf_1_2]",
        "%abuf[%ko mod 3, %abuf_0_2, %abuf_1_2]",
    ),
    m(
        "pipeline (3 stages): epilogues swapped slots",
        "three",
        "%11 = affine.load %abuf[1, 0, %ki_epi1]",
        "%11 = affine.load %abuf[2, 0, %ki_epi1]",
    ),
    // inline
    m(
        "inline: callee's operands swapped",
        "inlined",
        "arith.subi %0, %1",
        "arith.subi %1, %0",
    ),
];

/// Edits that change the text but not the meaning: each must be accepted.
const LEGAL_EDITS: &[Mutation] = &[
    m(
        "integer add operands swapped",
        "split3",
        "arith.addi %4, %3",
        "arith.addi %3, %4",
    ),
    m(
        "integer multiply operands swapped",
        "split3",
        "arith.muli %1, %2",
        "arith.muli %2, %1",
    ),
    m(
        "float max operands swapped",
        "maxsplit",
        "arith.maximumf %2, %1",
        "arith.maximumf %1, %2",
    ),
];

fn compile(schedule: &str) -> (Module, Module, String) {
    let source = SourceFile::new("mutations.acc", SOURCE);
    let options = CompileOptions {
        kernel: None,
        schedule: Some(schedule.to_string()),
        ..CompileOptions::default()
    };
    let (module, trace) = accc::compile_traced(&source, &options)
        .unwrap_or_else(|d| panic!("schedule {schedule} compiles: {d:?}"));
    let kernel = accc::run::pick_kernel(&module, None).expect("one kernel");
    let reference = trace
        .steps
        .first()
        .map_or_else(|| module.clone(), |s| Module::clone(&s.before));
    (reference, module, kernel)
}

fn parse(text: &str) -> Module {
    accc_ir::parse_module(&SourceFile::new("mutated.mlir", text))
        .unwrap_or_else(|d| panic!("the mutated IR parses: {d:?}\n{text}"))
}

#[test]
fn every_mutation_is_rejected_and_every_schedule_accepted() {
    let options = Options::default();
    let mut accepted = std::collections::BTreeSet::new();
    let mut rejected = 0;
    for mu in MUTATIONS {
        let (reference, scheduled, kernel) = compile(mu.schedule);
        if accepted.insert(mu.schedule) {
            let legal = verify(&reference, &scheduled, &kernel, &options);
            assert_eq!(
                legal.verdict,
                Verdict::Equivalent,
                "schedule {} is legal",
                mu.schedule
            );
        }
        let text = accc_ir::print_module(&scheduled);
        assert!(
            text.contains(mu.from),
            "{}: `{}` is not in the IR of {}:\n{text}",
            mu.name,
            mu.from,
            mu.schedule
        );
        let mutated = text.replacen(mu.from, mu.to, 1);
        let outcome = verify(&scheduled, &parse(&mutated), &kernel, &options);
        match &outcome.verdict {
            Verdict::NotEquivalent { counterexample } => {
                // A differing element comes with inputs that tell the
                // two apart (a fault needs none).
                assert!(
                    counterexample.output.is_empty() || counterexample.witness.is_some(),
                    "{}: no witness in {counterexample:?}",
                    mu.name
                );
                // ... and with where the two terms part.
                assert!(
                    counterexample.output.is_empty()
                        || counterexample.diff.as_ref().is_some_and(|d| !d.is_empty()),
                    "{}: no diff in {counterexample:?}",
                    mu.name
                );
                rejected += 1;
                println!(
                    "rejected  {:<48} {}{}",
                    mu.name,
                    counterexample.render().lines().next().unwrap_or("").trim(),
                    counterexample
                        .diff
                        .as_ref()
                        .map(|d| format!(": {}", d.chars().take(120).collect::<String>()))
                        .unwrap_or_default()
                );
            }
            other => panic!("{}: the verifier says {other:?}", mu.name),
        }
    }
    // A float reduction summed in another order: rejected unless the
    // verifier may reassociate floats.
    let (_, split, kernel) = compile("rsplit");
    let text = accc_ir::print_module(&split);
    let swapped = text.replacen(
        "affine.for %c_o = 0 to 2 {\n        affine.for %c_i = 0 to 4 {",
        "affine.for %c_i = 0 to 4 {\n        affine.for %c_o = 0 to 2 {",
        1,
    );
    assert_ne!(swapped, text);
    let swapped = parse(&swapped);
    let strict = verify(&split, &swapped, &kernel, &options);
    assert!(
        matches!(strict.verdict, Verdict::NotEquivalent { .. }),
        "{:?}",
        strict.verdict
    );
    rejected += 1;
    let relaxed = Options {
        fp_reassoc: true,
        ..Options::default()
    };
    assert_eq!(
        verify(&split, &swapped, &kernel, &relaxed).verdict,
        Verdict::Equivalent
    );
    for edit in LEGAL_EDITS {
        let (_, scheduled, kernel) = compile(edit.schedule);
        let text = accc_ir::print_module(&scheduled);
        assert!(
            text.contains(edit.from),
            "{}: `{}` not found",
            edit.name,
            edit.from
        );
        let edited = parse(&text.replacen(edit.from, edit.to, 1));
        let v = verify(&scheduled, &edited, &kernel, &options).verdict;
        assert_eq!(v, Verdict::Equivalent, "{}", edit.name);
    }
    println!(
        "{rejected} of {} mutations rejected; {} of {} legal schedules and {} of {} meaning-preserving edits accepted",
        MUTATIONS.len() + 1,
        accepted.len(),
        accepted.len(),
        LEGAL_EDITS.len(),
        LEGAL_EDITS.len()
    );
}

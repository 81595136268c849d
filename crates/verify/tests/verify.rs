//! The verifier accepts legal schedules step by step and rejects wrong
//! rewrites with a counterexample naming the element, the two terms and
//! the iteration that wrote it.

use accc_ir::diag::SourceFile;
use accc_ir::Module;
use accc_passes::schedule::Schedule;
use accc_verify::{verify, Options, Verdict};

const GEMM: &str = r#"
kernel gemm(A: i32[8, 6], B: i32[6, 4]) -> (C: i32[8, 4]) {
  for i, j in grid(8, 4) {
    C[i, j] = 0;
    for k in range(0, 6) {
      C[i, j] += A[i, k] * B[k, j];
    }
  }
}
"#;

const ROWSUM: &str = r#"
kernel rowsum(X: f32[4, 8]) -> (S: f32[4]) {
  for r in range(0, 4) {
    S[r] = 0.0;
    for c in range(0, 8) {
      S[r] += X[r, c];
    }
  }
}
"#;

fn lower(text: &str, kernel: &str) -> Module {
    let file = SourceFile::new(format!("{kernel}.acc"), text);
    let program = accc_dsl::parse_and_check(&file).expect("test kernels check");
    accc_dsl::lower::lower_program(&file, &program, Some(kernel)).expect("test kernels lower")
}

/// Applies `schedule` and verifies every step against the one before.
fn verify_steps(m: &Module, kernel: &str, schedule: Schedule) -> Vec<Verdict> {
    let mut scheduled = m.clone();
    let trace = schedule
        .apply(&mut scheduled, kernel)
        .expect("the schedule applies");
    trace
        .steps
        .iter()
        .map(|s| verify(&s.before, &s.after, kernel, &Options::default()).verdict)
        .collect()
}

/// The module after a textual edit of its printed IR.
fn edited(m: &Module, from: &str, to: &str) -> Module {
    let text = accc_ir::print_module(m);
    assert!(text.contains(from), "`{from}` is not in\n{text}");
    let text = text.replacen(from, to, 1);
    accc_ir::parse_module(&SourceFile::new("edited.mlir", text)).expect("the edit parses")
}

#[test]
fn legal_gemm_schedules_are_equivalent_step_by_step() {
    let m = lower(GEMM, "gemm");
    let schedules = [
        Schedule::new().split("i", 4).split("j", 2),
        Schedule::new().split_guarded("k", 4),
        Schedule::new().tile("i", "j", 4, 2),
        Schedule::new().reorder(&["j", "i"]),
        Schedule::new().unroll("k", 4),
        Schedule::new().unroll("k", 0),
        Schedule::new().fission("k", 1),
        Schedule::new()
            .split("k", 3)
            .buffer_at("abuf", "A", "k.o", Some("scratchpad"))
            .double_buffer("abuf", "k.o", 2)
            .pipeline("k.o", 2),
        Schedule::new().buffer_at("cbuf", "C", "j", Some("accumulator")),
        Schedule::new()
            .buffer_at("abuf", "A", "j", None)
            .hoist("abuf", "j"),
        Schedule::new().fuse("i", "j"),
    ];
    for s in schedules {
        for (n, v) in verify_steps(&m, "gemm", s.clone()).into_iter().enumerate() {
            assert_eq!(v, Verdict::Equivalent, "step {n} of {s:?}");
        }
    }
}

#[test]
fn an_integer_reduction_in_another_order_is_equivalent() {
    let m = lower(GEMM, "gemm");
    // k split and its halves swapped: each C element sums the same
    // products in another order, exact on integers.
    let verdicts = verify_steps(
        &m,
        "gemm",
        Schedule::new().split("k", 3).reorder(&["k.i", "k.o"]),
    );
    assert!(verdicts.iter().all(Verdict::is_equivalent), "{verdicts:?}");
}

#[test]
fn a_float_reduction_in_another_order_needs_fp_reassoc() {
    let m = lower(ROWSUM, "rowsum");
    let split = {
        let mut x = m.clone();
        Schedule::new()
            .split("c", 4)
            .apply(&mut x, "rowsum")
            .unwrap();
        x
    };
    // The reorder primitive refuses this; here the loops are swapped by
    // hand, as a wrong rewrite would.
    let text = accc_ir::print_module(&split);
    let swapped = text
        .replace("affine.for %c_o = 0 to 2", "affine.for %TMP = 0 to 4")
        .replace("affine.for %c_i = 0 to 4", "affine.for %c_o = 0 to 2")
        .replace("affine.for %TMP = 0 to 4", "affine.for %c_i = 0 to 4");
    assert_ne!(
        swapped, text,
        "the split loops are printed as expected:\n{text}"
    );
    let swapped = accc_ir::parse_module(&SourceFile::new("swapped.mlir", swapped)).unwrap();
    let strict = verify(&split, &swapped, "rowsum", &Options::default());
    let Verdict::NotEquivalent { counterexample } = &strict.verdict else {
        panic!("{:?}", strict.verdict);
    };
    assert_eq!(counterexample.output, "S");
    assert!(
        counterexample.before.contains("X[0, 0]"),
        "{counterexample:?}"
    );
    let relaxed = verify(
        &split,
        &swapped,
        "rowsum",
        &Options {
            fp_reassoc: true,
            ..Options::default()
        },
    );
    assert_eq!(relaxed.verdict, Verdict::Equivalent);
    assert!(relaxed.fp_reassoc);
}

#[test]
fn wrong_rewrites_are_not_equivalent_with_a_counterexample() {
    let m = lower(GEMM, "gemm");
    let split = {
        let mut x = m.clone();
        Schedule::new().split("k", 3).apply(&mut x, "gemm").unwrap();
        x
    };
    // A dropped iteration of the inner loop of a split.
    let short = edited(
        &split,
        "affine.for %k_i = 0 to 3",
        "affine.for %k_i = 0 to 2",
    );
    let v = verify(&split, &short, "gemm", &Options::default()).verdict;
    let Verdict::NotEquivalent { counterexample } = v else {
        panic!("{v:?}");
    };
    assert_eq!(counterexample.output, "C");
    assert_eq!(counterexample.index, "0, 0");
    let w = counterexample.written_after.as_deref().unwrap_or("");
    assert!(
        w.contains("in iteration (i = 0, j = 0, k.o = 1, k.i = 1)"),
        "{w}"
    );
    assert!(counterexample.render().contains("before: "));

    // A wrong accumulator init.
    let init = edited(&m, "arith.constant 0 : i32", "arith.constant 1 : i32");
    let v = verify(&m, &init, "gemm", &Options::default()).verdict;
    assert!(matches!(v, Verdict::NotEquivalent { .. }), "{v:?}");

    // A transposed index reads out of bounds: the rewritten kernel faults.
    let transposed = edited(&m, "%A[%i, %k]", "%A[%k, %i]");
    let v = verify(&m, &transposed, "gemm", &Options::default()).verdict;
    let Verdict::NotEquivalent { counterexample } = v else {
        panic!("{v:?}");
    };
    assert!(
        counterexample.after.contains("out-of-bounds"),
        "{counterexample:?}"
    );
}

#[test]
fn over_budget_is_unknown() {
    let m = lower(GEMM, "gemm");
    let mut split = m.clone();
    Schedule::new()
        .split("k", 3)
        .apply(&mut split, "gemm")
        .unwrap();
    let v = verify(
        &m,
        &split,
        "gemm",
        &Options {
            budget: 10,
            ..Options::default()
        },
    )
    .verdict;
    let Verdict::Unknown { reason, .. } = v else {
        panic!("{v:?}");
    };
    assert!(reason.contains("budget"), "{reason}");
}

#[test]
fn identical_programs_need_no_run_and_signatures_must_match() {
    let m = lower(GEMM, "gemm");
    let same = verify(&m, &m, "gemm", &Options::default());
    assert_eq!(same.verdict, Verdict::Equivalent);
    assert_eq!(same.method, "identical");
    let renamed = edited(&m, "accc.name = \"C\"", "accc.name = \"D\"");
    let v = verify(&m, &renamed, "gemm", &Options::default()).verdict;
    let Verdict::Unknown { reason, .. } = v else {
        panic!("{v:?}");
    };
    assert!(reason.contains("parameter 3: output `C"), "{reason}");
}

/// A one-kernel module from IR text: `@k(%A: memref<4xi32>) -> (%C)`.
fn ir(body: &str) -> Module {
    let text = format!(
        r#"module {{
  func.func @k(%A: memref<4xi32> {{accc.dtype = "i32", accc.name = "A"}}, %C: memref<4xi32> {{accc.dtype = "i32", accc.name = "C", accc.output}}) {{
{body}
    return
  }}
}}"#
    );
    accc_ir::parse_module(&SourceFile::new("k.mlir", text)).expect("test IR parses")
}

#[test]
fn new_buffers_are_zeros_and_copies_carry_them() {
    // Copying a fresh buffer into the output writes zeros; doing nothing
    // keeps the caller's values: not equivalent.
    let copy = ir("    %t = memref.alloc() : memref<4xi32>\n    memref.copy %t, %C : memref<4xi32> to memref<4xi32>");
    let nothing = ir("");
    let v = verify(&copy, &nothing, "k", &Options::default()).verdict;
    assert!(matches!(v, Verdict::NotEquivalent { .. }), "{v:?}");
    // Reading a fresh element adds zero.
    let plus_zero = ir("    %t = memref.alloc() : memref<4xi32>\n    affine.for %i = 0 to 4 {\n      %a = affine.load %A[%i] : memref<4xi32>\n      %z = affine.load %t[%i] : memref<4xi32>\n      %s = arith.addi %a, %z : i32\n      affine.store %s, %C[%i] : memref<4xi32>\n    }");
    let plain = ir("    affine.for %i = 0 to 4 {\n      %a = affine.load %A[%i] : memref<4xi32>\n      affine.store %a, %C[%i] : memref<4xi32>\n    }");
    assert_eq!(
        verify(&plain, &plus_zero, "k", &Options::default()).verdict,
        Verdict::Equivalent
    );
}

#[test]
fn divisions_may_not_add_faults() {
    let plain = ir("    affine.for %i = 0 to 4 {\n      %a = affine.load %A[%i] : memref<4xi32>\n      affine.store %a, %C[%i] : memref<4xi32>\n    }");
    // Divides by zero, the quotient multiplied away: it still faults.
    let by_zero = ir("    affine.for %i = 0 to 4 {\n      %a = affine.load %A[%i] : memref<4xi32>\n      %z = arith.constant 0 : i32\n      %q = arith.divsi %a, %z : i32\n      %d = arith.muli %q, %z : i32\n      %s = arith.addi %a, %d : i32\n      affine.store %s, %C[%i] : memref<4xi32>\n    }");
    let v = verify(&plain, &by_zero, "k", &Options::default()).verdict;
    let Verdict::NotEquivalent { counterexample } = v else {
        panic!("{v:?}");
    };
    assert!(
        counterexample.after.contains("division by zero"),
        "{counterexample:?}"
    );
    // Divides by data the original never divides by: it may fault.
    let by_data = ir("    affine.for %i = 0 to 4 {\n      %a = affine.load %A[%i] : memref<4xi32>\n      %q = arith.divsi %a, %a : i32\n      %z = arith.constant 0 : i32\n      %d = arith.muli %q, %z : i32\n      %s = arith.addi %a, %d : i32\n      affine.store %s, %C[%i] : memref<4xi32>\n    }");
    let v = verify(&plain, &by_data, "k", &Options::default()).verdict;
    let Verdict::Unknown { reason, .. } = v else {
        panic!("{v:?}");
    };
    assert!(reason.contains("divides by"), "{reason}");
}

#[test]
fn a_partial_sum_used_twice_costs_linear_time() {
    // C[0] doubles 64 times: the sum DAG has 64 shared levels.
    let doubling = ir("    affine.for %i = 0 to 64 {\n      %c = affine.load %C[0] : memref<4xi32>\n      %s = arith.addi %c, %c : i32\n      affine.store %s, %C[0] : memref<4xi32>\n    }");
    let times_two = ir("    affine.for %i = 0 to 64 {\n      %c = affine.load %C[0] : memref<4xi32>\n      %two = arith.constant 2 : i32\n      %s = arith.muli %c, %two : i32\n      affine.store %s, %C[0] : memref<4xi32>\n    }");
    let o = verify(&doubling, &times_two, "k", &Options::default());
    assert_eq!(o.verdict, Verdict::Equivalent);
    assert!(o.millis < 5_000.0, "{} ms", o.millis);
}

#[test]
fn nans_of_different_payloads_are_not_a_counterexample() {
    let f32_ir = |bits: &str| {
        let text = format!(
            r#"module {{
  func.func @k(%A: memref<4xf32> {{accc.dtype = "f32", accc.name = "A"}}, %C: memref<4xf32> {{accc.dtype = "f32", accc.name = "C", accc.output}}) {{
    %n = arith.constant {bits} : f32
    affine.store %n, %C[0] : memref<4xf32>
    return
  }}
}}"#
        );
        accc_ir::parse_module(&SourceFile::new("k.mlir", text)).unwrap()
    };
    let v = verify(
        &f32_ir("0x7FC00000"),
        &f32_ir("0xFFC00000"),
        "k",
        &Options::default(),
    )
    .verdict;
    assert!(matches!(v, Verdict::Unknown { .. }), "{v:?}");
}

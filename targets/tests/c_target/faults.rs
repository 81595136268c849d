//! Errors while running: each stops the program with exit status 3 and a
//! message naming the op's source location.

use crate::support::{ir, run, to_bytes, Input};
use accc_targets::c::CError;

fn i32_input<'a>(name: &'a str, values: &[i32]) -> Input<'a> {
    Input {
        name,
        descr: "<i4",
        shape: vec![values.len()],
        data: to_bytes(
            &values.iter().map(|v| *v as u32 as u64).collect::<Vec<_>>(),
            4,
        ),
    }
}

#[track_caller]
fn expect_fault(result: Result<crate::support::Ran, CError>, message: &str) {
    match result {
        Err(CError::Fault(m)) => assert_eq!(m, message),
        Err(e) => panic!("expected the fault `{message}`, got another error: {e}"),
        Ok(_) => panic!("expected the fault `{message}`, but the kernel ran"),
    }
}

#[test]
fn division_by_zero_names_the_op_and_its_location() {
    let module = ir(r#"
  func.func @k(%a: memref<2xi32> {accc.name = "a"}, %o: memref<2xi32> {accc.name = "o", accc.output}) {
    affine.for %i = 0 to 2 {
      %x = affine.load %a[%i] : memref<2xi32>
      %c = arith.constant 10 : i32
      %q = arith.divsi %c, %x : i32 loc("k.acc":3:5)
      affine.store %q, %o[%i] : memref<2xi32>
    }
    return
  }
"#);
    let ran = run(&module, "k", &[i32_input("a", &[5, 3])]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ran.outputs["o"].data, to_bytes(&[2, 3], 4));
    expect_fault(
        run(&module, "k", &[i32_input("a", &[5, 0])]),
        "k.acc:3:5: error: division by zero in `arith.divsi`",
    );
}

#[test]
fn an_unused_division_by_zero_still_faults() {
    let module = ir(r#"
  func.func @k(%a: memref<1xi32> {accc.name = "a"}, %o: memref<1xi32> {accc.name = "o", accc.output}) {
    %x = affine.load %a[0] : memref<1xi32>
    %q = arith.remui %x, %x : i32 loc("k.acc":9:2)
    return
  }
"#);
    expect_fault(
        run(&module, "k", &[i32_input("a", &[0])]),
        "k.acc:9:2: error: division by zero in `arith.remui`",
    );
}

#[test]
fn out_of_bounds_accesses_name_the_index_dimension_and_size() {
    // The index comes from the input, so only a run-time check can catch it.
    let module = ir(r#"
  func.func @k(%idx: memref<1xi32> {accc.name = "idx"}, %a: memref<3x4xf32> {accc.name = "a"}, %o: memref<1xf32> {accc.name = "o", accc.output}) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %v = affine.load %idx[0] : memref<1xi32>
    %i = arith.index_cast %v : i32 to index
    %x = memref.load %a[%c1, %i] : memref<3x4xf32> loc("k.acc":7:9)
    memref.store %x, %o[%c0] : memref<1xf32>
    return
  }
"#);
    let a = Input {
        name: "a",
        descr: "<f4",
        shape: vec![3, 4],
        data: (0..12).flat_map(|i| (i as f32).to_le_bytes()).collect(),
    };
    let with_idx = |i: i32| {
        run(
            &module,
            "k",
            &[
                i32_input("idx", &[i]),
                Input {
                    data: a.data.clone(),
                    shape: a.shape.clone(),
                    ..a
                },
            ],
        )
    };
    let ran = with_idx(3).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ran.outputs["o"].data, 7.0f32.to_le_bytes());
    expect_fault(
        with_idx(4),
        "k.acc:7:9: error: out-of-bounds access: index 4 of dimension 1 is outside [0, 4) in `memref.load`",
    );
    expect_fault(
        with_idx(-1),
        "k.acc:7:9: error: out-of-bounds access: index -1 of dimension 1 is outside [0, 4) in `memref.load`",
    );
}

#[test]
fn affine_accesses_past_the_end_are_caught_before_they_happen() {
    // %i + 5 reaches 8 in a buffer of 8: the check stays, and nothing past
    // the end is written (the first five stores happened).
    let module = ir(r#"
  func.func @k(%o: memref<8xi32> {accc.name = "o", accc.output}) {
    %c = arith.constant 1 : i32
    affine.for %i = 0 to 4 {
      affine.store %c, %o[%i + 5] : memref<8xi32> loc("k.acc":2:3)
    }
    return
  }
"#);
    let program = accc_targets::c::emit_kernel(&module, "k").unwrap();
    assert!(program
        .source()
        .contains("accc_fault_oob(\"k.acc:2:3\", \"affine.store\", 0, t0, 8);"));
    expect_fault(
        run(&module, "k", &[]),
        "k.acc:2:3: error: out-of-bounds access: index 8 of dimension 0 is outside [0, 8) in `affine.store`",
    );
}

#[test]
fn use_of_a_deallocated_buffer_is_an_error() {
    let module = ir(r#"
  func.func @k(%o: memref<1xi32> {accc.name = "o", accc.output}) {
    %buf = memref.alloc() : memref<4xi32>
    %c = arith.constant 7 : i32
    affine.store %c, %buf[2] : memref<4xi32>
    memref.dealloc %buf : memref<4xi32> loc("k.acc":4:3)
    %x = affine.load %buf[2] : memref<4xi32> loc("k.acc":5:8)
    affine.store %x, %o[0] : memref<1xi32>
    return
  }
"#);
    let program = accc_targets::c::emit_kernel(&module, "k").unwrap();
    // Only the access after the dealloc needs the check.
    assert_eq!(program.source().matches("accc_fault_dead(\"").count(), 1);
    expect_fault(
        run(&module, "k", &[]),
        "k.acc:5:8: error: use of a deallocated buffer in `affine.load`",
    );
}

#[test]
fn deallocating_inside_a_loop_checks_the_next_iteration() {
    let module = ir(r#"
  func.func @k(%o: memref<1xi32> {accc.name = "o", accc.output}) {
    %buf = memref.alloc() : memref<4xi32>
    affine.for %i = 0 to 2 {
      %x = affine.load %buf[%i] : memref<4xi32> loc("k.acc":6:1)
      affine.store %x, %o[0] : memref<1xi32>
      memref.dealloc %buf : memref<4xi32> loc("k.acc":7:1)
    }
    return
  }
"#);
    expect_fault(
        run(&module, "k", &[]),
        "k.acc:6:1: error: use of a deallocated buffer in `affine.load`",
    );
}

#[test]
fn scf_for_with_a_non_positive_step_is_an_error() {
    let module = ir(r#"
  func.func @k(%s: memref<1xi32> {accc.name = "s"}, %o: memref<4xi32> {accc.name = "o", accc.output}) {
    %c0 = arith.constant 0 : index
    %c4 = arith.constant 4 : index
    %v = affine.load %s[0] : memref<1xi32>
    %step = arith.index_cast %v : i32 to index
    %one = arith.constant 1 : i32
    scf.for %i = %c0 to %c4 step %step {
      memref.store %one, %o[%i] : memref<4xi32>
    } loc("k.acc":11:3)
    return
  }
"#);
    let ran = run(&module, "k", &[i32_input("s", &[3])]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ran.outputs["o"].data, to_bytes(&[1, 0, 0, 1], 4));
    expect_fault(
        run(&module, "k", &[i32_input("s", &[0])]),
        "k.acc:11:3: error: non-positive step 0 in `scf.for`",
    );
    expect_fault(
        run(&module, "k", &[i32_input("s", &[-2])]),
        "k.acc:11:3: error: non-positive step -2 in `scf.for`",
    );
}

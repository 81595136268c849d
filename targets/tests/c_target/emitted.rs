//! The emitted C itself: what a GEMM looks like, which checks remain,
//! errors for what the target cannot do, determinism, and the ops a small
//! kernel rarely meets (calls with results, `if`s, copies, big allocas).

use crate::support::{example, ir, run, to_bytes, Input};
use accc_targets::c::{self, CError};

/// The C function of `kernel` (from its comment to its closing brace).
fn function_text<'a>(source: &'a str, kernel: &str) -> &'a str {
    let start = source
        .find(&format!("/* @{kernel} "))
        .unwrap_or_else(|| panic!("no function for @{kernel}"));
    let rest = &source[start..];
    &rest[..rest.find("\n}\n").expect("function end") + 3]
}

#[test]
fn gemm_is_a_plain_triple_loop_without_bounds_checks() {
    let module = example("gemm.acc", "gemm_512x512x512");
    let program = c::emit_kernel(&module, "gemm_512x512x512").unwrap();
    let f = function_text(program.source(), "gemm_512x512x512");
    for expected in [
        "static void kernel_gemm_512x512x512(uint8_t *restrict A, uint8_t *restrict B, uint32_t *restrict C) {",
        "/* S_i_j: examples/gemm.acc:13:3 */",
        "for (uint64_t i = 0; i < 512; ++i) {",
        "for (uint64_t k = 0; k < 512; ++k) {",
        "const uint8_t v1 = A[i * 512 + k];",
        "const uint32_t v2 = (uint32_t)(int8_t)v1;",
        "const uint32_t v5 = v2 * v4;",
        "const uint32_t v7 = v6 + v5;",
        "C[i * 512 + j] = v7;",
    ] {
        assert!(f.contains(expected), "missing `{expected}` in:\n{f}");
    }
    assert!(
        !f.contains("accc_fault"),
        "the loops prove every index in range:\n{f}"
    );
    assert!(
        !f.contains("accc_"),
        "no helper calls in a plain GEMM:\n{f}"
    );
}

#[test]
fn convolution_windows_are_proven_in_bounds() {
    let module = example("conv2d.acc", "conv2d_3x3_same");
    let program = c::emit_kernel(&module, "conv2d_3x3_same").unwrap();
    let f = function_text(program.source(), "conv2d_3x3_same");
    assert!(
        f.contains("Xp[n * 215296 + c * 3364 + (oh + r) * 58 + ow + s]"),
        "{f}"
    );
    assert!(!f.contains("accc_fault"), "{f}");
}

#[test]
fn tiled_loops_keep_their_bounds_proofs() {
    // A loop tiled by 4 over 10 elements: `min(ii + 4, 10)` bounds the inner
    // loop, so i stays below 10 and needs no check.
    let module = ir(r#"
  func.func @k(%a: memref<10xi32> {accc.name = "a"}, %o: memref<10xi32> {accc.name = "o", accc.output}) {
    affine.for %ii = 0 to 10 step 4 {
      affine.for %i = affine_map<(d0) -> (d0)>(%ii) to min affine_map<(d0) -> (d0 + 4, 10)>(%ii) {
        %x = affine.load %a[%i] : memref<10xi32>
        %y = arith.addi %x, %x : i32
        affine.store %y, %o[%i] : memref<10xi32>
      } {loop_name = "i"}
    } {loop_name = "ii"}
    return
  }
"#);
    let data: Vec<u64> = (0..10).collect();
    let ran = run(
        &module,
        "k",
        &[Input {
            name: "a",
            descr: "<i4",
            shape: vec![10],
            data: to_bytes(&data, 4),
        }],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let want: Vec<u64> = (0..10).map(|x| 2 * x).collect();
    assert_eq!(ran.outputs["o"].data, to_bytes(&want, 4));
    let f = function_text(ran.program.source(), "k");
    assert!(
        f.contains("for (uint64_t ii = 0; ii < 10; ii += 4) {"),
        "{f}"
    );
    assert!(f.contains("accc_smin(ii + 4, 10)"), "{f}");
    assert!(!f.contains("accc_fault_oob"), "{f}");
}

#[test]
fn calls_ifs_copies_and_large_allocas_run() {
    let module = ir(r#"
  func.func @twice(%x: i32) -> (i32, i32) {
    %y = arith.addi %x, %x : i32
    %z = arith.muli %y, %y : i32
    return %y, %z : i32, i32
  }
  func.func @square(%x: f32) -> f32 {
    %y = arith.mulf %x, %x : f32
    return %y : f32
  }
  func.func @k(%a: memref<4xi32> {accc.name = "a"}, %o: memref<4xi32> {accc.name = "o", accc.output}, %f: memref<1xf32> {accc.name = "f", accc.output}) {
    %big = memref.alloca() : memref<1000xi32>
    affine.for %i = 0 to 4 {
      %x = affine.load %a[%i] : memref<4xi32>
      %y, %z = func.call @twice(%x) : (i32) -> (i32, i32)
      %c0 = arith.constant 0 : i32
      %neg = arith.cmpi slt, %x, %c0 : i32
      scf.if %neg {
        affine.store %z, %big[%i] : memref<1000xi32>
      } else {
        affine.if affine_set<(d0) : (d0 - 2 >= 0)>(%i) {
          affine.store %y, %big[%i] : memref<1000xi32>
        }
      }
    }
    %t = memref.alloc() : memref<1000xi32>
    memref.copy %big, %t : memref<1000xi32> to memref<1000xi32>
    affine.for %i = 0 to 4 {
      %v = affine.load %t[%i] : memref<1000xi32>
      affine.store %v, %o[%i] : memref<4xi32>
    }
    memref.dealloc %t : memref<1000xi32>
    %three = arith.constant 3.0 : f32
    %nine = func.call @square(%three) : (f32) -> f32
    affine.store %nine, %f[0] : memref<1xf32>
    return
  }
"#);
    let a: Vec<u64> = [-1i32, 5, 6, -3].iter().map(|v| *v as u32 as u64).collect();
    let ran = run(
        &module,
        "k",
        &[Input {
            name: "a",
            descr: "<i4",
            shape: vec![4],
            data: to_bytes(&a, 4),
        }],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // i = 0: -1 < 0 -> (2 * -1)^2 = 4; i = 1: neither -> 0; i = 2: 2 * 6 = 12;
    // i = 3: -3 < 0 -> 36.
    assert_eq!(ran.outputs["o"].data, to_bytes(&[4, 0, 12, 36], 4));
    assert_eq!(ran.outputs["f"].data, 9.0f32.to_le_bytes());
    let src = ran.program.source();
    // Callees come before their callers; the large alloca is on the heap
    // and freed at the end of its block.
    let (twice, square, k) = (
        src.find("/* @twice").unwrap(),
        src.find("/* @square").unwrap(),
        src.find("/* @k").unwrap(),
    );
    assert!(twice < k && square < k);
    assert!(src.contains("kernel_twice(x, &y, &z);"), "{src}");
    assert!(src.contains("uint32_t *big = (uint32_t *)accc_alloc(1000, sizeof(uint32_t));"));
    assert!(src.contains("free(big);"));
}

#[test]
fn emission_is_deterministic() {
    let module = example("attention.acc", "attention");
    let a = c::emit_kernel(&module, "attention").unwrap();
    let b = c::emit_kernel(&module, "attention").unwrap();
    assert_eq!(a, b);
    let again = example("attention.acc", "attention");
    assert_eq!(c::emit_kernel(&again, "attention").unwrap(), a);
}

#[test]
fn unknown_kernels_list_the_known_ones() {
    let module = ir("func.func @a() {\n return\n}\nfunc.func @b() {\n return\n}\n");
    let err = c::emit_kernel(&module, "gemm").unwrap_err();
    assert!(matches!(err, CError::UnknownKernel { .. }));
    assert_eq!(err.to_string(), "no kernel named `gemm`; kernels are: a, b");
}

#[test]
fn recursion_is_rejected_with_the_cycle() {
    let module = ir(r#"
  func.func @a() {
    func.call @b() : () -> ()
    return
  }
  func.func @b() {
    func.call @a() : () -> ()
    return
  }
"#);
    let err = c::emit_kernel(&module, "a").unwrap_err();
    assert!(matches!(err, CError::Recursion { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "recursive calls are not supported: @a -> @b -> @a"
    );
}

#[test]
fn unsupported_ops_are_named_with_their_location() {
    let module = ir(r#"
  func.func @k(%o: memref<16xi8> {accc.name = "o", accc.output}) {
    "gemmini.mvin"(%o) : (memref<16xi8>) -> () loc("k.acc":4:2)
    return
  }
"#);
    let err = c::emit_kernel(&module, "k").unwrap_err();
    assert_eq!(
        err.to_string(),
        "k.acc:4:2: the C target does not support `gemmini.mvin`: no C lowering for this op"
    );
}

#[test]
fn names_c_reserves_are_renamed() {
    let module = ir(r#"
  func.func @main(%int: memref<2xf32> {accc.name = "int"}, %exp: memref<2xf32> {accc.name = "exp", accc.output}) {
    affine.for %i = 0 to 2 {
      %x = affine.load %int[%i] : memref<2xf32>
      %y = math.exp %x : f32
      affine.store %y, %exp[%i] : memref<2xf32>
    } {loop_name = "float"}
    return
  }
"#);
    let ran = run(
        &module,
        "main",
        &[Input {
            name: "int",
            descr: "<f4",
            shape: vec![2],
            data: [0.0f32.to_le_bytes(), 0.0f32.to_le_bytes()].concat(),
        }],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        ran.outputs["exp"].data,
        [1.0f32.to_le_bytes(), 1.0f32.to_le_bytes()].concat()
    );
    let f = function_text(ran.program.source(), "main");
    assert!(
        f.contains("static void kernel_main(float *restrict int_, float *restrict exp_)"),
        "{f}"
    );
    assert!(f.contains("for (uint64_t float_ = 0;"), "{f}");
}

#[test]
fn loops_with_symbolic_and_negative_bounds_run_and_keep_their_checks() {
    // i runs from -3 to n - 1; j = i floordiv 2 + 2 rounds toward -inf.
    let module = ir(r#"
  func.func @k(%n: memref<1xi32> {accc.name = "n"}, %o: memref<8xi32> {accc.name = "o", accc.output}) {
    %v = affine.load %n[0] : memref<1xi32>
    %N = arith.index_cast %v : i32 to index
    %one = arith.constant 1 : i32
    affine.for %i = -3 to %N {
      %j = affine.apply affine_map<(d0) -> (d0 floordiv 2 + 2)>(%i)
      %x = affine.load %o[%j] : memref<8xi32> loc("k.acc":5:7)
      %y = arith.addi %x, %one : i32
      affine.store %y, %o[%j] : memref<8xi32> loc("k.acc":5:7)
    } {loop_name = "i"}
    return
  }
"#);
    let n = |v: i32| Input {
        name: "n",
        descr: "<i4",
        shape: vec![1],
        data: v.to_le_bytes().to_vec(),
    };
    let ran = run(&module, "k", &[n(4)]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        ran.outputs["o"].data,
        to_bytes(&[1, 2, 2, 2, 0, 0, 0, 0], 4)
    );
    let f = function_text(ran.program.source(), "k");
    assert!(
        f.contains("for (uint64_t i = (uint64_t)-3; (int64_t)i < t0;"),
        "{f}"
    );
    assert!(f.contains("accc_floordiv(i, 2) + 2"), "{f}");
    // An empty range runs nothing.
    let ran = run(&module, "k", &[n(-10)]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ran.outputs["o"].data, vec![0; 32]);
    match run(&module, "k", &[n(13)]) {
        Err(CError::Fault(m)) => assert_eq!(
            m,
            "k.acc:5:7: error: out-of-bounds access: index 8 of dimension 0 is outside [0, 8) in `affine.load`"
        ),
        other => panic!("expected a fault, got {:?}", other.err()),
    }
}

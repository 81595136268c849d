//! The interpreter against computations written directly in Rust, in the
//! same evaluation order, on examples and on hand-built IR: the results
//! must be bit-identical.

use accc_interp::{InterpError, Interpreter};
use accc_ir::diag::SourceFile;
use accc_tensor::random::{generate, Distribution};
use accc_tensor::{DType, Tensor};

fn lower(path: &str, kernel: &str) -> accc_ir::Module {
    let text = std::fs::read_to_string(format!(
        "{}/../../examples/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("example file exists");
    let file = SourceFile::new(path, text);
    let program = accc_dsl::parse_and_check(&file).expect("example checks");
    accc_dsl::lower::lower_program(&file, &program, Some(kernel)).expect("example lowers")
}

fn i32_at(t: &Tensor, i: usize) -> i32 {
    t.data[i] as u32 as i32
}

#[test]
fn int8_gemm_matches_a_direct_loop() {
    let module = lower("gemm.acc", "gemm_512x512x512");
    let interp = Interpreter::new(&module).unwrap();
    let n = 512;
    let a = generate(DType::I8, &[n, n], Distribution::Uniform, 7, "A");
    let b = generate(DType::I8, &[n, n], Distribution::Uniform, 7, "B");
    let mut args = vec![a.clone(), b.clone(), Tensor::zeros(DType::I32, vec![n, n])];
    let stats = interp.run("gemm_512x512x512", &mut args).unwrap();
    assert!(stats.ops > (n * n * n) as u64);
    let at = |t: &Tensor, i: usize| t.data[i] as u8 as i8 as i32;
    for &(i, j) in &[(0, 0), (1, 511), (300, 17), (511, 511)] {
        let mut acc = 0i32;
        for k in 0..n {
            acc = acc.wrapping_add(at(&a, i * n + k) * at(&b, k * n + j));
        }
        assert_eq!(i32_at(&args[2], i * n + j), acc, "C[{i}, {j}]");
    }
}

#[test]
fn f32_gemm_bias_relu_matches_a_direct_loop() {
    let module = lower("gemm_bias_relu.acc", "gemm_bias_relu_f32");
    let interp = Interpreter::new(&module).unwrap();
    let params = accc_ir::dialects::func::kernel_params(
        &module,
        module.lookup_symbol("gemm_bias_relu_f32").unwrap(),
    );
    let shape = |i: usize| -> Vec<usize> {
        params[i]
            .memref()
            .unwrap()
            .shape
            .iter()
            .map(|d| *d as usize)
            .collect()
    };
    let (m, k) = (shape(0)[0], shape(0)[1]);
    let nn = shape(1)[1];
    let mut args: Vec<Tensor> = (0..3)
        .map(|i| {
            generate(
                DType::F32,
                &shape(i),
                Distribution::Uniform,
                3,
                &params[i].name,
            )
        })
        .collect();
    args.push(Tensor::zeros(DType::F32, shape(3)));
    let (a, b, bias) = (args[0].clone(), args[1].clone(), args[2].clone());
    interp.run("gemm_bias_relu_f32", &mut args).unwrap();
    let f = |t: &Tensor, i: usize| f32::from_bits(t.data[i] as u32);
    let mut nonzero = 0;
    for i in 0..m {
        for j in 0..nn {
            // The kernel's order: start from the bias, accumulate, relu.
            let mut acc = f(&bias, j);
            for kk in 0..k {
                acc += f(&a, i * k + kk) * f(&b, kk * nn + j);
            }
            let y = acc.max(0.0);
            let got = f(&args[3], i * nn + j);
            assert_eq!(got.to_bits(), y.to_bits(), "Y[{i}, {j}]: {got} vs {y}");
            nonzero += usize::from(y > 0.0);
        }
    }
    assert!(nonzero > 0, "relu kept some values");
}

#[test]
fn out_of_bounds_and_division_by_zero_are_located_errors() {
    let text = r#"
func.func @k(%x: memref<4xi32>, %y: memref<4xi32>) {
  affine.for %i = 0 to 5 {
    %v = affine.load %x[%i] : memref<4xi32> loc("k.acc":3:5)
    affine.store %v, %y[%i] : memref<4xi32>
  }
  return
}
func.func @d(%x: memref<4xi32>, %y: memref<4xi32>) {
  affine.for %i = 0 to 4 {
    %v = affine.load %x[%i] : memref<4xi32>
    %q = arith.divsi %v, %v : i32 loc("d.acc":7:9)
    affine.store %q, %y[%i] : memref<4xi32>
  }
  return
}"#;
    let module = accc_ir::parse_module(&SourceFile::new("t.mlir", text)).unwrap();
    let interp = Interpreter::new(&module).unwrap();
    let x = Tensor::from_f64s(DType::I32, vec![4], &[1.0, 2.0, 0.0, 4.0]);
    let mut args = vec![x.clone(), Tensor::zeros(DType::I32, vec![4])];
    let err = interp.run("k", &mut args).unwrap_err();
    assert_eq!(
        err.to_string(),
        "k.acc:3:5: error: out-of-bounds access: index 4 of dimension 0 is outside [0, 4) in `affine.load`"
    );
    let err = interp.run("d", &mut args).unwrap_err();
    assert!(matches!(err, InterpError::Fault { .. }));
    assert_eq!(
        err.to_string(),
        "d.acc:7:9: error: division by zero in `arith.divsi`"
    );
    let err = interp.run("nope", &mut args).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no kernel named `nope`; the module defines: k, d"
    );
    let mut wrong = vec![
        Tensor::zeros(DType::F32, vec![4]),
        Tensor::zeros(DType::I32, vec![4]),
    ];
    let err = interp.run("k", &mut wrong).unwrap_err();
    assert_eq!(
        err.to_string(),
        "argument 0 of kernel `k` must be a `i32` tensor of shape [4], found a f32[4] tensor"
    );
}

#[test]
fn use_after_dealloc_and_recursion_are_errors() {
    let text = r#"
func.func @k(%y: memref<2xf32>) {
  %a = memref.alloc() : memref<2xf32>
  memref.dealloc %a : memref<2xf32>
  %c = arith.constant 0 : index
  %v = memref.load %a[%c] : memref<2xf32>
  memref.store %v, %y[%c] : memref<2xf32>
  return
}"#;
    let module = accc_ir::parse_module(&SourceFile::new("t.mlir", text)).unwrap();
    let interp = Interpreter::new(&module).unwrap();
    let mut args = vec![Tensor::zeros(DType::F32, vec![2])];
    let err = interp.run("k", &mut args).unwrap_err();
    assert!(
        err.to_string()
            .contains("use of a deallocated buffer in `memref.load`"),
        "{err}"
    );
    let text = r#"
func.func @r(%y: memref<2xf32>) {
  func.call @s(%y) : (memref<2xf32>) -> ()
  return
}
func.func @s(%y: memref<2xf32>) {
  func.call @r(%y) : (memref<2xf32>) -> ()
  return
}"#;
    let module = accc_ir::parse_module(&SourceFile::new("t.mlir", text)).unwrap();
    let err = Interpreter::new(&module).err().unwrap();
    assert!(err.to_string().contains("recursive call of `@r`"), "{err}");
}

/// Fused expressions and read-modify-write updates (see `code.rs`) keep
/// program order: of two ops that would fault, the earlier one's fault is
/// reported, whichever operand of the consumer it feeds.
#[test]
fn fused_reductions_fault_in_program_order() {
    let text = r#"
func.func @load_first(%acc: memref<2xi32>, %x: memref<2xi32>) {
  %one = arith.constant 1 : i32
  %dead = memref.alloc() : memref<2xi32>
  memref.dealloc %dead : memref<2xi32>
  affine.for %i = 0 to 2 {
    %old = affine.load %dead[%i] : memref<2xi32> loc("r.acc":1:1)
    %v = affine.load %x[%i] : memref<2xi32>
    %q = arith.divsi %one, %v : i32 loc("r.acc":2:2)
    %s = arith.addi %old, %q : i32
    affine.store %s, %dead[%i] : memref<2xi32>
  }
  return
}
func.func @tree_first(%acc: memref<2xi32>, %x: memref<2xi32>) {
  %one = arith.constant 1 : i32
  %dead = memref.alloc() : memref<2xi32>
  memref.dealloc %dead : memref<2xi32>
  affine.for %i = 0 to 2 {
    %v = affine.load %x[%i] : memref<2xi32>
    %q = arith.divsi %one, %v : i32 loc("r.acc":3:3)
    %old = affine.load %dead[%i] : memref<2xi32> loc("r.acc":4:4)
    %s = arith.addi %q, %old : i32
    affine.store %s, %dead[%i] : memref<2xi32>
  }
  return
}
func.func @sum(%acc: memref<2xi32>, %x: memref<2xi32>) {
  affine.for %i = 0 to 2 {
    affine.for %k = 0 to 3 {
      %old = affine.load %acc[%i] : memref<2xi32>
      %v = affine.load %x[%i] : memref<2xi32>
      %w = arith.extsi %v : i32 to i64
      %t = arith.trunci %w : i64 to i32
      %s = arith.subi %t, %old : i32
      affine.store %s, %acc[%i] : memref<2xi32>
    }
  }
  return
}"#;
    let module = accc_ir::parse_module(&SourceFile::new("t.mlir", text)).unwrap();
    let interp = Interpreter::new(&module).unwrap();
    let x = Tensor::from_f64s(DType::I32, vec![2], &[0.0, 5.0]);
    let mut args = vec![Tensor::zeros(DType::I32, vec![2]), x];
    let err = interp.run("load_first", &mut args).unwrap_err();
    assert_eq!(
        err.to_string(),
        "r.acc:1:1: error: use of a deallocated buffer in `affine.load`"
    );
    let err = interp.run("tree_first", &mut args).unwrap_err();
    assert_eq!(
        err.to_string(),
        "r.acc:3:3: error: division by zero in `arith.divsi`"
    );
    // acc = x - acc, three times, with the element as the right operand.
    args[0] = Tensor::from_f64s(DType::I32, vec![2], &[1.0, 2.0]);
    let stats = interp.run("sum", &mut args).unwrap();
    assert_eq!((i32_at(&args[0], 0), i32_at(&args[0], 1)), (-1, 3));
    // The outer loop, then per iteration the inner loop, then per inner
    // iteration its six ops (the terminator is not counted).
    assert_eq!(stats.ops, 1 + 2 * (1 + 3 * 6));
}

// A module that parses but breaks an op's typing rule is rejected by the
// structural verifier, located at the op.
// RUN: not accc opt %s 2>&1 | FileCheck %s

func.func @f(%A: memref<4xi32>, %x: i8) {
  %c0 = arith.constant 0 : index
  "memref.store"(%x, %A, %c0) : (i8, memref<4xi32>, index) -> ()
  return
}

// CHECK: error: {{.*}}stores `i8` into a memref of `i32`
// CHECK: error-verifier.mlir:7:3

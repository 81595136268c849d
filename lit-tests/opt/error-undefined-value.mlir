// An undefined SSA value is a located parse error.
// RUN: not accc opt %s 2>&1 | FileCheck %s

func.func @f(%A: memref<4xi32>) {
  %c0 = arith.constant 0 : index
  memref.store %nope, %A[%c0] : memref<4xi32>
  return
}

// CHECK: error: {{.*}}%nope
// CHECK: error-undefined-value.mlir:6:16
// CHECK: memref.store %nope, %A[%c0] : memref<4xi32>
// CHECK: ^

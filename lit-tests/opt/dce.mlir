// `dce` erases pure ops whose results are unused, transitively, and keeps
// stores and unknown ops.
// RUN: accc opt %s --pass dce | FileCheck %s

func.func @f(%A: memref<4xi32>, %x: i32) {
  %unused = arith.addi %x, %x : i32
  %unused2 = arith.muli %unused, %x : i32
  %c0 = arith.constant 0 : index
  %kept = arith.subi %x, %x : i32
  memref.store %kept, %A[%c0] : memref<4xi32>
  "test.effect"(%x) : (i32) -> ()
  return
}

// CHECK-LABEL: func.func @f
// CHECK-NOT:   arith.addi
// CHECK-NOT:   arith.muli
// CHECK:       arith.subi
// CHECK:       memref.store
// CHECK:       "test.effect"

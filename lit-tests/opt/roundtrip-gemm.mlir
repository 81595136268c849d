// The IR parser reads MLIR's pretty syntax and the printer gives it back;
// printing the re-parsed output is a fixed point.
// RUN: accc opt %s | FileCheck %s
// RUN: accc opt %s > %t.1.mlir && accc opt %t.1.mlir > %t.2.mlir && diff %t.1.mlir %t.2.mlir

module {
  func.func @gemm(%A: memref<16x8xi8>, %B: memref<8x4xi8>, %C: memref<16x4xi32>) {
    affine.for %i = 0 to 16 {
      affine.for %j = 0 to 4 {
        %zero = arith.constant 0 : i32
        affine.store %zero, %C[%i, %j] : memref<16x4xi32>
        affine.for %k = 0 to 8 {
          %a = affine.load %A[%i, %k] : memref<16x8xi8>
          %b = affine.load %B[%k, %j] : memref<8x4xi8>
          %a32 = arith.extsi %a : i8 to i32
          %b32 = arith.extsi %b : i8 to i32
          %p = arith.muli %a32, %b32 : i32
          %c = affine.load %C[%i, %j] : memref<16x4xi32>
          %s = arith.addi %c, %p : i32
          affine.store %s, %C[%i, %j] : memref<16x4xi32>
        } {loop_name = "k"}
      } {loop_name = "j"}
    } {loop_name = "i", op_name = "S_i_j"}
    return
  }
}

// CHECK-LABEL: func.func @gemm(
// CHECK-SAME:    %[[A:[a-zA-Z0-9_]+]]: memref<16x8xi8>
// CHECK:       affine.for %[[I:[a-zA-Z0-9_]+]] = 0 to 16 {
// CHECK:         affine.for %[[J:[a-zA-Z0-9_]+]] = 0 to 4 {
// CHECK:           affine.for %[[K:[a-zA-Z0-9_]+]] = 0 to 8 {
// CHECK:             affine.load %[[A]][%[[I]], %[[K]]] : memref<16x8xi8>
// CHECK:             arith.extsi %{{.*}} : i8 to i32
// CHECK:             arith.muli
// CHECK:           } {loop_name = "k"}
// CHECK:         } {loop_name = "j"}
// CHECK:       } {loop_name = "i", op_name = "S_i_j"}
// CHECK:       return

// `canonicalize` simplifies affine maps and folds affine.apply of constants.
// RUN: accc opt %s --pass canonicalize | FileCheck %s

func.func @f(%A: memref<64xf32>) {
  %c3 = arith.constant 3 : index
  %x = affine.apply affine_map<(d0) -> (d0 * 4 + 1)>(%c3)
  affine.for %i = 0 to 16 {
    %v = affine.load %A[%i * 4 - %i * 4 + %i] : memref<64xf32>
    affine.store %v, %A[%x] : memref<64xf32>
  }
  return
}

// CHECK-LABEL: func.func @f
// CHECK:       %[[C:.*]] = arith.constant 13 : index
// CHECK-NOT:   affine.apply
// CHECK:       affine.load %{{.*}}[%[[I:[a-zA-Z0-9_]+]]] : memref<64xf32>
// CHECK:       affine.store %{{.*}}, %{{.*}}[%[[C]]] : memref<64xf32>

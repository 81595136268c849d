// `#name = affine_map<...>` / `affine_set<...>` definitions are expanded where
// they are used; using an alias of the wrong kind is a located error.
// RUN: accc opt %s | FileCheck %s
// RUN: sed 's/affine.if #set/affine.if #tile/' %s | not accc opt - 2>&1 | FileCheck %s --check-prefix=WRONG

#tile = affine_map<(d0) -> (d0 * 4)>
#set = affine_set<(d0) : (d0 - 2 >= 0)>

func.func @f(%A: memref<64xf32>) {
  affine.for %i = 0 to 16 {
    %x = affine.apply #tile(%i)
    affine.if #set(%i) {
      %v = affine.load %A[%x] : memref<64xf32>
      affine.store %v, %A[%i] : memref<64xf32>
    }
  }
  return
}

// CHECK: affine.apply affine_map<(d0) -> (d0 * 4)>(%{{.*}})
// CHECK: affine.if affine_set<(d0) : (d0 - 2 >= 0)>(%{{.*}}) {
// WRONG: error: `#tile` is not an integer set
// WRONG: 12:15

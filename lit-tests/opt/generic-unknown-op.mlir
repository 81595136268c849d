// Ops of dialects accc does not model print in MLIR's generic form, with
// their regions, attributes and types, and survive a round trip.
// RUN: accc opt %s | FileCheck %s
// RUN: accc opt %s | accc opt - | FileCheck %s

func.func @f(%a: memref<16x16xi8>, %n: index) {
  %r = "gemmini.mvin"(%a, %n) {rows = 16 : i64, space = "scratchpad"} : (memref<16x16xi8>, index) -> i32
  "test.region_op"() ({
  ^bb0(%x: index):
    "test.use"(%x) : (index) -> ()
  }) : () -> ()
  return
}

// CHECK: "gemmini.mvin"(%{{.*}}, %{{.*}}) {rows = 16 : i64, space = "scratchpad"} : (memref<16x16xi8>, index) -> i32
// CHECK: "test.region_op"() ({
// CHECK: ^bb0(%[[X:.*]]: index):
// CHECK:   "test.use"(%[[X]]) : (index) -> ()

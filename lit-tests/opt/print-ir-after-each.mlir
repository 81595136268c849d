// --print-ir-after-each prints the module after every pass, on stderr.
// RUN: accc opt %s --pass canonicalize --pass dce --print-ir-after-each 2>&1 >/dev/null | FileCheck %s

func.func @f(%x: i32) {
  %y = arith.addi %x, %x : i32
  return
}

// CHECK: IR after canonicalize
// CHECK: arith.addi
// CHECK: IR after dce
// CHECK-NOT: arith.addi
// CHECK: return

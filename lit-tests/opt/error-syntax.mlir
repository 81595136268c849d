// A syntax error names what was expected, with the line and a caret.
// RUN: not accc opt %s 2>&1 | FileCheck %s

func.func @f(%x: i32) {
  %y = arith.addi %x %x : i32
  return
}

// CHECK: error: {{.*}}expected
// CHECK: error-syntax.mlir:5:
// CHECK: %y = arith.addi %x %x : i32

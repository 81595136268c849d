// With --json, diagnostics are JSON objects with file, line and column.
// RUN: not accc --json opt %s | FileCheck %s

func.func @f() {
  %y = arith.addi %q, %q : i32
  return
}

// CHECK: {"diagnostics":[{"col":{{[0-9]+}},"file":"{{.*}}json-errors.mlir","hints":[{{.*}}],"line":5,"message":"{{.*}}","severity":"error"}],"ok":false}

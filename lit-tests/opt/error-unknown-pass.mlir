// An unknown pass name is an error that lists the known passes.
// RUN: not accc opt %s --pass frobnicate 2>&1 | FileCheck %s

func.func @f() {
  return
}

// CHECK: error: unknown pass `frobnicate`; known passes: canonicalize, dce

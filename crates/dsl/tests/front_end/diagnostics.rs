//! One test per kind of diagnostic: the message, and the `file:line:col`
//! the rendering points at.

use super::{diagnose, expect_one};

/// A minimal kernel around `body`, with `A: i8[4, 8]` in, `C: i32[4, 8]`
/// out, and an `f32` scalar `s`. The body starts on line 3.
fn kernel(body: &str) -> String {
    format!("const M = 4;\nkernel k(A: i8[M, 8], s: f32) -> (C: i32[M, 8]) {{\n{body}\n}}\n")
}

// ------------------------------------------------------------------ syntax

#[test]
fn missing_semicolon_points_after_the_statement() {
    let text = expect_one(
        &kernel("  C[0, 0] = 1\n  C[0, 1] = 2;"),
        "expected `;`",
        "3:13",
    );
    assert!(text.contains("found `C`"), "{text}");
}

#[test]
fn unknown_type_lists_the_element_types() {
    expect_one(
        "kernel k(A: i9[4]) -> (C: i8[4]) {}",
        "expected an element type (i8,",
        "1:13",
    );
}

#[test]
fn unknown_item_keyword() {
    expect_one(
        "kernal k() {}",
        "expected `const`, `kernel` or `schedule`, found `kernal`",
        "1:1",
    );
}

#[test]
fn unclosed_parameter_list() {
    expect_one(
        "kernel k(A: i8[4] -> (C: i8[4]) {}",
        "expected `)` or `,`, found `-`",
        "1:19",
    );
}

#[test]
fn chained_comparisons_are_rejected() {
    expect_one(
        &kernel("  C[0, 0] = i32(select(1.0 < s < 2.0, 1.0, 2.0));"),
        "comparison operators cannot be chained",
        "3:32",
    );
}

#[test]
fn integer_literal_too_large() {
    expect_one(
        "const X = 99999999999999999999;",
        "integer literal is too large",
        "1:11",
    );
}

#[test]
fn nesting_too_deep() {
    let src = format!("const X = {}1{};", "(".repeat(200), ")".repeat(200));
    expect_one(&src, "nested more than", "1:");
}

// ------------------------------------------------------------------ names

#[test]
fn undefined_name_suggests_a_close_one() {
    let text = expect_one(
        &kernel("  C[0, 0] = i32(A[0, 0]) + i32(sx);"),
        "cannot find name `sx`",
        "3:32",
    );
    assert!(text.contains("did you mean `s`?"), "{text}");
}

#[test]
fn undefined_constant_in_a_shape() {
    let text = expect_one(
        "const ROWS = 4;\nkernel k(A: i8[ROW]) -> (C: i8[4]) {}",
        "cannot find constant `ROW`",
        "2:16",
    );
    assert!(text.contains("did you mean `ROWS`?"), "{text}");
}

#[test]
fn duplicate_constant_points_at_the_first_definition() {
    let (diags, text) = diagnose("const M = 1;\nconst M = 2;");
    assert_eq!(diags.len(), 1, "{text}");
    assert!(
        diags[0].message.contains("`M` is defined more than once"),
        "{text}"
    );
    assert!(text.contains("t.acc:2:7"), "{text}");
    assert!(
        diags[0]
            .labels
            .iter()
            .any(|l| !l.primary && l.span.start == 6),
        "{text}"
    );
    assert!(text.contains("first defined here"), "{text}");
}

#[test]
fn duplicate_local_points_at_the_first_definition() {
    let text = expect_one(
        &kernel("  let x: f32 = s;\n  let x: f32 = s;"),
        "`x` is already defined",
        "4:7",
    );
    assert!(text.contains("first defined here"), "{text}");
}

#[test]
fn duplicate_parameter() {
    expect_one(
        "kernel k(A: i8[4], A: i8[4]) -> (C: i8[4]) {}",
        "parameter `A` is declared more than once",
        "1:20",
    );
}

#[test]
fn loop_variable_used_outside_its_loop() {
    let text = expect_one(
        &kernel("  for k in range(0, 8) {\n    C[0, k] = 0;\n  }\n  C[0, k] = 1;"),
        "loop variable `k` is used outside its loop",
        "6:8",
    );
    // The secondary label is at the loop that declares `k` (line 3).
    assert!(text.contains("declared by this loop"), "{text}");
    assert!(text.contains("3 |   for k in range(0, 8) {"), "{text}");
}

#[test]
fn constant_used_before_its_definition() {
    expect_one(
        "const X = Y;\nconst Y = 1;",
        "constant `Y` is used before its definition",
        "1:11",
    );
}

#[test]
fn names_cannot_shadow_constants() {
    expect_one(
        "const K = 4;\nkernel k(K: i8[4]) -> (C: i8[4]) {}",
        "`K` is already defined as a constant",
        "2:10",
    );
}

// ------------------------------------------------------------------ shapes

#[test]
fn rank_mismatch() {
    let text = expect_one(
        &kernel("  C[0, 0] = i32(A[0, 1, 2]);"),
        "`A` has rank 2 but 3 indices are given",
        "3:17",
    );
    assert!(text.contains("declared with shape [4, 8]"), "{text}");
}

#[test]
fn shape_mismatch_in_a_kernel_call() {
    let src = "kernel g(X: i8[4, 8]) -> (Y: i32[4, 8]) {\n  for i, j in grid(4, 8) { Y[i, j] = i32(X[i, j]); }\n}\n\
               kernel k(A: i8[8, 4]) -> (C: i32[4, 8]) {\n  g(A, C);\n}\n";
    let text = expect_one(
        src,
        "shape mismatch: argument `A` is i8[8, 4] but parameter `X` of `g` is i8[4, 8]",
        "5:5",
    );
    assert!(text.contains("expects i8[4, 8]"), "{text}");
}

#[test]
fn element_type_mismatch_in_a_kernel_call() {
    let src = "kernel g(X: i8[4]) -> (Y: i8[4]) {\n  for i in range(0, 4) { Y[i] = X[i]; }\n}\n\
               kernel k(A: u8[4]) -> (C: i8[4]) {\n  g(A, C);\n}\n";
    expect_one(src, "type mismatch: argument `A` is u8[4]", "5:5");
}

#[test]
fn constant_index_out_of_bounds() {
    let text = expect_one(
        &kernel("  C[0, 0] = i32(A[4, 0]);"),
        "index 4 is out of bounds for dimension 0 of `A` with size 4",
        "3:19",
    );
    assert!(text.contains("0..=3"), "{text}");
}

#[test]
fn affine_index_out_of_bounds() {
    let text = expect_one(
        &kernel("  for i, j in grid(M, 8) {\n    C[i, j] = i32(A[i, j + 1]);\n  }"),
        "index `j + 1` is out of bounds for dimension 1 of `A` with size 8",
        "4:24",
    );
    assert!(text.contains("takes values 1..=8"), "{text}");
}

#[test]
fn negative_affine_index_in_a_triangular_nest() {
    expect_one(
        &kernel(
            "  for i in range(0, M) {\n    for j in range(0, i + 1) {\n      C[i, j] = i32(A[i, j - 1]);\n    }\n  }",
        ),
        "index `j - 1` is out of bounds",
        "5:26",
    );
}

#[test]
fn in_bounds_triangular_nest_is_accepted() {
    let (diags, text) =
        diagnose(&kernel("  for i in range(0, M) {\n    for j in range(i, i + 4) {\n      C[i, j - i] = i32(A[i, j - i + 4]);\n    }\n  }"));
    assert!(diags.is_empty(), "{text}");
}

#[test]
fn non_affine_index() {
    expect_one(
        &kernel("  for i, j in grid(M, 8) {\n    C[i, j] = i32(A[i * j, 0]);\n  }"),
        "index is not affine",
        "4:21",
    );
}

#[test]
fn scalar_in_an_index_is_not_affine() {
    let text = expect_one(
        &kernel("  let t: i32 = 0;\n  C[0, 0] = i32(A[t, 0]);"),
        "index is not affine",
        "4:19",
    );
    assert!(text.contains("runtime value"), "{text}");
}

#[test]
fn non_positive_dimension() {
    expect_one(
        "kernel k(A: i8[4 - 4]) -> (C: i8[4]) {}",
        "dimension size must be positive, found 0",
        "1:16",
    );
}

// ------------------------------------------------------------------ types

#[test]
fn type_mismatch_suggests_a_cast() {
    let text = expect_one(
        &kernel("  C[0, 0] = i32(A[0, 0]) + A[0, 1];"),
        "mismatched types `i32` and `i8` in `+`",
        "3:13",
    );
    assert!(
        text.contains("insert a cast such as `i32(A[0, 1])`"),
        "{text}"
    );
}

#[test]
fn assigned_value_must_have_the_target_type() {
    let text = expect_one(
        &kernel("  C[0, 0] = s;"),
        "mismatched types: expected `i32`, found `f32`",
        "3:13",
    );
    assert!(text.contains("`i32(s)`"), "{text}");
}

#[test]
fn integer_literal_must_fit_its_type() {
    let text = expect_one(
        &kernel("  let x: i8 = 300;"),
        "integer literal `300` does not fit in `i8`",
        "3:15",
    );
    assert!(text.contains("-128..=127"), "{text}");
}

#[test]
fn negative_literal_fits_a_signed_type() {
    let (diags, text) = diagnose(&kernel("  let x: i8 = -128;\n  C[0, 0] = i32(x);"));
    assert!(diags.is_empty(), "{text}");
}

#[test]
fn float_literal_needs_a_float_context() {
    expect_one(
        &kernel("  C[0, 0] = 1.5;"),
        "float literal `1.5` used where `i32` is expected",
        "3:13",
    );
}

#[test]
fn untyped_literal_arithmetic_needs_a_context() {
    expect_one(
        &kernel("  let x: f32 = select(1 < 2, s, 2.0);"),
        "cannot infer the type of integer literal `1`",
        "3:23",
    );
}

#[test]
fn loop_variable_needs_a_cast_to_be_a_value() {
    let text = expect_one(
        &kernel("  for i in range(0, M) {\n    C[i, 0] = i;\n  }"),
        "a loop variable cannot be used as a value without a cast",
        "4:15",
    );
    assert!(text.contains("`i32(i)`"), "{text}");
}

#[test]
fn loop_variable_in_arithmetic_with_a_value() {
    let text = expect_one(
        &kernel("  for i in range(0, M) {\n    C[i, 0] = C[i, 0] + i;\n  }"),
        "mismatched types `i32` and `index` in `+`",
        "4:15",
    );
    assert!(text.contains("`i32(i)`"), "{text}");
}

#[test]
fn comparison_only_as_select_condition() {
    expect_one(
        &kernel("  let x: f32 = f32(s < 1.0);"),
        "a comparison can only be the condition of `select`",
        "3:20",
    );
}

#[test]
fn select_condition_must_be_a_comparison() {
    expect_one(
        &kernel("  let x: f32 = select(s, 1.0, 2.0);"),
        "the condition of `select` must be a comparison",
        "3:23",
    );
}

#[test]
fn transcendental_functions_need_floats() {
    let text = expect_one(
        &kernel("  C[0, 0] = exp(C[0, 0]);"),
        "`exp` needs a float argument, found `i32`",
        "3:17",
    );
    assert!(text.contains("exp(f32(C[0, 0]))"), "{text}");
}

#[test]
fn unknown_function_suggests_a_builtin() {
    let text = expect_one(
        &kernel("  let x: f32 = sqr(s);"),
        "cannot find function `sqr`",
        "3:16",
    );
    assert!(text.contains("did you mean `sqrt`?"), "{text}");
}

#[test]
fn wrong_intrinsic_arity() {
    expect_one(
        &kernel("  let x: f32 = max(s);"),
        "`max` takes 2 arguments but 1 was given",
        "3:16",
    );
}

#[test]
fn unsigned_negation() {
    expect_one(
        "kernel k(A: u8[4]) -> (C: u8[4]) {\n  C[0] = -A[0];\n}",
        "cannot negate a value of unsigned type `u8`",
        "2:10",
    );
}

#[test]
fn integer_division_by_literal_zero() {
    expect_one(
        &kernel("  C[0, 0] = C[0, 0] / 0;"),
        "division by zero",
        "3:23",
    );
}

// ------------------------------------------------------------------ writes

#[test]
fn writing_to_an_input_parameter() {
    let text = expect_one(
        &kernel("  A[0, 0] = 1;"),
        "cannot write to input parameter `A`",
        "3:3",
    );
    assert!(text.contains("outputs are declared after `->`"), "{text}");
    assert!(text.contains("declared as an input here"), "{text}");
}

#[test]
fn writing_to_a_scalar_parameter() {
    let text = expect_one(
        &kernel("  s = 1.0;"),
        "cannot write to input parameter `s`",
        "3:3",
    );
    assert!(text.contains("copy it into a local"), "{text}");
}

#[test]
fn passing_an_input_as_an_output() {
    let src = "kernel g(X: i8[4]) -> (Y: i8[4]) {\n  for i in range(0, 4) { Y[i] = X[i]; }\n}\n\
               kernel k(A: i8[4], B: i8[4]) -> (C: i8[4]) {\n  g(A, B);\n}\n";
    expect_one(src, "cannot write to input parameter `B`", "5:8");
}

#[test]
fn local_tensor_without_indices_cannot_be_assigned() {
    expect_one(
        &kernel("  let t: i32[4];\n  t = 0;"),
        "`t` is a tensor; assign to one element",
        "4:3",
    );
}

#[test]
fn local_scalar_needs_an_initial_value() {
    expect_one(
        &kernel("  let x: f32;"),
        "local scalar `x` needs an initial value",
        "3:7",
    );
}

// ------------------------------------------------------------------ kernels and calls

#[test]
fn call_to_an_unknown_kernel() {
    let text = expect_one(
        "kernel gemm(A: i8[4]) -> (C: i8[4]) {\n  for i in range(0, 4) { C[i] = A[i]; }\n}\n\
         kernel k(A: i8[4]) -> (C: i8[4]) {\n  gem(A, C);\n}\n",
        "cannot find kernel `gem`",
        "5:3",
    );
    assert!(text.contains("did you mean `gemm`?"), "{text}");
}

#[test]
fn call_with_the_wrong_number_of_arguments() {
    expect_one(
        "kernel g(X: i8[4]) -> (Y: i8[4]) {\n  for i in range(0, 4) { Y[i] = X[i]; }\n}\n\
         kernel k(A: i8[4]) -> (C: i8[4]) {\n  g(A);\n}\n",
        "kernel `g` takes 2 arguments (1 input, then 1 output) but 1 was given",
        "5:3",
    );
}

#[test]
fn direct_recursion() {
    expect_one(
        "kernel k(A: i8[4]) -> (C: i8[4]) {\n  k(A, C);\n}",
        "kernel `k` calls itself",
        "2:3",
    );
}

#[test]
fn mutual_recursion() {
    let src = "kernel a(X: i8[4]) -> (Y: i8[4]) {\n  b(X, Y);\n}\n\
               kernel b(X: i8[4]) -> (Y: i8[4]) {\n  a(X, Y);\n}\n";
    expect_one(
        src,
        "recursive kernel calls: `a` calls `b` calls `a`",
        "2:3",
    );
}

#[test]
fn kernel_without_outputs() {
    expect_one("kernel k(A: i8[4]) {}", "kernel `k` has no outputs", "1:1");
}

#[test]
fn scalar_output() {
    expect_one(
        "kernel k(A: i8[4]) -> (C: i8) {}",
        "output `C` must be a tensor",
        "1:27",
    );
}

#[test]
fn grid_with_mismatched_variables_and_extents() {
    let text = expect_one(
        &kernel("  for i, j in grid(M) {\n  }"),
        "`grid` has 2 loop variables but 1 extent",
        "3:15",
    );
    assert!(text.contains("2 variables"), "{text}");
}

#[test]
fn range_with_several_variables() {
    expect_one(
        &kernel("  for i, j in range(0, 4) {\n  }"),
        "`range` loops take exactly one loop variable",
        "3:7",
    );
}

#[test]
fn aliased_output_argument() {
    let src = "kernel g(X: i8[4]) -> (Y: i8[4]) {\n  for i in range(0, 4) { Y[i] = X[i]; }\n}\n\
               kernel k(A: i8[4]) -> (C: i8[4]) {\n  g(C, C);\n}\n";
    expect_one(
        src,
        "a tensor passed as an output cannot also be passed as another argument",
        "5:8",
    );
}

// ------------------------------------------------------------------ schedules

#[test]
fn schedule_for_an_unknown_kernel() {
    let text = expect_one(
        "kernel gemm(A: i8[4]) -> (C: i8[4]) {\n  for i in range(0, 4) { C[i] = A[i]; }\n}\nschedule s for gemmm {\n  unroll(i);\n}",
        "schedule `s` is for an unknown kernel `gemmm`",
        "4:16",
    );
    assert!(text.contains("did you mean `gemm`?"), "{text}");
}

// ------------------------------------------------------------------ several errors

#[test]
fn all_independent_errors_are_reported_without_cascades() {
    let (diags, text) = diagnose(&kernel(
        "  let x: i8 = 300;\n  C[0, 0] = i32(A[9, 0]);\n  C[0, 0] = undefined_thing + 1;\n  A[0, 0] = 1;",
    ));
    assert_eq!(diags.len(), 4, "{text}");
    // In source order.
    let lines: Vec<usize> = ["t.acc:3:", "t.acc:4:", "t.acc:5:", "t.acc:6:"]
        .iter()
        .map(|l| text.find(l).unwrap_or(usize::MAX))
        .collect();
    assert!(lines.windows(2).all(|w| w[0] < w[1]), "{text}");
}

#[test]
fn an_undefined_local_tensor_reports_once() {
    // `let` with a bad shape: its uses must not produce further errors.
    let (diags, text) = diagnose(&kernel(
        "  let t: i32[Q];\n  t[0] = 1;\n  C[0, 0] = t[0] + t[1];",
    ));
    assert_eq!(diags.len(), 1, "{text}");
}

// ------------------------------------------------------------------ more kinds

#[test]
fn float_literal_out_of_range() {
    expect_one(
        &kernel("  let x: f32 = 1e999;"),
        "float literal is out of range",
        "3:16",
    );
}

#[test]
fn assigning_to_a_loop_variable() {
    expect_one(
        &kernel("  for i in range(0, 4) {\n    i = 1;\n  }"),
        "cannot assign to loop variable `i`",
        "4:5",
    );
}

#[test]
fn tensor_used_as_a_scalar() {
    let text = expect_one(
        &kernel("  C[0, 0] = i32(A);"),
        "tensor `A` is used as a scalar value",
        "3:17",
    );
    assert!(text.contains("`A[i, j]`"), "{text}");
}

#[test]
fn scalar_cannot_be_indexed() {
    expect_one(
        &kernel("  let x: f32 = s[0];"),
        "`s` is a scalar and cannot be indexed",
        "3:16",
    );
}

#[test]
fn local_tensor_cannot_have_an_initializer() {
    expect_one(
        &kernel("  let t: i32[4] = 0;"),
        "local tensor `t` cannot have an initial value",
        "3:19",
    );
}

#[test]
fn cast_takes_one_argument() {
    expect_one(
        &kernel("  let x: f32 = f32(s, s);"),
        "a cast to `f32` takes exactly one argument",
        "3:16",
    );
}

#[test]
fn dimensions_must_be_constants() {
    expect_one(
        &kernel("  for i in range(0, 4) {\n    let t: f32[i];\n  }"),
        "`i` is not a constant",
        "4:16",
    );
}

#[test]
fn kernel_used_in_an_expression() {
    let text = expect_one(
        &kernel("  let x: f32 = k(s);"),
        "cannot find function `k`",
        "3:16",
    );
    assert!(text.contains("kernels are called as statements"), "{text}");
}

#[test]
fn assigning_to_a_constant() {
    expect_one(&kernel("  M = 1;"), "cannot assign to constant `M`", "3:3");
}

#[test]
fn expression_too_deep() {
    let src = format!("const X = {};", vec!["1"; 300].join(" + "));
    expect_one(
        &src,
        "expression is nested more than 256 levels deep",
        "1:11",
    );
}

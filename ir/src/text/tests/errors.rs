//! Every error a user can trigger in IR text: the message and where it points.

use crate::diag::{render, SourceFile};
use crate::text::*;

/// The single diagnostic for `text`, with the source text its span covers.
fn error_of(text: &str) -> (String, String) {
    let file = SourceFile::new("bad.mlir", text);
    let d = parse_module(&file).expect_err("the text should not parse");
    assert_eq!(d.len(), 1, "{d:?}");
    let span = d[0].primary_span().expect("errors have a primary span");
    (d[0].message.clone(), file.snippet(span).to_string())
}

fn func(body: &str) -> String {
    format!("func.func @f(%A: memref<16x16xf32>, %x: i32, %n: index) {{\n{body}\n  return\n}}\n")
}

#[test]
fn undefined_and_redefined_values() {
    let (msg, at) = error_of(&func("  %0 = arith.addi %x, %y : i32"));
    assert_eq!(
        (msg.as_str(), at.as_str()),
        ("use of undefined value `%y`", "%y")
    );
    let (msg, at) = error_of(&func("  %x = arith.addi %x, %x : i32"));
    assert_eq!(
        (msg.as_str(), at.as_str()),
        ("redefinition of SSA value `%x`", "%x")
    );
    // A value defined in a loop body is not visible after the loop.
    let (msg, _) =
        error_of(&func("  affine.for %i = 0 to 4 {\n    %v = arith.addi %x, %x : i32\n  }\n  %w = arith.addi %v, %v : i32"));
    assert_eq!(msg, "use of undefined value `%v`");
    // Functions are isolated from above.
    let (msg, _) =
        error_of("func.func @f(%x: i32) {\n  return\n}\nfunc.func @g() {\n  %0 = arith.addi %x, %x : i32\n  return\n}\n");
    assert_eq!(msg, "use of undefined value `%x`");
}

#[test]
fn type_mismatches_against_declared_types() {
    let (msg, at) = error_of(&func("  %0 = arith.addi %x, %x : i64"));
    assert_eq!(
        msg,
        "`%x` has type `i32`, but the op's syntax declares `i64`"
    );
    assert_eq!(at, "%x");
    let (msg, at) = error_of(&func("  %0 = affine.load %A[0, 0] : memref<16x16xi8>"));
    assert!(msg.contains("has type `memref<16x16xf32>`"), "{msg}");
    assert_eq!(at, "%A");
    let (msg, _) = error_of(&func("  \"test.op\"(%x) : (f32) -> ()"));
    assert!(msg.contains("declares `f32`"), "{msg}");
    let (msg, _) = error_of(&func("  \"test.op\"(%x) : () -> ()"));
    assert_eq!(msg, "the type lists 0 operand type(s) for 1 operand(s)");
}

#[test]
fn syntax_errors_point_at_the_token() {
    let (msg, at) = error_of(&func("  %0 = arith.addi %x, %x i32"));
    assert_eq!(
        msg,
        "expected `:` followed by the type after the operands, found `i32`"
    );
    assert_eq!(at, "i32");
    let (msg, at) = error_of(&func("  \"test.op\"(%x) i32"));
    assert_eq!(
        msg,
        "expected `:` followed by the op's type after the operands, found `i32`"
    );
    assert_eq!(at, "i32");
    let (msg, at) = error_of(&func("  affine.for %i = 0 too 4 {\n  }"));
    assert_eq!(msg, "expected `to` between the loop bounds, found `too`");
    assert_eq!(at, "too");
    let (msg, _) = error_of(&func("  %0 = arith.cmpi less, %x, %x : i32"));
    assert_eq!(msg, "unknown `cmpi` predicate `less`");
    let (msg, at) = error_of(&func("  %0 = arith.constant \"open : i32"));
    assert!(msg.starts_with("unterminated string"), "{msg}");
    assert_eq!(at, "\"");
    let (msg, _) = error_of("module {\n  func.func @f() {\n    return\n  }\n");
    assert_eq!(msg, "expected `}` to end the region, found end of input");
    let (msg, _) = error_of("module { } }");
    assert_eq!(msg, "expected an operation, found `}`");
}

#[test]
fn unsupported_constructs_say_so() {
    let cases = [
        (
            func("  %0 = memref.alloc() : memref<?xf32>"),
            "dynamic dimensions are not supported by accc's IR",
        ),
        (
            func("  %0 = \"test.op\"() : () -> tensor<4xf32>"),
            "unknown or unsupported type `tensor`",
        ),
        (
            func("  %0 = \"test.op\"() : () -> ui8"),
            "signed and unsigned integer types are not supported: accc's integers are signless",
        ),
        (
            func("  %0 = gemmini.mvin %x : i32"),
            "accc does not know the custom syntax of `gemmini.mvin`",
        ),
        (
            func("  \"test.br\"() [^bb1] : () -> ()"),
            "successor blocks are not supported by accc's IR",
        ),
        (
            func("  %0 = affine.apply #undefined(%n)"),
            "undefined attribute alias `#undefined`",
        ),
        (
            func("  %0 = \"test.op\"() {a = dense<1> : tensor<2xi32>} : () -> i32"),
            "`dense` attributes are not supported by accc's IR",
        ),
        (
            func("  %0 = arith.addi %x, %x overflow<nsw> : i32"),
            "`overflow` flags are not supported by accc's IR",
        ),
        (
            func("  %0 = affine.apply affine_map<(d0) -> (d0)>(%n, %n)"),
            "the map takes 1 dimension(s) and 0 symbol(s), but 2 and 0 operand(s) are given",
        ),
        (
            func("  \"test.op\"() : () -> () loc(#nowhere)"),
            "undefined location alias `#nowhere`",
        ),
        (
            func("  %0 = arith.constant 300 : i64 : i64"),
            "expected an operation, found `:`",
        ),
        (
            "func.func @f() {\n  %0 = \"a.b\"() : () -> !bad\n  return\n}\n".to_string(),
            "undefined type alias `!bad`",
        ),
    ];
    for (text, expected) in cases {
        let (msg, _) = error_of(&text);
        assert_eq!(msg, expected, "{text}");
    }
}

#[test]
fn verifier_errors_are_located_at_the_op() {
    let text = func("  %v = affine.load %A[%n] : memref<16x16xf32>");
    let (msg, at) = error_of(&text);
    assert_eq!(
        msg,
        "'affine.load' op map has 1 result(s) but the memref has rank 2"
    );
    assert_eq!(at, "%v = affine.load");
    let file = SourceFile::new("bad.mlir", text.clone());
    let rendered = render(&file, &parse_module(&file).unwrap_err());
    assert!(rendered.contains("bad.mlir:2:3"), "{rendered}");
    // An error in an implicit terminator is reported at its parent.
    let text =
        "func.func @f() {\n  \"test.wrap\"() ({\n    affine.yield\n  }) : () -> ()\n  return\n}\n";
    let (msg, at) = error_of(text);
    assert_eq!(
        msg,
        "'affine.yield' op must terminate an `affine.for` or `affine.if` body"
    );
    assert_eq!(at, "affine.yield");
    // The unverified parse is available for tools.
    let parsed = parse_module_unverified(&SourceFile::new("x", text)).unwrap();
    assert!(crate::verify_module(&parsed.module).is_err());
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let n = 5000;
    let deep_type = format!(
        "func.func @f() {{\n  %0 = \"a.b\"() : () -> {}i32{}\n  return\n}}\n",
        "(() -> ".repeat(n),
        ")".repeat(n)
    );
    let deep_regions = format!(
        "{}{}",
        "\"a.b\"() ({\n".repeat(n),
        "}) : () -> ()\n".repeat(n)
    );
    let deep_expr = format!(
        "#map = affine_map<(d0) -> ({}d0{})>\n",
        "(".repeat(n),
        ")".repeat(n)
    );
    let deep_attr = format!(
        "\"a.b\"() {{a = {}1{}}} : () -> ()\n",
        "[".repeat(n),
        "]".repeat(n)
    );
    let deep_neg = format!("#map = affine_map<(d0) -> ({}d0)>\n", "-".repeat(n));
    for text in [deep_type, deep_regions, deep_expr, deep_attr, deep_neg] {
        let (msg, _) = error_of(&text);
        assert_eq!(msg, format!("nesting is deeper than {MAX_NESTING} levels"));
    }
}

#[test]
fn nesting_just_below_the_limit_works_on_a_small_stack() {
    // The deepest accepted input must not overflow a 2 MiB thread stack in
    // a debug build (the default for test threads): not while parsing (the
    // parser has its own thread), verifying, printing or comparing.
    let depth = MAX_NESTING - 3;
    let regions = format!(
        "{}{}",
        "\"a.b\"() ({\n".repeat(depth),
        "}) : () -> ()\n".repeat(depth)
    );
    let attrs = format!(
        "\"a.b\"() {{a = {}1{}}} : () -> ()\n",
        "[".repeat(depth - 4),
        "]".repeat(depth - 4)
    );
    let types = format!(
        "%0 = \"a.b\"() : () -> ({}i32{})\n",
        "() -> (".repeat(depth / 2),
        ")".repeat(depth / 2)
    );
    let exprs = format!(
        "\"a.b\"() {{m = affine_map<(d0) -> ({}d0{})>}} : () -> ()\n",
        "(".repeat(depth - 3),
        ")".repeat(depth - 3)
    );
    let loops = format!(
        "func.func @f() {{\n{}{}  return\n}}\n",
        "affine.for %i = 0 to 2 {\n"
            .to_string()
            .replace("%i", "%i0")
            + &(1..depth - 2)
                .map(|k| format!("affine.for %i{k} = 0 to 2 {{\n"))
                .collect::<String>(),
        "}\n".repeat(depth - 2)
    );
    for text in [regions, attrs, types, exprs, loops] {
        let handle = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let m = parse_module(&SourceFile::new("deep.mlir", text.clone()))
                    .map_err(|d| format!("{d:?}"))?;
                for opts in [
                    PrintOptions::default(),
                    PrintOptions {
                        generic: true,
                        print_locations: true,
                    },
                ] {
                    let printed = print_module_with(&m, &opts);
                    let back = parse_module(&SourceFile::new("deep.mlir", printed))
                        .map_err(|d| format!("{d:?}"))?;
                    structurally_equal(&m, &back)?;
                }
                Ok::<(), String>(())
            })
            .expect("spawn a thread");
        handle.join().expect("no stack overflow").unwrap();
    }
}

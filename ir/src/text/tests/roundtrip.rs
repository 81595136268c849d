//! Hand-written modules: every pretty form round trips exactly, a gemm
//! parses, verifies and prints back identically.

use crate::diag::SourceFile;
use crate::text::*;

pub(crate) fn parse(text: &str) -> crate::Module {
    let file = SourceFile::new("t.mlir", text);
    match parse_module(&file) {
        Ok(m) => m,
        Err(d) => panic!("{}\n{text}", crate::diag::render(&file, &d)),
    }
}

/// `text` is already in printed form: parsing then printing gives it back,
/// and the generic form round trips to the same module.
pub(crate) fn assert_fixed_point(text: &str) {
    let m = parse(text);
    let printed = print_module(&m);
    assert_eq!(
        printed, text,
        "printing is not the identity on canonical text"
    );
    for opts in [
        PrintOptions {
            generic: true,
            print_locations: false,
        },
        PrintOptions {
            generic: true,
            print_locations: true,
        },
        PrintOptions {
            generic: false,
            print_locations: true,
        },
    ] {
        let t = print_module_with(&m, &opts);
        let back = parse(&t);
        structurally_equal_with(
            &m,
            &back,
            EqOptions {
                names: true,
                locations: true,
            },
        )
        .unwrap_or_else(|e| panic!("{opts:?}: {e}\n{t}"));
        assert_eq!(print_module_with(&back, &opts), t);
    }
}

pub(crate) const GEMM: &str = r#"module {
  func.func @gemm(%A: memref<512x512xi8> {accc.name = "A"}, %B: memref<512x512xi8> {accc.name = "B"}, %C: memref<512x512xi32> {accc.name = "C", accc.output}) {
    affine.for %i = 0 to 512 {
      affine.for %j = 0 to 512 {
        affine.for %k = 0 to 512 {
          %a = affine.load %A[%i, %k] : memref<512x512xi8>
          %b = affine.load %B[%k, %j] : memref<512x512xi8>
          %c = affine.load %C[%i, %j] : memref<512x512xi32>
          %a32 = arith.extsi %a : i8 to i32
          %b32 = arith.extsi %b : i8 to i32
          %p = arith.muli %a32, %b32 : i32
          %s = arith.addi %c, %p : i32
          affine.store %s, %C[%i, %j] : memref<512x512xi32>
        } {loop_name = "k"}
      } {loop_name = "j"}
    } {loop_name = "i", op_name = "S_i_j"}
    return
  }
}
"#;

#[test]
fn gemm_parses_verifies_and_prints_back() {
    let m = parse(GEMM);
    crate::verify_module(&m).unwrap();
    let f = m.lookup_symbol("gemm").unwrap();
    assert_eq!(
        m.walk_ops(f)
            .iter()
            .filter(|o| m.op_name(**o) == "affine.for")
            .count(),
        3
    );
    assert_eq!(
        crate::dialects::func::arg_attr(&m, f, 2, "accc.output"),
        Some(&crate::Attribute::Unit)
    );
    assert_fixed_point(GEMM);
}

#[test]
fn empty_module_and_attributes() {
    assert_fixed_point("module {\n}\n");
    assert_fixed_point("module @m attributes {accc.target = \"gemmini\", flag} {\n}\n");
}

/// Wraps ops in a function with the given arguments.
fn in_func(args: &str, body: &str) -> String {
    let mut s = format!("module {{\n  func.func @f({args}) {{\n");
    for line in body.lines() {
        s.push_str("    ");
        s.push_str(line);
        s.push('\n');
    }
    s.push_str("    return\n  }\n}\n");
    s
}

/// One module per group of pretty forms.
pub(crate) fn pretty_cases() -> Vec<String> {
    let a = "%A: memref<16x16xf32>, %n: index, %x: i32, %y: f32, %c: i1";
    let cases = [
        // affine.for: constant, symbol, dim-map and max/min bounds, step
        "affine.for %i = 0 to 16 {\n}",
        "affine.for %i = -4 to 16 step 4 {\n}",
        "affine.for %i = 0 to %n {\n}",
        "affine.for %i = 0 to 16 {\n  affine.for %j = affine_map<(d0) -> (d0)>(%i) to 16 {\n  }\n}",
        "affine.for %i = max affine_map<(d0)[s0] -> (0, d0 - s0)>(%n)[%n] to min affine_map<()[s0] -> (16, s0 * 2 + 1)>()[%n] step 2 {\n} {loop_name = \"i\"}",
        // affine.if with and without else, with attributes
        "affine.for %i = 0 to 16 {\n  affine.if affine_set<(d0)[s0] : (d0 - s0 >= 0, d0 - 3 == 0)>(%i)[%n] {\n    %0 = affine.load %A[%i, %i] : memref<16x16xf32>\n  } else {\n  } {note}\n  affine.if affine_set<(d0) : (-d0 + 15 >= 0)>(%i) {\n  }\n}",
        // loads and stores with affine expressions and symbols
        "affine.for %i = 0 to 4 {\n  affine.for %j = 0 to 4 {\n    %v = affine.load %A[%i * 4 + %j, symbol(%n) - %j] : memref<16x16xf32>\n    affine.store %v, %A[%j floordiv 2, (%i + %j) mod 4] {nontemporal} : memref<16x16xf32>\n  }\n}",
        // apply, min, max
        "affine.for %i = 0 to 4 {\n  %0 = affine.apply affine_map<(d0) -> (d0 * 16)>(%i)\n  %1 = affine.min affine_map<(d0)[s0] -> (d0, s0)>(%i)[%n]\n  %2 = affine.max affine_map<(d0) -> (d0 ceildiv 3, 0)>(%0)\n}",
        // arith
        "%0 = arith.constant 0 : i32\n%1 = arith.constant -7 : i64\n%2 = arith.constant 1.5 : f32\n%3 = arith.constant true\n%4 = arith.constant 1 : i1\n%5 = arith.constant 0x7F800000 : f32\n%6 = arith.constant -0.0 : f32\n%7 = arith.constant {tag} 3 : index",
        "%0 = arith.addi %x, %x : i32\n%1 = arith.subf %y, %y : f32\n%2 = arith.cmpi slt, %x, %0 : i32\n%3 = arith.cmpf olt, %y, %1 : f32\n%4 = arith.select %2, %y, %1 : f32\n%5 = arith.negf %4 : f32",
        "%0 = arith.extsi %x : i32 to i64\n%1 = arith.trunci %x : i32 to i8\n%2 = arith.index_cast %n : index to i32\n%3 = arith.sitofp %x : i32 to f32\n%4 = arith.fptosi %y : f32 to i32\n%5 = arith.extf %y : f32 to f64\n%6 = arith.truncf %y : f32 to f16\n%7 = arith.bitcast %y : f32 to i32",
        "%0 = math.exp %y : f32\n%1 = math.sqrt %0 : f32\n%2 = math.absi %x : i32\n%3 = math.tanh %1 : f32",
        // memref
        "%buf = memref.alloc() : memref<16xf32, \"scratchpad\">\n%acc = memref.alloca() {alignment = 64 : i64} : memref<4x4xi32, 3>\n%0 = arith.constant 0 : index\nmemref.store %y, %buf[%0] : memref<16xf32, \"scratchpad\">\n%1 = memref.load %buf[%0] : memref<16xf32, \"scratchpad\">\n%2 = memref.alloc() : memref<16xf32, \"scratchpad\">\nmemref.copy %buf, %2 : memref<16xf32, \"scratchpad\"> to memref<16xf32, \"scratchpad\">\nmemref.dealloc %buf : memref<16xf32, \"scratchpad\">\nmemref.dealloc %2 : memref<16xf32, \"scratchpad\">",
        // scf
        "%lb = arith.constant 0 : index\n%one = arith.constant 1 : index\nscf.for %i = %lb to %n step %one {\n  scf.if %c {\n    %0 = arith.addi %x, %x : i32\n  } else {\n  }\n  scf.if %c {\n  }\n} {loop_name = \"q\"}",
        // generic unknown ops with regions, result groups and attributes
        "%0 = \"gemmini.config\"(%x) {dataflow = \"WS\", dims = array<i32: 1, 2>, m = affine_map<(d0) -> (d0 mod 4)>, s = @f, t = memref<4xi8, 2>} : (i32) -> !gemmini.handle<\"cfg\", [1, 2]>\n\"test.region\"(%0) ({\n^bb0(%arg0: index, %q: !gemmini.handle<\"cfg\", [1, 2]>):\n  \"test.use\"(%arg0, %q) : (index, !gemmini.handle<\"cfg\", [1, 2]>) -> ()\n^bb1:\n  \"test.end\"() : () -> ()\n}, {\n}, {\n^bb0:\n}) : (!gemmini.handle<\"cfg\", [1, 2]>) -> ()",
    ];
    cases.iter().map(|body| in_func(a, body)).collect()
}

#[test]
fn each_pretty_form_round_trips() {
    for text in pretty_cases() {
        assert_fixed_point(&text);
    }
}

pub(crate) const FUNCTIONS: &str = r#"module {
  func.func private @ext(i32 {accc.dtype = "int32"}) -> i32
  func.func @g(%x: i32) -> (i32 {accc.r}) attributes {accc.kernel} {
    return %x : i32
  }
  func.func @h(%x: i32, %y: f32) -> (i32, f32) {
    %0 = call @g(%x) : (i32) -> i32
    %1 = call @ext(%0) : (i32) -> i32
    affine.for %i = 0 to 4 {
      %2 = func.call @g(%1) : (i32) -> i32
    }
    return %1, %y : i32, f32
  }
}
"#;

#[test]
fn functions_calls_and_results() {
    assert_fixed_point(FUNCTIONS);
}

#[test]
fn names_are_made_unique_and_valid() {
    let mut m = crate::Module::new();
    let (_, entry) = crate::dialects::func::build_func(
        &mut m,
        "f",
        vec![crate::Type::Index, crate::Type::Index],
        vec![],
    );
    let args = m.block_args(entry).to_vec();
    m.set_name_hint(args[0], "i");
    m.set_name_hint(args[1], "i");
    let mut b = crate::Builder::at_end(&mut m, entry);
    let c = crate::dialects::arith::build_index_constant(&mut b, 1);
    let d = crate::dialects::arith::build_binary(&mut b, "addi", args[0], c);
    crate::dialects::func::build_return(&mut b, &[]);
    m.set_name_hint(c, "not valid");
    m.set_name_hint(d, "arg0");
    let text = print_module(&m);
    assert!(text.contains("@f(%i: index, %i_1: index)"), "{text}");
    assert!(text.contains("%0 = arith.constant 1 : index"), "{text}");
    assert!(text.contains("%1 = arith.addi %i, %0 : index"), "{text}");
    let back = parse(&text);
    structurally_equal(&m, &back).unwrap();
    assert_eq!(print_module(&back), text);
}

#[test]
fn reads_what_mlir_opt_prints() {
    // mlir-opt's output style: aliases, generated names, default dialect,
    // result groups, properties, location aliases at the end.
    let text = r#"#map = affine_map<(d0) -> (d0 * 16)>
#set = affine_set<(d0) : (d0 >= 0)>
module {
  func.func @k(%arg0: memref<16xf32> loc("k.acc":1:14)) {
    %c0 = arith.constant 0 : index loc(#loc1)
    affine.for %arg1 = 0 to 1 {
      %0 = affine.apply #map(%arg1)
      affine.if #set(%arg1) {
      }
    } loc(#loc2)
    %1:2 = "test.two"() : () -> (i32, i32)
    "test.use"(%1#1) : (i32) -> ()
    %2 = "affine.load"(%arg0, %c0) <{map = affine_map<(d0) -> (d0)>}> : (memref<16xf32>, index) -> f32
    return loc(unknown)
  } loc(#loc)
} loc(#loc)
#loc = loc("k.acc":1:1)
#loc1 = loc("k.acc":2:3)
#loc2 = loc(callsite("a"("b":1:2) at "c":3:4))
"#;
    let m = parse(text);
    let f = m.lookup_symbol("k").unwrap();
    assert_eq!(
        m.op(f).loc,
        crate::Location::FileLineCol {
            file: "k.acc".into(),
            line: 1,
            col: 1
        }
    );
    let ops = m.walk_ops(f);
    let c0 = ops
        .iter()
        .find(|o| m.op_name(**o) == "arith.constant")
        .unwrap();
    assert_eq!(
        m.op(*c0).loc,
        crate::Location::FileLineCol {
            file: "k.acc".into(),
            line: 2,
            col: 3
        }
    );
    assert_eq!(m.name_hint(m.result(*c0, 0)), Some("c0"));
    let text2 = print_module(&m);
    assert!(
        text2.contains("%0 = affine.apply affine_map<(d0) -> (d0 * 16)>(%arg1)"),
        "{text2}"
    );
    assert!(
        text2.contains("%1, %2 = \"test.two\"() : () -> (i32, i32)"),
        "{text2}"
    );
    assert!(
        text2.contains("%3 = affine.load %arg0[%c0] : memref<16xf32>"),
        "{text2}"
    );
    assert_fixed_point(&text2);
}

//! The checked program has the promised structure: resolved ids, concrete
//! shapes, typed expressions, affine indices, grids as nested loops.

use accc_dsl::ast::{AssignOp, BinOp, ElemType};
use accc_dsl::checked::*;
use accc_ir::diag::SourceFile;

const SPEC: &str = r#"
// line comments with //, block comments /* */
const M = 512;
const K = 512;
const N = 512;

kernel gemm(A: i8[M, K], B: i8[K, N]) -> (C: i32[M, N]) {
  for i, j in grid(M, N) {
    C[i, j] = 0;
    for k in range(0, K) {
      C[i, j] += i32(A[i, k]) * i32(B[k, j]);
    }
  }
}

kernel scaled(A: i8[M, K], B: i8[K, N], scale: f32) -> (D: i8[M, N]) {
  let acc: i32[M, N];            // local tensor
  gemm(A, B, acc);
  for i, j in grid(M, N) {
    let x: f32 = f32(acc[i, j]) * scale;
    x = round(x);
    D[i, j] = i8(min(max(x, -128.0), 127.0));
  }
}

schedule tiled for gemm {
  io, ii = split(i, 16);
  jo, ji = split(j, 16, tail = guard);
  reorder(io, jo, ii, ji);
  cbuf = buffer_at(C, jo, mem = accumulator);
  pipeline(k.o, stages = 2);
  partition(A, dim = 1, kind = cyclic, factor = [4, -4]);
}
"#;

fn spec() -> Program {
    let file = SourceFile::new("spec.acc", SPEC);
    accc_dsl::parse_and_check(&file)
        .unwrap_or_else(|d| panic!("{}", accc_ir::diag::render(&file, &d)))
}

#[test]
fn signature_and_shapes_are_concrete() {
    let p = spec();
    assert_eq!(
        p.consts
            .iter()
            .map(|c| (c.name.as_str(), c.value))
            .collect::<Vec<_>>(),
        [("M", 512), ("K", 512), ("N", 512)]
    );
    let (_, gemm) = p.kernel("gemm").expect("gemm");
    let params: Vec<(&str, ElemType, &Shape, bool)> = gemm
        .params
        .iter()
        .map(|p| (p.name.as_str(), p.elem, &p.shape, p.is_output))
        .collect();
    assert_eq!(
        params,
        [
            ("A", ElemType::I8, &Shape::Tensor(vec![512, 512]), false),
            ("B", ElemType::I8, &Shape::Tensor(vec![512, 512]), false),
            ("C", ElemType::I32, &Shape::Tensor(vec![512, 512]), true),
        ]
    );
    let (_, scaled) = p.kernel("scaled").expect("scaled");
    assert_eq!(scaled.params[2].shape, Shape::Scalar);
    assert_eq!(scaled.locals[0].name, "acc");
    assert_eq!(scaled.locals[1].shape, Shape::Scalar);
    assert_eq!(scaled.callees, [KernelId(0)]);
}

#[test]
fn grid_becomes_nested_loops_with_affine_accesses() {
    let p = spec();
    let gemm = &p.kernels[0];
    let names: Vec<&str> = gemm.loop_vars.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["i", "j", "k"]);
    let [Stmt::Loop(li)] = gemm.body.as_slice() else {
        panic!("expected one loop: {:?}", gemm.body)
    };
    assert_eq!(
        (li.var, li.lo.as_constant(), li.hi.as_constant()),
        (LoopVarId(0), Some(0), Some(512))
    );
    let [Stmt::Loop(lj)] = li.body.as_slice() else {
        panic!("expected the j loop")
    };
    let [Stmt::Assign {
        op: AssignOp::Set,
        value: init,
        ..
    }, Stmt::Loop(lk)] = lj.body.as_slice()
    else {
        panic!("expected init and k loop: {:?}", lj.body)
    };
    assert!(matches!(init.kind, ExprKind::Int(0)));
    assert_eq!(init.ty, Ty::Elem(ElemType::I32));
    let [Stmt::Assign {
        target,
        op: AssignOp::Add,
        value,
        ..
    }] = lk.body.as_slice()
    else {
        panic!("expected +=")
    };
    let Place::Element {
        tensor: TensorRef::Param(ParamId(2)),
        indices,
    } = target
    else {
        panic!("expected C[..]")
    };
    assert_eq!(
        indices,
        &vec![Affine::var(LoopVarId(0)), Affine::var(LoopVarId(1))]
    );
    let ExprKind::Binary {
        op: BinOp::Mul,
        lhs,
        ..
    } = &value.kind
    else {
        panic!("expected *")
    };
    assert_eq!(value.ty, Ty::Elem(ElemType::I32));
    let ExprKind::Cast(load) = &lhs.kind else {
        panic!("expected a cast")
    };
    let ExprKind::Load {
        tensor: TensorRef::Param(ParamId(0)),
        indices,
    } = &load.kind
    else {
        panic!("expected A[..]")
    };
    assert_eq!(load.ty, Ty::Elem(ElemType::I8));
    assert_eq!(
        indices,
        &vec![Affine::var(LoopVarId(0)), Affine::var(LoopVarId(2))]
    );
}

#[test]
fn literals_take_their_context_type() {
    let p = spec();
    let (_, scaled) = p.kernel("scaled").expect("scaled");
    let Stmt::Loop(li) = &scaled.body[2] else {
        panic!("expected the grid")
    };
    let Stmt::Loop(lj) = &li.body[0] else {
        panic!("expected j")
    };
    let Stmt::Assign { value, .. } = &lj.body[2] else {
        panic!("expected the store to D")
    };
    // i8(min(max(x, -128.0), 127.0))
    let ExprKind::Cast(inner) = &value.kind else {
        panic!()
    };
    let ExprKind::Intrinsic {
        func: Intrinsic::Min,
        args,
    } = &inner.kind
    else {
        panic!()
    };
    let ExprKind::Intrinsic {
        func: Intrinsic::Max,
        args: max_args,
    } = &args[0].kind
    else {
        panic!()
    };
    assert!(matches!(max_args[1].kind, ExprKind::Float(v) if v == -128.0));
    assert_eq!(max_args[1].ty, Ty::Elem(ElemType::F32));
}

#[test]
fn affine_forms_combine_terms() {
    let file = SourceFile::new(
        "a.acc",
        "kernel k(A: f32[64]) -> (B: f32[8, 8]) {\n  for i, j in grid(4, 4) {\n    B[2 * i + 1, j] = A[(i + j) * 2 - i + 3 * j + 7];\n  }\n}",
    );
    let p = accc_dsl::parse_and_check(&file)
        .unwrap_or_else(|d| panic!("{}", accc_ir::diag::render(&file, &d)));
    let Stmt::Loop(li) = &p.kernels[0].body[0] else {
        panic!()
    };
    let Stmt::Loop(lj) = &li.body[0] else {
        panic!()
    };
    let Stmt::Assign {
        target: Place::Element { indices, .. },
        value,
        ..
    } = &lj.body[0]
    else {
        panic!()
    };
    assert_eq!(
        indices[0],
        Affine {
            constant: 1,
            terms: vec![(LoopVarId(0), 2)]
        }
    );
    let ExprKind::Load { indices, .. } = &value.kind else {
        panic!()
    };
    assert_eq!(
        indices[0],
        Affine {
            constant: 7,
            terms: vec![(LoopVarId(0), 1), (LoopVarId(1), 5)]
        }
    );
}

#[test]
fn schedules_are_recorded_with_their_kernel() {
    let p = spec();
    assert_eq!(p.schedules.len(), 1);
    let s = &p.schedules[0];
    assert_eq!((s.name.as_str(), s.kernel), ("tiled", KernelId(0)));
    let prims: Vec<&str> = s
        .steps
        .iter()
        .map(|st| st.primitive.name.as_str())
        .collect();
    assert_eq!(
        prims,
        [
            "split",
            "split",
            "reorder",
            "buffer_at",
            "pipeline",
            "partition"
        ]
    );
    let results: Vec<&str> = s.steps[0].results.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(results, ["io", "ii"]);
    let json = serde_json::to_string(&s.steps[5]).expect("serializable");
    assert!(json.contains("\"Int\":-4"), "{json}");
    let json = serde_json::to_string(&s.steps[4]).expect("serializable");
    assert!(json.contains("\"Path\""), "{json}");
}

#[test]
fn ast_json_carries_spans() {
    let file = SourceFile::new("spec.acc", SPEC);
    let ast = accc_dsl::parse(&file).expect("parses");
    let json = serde_json::to_value(&ast).expect("serializable");
    let first = &json["items"][0]["Const"];
    assert_eq!(first["name"]["name"], "M");
    let span = first["name"]["span"]
        .as_array()
        .expect("span is [start, end]");
    let start = span[0].as_u64().expect("start") as usize;
    assert_eq!(&SPEC[start..start + 1], "M");
}

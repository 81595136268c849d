//! Lowering of a checked program to the tensor IR: one `func.func` per
//! kernel, `affine.for` loops, `affine.load`/`affine.store` accesses, `arith`
//! and `math` for expressions, `memref.alloc`/`alloca` for locals and
//! `func.call` for kernel composition.
//!
//! Names survive lowering so that schedules can refer to them: each loop has
//! a `loop_name` attribute (its variable's name) and the outermost loop of
//! each nest an `op_name` (`S_` and the names of its perfect nest, made
//! unique within the kernel); function arguments carry `accc.name`,
//! `accc.dtype` (the source element type, since IR integers are signless)
//! and, for outputs, `accc.output`; local allocations carry `name`. Every op
//! is located at the source text it came from.
//!
//! The result always passes [`accc_ir::verify_module`]; if it does not, that
//! is a bug in this file, reported as an internal-error diagnostic.

use crate::ast::{AssignOp, BinOp, ElemType};
use crate::checked::{
    Affine, CallArg, Expr, ExprKind, Intrinsic, Kernel, KernelId, LocalId, Loop, LoopVarId, Place,
    Program, Shape, Stmt, TensorRef, Ty,
};
use accc_ir::diag::{Diagnostic, SourceFile, Span};
use accc_ir::dialects::{affine, arith, func, math, memref};
use accc_ir::{AffineExpr, AffineMap, Attribute, Builder, Location, Module, Type, Value};
use std::collections::{BTreeSet, HashMap};

/// The IR element type of a source element type (integers are signless).
pub fn ir_type(elem: ElemType) -> Type {
    match elem {
        ElemType::I8 | ElemType::U8 => Type::Int(8),
        ElemType::I16 | ElemType::U16 => Type::Int(16),
        ElemType::I32 | ElemType::U32 => Type::Int(32),
        ElemType::I64 => Type::Int(64),
        ElemType::F16 => Type::F16,
        ElemType::BF16 => Type::BF16,
        ElemType::F32 => Type::F32,
    }
}

fn shape_type(elem: ElemType, shape: &Shape) -> Type {
    match shape {
        Shape::Scalar => ir_type(elem),
        Shape::Tensor(dims) => Type::memref(dims.clone(), ir_type(elem), None),
    }
}

/// Lowers the kernels of `program` to a verified module: all of them, or
/// only `kernel` and the kernels it calls (transitively).
pub fn lower_program(
    file: &SourceFile,
    program: &Program,
    kernel: Option<&str>,
) -> Result<Module, Vec<Diagnostic>> {
    let selected: BTreeSet<KernelId> = match kernel {
        None => (0..program.kernels.len())
            .map(|i| KernelId(i as u32))
            .collect(),
        Some(name) => {
            let Some((id, _)) = program.kernel(name) else {
                let known: Vec<&str> = program.kernels.iter().map(|k| k.name.as_str()).collect();
                return Err(vec![Diagnostic::error(format!(
                    "no kernel named `{name}` in {}",
                    file.name()
                ))
                .with_primary(Span::new(0, 0), "")
                .with_hint(format!("kernels in this file: {}", known.join(", ")))]);
            };
            let mut set = BTreeSet::new();
            let mut stack = vec![id];
            while let Some(k) = stack.pop() {
                if set.insert(k) {
                    stack.extend(program.kernels[k.index()].callees.iter().copied());
                }
            }
            set
        }
    };
    let mut module = Module::new();
    for id in selected {
        let kernel = &program.kernels[id.index()];
        KernelLowering::new(file, program, kernel, &mut module).lower();
    }
    if let Err(errors) = accc_ir::verify_module(&module) {
        let diagnostics = errors
            .into_iter()
            .map(|e| {
                Diagnostic::error(format!("internal error: lowering produced invalid IR: {e}"))
                    .with_primary(Span::new(0, 0), "")
                    .with_hint("this is a bug in accc; please report it with this file")
            })
            .collect();
        return Err(diagnostics);
    }
    Ok(module)
}

struct KernelLowering<'a> {
    file: &'a SourceFile,
    program: &'a Program,
    kernel: &'a Kernel,
    module: &'a mut Module,
    params: Vec<Value>,
    locals: HashMap<LocalId, Value>,
    ivs: HashMap<LoopVarId, Value>,
    op_names: HashMap<String, usize>,
}

impl<'a> KernelLowering<'a> {
    fn new(
        file: &'a SourceFile,
        program: &'a Program,
        kernel: &'a Kernel,
        module: &'a mut Module,
    ) -> Self {
        KernelLowering {
            file,
            program,
            kernel,
            module,
            params: vec![],
            locals: HashMap::new(),
            ivs: HashMap::new(),
            op_names: HashMap::new(),
        }
    }

    fn loc(&self, span: Span) -> Location {
        let (line, col) = self.file.line_col(span.start as usize);
        Location::FileLineCol {
            file: self.file.name().to_string(),
            line: line as u32,
            col: col as u32,
        }
    }

    fn lower(mut self) {
        let kernel = self.kernel;
        let inputs: Vec<Type> = kernel
            .params
            .iter()
            .map(|p| shape_type(p.elem, &p.shape))
            .collect();
        let (f, entry) = func::build_func(self.module, &kernel.name, inputs, vec![]);
        self.module.op_mut(f).loc = self.loc(kernel.span);
        for (i, p) in kernel.params.iter().enumerate() {
            func::set_arg_attr(self.module, f, i, "accc.name", Attribute::string(&p.name));
            func::set_arg_attr(
                self.module,
                f,
                i,
                "accc.dtype",
                Attribute::string(p.elem.name()),
            );
            if p.is_output {
                func::set_arg_attr(self.module, f, i, "accc.output", Attribute::Unit);
            }
            let v = self.module.block_args(entry)[i];
            self.module.set_name_hint(v, &p.name);
            self.params.push(v);
        }
        let loc = self.loc(kernel.span);
        let mut b = Builder::at_end(self.module, entry);
        b.set_loc(loc);
        let ret = func::build_return(&mut b, &[]);
        self.lower_block(&kernel.body, ret, true);
    }

    /// Lowers statements before `anchor` (a block's terminator), then frees
    /// the tensors the statements allocated.
    fn lower_block(&mut self, stmts: &[Stmt], anchor: accc_ir::Op, top_level: bool) {
        let mut allocated = vec![];
        for stmt in stmts {
            self.lower_stmt(stmt, anchor, top_level, &mut allocated);
        }
        for (v, span) in allocated.into_iter().rev() {
            let mut b = self.builder_before(anchor, span);
            memref::build_dealloc(&mut b, v);
        }
    }

    fn builder_before(&mut self, anchor: accc_ir::Op, span: Span) -> Builder<'_> {
        let loc = self.loc(span);
        let mut b = Builder::before(self.module, anchor)
            .expect("the anchor is a terminator inside a block");
        b.set_loc(loc);
        b
    }

    fn lower_stmt(
        &mut self,
        stmt: &Stmt,
        anchor: accc_ir::Op,
        top_level: bool,
        allocated: &mut Vec<(Value, Span)>,
    ) {
        match stmt {
            Stmt::Loop(lp) => self.lower_loop(lp, anchor, top_level),
            Stmt::Let { local, init, span } => {
                let Some(l) = self.kernel.local(*local) else {
                    return;
                };
                let (elem, shape, name) = (l.elem, l.shape.clone(), l.name.clone());
                let init_value = init.as_ref().map(|e| self.lower_expr(e, anchor));
                let mut b = self.builder_before(anchor, *span);
                let v = match shape {
                    Shape::Tensor(dims) => {
                        let v = memref::build_alloc(
                            &mut b,
                            Type::memref(dims, ir_type(elem), None),
                            false,
                        );
                        allocated.push((v, *span));
                        v
                    }
                    Shape::Scalar => {
                        memref::build_alloc(&mut b, Type::memref(vec![], ir_type(elem), None), true)
                    }
                };
                if let Some(op) = b.module.defining_op(v) {
                    b.module.set_attr(op, "name", Attribute::string(&name));
                }
                b.module.set_name_hint(v, &name);
                if let Some(init_value) = init_value {
                    affine::build_store(&mut b, init_value, v, AffineMap::new(0, 0, vec![]), &[]);
                }
                self.locals.insert(*local, v);
            }
            Stmt::Assign {
                target,
                op,
                value,
                span,
            } => {
                let rhs = self.lower_expr(value, anchor);
                let (memref, map, operands) = match target {
                    Place::Element { tensor, indices } => {
                        let (map, operands) = self.access_map(indices);
                        (self.tensor_value(*tensor), map, operands)
                    }
                    Place::Scalar(local) => {
                        (self.locals[local], AffineMap::new(0, 0, vec![]), vec![])
                    }
                };
                let elem = match value.ty {
                    Ty::Elem(e) => e,
                    _ => ElemType::I64,
                };
                let mut b = self.builder_before(anchor, *span);
                let stored = match op {
                    AssignOp::Set => rhs,
                    _ => {
                        let old = affine::build_load(&mut b, memref, map.clone(), &operands);
                        let name = match op {
                            AssignOp::Add => arith_name(elem, "addi", "addi", "addf"),
                            AssignOp::Sub => arith_name(elem, "subi", "subi", "subf"),
                            AssignOp::Mul => arith_name(elem, "muli", "muli", "mulf"),
                            AssignOp::Max => arith_name(elem, "maxsi", "maxui", "maximumf"),
                            AssignOp::Min => arith_name(elem, "minsi", "minui", "minimumf"),
                            AssignOp::Set => unreachable!("handled above"),
                        };
                        arith::build_binary(&mut b, name, old, rhs)
                    }
                };
                affine::build_store(&mut b, stored, memref, map, &operands);
            }
            Stmt::Call { callee, args, span } => {
                let values: Vec<Value> = args
                    .iter()
                    .map(|a| match a {
                        CallArg::Tensor(t) => self.tensor_value(*t),
                        CallArg::Scalar(e) => self.lower_expr(e, anchor),
                    })
                    .collect();
                let name = self.program.kernels[callee.index()].name.clone();
                let mut b = self.builder_before(anchor, *span);
                func::build_call(&mut b, &name, &values, vec![]);
            }
        }
    }

    fn lower_loop(&mut self, lp: &Loop, anchor: accc_ir::Op, outermost: bool) {
        let lower = self.bound(&lp.lo);
        let upper = self.bound(&lp.hi);
        let name = self
            .kernel
            .loop_var(lp.var)
            .map(|v| v.name.clone())
            .unwrap_or_default();
        let mut b = self.builder_before(anchor, lp.span);
        let (op, iv, body) = affine::build_for(&mut b, lower, upper, 1);
        b.module.set_attr(op, "loop_name", Attribute::string(&name));
        b.module.set_name_hint(iv, &name);
        if outermost {
            let stage = self.stage_name(lp);
            self.module
                .set_attr(op, "op_name", Attribute::string(stage));
        }
        self.ivs.insert(lp.var, iv);
        let yield_op = self
            .module
            .block_terminator(body)
            .expect("affine.for bodies are built with a yield");
        self.lower_block(&lp.body, yield_op, false);
    }

    /// `S_` followed by the loop names of the perfect nest starting at `lp`,
    /// with a numeric suffix when the kernel already has that name.
    fn stage_name(&mut self, lp: &Loop) -> String {
        let mut names = vec![];
        let mut cur = lp;
        loop {
            names.push(
                self.kernel
                    .loop_var(cur.var)
                    .map(|v| v.name.clone())
                    .unwrap_or_default(),
            );
            match cur.body.as_slice() {
                [Stmt::Loop(inner)] => cur = inner,
                _ => break,
            }
        }
        let base = format!("S_{}", names.join("_"));
        let count = self.op_names.entry(base.clone()).or_insert(0);
        *count += 1;
        if *count == 1 {
            base
        } else {
            format!("{base}_{}", *count - 1)
        }
    }

    fn tensor_value(&self, t: TensorRef) -> Value {
        match t {
            TensorRef::Param(p) => self.params[p.index()],
            TensorRef::Local(l) => self.locals[&l],
        }
    }

    /// The loop variables the forms use, numbered as dims in order of first
    /// appearance (the order in which MLIR's parser numbers the SSA names of
    /// the pretty form `%A[%k, %j]`, so printing it loses nothing), and the
    /// induction variables to pass as the map's operands.
    fn affine_operands(&self, forms: &[&Affine]) -> (Vec<LoopVarId>, Vec<Value>) {
        let mut vars: Vec<LoopVarId> = vec![];
        for (var, _) in forms.iter().flat_map(|f| f.terms.iter()) {
            if !vars.contains(var) {
                vars.push(*var);
            }
        }
        let operands = vars.iter().map(|v| self.ivs[v]).collect();
        (vars, operands)
    }

    fn affine_expr(form: &Affine, vars: &[LoopVarId]) -> AffineExpr {
        let terms = form.terms.iter().map(|(var, coeff)| {
            (
                AffineExpr::Dim(vars.iter().position(|v| v == var).unwrap_or(0) as u32),
                *coeff,
            )
        });
        AffineExpr::linear_combination(terms, form.constant)
    }

    fn access_map(&self, indices: &[Affine]) -> (AffineMap, Vec<Value>) {
        let forms: Vec<&Affine> = indices.iter().collect();
        let (vars, operands) = self.affine_operands(&forms);
        let results = indices
            .iter()
            .map(|f| Self::affine_expr(f, &vars))
            .collect();
        (AffineMap::new(vars.len() as u32, 0, results), operands)
    }

    fn bound(&self, form: &Affine) -> affine::Bound {
        let (map, operands) = self.access_map(std::slice::from_ref(form));
        affine::Bound { map, operands }
    }

    fn lower_expr(&mut self, e: &Expr, anchor: accc_ir::Op) -> Value {
        match &e.kind {
            ExprKind::ScalarParam(p) => return self.params[p.index()],
            ExprKind::LoopVar(v) => return self.ivs[v],
            _ => {}
        }
        // Operands first (they insert before the anchor too), then this op.
        let lowered: Vec<Value> = match &e.kind {
            ExprKind::Neg(x) | ExprKind::Cast(x) => vec![self.lower_expr(x, anchor)],
            ExprKind::Binary { lhs, rhs, .. } => {
                vec![self.lower_expr(lhs, anchor), self.lower_expr(rhs, anchor)]
            }
            ExprKind::Intrinsic { args, .. } => {
                args.iter().map(|a| self.lower_expr(a, anchor)).collect()
            }
            _ => vec![],
        };
        let load_info = match &e.kind {
            ExprKind::Load { tensor, indices } => {
                let (map, operands) = self.access_map(indices);
                Some((self.tensor_value(*tensor), map, operands))
            }
            ExprKind::ScalarLocal(l) => {
                Some((self.locals[l], AffineMap::new(0, 0, vec![]), vec![]))
            }
            _ => None,
        };
        let operand_ty = match &e.kind {
            ExprKind::Binary { lhs, .. } => lhs.ty,
            ExprKind::Cast(x) => x.ty,
            ExprKind::Intrinsic {
                func: Intrinsic::Select,
                args,
            } => args.get(1).map_or(e.ty, |a| a.ty),
            _ => e.ty,
        };
        let mut b = self.builder_before(anchor, e.span);
        match &e.kind {
            ExprKind::Int(v) => arith::build_constant(&mut b, Attribute::int(*v, ty_to_ir(e.ty))),
            ExprKind::Float(v) => {
                arith::build_constant(&mut b, Attribute::float(round_to(*v, e.ty), ty_to_ir(e.ty)))
            }
            ExprKind::Load { .. } | ExprKind::ScalarLocal(_) => {
                let (memref, map, operands) = load_info.expect("computed above for loads");
                affine::build_load(&mut b, memref, map, &operands)
            }
            ExprKind::Neg(_) => {
                if is_float(e.ty) {
                    b.insert_value(
                        accc_ir::OpSpec::new("arith.negf")
                            .operands([lowered[0]])
                            .results([ty_to_ir(e.ty)]),
                    )
                } else {
                    let zero = arith::build_constant(&mut b, Attribute::int(0, ty_to_ir(e.ty)));
                    arith::build_binary(&mut b, "subi", zero, lowered[0])
                }
            }
            ExprKind::Binary { op, .. } => {
                lower_binary(&mut b, *op, operand_ty, lowered[0], lowered[1])
            }
            ExprKind::Intrinsic { func, .. } => lower_intrinsic(&mut b, *func, e.ty, &lowered),
            ExprKind::Cast(_) => lower_cast(&mut b, operand_ty, e.ty, lowered[0]),
            ExprKind::ScalarParam(_) | ExprKind::LoopVar(_) => unreachable!("returned early"),
        }
    }
}

fn is_float(ty: Ty) -> bool {
    matches!(ty, Ty::Elem(e) if e.is_float())
}

fn is_unsigned(ty: Ty) -> bool {
    matches!(ty, Ty::Elem(e) if e.is_int() && !e.is_signed())
}

fn ty_to_ir(ty: Ty) -> Type {
    match ty {
        Ty::Elem(e) => ir_type(e),
        Ty::Index => Type::Index,
        Ty::Bool => Type::i1(),
    }
}

/// Float constants are stored at the precision of their type, so the
/// printed constant is exactly the value the kernel computes with.
fn round_to(v: f64, ty: Ty) -> f64 {
    match ty {
        Ty::Elem(ElemType::F32) => v as f32 as f64,
        Ty::Elem(ElemType::F16) => f16_round(v),
        Ty::Elem(ElemType::BF16) => bf16_round(v),
        _ => v,
    }
}

/// Rounds to the nearest f16 value (ties to even), via f32.
fn f16_round(v: f64) -> f64 {
    let x = v as f32;
    if !x.is_finite() || x == 0.0 {
        return x as f64;
    }
    let a = x.abs();
    if a >= 65520.0 {
        return f64::INFINITY.copysign(v);
    }
    // Quantum of f16 at this magnitude: 2^(e-10), with subnormals at 2^-24.
    let e = a.log2().floor().max(-14.0);
    let quantum = 2f64.powf(f64::from(e) - 10.0);
    let q = (a as f64 / quantum).round_ties_even() * quantum;
    q.copysign(v)
}

/// Rounds to the nearest bf16 value (ties to even).
fn bf16_round(v: f64) -> f64 {
    let x = v as f32;
    if x.is_nan() {
        return x as f64;
    }
    let bits = x.to_bits();
    let lsb = (bits >> 16) & 1;
    let rounded = bits.wrapping_add(0x7FFF + lsb) & 0xFFFF_0000;
    f32::from_bits(rounded) as f64
}

fn arith_name(
    elem: ElemType,
    signed: &'static str,
    unsigned: &'static str,
    float: &'static str,
) -> &'static str {
    if elem.is_float() {
        float
    } else if elem.is_signed() {
        signed
    } else {
        unsigned
    }
}

fn lower_binary(b: &mut Builder, op: BinOp, ty: Ty, lhs: Value, rhs: Value) -> Value {
    let (float, unsigned) = (is_float(ty), is_unsigned(ty));
    let pick = |s: &'static str, u: &'static str, f: &'static str| {
        if float {
            f
        } else if unsigned {
            u
        } else {
            s
        }
    };
    match op {
        BinOp::Add => arith::build_binary(b, pick("addi", "addi", "addf"), lhs, rhs),
        BinOp::Sub => arith::build_binary(b, pick("subi", "subi", "subf"), lhs, rhs),
        BinOp::Mul => arith::build_binary(b, pick("muli", "muli", "mulf"), lhs, rhs),
        BinOp::Div => arith::build_binary(b, pick("divsi", "divui", "divf"), lhs, rhs),
        BinOp::Rem => arith::build_binary(b, pick("remsi", "remui", "remf"), lhs, rhs),
        cmp => {
            let (s, u, f) = match cmp {
                BinOp::Eq => ("eq", "eq", "oeq"),
                BinOp::Ne => ("ne", "ne", "une"),
                BinOp::Lt => ("slt", "ult", "olt"),
                BinOp::Le => ("sle", "ule", "ole"),
                BinOp::Gt => ("sgt", "ugt", "ogt"),
                _ => ("sge", "uge", "oge"),
            };
            if float {
                arith::build_cmpf(b, f, lhs, rhs)
            } else {
                arith::build_cmpi(b, pick(s, u, f), lhs, rhs)
            }
        }
    }
}

fn lower_intrinsic(b: &mut Builder, func: Intrinsic, ty: Ty, args: &[Value]) -> Value {
    let (float, unsigned) = (is_float(ty), is_unsigned(ty));
    let pick = |s: &'static str, u: &'static str, f: &'static str| {
        if float {
            f
        } else if unsigned {
            u
        } else {
            s
        }
    };
    match func {
        Intrinsic::Min => {
            arith::build_binary(b, pick("minsi", "minui", "minimumf"), args[0], args[1])
        }
        Intrinsic::Max => {
            arith::build_binary(b, pick("maxsi", "maxui", "maximumf"), args[0], args[1])
        }
        Intrinsic::Relu => {
            let zero = if float {
                arith::build_constant(b, Attribute::float(0.0, ty_to_ir(ty)))
            } else {
                arith::build_constant(b, Attribute::int(0, ty_to_ir(ty)))
            };
            arith::build_binary(b, pick("maxsi", "maxui", "maximumf"), args[0], zero)
        }
        // |x| of an unsigned value is the value itself.
        Intrinsic::Abs if unsigned => args[0],
        Intrinsic::Abs => math::build_unary(b, if float { "absf" } else { "absi" }, args[0]),
        Intrinsic::Exp => math::build_unary(b, "exp", args[0]),
        Intrinsic::Log => math::build_unary(b, "log", args[0]),
        Intrinsic::Sqrt => math::build_unary(b, "sqrt", args[0]),
        Intrinsic::Rsqrt => math::build_unary(b, "rsqrt", args[0]),
        Intrinsic::Tanh => math::build_unary(b, "tanh", args[0]),
        Intrinsic::Round => math::build_unary(b, "roundeven", args[0]),
        Intrinsic::Select => arith::build_select(b, args[0], args[1], args[2]),
    }
}

/// Conversions between element types and index, following the source's
/// signedness when widening or converting from an integer, and the target's
/// when converting to an integer.
fn lower_cast(b: &mut Builder, from: Ty, to: Ty, v: Value) -> Value {
    let (from_ir, to_ir) = (ty_to_ir(from), ty_to_ir(to));
    if from_ir == to_ir {
        return v;
    }
    match (from, to) {
        (Ty::Index, Ty::Elem(e)) if e.is_float() => {
            let wide = arith::build_cast(b, "index_cast", v, Type::Int(64));
            arith::build_cast(b, "sitofp", wide, to_ir)
        }
        (Ty::Index, _) => arith::build_cast(b, "index_cast", v, to_ir),
        (Ty::Elem(e), Ty::Index) if e.is_float() => {
            let wide = arith::build_cast(b, "fptosi", v, Type::Int(64));
            arith::build_cast(b, "index_cast", wide, Type::Index)
        }
        (Ty::Elem(e), Ty::Index) => arith::build_cast(
            b,
            if e.is_signed() {
                "index_cast"
            } else {
                "index_castui"
            },
            v,
            Type::Index,
        ),
        (Ty::Elem(fe), Ty::Elem(te)) => {
            match (fe.is_float(), te.is_float()) {
                (false, false) => {
                    let name = if te.bits() < fe.bits() {
                        "trunci"
                    } else if fe.is_signed() {
                        "extsi"
                    } else {
                        "extui"
                    };
                    arith::build_cast(b, name, v, to_ir)
                }
                (false, true) => arith::build_cast(
                    b,
                    if fe.is_signed() { "sitofp" } else { "uitofp" },
                    v,
                    to_ir,
                ),
                (true, false) => arith::build_cast(
                    b,
                    if te.is_signed() { "fptosi" } else { "fptoui" },
                    v,
                    to_ir,
                ),
                (true, true) => {
                    if fe.bits() == te.bits() {
                        // f16 <-> bf16: through f32, which holds both exactly.
                        let wide = arith::build_cast(b, "extf", v, Type::F32);
                        arith::build_cast(b, "truncf", wide, to_ir)
                    } else if te.bits() > fe.bits() {
                        arith::build_cast(b, "extf", v, to_ir)
                    } else {
                        arith::build_cast(b, "truncf", v, to_ir)
                    }
                }
            }
        }
        (Ty::Bool, _) | (_, Ty::Bool) => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduced_precision_constants_round_to_nearest_even() {
        assert_eq!(f16_round(1.0 + 1.0 / 4096.0), 1.0);
        assert_eq!(f16_round(65504.0), 65504.0);
        assert_eq!(f16_round(1e6), f64::INFINITY);
        assert_eq!(bf16_round(1.0 + 1.0 / 512.0), 1.0);
        assert_eq!(bf16_round(3.0), 3.0);
    }
}

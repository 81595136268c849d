//! Random modules built through the builder API, for property tests.
//!
//! Every random choice is read from a [`Tape`] of numbers, so proptest
//! shrinks a failing module by shrinking its tape (an exhausted tape reads
//! as zeros, which always means "stop here": no more statements, no more
//! nesting). Modules are valid by construction; [`GenConfig::mlir`]
//! restricts them to what `mlir-opt` 19 accepts (value ranges, valid affine
//! dims and symbols, no unregistered ops unless asked).

use crate::affine::{AffineExpr, AffineMap, IntegerSet};
use crate::attrs::Attribute;
use crate::builder::Builder;
use crate::dialects::{affine, arith, func, math, memref, scf};
use crate::entity::{Block, Op, Value};
use crate::module::{Location, Module, OpSpec};
use crate::types::{MemorySpace, Type};
use std::collections::BTreeMap;

pub(crate) struct Tape {
    data: Vec<u32>,
    pos: usize,
}

impl Tape {
    pub(crate) fn new(data: Vec<u32>) -> Tape {
        Tape { data, pos: 0 }
    }
    /// A tape of pseudo-random numbers from a seed (for fixed samples).
    pub(crate) fn from_seed(seed: u64, len: usize) -> Tape {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
        let data = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u32
            })
            .collect();
        Tape::new(data)
    }
    fn next(&mut self) -> u32 {
        let v = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        v
    }
    /// In `0..n` (0 when `n` is 0 or the tape is exhausted).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            self.next() as usize % n
        }
    }
    /// True with roughly `pct` percent; false on an exhausted tape.
    fn chance(&mut self, pct: u32) -> bool {
        self.next() % 100 >= 100 - pct.min(100)
    }
    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as usize) as i64
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct GenConfig {
    /// Only what `mlir-opt` accepts.
    pub mlir: bool,
    /// Ops and types of unregistered dialects (`"gemmini.*"`, `!gemmini.*`).
    pub unregistered: bool,
}

impl GenConfig {
    pub(crate) fn any() -> GenConfig {
        GenConfig {
            mlir: false,
            unregistered: true,
        }
    }
}

/// Values in scope while generating a block.
#[derive(Clone, Default)]
struct Env {
    values: Vec<Value>,
    /// Induction variables of enclosing `affine.for`s: valid affine dims.
    affine_ivs: Vec<Value>,
    /// `index` function arguments: valid affine symbols.
    syms: Vec<Value>,
    memrefs: Vec<Value>,
}

const HINTS: [&str; 20] = [
    "A", "B", "C", "i", "j", "k", "acc", "x", "tmp", "c0", "0", "arg1", "a b", "x.y", "_", "$t",
    "-z", "é", "i_1", "sum",
];
const ELEM_TYPES: [Type; 8] = [
    Type::Int(8),
    Type::Int(16),
    Type::Int(32),
    Type::Int(64),
    Type::F16,
    Type::BF16,
    Type::F32,
    Type::F64,
];
const SCALAR_TYPES: [Type; 10] = [
    Type::Int(1),
    Type::Int(8),
    Type::Int(16),
    Type::Int(32),
    Type::Int(64),
    Type::Index,
    Type::F16,
    Type::BF16,
    Type::F32,
    Type::F64,
];

pub(crate) struct Gen<'t> {
    t: &'t mut Tape,
    cfg: GenConfig,
    m: Module,
    /// `@helper(i32) -> i32`, when generated, for `func.call`.
    helper: bool,
    loop_counter: usize,
}

fn bld(m: &mut Module, block: Block, before_terminator: bool) -> Builder<'_> {
    if before_terminator {
        Builder::before_terminator(m, block)
    } else {
        Builder::at_end(m, block)
    }
}

pub(crate) fn gen_module(t: &mut Tape, cfg: GenConfig) -> Module {
    let mut g = Gen {
        t,
        cfg,
        m: Module::new(),
        helper: false,
        loop_counter: 0,
    };
    g.module();
    g.m
}

impl Gen<'_> {
    fn module(&mut self) {
        if self.t.chance(20) {
            let a = self.attr(2);
            let top = self.m.top();
            self.m.set_attr(top, "accc.target", a);
        }
        if self.t.chance(40) {
            let (_, entry) = func::build_func(
                &mut self.m,
                "helper",
                vec![Type::Int(32)],
                vec![Type::Int(32)],
            );
            let x = self.m.block_args(entry)[0];
            func::build_return(&mut Builder::at_end(&mut self.m, entry), &[x]);
            self.helper = true;
        }
        let n = 1 + self.t.below(3);
        for i in 0..n {
            self.function(i);
        }
        self.decorate();
    }

    fn function(&mut self, index: usize) {
        let mut inputs = vec![];
        for _ in 0..1 + self.t.below(3) {
            inputs.push(self.memref_type());
        }
        for _ in 0..self.t.below(3) {
            inputs.push(
                self.t
                    .pick(&[Type::Index, Type::Int(32), Type::F32, Type::Index]),
            );
        }
        let name = if self.t.chance(10) {
            format!("k {index}")
        } else {
            format!("kernel{index}")
        };
        let scalar_args: Vec<Type> = inputs.iter().filter(|t| t.is_scalar()).cloned().collect();
        let results = if !scalar_args.is_empty() && self.t.chance(40) {
            vec![self.t.pick(&scalar_args)]
        } else {
            vec![]
        };
        let (f, entry) = func::build_func(&mut self.m, &name, inputs.clone(), results.clone());
        for (i, ty) in inputs.iter().enumerate() {
            if self.t.chance(50) {
                func::set_arg_attr(
                    &mut self.m,
                    f,
                    i,
                    "accc.name",
                    Attribute::string(format!("a{i}")),
                );
            }
            if ty.as_memref().is_some() && self.t.chance(30) {
                func::set_arg_attr(&mut self.m, f, i, "accc.output", Attribute::Unit);
            }
            if self.t.chance(20) {
                func::set_arg_attr(&mut self.m, f, i, "accc.dtype", Attribute::string("int8"));
            }
        }
        if self.t.chance(15) {
            self.m.set_attr(f, "accc.kernel", Attribute::Unit);
        }
        let mut env = Env::default();
        for &a in self.m.block_args(entry) {
            match self.m.value_type(a) {
                Type::MemRef(_) => env.memrefs.push(a),
                Type::Index => {
                    env.syms.push(a);
                    env.values.push(a);
                }
                _ => env.values.push(a),
            }
        }
        self.stmts(entry, false, &mut env, 0, false);
        let ret: Vec<Value> = results
            .iter()
            .map(|t| self.value_of(entry, false, &mut env, t))
            .collect();
        func::build_return(&mut Builder::at_end(&mut self.m, entry), &ret);
    }

    fn memref_type(&mut self) -> Type {
        let rank = self.t.below(4);
        let shape = (0..rank)
            .map(|_| self.t.pick(&[1, 2, 3, 4, 8, 16, 512]))
            .collect();
        let elem = self.t.pick(&ELEM_TYPES);
        let space = match self.t.below(4) {
            0 => Some(MemorySpace::Int(self.t.range(1, 5) as u64)),
            1 => Some(MemorySpace::Name(
                self.t
                    .pick(&["scratchpad", "accumulator", "sbuf", "shared"])
                    .to_string(),
            )),
            _ => None,
        };
        Type::memref(shape, elem, space)
    }

    /// Names, locations and extra attributes over the finished module.
    fn decorate(&mut self) {
        let ops = self.m.walk_ops(self.m.top());
        for op in ops {
            if self.t.chance(60) {
                let loc = Location::FileLineCol {
                    file: self
                        .t
                        .pick(&["k.acc", "dir/x y.acc", "q\"uote.acc"])
                        .to_string(),
                    line: self.t.range(1, 300) as u32,
                    col: self.t.range(1, 80) as u32,
                };
                self.m.op_mut(op).loc = loc;
            }
            for r in self.m.results(op).to_vec() {
                if self.t.chance(50) {
                    let h = self.t.pick(&HINTS);
                    self.m.set_name_hint(r, h);
                }
            }
            for region in self.m.op_regions(op).to_vec() {
                for b in self.m.region_blocks(region).to_vec() {
                    for a in self.m.block_args(b).to_vec() {
                        if self.t.chance(50) {
                            let h = self.t.pick(&HINTS);
                            self.m.set_name_hint(a, h);
                        }
                    }
                }
            }
            let name = self.m.op_name(op).to_string();
            let extendable = !matches!(name.as_str(), "builtin.module" | "func.func")
                && (name.starts_with("arith.")
                    || name.starts_with("affine.")
                    || name.starts_with("memref.")
                    || name.starts_with("scf."));
            if extendable && self.t.chance(8) {
                let a = self.attr(2);
                self.m.set_attr(op, "accc.tag", a);
            }
        }
    }

    // ----- statements -------------------------------------------------------------

    fn stmts(&mut self, block: Block, bt: bool, env: &mut Env, depth: u32, in_unknown: bool) {
        let n = self.t.below(if depth == 0 { 9 } else { 5 });
        for _ in 0..n {
            self.stmt(block, bt, env, depth, in_unknown);
        }
    }

    fn stmt(&mut self, block: Block, bt: bool, env: &mut Env, depth: u32, in_unknown: bool) {
        let nest = depth < 3;
        let kind = self.t.below(17);
        match kind {
            0 | 1 if nest && !in_unknown => self.affine_for(block, bt, env, depth),
            2 if nest && !in_unknown => self.affine_if(block, bt, env, depth),
            3 | 4 if !in_unknown => self.affine_access(block, bt, env),
            5 => self.binary(block, bt, env),
            6 => self.cast(block, bt, env),
            7 => self.compare_select(block, bt, env),
            8 => {
                let ty = self.t.pick(&SCALAR_TYPES);
                let v = self.constant(block, bt, &ty);
                env.values.push(v);
            }
            9 => self.math(block, bt, env),
            10 if !in_unknown => self.memref_ops(block, bt, env),
            11 if nest => self.scf_for(block, bt, env, depth, in_unknown),
            12 if nest => self.scf_if(block, bt, env, depth, in_unknown),
            // (MLIR treats an unregistered op as a possible symbol table, so a
            // call inside one would not find `@helper`.)
            13 if self.helper && !in_unknown => {
                let x = self.value_of(block, bt, env, &Type::Int(32));
                let call = func::build_call(
                    &mut bld(&mut self.m, block, bt),
                    "helper",
                    &[x],
                    vec![Type::Int(32)],
                );
                let r = self.m.result(call, 0);
                env.values.push(r);
            }
            14 | 15 if self.cfg.unregistered => self.unknown_op(block, bt, env, depth),
            16 if !in_unknown => {
                let n = 1 + self.t.below(2);
                let map = self.affine_map(env.affine_ivs.len(), env.syms.len().min(1), n);
                let operands = self.map_operands(&map, env);
                let name = self.t.pick(&["affine.apply", "affine.min", "affine.max"]);
                let map = if name == "affine.apply" {
                    AffineMap::new(map.num_dims, map.num_syms, vec![map.results[0].clone()])
                } else {
                    map
                };
                let v = bld(&mut self.m, block, bt).insert_value(
                    OpSpec::new(name)
                        .operands(operands)
                        .attr("map", Attribute::AffineMap(map))
                        .results([Type::Index]),
                );
                env.values.push(v);
            }
            _ => {}
        }
    }

    /// A value of type `ty` in scope, or a new constant.
    fn value_of(&mut self, block: Block, bt: bool, env: &mut Env, ty: &Type) -> Value {
        let candidates: Vec<Value> = env
            .values
            .iter()
            .copied()
            .filter(|v| self.m.value_type(*v) == ty)
            .collect();
        if !candidates.is_empty() && self.t.chance(75) {
            return self.t.pick(&candidates);
        }
        let v = self.constant(block, bt, ty);
        env.values.push(v);
        v
    }

    fn scalar_in_scope(
        &mut self,
        block: Block,
        bt: bool,
        env: &mut Env,
        pred: fn(&Type) -> bool,
    ) -> Value {
        let candidates: Vec<Value> = env
            .values
            .iter()
            .copied()
            .filter(|v| pred(self.m.value_type(*v)))
            .collect();
        if !candidates.is_empty() && self.t.chance(80) {
            return self.t.pick(&candidates);
        }
        let types: Vec<Type> = SCALAR_TYPES.iter().filter(|t| pred(t)).cloned().collect();
        let ty = self.t.pick(&types);
        let v = self.constant(block, bt, &ty);
        env.values.push(v);
        v
    }

    fn int_value(&mut self, ty: &Type) -> i64 {
        match ty {
            Type::Int(1) => self.t.range(0, 1),
            Type::Int(w) => {
                let w = *w;
                let (lo, hi) = if w >= 64 {
                    (i64::MIN, i64::MAX)
                } else {
                    (-(1i64 << (w - 1)), (1i64 << (w - 1)) - 1)
                };
                match self.t.below(5) {
                    0 => lo,
                    1 => hi,
                    _ => self.t.range(-20, 20),
                }
            }
            _ => match self.t.below(4) {
                0 => -(1 << 40),
                _ => self.t.range(-20, 600),
            },
        }
    }

    fn float_value(&mut self, ty: &Type) -> f64 {
        let mut choices = vec![
            0.0,
            -0.0,
            1.0,
            -2.5,
            0.1,
            1e-3,
            3.75,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -f64::NAN,
            65504.0,
        ];
        if !self.cfg.mlir || !matches!(ty, Type::F16) {
            choices.push(3.0e38);
        }
        if !self.cfg.mlir || *ty == Type::F64 {
            choices.extend([1e300, -4.9e-324]);
        }
        self.t.pick(&choices)
    }

    fn constant(&mut self, block: Block, bt: bool, ty: &Type) -> Value {
        let value = if ty.is_float() {
            Attribute::float(self.float_value(ty), ty.clone())
        } else if *ty == Type::Int(1) && self.t.chance(50) {
            Attribute::Bool(self.t.chance(50))
        } else {
            Attribute::int(self.int_value(ty), ty.clone())
        };
        // Not `arith::build_constant`: it gives a boolean constant an
        // `index` result.
        bld(&mut self.m, block, bt).insert_value(
            OpSpec::new("arith.constant")
                .attr("value", value)
                .results([ty.clone()]),
        )
    }

    fn binary(&mut self, block: Block, bt: bool, env: &mut Env) {
        let a = self.scalar_in_scope(block, bt, env, Type::is_scalar);
        let ty = self.m.value_type(a).clone();
        let b = self.value_of(block, bt, env, &ty);
        let name = if ty.is_float() {
            self.t.pick(&arith::FLOAT_BINARY)
        } else {
            self.t.pick(&arith::INT_BINARY)
        };
        let v = arith::build_binary(&mut bld(&mut self.m, block, bt), name, a, b);
        env.values.push(v);
    }

    fn cast(&mut self, block: Block, bt: bool, env: &mut Env) {
        let x = self.scalar_in_scope(block, bt, env, Type::is_scalar);
        let from = self.m.value_type(x).clone();
        let mut options: Vec<(&str, Type)> = vec![];
        match &from {
            Type::Int(w) => {
                for to in [8, 16, 32, 64] {
                    if to > *w {
                        options.push(("extsi", Type::Int(to)));
                        options.push(("extui", Type::Int(to)));
                    } else if to < *w {
                        options.push(("trunci", Type::Int(to)));
                    }
                }
                for f in [Type::F16, Type::BF16, Type::F32, Type::F64] {
                    options.push((
                        if self.t.chance(50) {
                            "sitofp"
                        } else {
                            "uitofp"
                        },
                        f,
                    ));
                }
                options.push(("index_cast", Type::Index));
                options.push(("index_castui", Type::Index));
                match w {
                    16 => options.push(("bitcast", Type::F16)),
                    32 => options.push(("bitcast", Type::F32)),
                    64 => options.push(("bitcast", Type::F64)),
                    _ => {}
                }
            }
            Type::Index => {
                for w in [8, 32, 64] {
                    options.push(("index_cast", Type::Int(w)));
                }
            }
            f => {
                let w = f.float_width().unwrap_or(32);
                options.push(("fptosi", Type::Int(32)));
                options.push(("fptoui", Type::Int(8)));
                options.push(("bitcast", Type::Int(w)));
                for g in [Type::F16, Type::BF16, Type::F32, Type::F64] {
                    let gw = g.float_width().unwrap_or(32);
                    if gw > w {
                        options.push(("extf", g));
                    } else if gw < w {
                        options.push(("truncf", g));
                    }
                }
            }
        }
        let (name, to) = self.t.pick(&options);
        let v = arith::build_cast(&mut bld(&mut self.m, block, bt), name, x, to);
        env.values.push(v);
    }

    fn compare_select(&mut self, block: Block, bt: bool, env: &mut Env) {
        let a = self.scalar_in_scope(block, bt, env, Type::is_scalar);
        let ty = self.m.value_type(a).clone();
        let b = self.value_of(block, bt, env, &ty);
        let c = if ty.is_float() {
            let p = self.t.pick(&arith::CMPF_PREDICATES);
            arith::build_cmpf(&mut bld(&mut self.m, block, bt), p, a, b)
        } else {
            let p = self.t.pick(&arith::CMPI_PREDICATES);
            arith::build_cmpi(&mut bld(&mut self.m, block, bt), p, a, b)
        };
        env.values.push(c);
        if self.t.chance(70) {
            let s = arith::build_select(&mut bld(&mut self.m, block, bt), c, a, b);
            env.values.push(s);
        }
    }

    fn math(&mut self, block: Block, bt: bool, env: &mut Env) {
        let x = self.scalar_in_scope(block, bt, env, |t| {
            t.is_float() || (t.is_int() && *t != Type::Int(1))
        });
        let ty = self.m.value_type(x).clone();
        let v = if ty.is_float() {
            if self.t.chance(15) {
                arith::build_cast(&mut bld(&mut self.m, block, bt), "negf", x, ty)
            } else {
                let name = self.t.pick(&math::FLOAT_UNARY);
                math::build_unary(&mut bld(&mut self.m, block, bt), name, x)
            }
        } else {
            math::build_unary(&mut bld(&mut self.m, block, bt), "absi", x)
        };
        env.values.push(v);
    }

    // ----- affine -------------------------------------------------------------

    fn affine_expr(&mut self, nd: u32, ns: u32, depth: u32) -> AffineExpr {
        let leaf = depth >= 2 || self.t.chance(40);
        if leaf {
            return match self.t.below(3) {
                0 if nd > 0 => AffineExpr::Dim(self.t.below(nd as usize) as u32),
                1 if ns > 0 => AffineExpr::Sym(self.t.below(ns as usize) as u32),
                _ => AffineExpr::Const(if !self.cfg.mlir && self.t.chance(3) {
                    i64::MIN
                } else {
                    self.t.range(-5, 12)
                }),
            };
        }
        let a = self.affine_expr(nd, ns, depth + 1);
        let c = AffineExpr::Const(self.t.range(1, 8));
        match self.t.below(8) {
            0 => a.add(self.affine_expr(nd, ns, depth + 1)),
            1 => a.sub(self.affine_expr(nd, ns, depth + 1)),
            2 => a.mul(AffineExpr::Const(self.t.range(-4, 16))),
            3 => AffineExpr::Const(self.t.range(-3, 3)).mul(a),
            4 => a.floor_div(c),
            5 => a.ceil_div(c),
            6 => a.modulo(c),
            _ => a.add(AffineExpr::Const(self.t.range(-9, 9))),
        }
    }

    /// A map over `dims` dims (at most) and `syms` symbols with `n` results.
    fn affine_map(&mut self, max_dims: usize, max_syms: usize, n: usize) -> AffineMap {
        let nd = self.t.below(max_dims + 1) as u32;
        let ns = self.t.below(max_syms + 1) as u32;
        let results = (0..n).map(|_| self.affine_expr(nd, ns, 0)).collect();
        AffineMap::new(nd, ns, results)
    }

    /// Operands for a map: dims from the affine ivs (repeats allowed),
    /// symbols from the index arguments.
    fn map_operands(&mut self, map: &AffineMap, env: &Env) -> Vec<Value> {
        let mut ops = vec![];
        for _ in 0..map.num_dims {
            ops.push(self.t.pick(&env.affine_ivs));
        }
        for _ in 0..map.num_syms {
            ops.push(self.t.pick(&env.syms));
        }
        ops
    }

    fn bound(&mut self, env: &Env, lower: bool) -> affine::Bound {
        match self.t.below(4) {
            0 | 1 => affine::Bound::constant(if lower {
                self.t.range(-3, 4)
            } else {
                self.t.range(5, 20)
            }),
            2 if !env.syms.is_empty() && !lower => {
                let s = self.t.pick(&env.syms);
                affine::Bound {
                    map: AffineMap::new(0, 1, vec![AffineExpr::Sym(0)]),
                    operands: vec![s],
                }
            }
            _ => {
                let n = if self.t.chance(30) { 2 } else { 1 };
                let map = self.affine_map(env.affine_ivs.len(), env.syms.len().min(1), n);
                let operands = self.map_operands(&map, env);
                affine::Bound { map, operands }
            }
        }
    }

    fn affine_for(&mut self, block: Block, bt: bool, env: &mut Env, depth: u32) {
        let lower = self.bound(env, true);
        let upper = self.bound(env, false);
        let step = self.t.range(1, 4);
        let (op, iv, body) =
            affine::build_for(&mut bld(&mut self.m, block, bt), lower, upper, step);
        self.loop_counter += 1;
        self.m.set_attr(
            op,
            "loop_name",
            Attribute::string(format!("l{}", self.loop_counter)),
        );
        if depth == 0 && self.t.chance(50) {
            self.m.set_attr(
                op,
                "op_name",
                Attribute::string(format!("S_{}", self.loop_counter)),
            );
        }
        let mut inner = env.clone();
        inner.affine_ivs.push(iv);
        inner.values.push(iv);
        self.stmts(body, true, &mut inner, depth + 1, false);
    }

    fn affine_if(&mut self, block: Block, bt: bool, env: &mut Env, depth: u32) {
        let nd = self.t.below(env.affine_ivs.len() + 1) as u32;
        let ns = self.t.below(env.syms.len().min(1) + 1) as u32;
        let constraints = (0..1 + self.t.below(2))
            .map(|_| (self.affine_expr(nd, ns, 0), self.t.chance(30)))
            .collect();
        let set = IntegerSet {
            num_dims: nd,
            num_syms: ns,
            constraints,
        };
        let operands = self.map_operands(&AffineMap::new(nd, ns, vec![]), env);
        let with_else = self.t.chance(50);
        let (_, then_block, else_block) =
            affine::build_if(&mut bld(&mut self.m, block, bt), set, &operands, with_else);
        self.stmts(then_block, true, &mut env.clone(), depth + 1, false);
        if let Some(e) = else_block {
            self.stmts(e, true, &mut env.clone(), depth + 1, false);
        }
    }

    fn affine_access(&mut self, block: Block, bt: bool, env: &mut Env) {
        if env.memrefs.is_empty() {
            return;
        }
        let mref = self.t.pick(&env.memrefs);
        let Some(mt) = self.m.value_type(mref).as_memref().cloned() else {
            return;
        };
        let map = if self.t.chance(40) && env.affine_ivs.len() >= mt.rank() {
            // The common canonical case: one iv per dimension.
            AffineMap::identity(mt.rank() as u32)
        } else {
            self.affine_map(
                env.affine_ivs.len().min(3),
                env.syms.len().min(1),
                mt.rank(),
            )
        };
        let operands = if map.is_identity() && map.num_dims as usize <= env.affine_ivs.len() {
            env.affine_ivs[..map.num_dims as usize].to_vec()
        } else {
            self.map_operands(&map, env)
        };
        if self.t.chance(50) {
            let v = affine::build_load(&mut bld(&mut self.m, block, bt), mref, map, &operands);
            env.values.push(v);
        } else {
            let v = self.value_of(block, bt, env, &mt.elem);
            affine::build_store(&mut bld(&mut self.m, block, bt), v, mref, map, &operands);
        }
    }

    // ----- memref, scf --------------------------------------------------------------

    fn index_value(&mut self, block: Block, bt: bool, env: &mut Env) -> Value {
        self.value_of(block, bt, env, &Type::Index)
    }

    fn memref_ops(&mut self, block: Block, bt: bool, env: &mut Env) {
        match self.t.below(4) {
            0 => {
                let ty = self.memref_type();
                let on_stack = self.t.chance(50);
                let v = memref::build_alloc(&mut bld(&mut self.m, block, bt), ty, on_stack);
                env.memrefs.push(v);
                if !on_stack && self.t.chance(30) {
                    memref::build_dealloc(&mut bld(&mut self.m, block, bt), v);
                    env.memrefs.pop();
                }
            }
            1 | 2 if !env.memrefs.is_empty() => {
                let mref = self.t.pick(&env.memrefs);
                let Some(mt) = self.m.value_type(mref).as_memref().cloned() else {
                    return;
                };
                let indices: Vec<Value> = (0..mt.rank())
                    .map(|_| self.index_value(block, bt, env))
                    .collect();
                if self.t.chance(50) {
                    let v = memref::build_load(&mut bld(&mut self.m, block, bt), mref, &indices);
                    env.values.push(v);
                } else {
                    let v = self.value_of(block, bt, env, &mt.elem);
                    memref::build_store(&mut bld(&mut self.m, block, bt), v, mref, &indices);
                }
            }
            _ if !env.memrefs.is_empty() => {
                let a = self.t.pick(&env.memrefs);
                let ty = self.m.value_type(a).clone();
                let b = memref::build_alloc(&mut bld(&mut self.m, block, bt), ty, true);
                bld(&mut self.m, block, bt).insert(OpSpec::new("memref.copy").operands([a, b]));
                env.memrefs.push(b);
            }
            _ => {}
        }
    }

    fn scf_for(&mut self, block: Block, bt: bool, env: &mut Env, depth: u32, in_unknown: bool) {
        let lb = self.index_value(block, bt, env);
        let ub = self.index_value(block, bt, env);
        let step = self.constant(block, bt, &Type::Index);
        let (op, iv, body) = scf::build_for(&mut bld(&mut self.m, block, bt), lb, ub, step);
        if self.t.chance(50) {
            self.loop_counter += 1;
            self.m.set_attr(
                op,
                "loop_name",
                Attribute::string(format!("s{}", self.loop_counter)),
            );
        }
        let mut inner = env.clone();
        inner.values.push(iv);
        self.stmts(body, true, &mut inner, depth + 1, in_unknown);
    }

    fn scf_if(&mut self, block: Block, bt: bool, env: &mut Env, depth: u32, in_unknown: bool) {
        let c = self.value_of(block, bt, env, &Type::Int(1));
        let with_else = self.t.chance(50);
        let (_, then_block, else_block) =
            scf::build_if(&mut bld(&mut self.m, block, bt), c, with_else);
        self.stmts(then_block, true, &mut env.clone(), depth + 1, in_unknown);
        if let Some(e) = else_block {
            self.stmts(e, true, &mut env.clone(), depth + 1, in_unknown);
        }
    }

    // ----- unregistered ops and attributes ----------------------------------------------

    fn opaque_type(&mut self) -> Type {
        let body = self.t.pick(&[
            "aref<memref<4xf32>, 2>",
            "handle<\"cfg\", [1, 2]>",
            "token",
            "pair<(i32) -> (f32), {a = 1}>",
        ]);
        Type::Opaque {
            dialect: "gemmini".into(),
            body: body.to_string(),
        }
    }

    fn any_type(&mut self, depth: u32) -> Type {
        match self.t.below(6) {
            0 => self.memref_type(),
            1 if self.cfg.unregistered => self.opaque_type(),
            2 if depth < 2 => {
                let inputs = (0..self.t.below(3))
                    .map(|_| self.any_type(depth + 1))
                    .collect();
                let results = (0..self.t.below(3))
                    .map(|_| self.any_type(depth + 1))
                    .collect();
                Type::Function(crate::FunctionType { inputs, results })
            }
            _ => self.t.pick(&SCALAR_TYPES),
        }
    }

    pub(crate) fn attr(&mut self, depth: u32) -> Attribute {
        let leaf = depth == 0;
        match self.t.below(if leaf { 10 } else { 13 }) {
            0 => Attribute::Unit,
            1 => Attribute::Bool(self.t.chance(50)),
            2 => {
                let ty = self.t.pick(&SCALAR_TYPES[..6]);
                Attribute::int(self.int_value(&ty), ty)
            }
            3 => {
                let ty = self.t.pick(&[Type::F16, Type::BF16, Type::F32, Type::F64]);
                Attribute::float(self.float_value(&ty), ty)
            }
            4 => Attribute::String(
                self.t
                    .pick(&[
                        "",
                        "WS",
                        "a \"q\" \\ b",
                        "line\nbreak\ttab",
                        "é ü",
                        "\u{1}ctl",
                    ])
                    .to_string(),
            ),
            5 => Attribute::Type(self.any_type(0)),
            6 => {
                let n = 1 + self.t.below(3);
                Attribute::AffineMap(self.affine_map(3, 2, n))
            }
            7 => {
                let nd = self.t.below(3) as u32;
                let ns = self.t.below(2) as u32;
                let constraints = (0..1 + self.t.below(2))
                    .map(|_| (self.affine_expr(nd, ns, 0), self.t.chance(40)))
                    .collect();
                Attribute::IntegerSet(IntegerSet {
                    num_dims: nd,
                    num_syms: ns,
                    constraints,
                })
            }
            8 => Attribute::DenseArray {
                elem: self.t.pick(&[Type::Int(32), Type::Int(64)]),
                values: (0..self.t.below(4))
                    .map(|_| self.t.range(-3, 100))
                    .collect(),
            },
            9 => Attribute::SymbolRef(
                self.t
                    .pick(&["helper", "kernel0", "with space"])
                    .to_string(),
            ),
            10 => Attribute::Array((0..self.t.below(4)).map(|_| self.attr(depth - 1)).collect()),
            _ => {
                let mut d = BTreeMap::new();
                for _ in 0..self.t.below(4) {
                    let k = self
                        .t
                        .pick(&["a", "loop_name", "accc.x", "two words", "q\"k"])
                        .to_string();
                    let v = self.attr(depth - 1);
                    d.insert(k, v);
                }
                Attribute::Dict(d)
            }
        }
    }

    fn unknown_op(&mut self, block: Block, bt: bool, env: &mut Env, depth: u32) {
        let name = self.t.pick(&[
            "gemmini.mvin",
            "gemmini.compute",
            "test.op",
            "nki.nc_matmul",
        ]);
        let mut operands = vec![];
        for _ in 0..self.t.below(3) {
            let pool: Vec<Value> = env.values.iter().chain(&env.memrefs).copied().collect();
            if !pool.is_empty() {
                operands.push(self.t.pick(&pool));
            }
        }
        let results: Vec<Type> = (0..self.t.below(3)).map(|_| self.any_type(0)).collect();
        let mut spec = OpSpec::new(name).operands(operands).results(results);
        for _ in 0..self.t.below(3) {
            let k = self
                .t
                .pick(&["dataflow", "rows", "accc.map", "odd key"])
                .to_string();
            let v = self.attr(2);
            spec = spec.attr(k, v);
        }
        let num_regions = if depth < 3 { self.t.below(3) } else { 0 };
        let op = bld(&mut self.m, block, bt).insert(spec.regions(num_regions));
        for region in self.m.op_regions(op).to_vec() {
            for _ in 0..self.t.below(3) {
                let args: Vec<Type> = (0..self.t.below(3))
                    .map(|_| self.t.pick(&SCALAR_TYPES))
                    .collect();
                let b = self.m.append_block(region, &args);
                let mut inner = env.clone();
                inner.values.extend(self.m.block_args(b).iter().copied());
                self.stmts(b, false, &mut inner, depth + 1, true);
                // MLIR wants every block to end in an op that may terminate
                // it; for an unregistered op's region, an unregistered op.
                if self.cfg.mlir || self.t.chance(50) {
                    Builder::at_end(&mut self.m, b).insert(OpSpec::new("gemmini.yield"));
                }
            }
        }
        // The results are visible after the op, not inside its regions.
        for v in self.m.results(op).to_vec() {
            if self.m.value_type(v).is_scalar() {
                env.values.push(v);
            }
        }
    }
}

/// Ops of non-upstream dialects (they need `--allow-unregistered-dialect`).
pub(crate) fn has_unregistered(m: &Module) -> bool {
    const UPSTREAM: [&str; 7] = [
        "builtin", "func", "affine", "arith", "math", "memref", "scf",
    ];
    m.walk_ops(m.top())
        .iter()
        .any(|&o: &Op| !UPSTREAM.contains(&m.op_name(o).split('.').next().unwrap_or("")))
}

//! Compiling IR functions into the interpreter's instruction trees.
//!
//! Every SSA value becomes a slot in a flat register file and every op an
//! [`Inst`] whose meaning is resolved once (`arith::resolve`,
//! `math::resolve`), so executing an op reads no names, attributes or hash
//! maps. Access maps whose results are affine sums are pre-resolved into
//! `constant + Σ coeff · slot` ([`DimIndex::Linear`]), which on wrap-around
//! `index` arithmetic is the same function as evaluating the expression
//! tree; other results keep the tree and evaluate through
//! `affine::eval_expr`.

use std::collections::HashMap;

use accc_ir::affine::{AffineExpr, AffineMap, IntegerSet};
use accc_ir::dialects::{affine, arith, func, math};
use accc_ir::semantics::ScalarType;
use accc_ir::{Attribute, Block, Location, Module, Op, Type, Value};

use crate::InterpError;

pub(crate) type Slot = u32;

/// What a memory access indexes dimension `k` with.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum DimIndex {
    /// A slot holding the index (`memref.load`, or a map result `d_i`).
    Slot(Slot),
    /// `constant + Σ coeff · slot`.
    Linear {
        constant: i64,
        terms: Box<[(Slot, i64)]>,
    },
    /// Any other affine expression over the access's operand slots.
    Expr {
        expr: AffineExpr,
        num_dims: u32,
        operands: Box<[Slot]>,
    },
}

/// A bound of a loop.
#[derive(Clone, Debug)]
pub(crate) enum LoopBound {
    Const(i64),
    Slot(Slot),
    /// The greatest (lower bound) or least (upper bound) result of a map.
    Map {
        map: AffineMap,
        operands: Box<[Slot]>,
    },
}

#[derive(Clone, Debug)]
pub(crate) enum Step {
    Const(i64),
    Slot(Slot),
}

#[derive(Clone, Debug)]
pub(crate) enum Condition {
    Slot(Slot),
    Set {
        set: IntegerSet,
        operands: Box<[Slot]>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ApplyKind {
    Apply,
    Min,
    Max,
}

/// Index into [`Function::sites`]: the op an instruction came from, for
/// error messages.
pub(crate) type Site = u32;

/// How a load or store finds its element.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Access {
    /// Every index was proven in bounds from the enclosing loops' constant
    /// bounds: the row-major offset `constant + Σ coeff · slot`, with no
    /// per-dimension checks left.
    Proven {
        constant: i64,
        terms: Box<[(Slot, i64)]>,
    },
    /// One index per dimension, each checked against its size.
    Checked(Box<[DimIndex]>),
}

#[derive(Clone, Debug)]
pub(crate) enum Inst {
    /// An op whose meaning is one domain primitive (`arith::primitive`).
    Prim {
        op: arith::Primitive,
        a: Slot,
        b: Slot,
        dst: Slot,
        site: Site,
    },
    Arith {
        op: arith::ArithOp,
        /// The operands, padded with slot 0 past `arity`.
        args: [Slot; 3],
        arity: u8,
        dst: Slot,
        site: Site,
    },
    Math {
        op: math::MathOp,
        arg: Slot,
        dst: Slot,
        site: Site,
    },
    /// `affine.load` and `memref.load`.
    Load {
        mem: Slot,
        access: Access,
        /// The element width of the memref's type.
        elem_bits: u32,
        dst: Slot,
        site: Site,
    },
    /// `affine.store` and `memref.store`.
    Store {
        value: Slot,
        mem: Slot,
        access: Access,
        elem_bits: u32,
        site: Site,
    },
    Apply {
        kind: ApplyKind,
        map: AffineMap,
        operands: Box<[Slot]>,
        dst: Slot,
        site: Site,
    },
    For {
        iv: Slot,
        lower: LoopBound,
        upper: LoopBound,
        step: Step,
        body: Box<[Inst]>,
        site: Site,
    },
    If {
        cond: Condition,
        then_body: Box<[Inst]>,
        else_body: Box<[Inst]>,
        site: Site,
    },
    Alloc {
        dst: Slot,
        shape: Box<[i64]>,
        elem_bits: u32,
        /// `memref.alloca`: reused across executions within one call, which
        /// is unobservable because the previous buffer's value is dead.
        on_stack: bool,
        site: Site,
    },
    Dealloc {
        mem: Slot,
        site: Site,
    },
    Copy {
        src: Slot,
        dst: Slot,
        site: Site,
    },
    Call {
        callee: usize,
        args: Box<[Slot]>,
        site: Site,
    },
}

/// A compiled `func.func`.
#[derive(Debug)]
pub(crate) struct Function {
    pub name: String,
    pub params: Vec<Slot>,
    pub param_types: Vec<Type>,
    pub num_slots: usize,
    pub body: Box<[Inst]>,
    /// `(op name, location)` of each site.
    pub sites: Vec<(String, Location)>,
}

/// All functions of a module.
#[derive(Debug)]
pub(crate) struct Program {
    pub functions: Vec<Function>,
    pub by_name: HashMap<String, usize>,
}

impl Program {
    pub fn compile(m: &Module) -> Result<Program, InterpError> {
        let funcs: Vec<Op> = func::functions(m).collect();
        let by_name: HashMap<String, usize> = funcs
            .iter()
            .enumerate()
            .filter_map(|(i, f)| Some((func::sym_name(m, *f)?.to_string(), i)))
            .collect();
        let functions = funcs
            .iter()
            .map(|f| FunctionCompiler::new(m, &by_name).compile(*f))
            .collect::<Result<Vec<_>, _>>()?;
        let program = Program { functions, by_name };
        program.check_no_recursion()?;
        Ok(program)
    }

    fn check_no_recursion(&self) -> Result<(), InterpError> {
        fn callees(insts: &[Inst], out: &mut Vec<(usize, Site)>) {
            for inst in insts {
                match inst {
                    Inst::Call { callee, site, .. } => out.push((*callee, *site)),
                    Inst::For { body, .. } => callees(body, out),
                    Inst::If {
                        then_body,
                        else_body,
                        ..
                    } => {
                        callees(then_body, out);
                        callees(else_body, out);
                    }
                    _ => {}
                }
            }
        }
        // Depth-first search with colours: 1 = on the stack, 2 = done.
        let n = self.functions.len();
        let mut colour = vec![0u8; n];
        let graph: Vec<Vec<(usize, Site)>> = self
            .functions
            .iter()
            .map(|f| {
                let mut out = Vec::new();
                callees(&f.body, &mut out);
                out
            })
            .collect();
        fn visit(
            f: usize,
            graph: &[Vec<(usize, Site)>],
            colour: &mut [u8],
            program: &Program,
        ) -> Result<(), InterpError> {
            colour[f] = 1;
            for &(g, site) in &graph[f] {
                if colour[g] == 1 {
                    return Err(program.functions[f].fault(
                        site,
                        accc_ir::semantics::Fault::Recursion(program.functions[g].name.clone()),
                    ));
                }
                if colour[g] == 0 {
                    visit(g, graph, colour, program)?;
                }
            }
            colour[f] = 2;
            Ok(())
        }
        for f in 0..n {
            if colour[f] == 0 {
                visit(f, &graph, &mut colour, self)?;
            }
        }
        Ok(())
    }
}

impl Function {
    pub fn fault(&self, site: Site, fault: accc_ir::semantics::Fault) -> InterpError {
        let (op, location) = self.sites[site as usize].clone();
        InterpError::Fault {
            fault,
            op,
            location,
        }
    }
}

struct FunctionCompiler<'m> {
    m: &'m Module,
    by_name: &'m HashMap<String, usize>,
    slots: HashMap<Value, Slot>,
    sites: Vec<(String, Location)>,
    /// Value ranges of induction variables of enclosing loops with constant
    /// bounds.
    ranges: HashMap<Slot, (i64, i64)>,
}

impl<'m> FunctionCompiler<'m> {
    fn new(m: &'m Module, by_name: &'m HashMap<String, usize>) -> Self {
        FunctionCompiler {
            m,
            by_name,
            slots: HashMap::new(),
            sites: Vec::new(),
            ranges: HashMap::new(),
        }
    }

    fn compile(mut self, f: Op) -> Result<Function, InterpError> {
        let m = self.m;
        let name = func::sym_name(m, f).unwrap_or("?").to_string();
        let Some(entry) = m.entry_block(f, 0) else {
            return Err(self.unsupported(f, "a function without a body"));
        };
        let params: Vec<Slot> = m
            .block_args(entry)
            .iter()
            .map(|v| self.define(*v))
            .collect();
        let param_types = m
            .block_args(entry)
            .iter()
            .map(|v| m.value_type(*v).clone())
            .collect();
        let body = self.block(entry)?;
        Ok(Function {
            name,
            params,
            param_types,
            num_slots: self.slots.len(),
            body,
            sites: self.sites,
        })
    }

    fn define(&mut self, v: Value) -> Slot {
        let next = self.slots.len() as Slot;
        *self.slots.entry(v).or_insert(next)
    }

    fn slot(&self, op: Op, v: Value) -> Result<Slot, InterpError> {
        self.slots
            .get(&v)
            .copied()
            .ok_or_else(|| self.unsupported(op, "an operand defined outside the function"))
    }

    fn slots(&self, op: Op, vs: &[Value]) -> Result<Box<[Slot]>, InterpError> {
        vs.iter().map(|v| self.slot(op, *v)).collect()
    }

    fn site(&mut self, op: Op) -> Site {
        self.sites
            .push((self.m.op_name(op).to_string(), self.m.op(op).loc.clone()));
        (self.sites.len() - 1) as Site
    }

    fn unsupported(&self, op: Op, what: &str) -> InterpError {
        InterpError::Unsupported {
            op: self.m.op_name(op).to_string(),
            location: self.m.op(op).loc.clone(),
            reason: what.to_string(),
        }
    }

    fn block(&mut self, block: Block) -> Result<Box<[Inst]>, InterpError> {
        let mut out = Vec::new();
        for &op in self.m.block_ops(block) {
            if let Some(inst) = self.op(op)? {
                out.push(inst);
            }
        }
        Ok(out.into_boxed_slice())
    }

    fn region_block(&mut self, op: Op, region: usize) -> Result<Box<[Inst]>, InterpError> {
        match self.m.entry_block(op, region) {
            Some(b) => self.block(b),
            None => Ok(Box::default()),
        }
    }

    fn op(&mut self, op: Op) -> Result<Option<Inst>, InterpError> {
        let m = self.m;
        let name = m.op_name(op);
        let operands = m.operands(op);
        let result = |this: &mut Self| this.define(m.result(op, 0));
        let inst = match name {
            "affine.yield" | "scf.yield" | "func.return" => {
                if !operands.is_empty() {
                    return Err(self.unsupported(op, "yielded or returned values"));
                }
                return Ok(None);
            }
            _ if name.starts_with("arith.") => {
                let resolved = arith::resolve(m, op).map_err(|r| self.unsupported(op, &r))?;
                let mut args = [0; 3];
                for (i, v) in operands.iter().enumerate().take(3) {
                    args[i] = self.slot(op, *v)?;
                }
                let site = self.site(op);
                if let Some(p) = arith::primitive(&resolved) {
                    let b = if operands.len() > 1 { args[1] } else { args[0] };
                    return Ok(Some(Inst::Prim {
                        op: p,
                        a: args[0],
                        b,
                        dst: result(self),
                        site,
                    }));
                }
                Inst::Arith {
                    op: resolved,
                    args,
                    arity: operands.len().min(3) as u8,
                    dst: result(self),
                    site,
                }
            }
            _ if name.starts_with("math.") => {
                let resolved = math::resolve(m, op).map_err(|r| self.unsupported(op, &r))?;
                let arg = self.slot(op, operands[0])?;
                let site = self.site(op);
                Inst::Math {
                    op: resolved,
                    arg,
                    dst: result(self),
                    site,
                }
            }
            "affine.load" | "affine.store" | "memref.load" | "memref.store" => {
                let is_load = name.ends_with("load");
                let (memref, index): (Value, Box<[DimIndex]>) = if name.starts_with("affine.") {
                    let (map, map_operands) = affine::access_map(m, op)
                        .ok_or_else(|| self.unsupported(op, "an access without a map"))?;
                    let map_slots = self.slots(op, map_operands)?;
                    let index = map
                        .results
                        .iter()
                        .map(|e| dim_index(e, map.num_dims, &map_slots))
                        .collect();
                    (
                        affine::access_memref(m, op).expect("verified access"),
                        index,
                    )
                } else {
                    // memref.load %m[indices], memref.store %v, %m[indices]
                    let first = usize::from(!is_load);
                    let index = self
                        .slots(op, &operands[first + 1..])?
                        .iter()
                        .map(|s| DimIndex::Slot(*s))
                        .collect();
                    (operands[first], index)
                };
                let mem = self.slot(op, memref)?;
                let memref_type = m.value_type(memref);
                let Some(elem_bits) = memref_type
                    .as_memref()
                    .and_then(|t| ScalarType::of(&t.elem))
                    .map(ScalarType::bits)
                else {
                    return Err(self.unsupported(op, "an access to a memref of non-scalars"));
                };
                let access = self.access(index, memref_type);
                let site = self.site(op);
                if is_load {
                    Inst::Load {
                        mem,
                        access,
                        elem_bits,
                        dst: result(self),
                        site,
                    }
                } else {
                    Inst::Store {
                        value: self.slot(op, operands[0])?,
                        mem,
                        access,
                        elem_bits,
                        site,
                    }
                }
            }
            "affine.apply" | "affine.min" | "affine.max" => {
                let map = m
                    .attr(op, "map")
                    .and_then(Attribute::as_affine_map)
                    .ok_or_else(|| self.unsupported(op, "a missing `map`"))?
                    .clone();
                let operands = self.slots(op, operands)?;
                let kind = match name {
                    "affine.apply" => ApplyKind::Apply,
                    "affine.min" => ApplyKind::Min,
                    _ => ApplyKind::Max,
                };
                let site = self.site(op);
                Inst::Apply {
                    kind,
                    map,
                    operands,
                    dst: result(self),
                    site,
                }
            }
            "affine.for" => {
                let (lb, ub) = affine::for_bounds(m, op)
                    .ok_or_else(|| self.unsupported(op, "malformed bounds"))?;
                let step = affine::for_step(m, op)
                    .ok_or_else(|| self.unsupported(op, "a missing step"))?;
                let lower = self.loop_bound(op, &lb.map, &lb.operands)?;
                let upper = self.loop_bound(op, &ub.map, &ub.operands)?;
                self.loop_inst(op, lower, upper, Step::Const(step))?
            }
            "scf.for" => {
                let lower = LoopBound::Slot(self.slot(op, operands[0])?);
                let upper = LoopBound::Slot(self.slot(op, operands[1])?);
                let step = Step::Slot(self.slot(op, operands[2])?);
                self.loop_inst(op, lower, upper, step)?
            }
            "affine.if" | "scf.if" => {
                let cond = if name == "scf.if" {
                    Condition::Slot(self.slot(op, operands[0])?)
                } else {
                    let set = m
                        .attr(op, "condition")
                        .and_then(Attribute::as_integer_set)
                        .ok_or_else(|| self.unsupported(op, "a missing `condition`"))?
                        .clone();
                    Condition::Set {
                        set,
                        operands: self.slots(op, operands)?,
                    }
                };
                let site = self.site(op);
                let then_body = self.region_block(op, 0)?;
                let else_body = if m.op_regions(op).len() > 1 {
                    self.region_block(op, 1)?
                } else {
                    Box::default()
                };
                Inst::If {
                    cond,
                    then_body,
                    else_body,
                    site,
                }
            }
            "memref.alloc" | "memref.alloca" => {
                let ty = m.value_type(m.result(op, 0)).clone();
                let Some(mr) = ty.as_memref() else {
                    return Err(self.unsupported(op, "a non-memref allocation"));
                };
                let Some(elem) = ScalarType::of(&mr.elem) else {
                    return Err(self.unsupported(op, "a memref of non-scalar elements"));
                };
                let site = self.site(op);
                Inst::Alloc {
                    dst: result(self),
                    shape: mr.shape.clone().into_boxed_slice(),
                    elem_bits: elem.bits(),
                    on_stack: name == "memref.alloca",
                    site,
                }
            }
            "memref.dealloc" => Inst::Dealloc {
                mem: self.slot(op, operands[0])?,
                site: self.site(op),
            },
            "memref.copy" => Inst::Copy {
                src: self.slot(op, operands[0])?,
                dst: self.slot(op, operands[1])?,
                site: self.site(op),
            },
            "func.call" => {
                if !m.results(op).is_empty() {
                    return Err(self.unsupported(op, "calls with results"));
                }
                let callee_name = m
                    .attr(op, "callee")
                    .and_then(Attribute::as_symbol)
                    .unwrap_or("");
                let callee = *self
                    .by_name
                    .get(callee_name)
                    .ok_or_else(|| self.unsupported(op, "a call to an undefined function"))?;
                Inst::Call {
                    callee,
                    args: self.slots(op, operands)?,
                    site: self.site(op),
                }
            }
            _ => return Err(self.unsupported(op, "an op the interpreter does not know")),
        };
        Ok(Some(inst))
    }

    fn loop_bound(
        &self,
        op: Op,
        map: &AffineMap,
        operands: &[Value],
    ) -> Result<LoopBound, InterpError> {
        if let Some(c) = map.single_constant() {
            return Ok(LoopBound::Const(c));
        }
        if map.results.len() == 1 && map.results[0] == AffineExpr::Dim(0) && operands.len() == 1 {
            return Ok(LoopBound::Slot(self.slot(op, operands[0])?));
        }
        Ok(LoopBound::Map {
            map: map.clone(),
            operands: self.slots(op, operands)?,
        })
    }

    /// A proven access when every index provably lies in its dimension for
    /// all values of the enclosing loops' induction variables, else a
    /// checked one.
    fn access(&self, index: Box<[DimIndex]>, memref_type: &Type) -> Access {
        memref_type
            .as_memref()
            .and_then(|t| self.prove_in_bounds(&index, &t.shape))
            .unwrap_or(Access::Checked(index))
    }

    fn prove_in_bounds(&self, index: &[DimIndex], shape: &[i64]) -> Option<Access> {
        let mut constant: i128 = 0;
        let mut terms: Vec<(Slot, i128)> = Vec::new();
        let mut stride: i128 = 1;
        for (ix, &size) in index.iter().zip(shape).rev() {
            let (c, ts): (i64, Vec<(Slot, i64)>) = match ix {
                DimIndex::Slot(s) => (0, vec![(*s, 1)]),
                DimIndex::Linear { constant, terms } => (*constant, terms.to_vec()),
                DimIndex::Expr { .. } => return None,
            };
            let (mut lo, mut hi) = (i128::from(c), i128::from(c));
            for (s, coeff) in &ts {
                let (a, b) = self.ranges.get(s)?;
                let (x, y) = (
                    i128::from(*a) * i128::from(*coeff),
                    i128::from(*b) * i128::from(*coeff),
                );
                lo += x.min(y);
                hi += x.max(y);
            }
            if lo < 0 || hi >= i128::from(size) {
                return None;
            }
            constant += stride * i128::from(c);
            for (s, coeff) in ts {
                let add = stride * i128::from(coeff);
                match terms.iter_mut().find(|(t, _)| *t == s) {
                    Some((_, k)) => *k += add,
                    None => terms.push((s, add)),
                }
            }
            stride *= i128::from(size);
        }
        Some(Access::Proven {
            constant: i64::try_from(constant).ok()?,
            terms: terms
                .into_iter()
                .map(|(s, k)| Some((s, i64::try_from(k).ok()?)))
                .collect::<Option<_>>()?,
        })
    }

    fn loop_inst(
        &mut self,
        op: Op,
        lower: LoopBound,
        upper: LoopBound,
        step: Step,
    ) -> Result<Inst, InterpError> {
        let site = self.site(op);
        let Some(body_block) = self.m.entry_block(op, 0) else {
            return Err(self.unsupported(op, "a loop without a body"));
        };
        let iv = self.define(self.m.block_args(body_block)[0]);
        // The induction variable's range, when the loop runs at least once
        // with constant bounds: lb ..= the last value it takes.
        if let (LoopBound::Const(lb), LoopBound::Const(ub), Step::Const(st)) =
            (&lower, &upper, &step)
        {
            if ub > lb && *st > 0 {
                let last = lb + ((ub - 1 - lb) / st) * st;
                self.ranges.insert(iv, (*lb, last));
            }
        }
        let body = self.block(body_block)?;
        self.ranges.remove(&iv);
        Ok(Inst::For {
            iv,
            lower,
            upper,
            step,
            body,
            site,
        })
    }
}

/// Pre-resolves one result of an access map.
fn dim_index(expr: &AffineExpr, num_dims: u32, slots: &[Slot]) -> DimIndex {
    let operand = |e: &AffineExpr| match e {
        AffineExpr::Dim(i) => Some(slots[*i as usize]),
        AffineExpr::Sym(i) => Some(slots[(num_dims + i) as usize]),
        _ => None,
    };
    if let Some(s) = operand(expr) {
        return DimIndex::Slot(s);
    }
    let mut constant = 0i64;
    let mut terms: Vec<(Slot, i64)> = Vec::new();
    if linear_terms(expr, 1, &mut constant, &mut terms, &operand) {
        return DimIndex::Linear {
            constant,
            terms: terms.into_boxed_slice(),
        };
    }
    DimIndex::Expr {
        expr: expr.clone(),
        num_dims,
        operands: slots.into(),
    }
}

/// Accumulates `scale · expr` as a linear form; `false` if `expr` has a
/// division, a modulus or a product of two non-constants. Coefficients wrap
/// like the `index` arithmetic they replace.
fn linear_terms(
    expr: &AffineExpr,
    scale: i64,
    constant: &mut i64,
    terms: &mut Vec<(Slot, i64)>,
    operand: &impl Fn(&AffineExpr) -> Option<Slot>,
) -> bool {
    if let Some(s) = operand(expr) {
        match terms.iter_mut().find(|(t, _)| *t == s) {
            Some((_, c)) => *c = c.wrapping_add(scale),
            None => terms.push((s, scale)),
        }
        return true;
    }
    match expr {
        AffineExpr::Const(c) => {
            *constant = constant.wrapping_add(c.wrapping_mul(scale));
            true
        }
        AffineExpr::Add(a, b) => {
            linear_terms(a, scale, constant, terms, operand)
                && linear_terms(b, scale, constant, terms, operand)
        }
        AffineExpr::Mul(a, b) => match (&**a, &**b) {
            (AffineExpr::Const(c), e) | (e, AffineExpr::Const(c)) => {
                linear_terms(e, scale.wrapping_mul(*c), constant, terms, operand)
            }
            _ => false,
        },
        _ => false,
    }
}

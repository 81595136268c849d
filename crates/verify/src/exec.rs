//! Symbolic execution of a kernel: control flow and indices concrete, data
//! symbolic.
//!
//! Loops run with their concrete bounds, addresses are computed exactly,
//! and every value stored is a term over the kernel's inputs. A bound, an
//! index or a branch condition that depends on input data cannot be
//! followed and makes the run fail with [`ExecError::DataDependent`]. Every
//! op's meaning comes from its dialect (`arith::apply`, `math::apply`,
//! `affine::eval_map`), evaluated in the [`Symbolic`] domain.

use std::collections::HashMap;

use accc_ir::dialects::{affine, arith, func, math};
use accc_ir::semantics::{Fault, ScalarType};
use accc_ir::{Attribute, Block, Module, Op, Value};

use accc_interp::concrete::Concrete;

use crate::domain::Symbolic;
use crate::term::{Node, TermId, TermStore};

/// Why a symbolic run stopped.
#[derive(Clone, Debug, PartialEq)]
pub enum ExecError {
    /// The op cannot be executed symbolically.
    Unsupported { op: Op, reason: String },
    /// The program faults (out of bounds, use after free, ...).
    Fault { op: Op, fault: Fault },
    /// A bound, index or condition depends on input data.
    DataDependent { op: Op, what: &'static str },
    /// More than the budget of operations.
    OverBudget { ops: u64 },
}

impl ExecError {
    fn unsupported(op: Op, reason: impl Into<String>) -> ExecError {
        ExecError::Unsupported {
            op,
            reason: reason.into(),
        }
    }

    /// The error as text, with the op's name and location.
    pub fn describe(&self, m: &Module) -> String {
        let at = |op: &Op| format!("`{}` at {}", m.op_name(*op), m.op(*op).loc);
        match self {
            ExecError::Unsupported { op, reason } => {
                format!("{} is not supported: {reason}", at(op))
            }
            ExecError::Fault { op, fault } => format!("{} faults: {fault}", at(op)),
            ExecError::DataDependent { op, what } => {
                format!("the {what} of {} depends on input data", at(op))
            }
            ExecError::OverBudget { ops } => {
                format!("more than {ops} symbolic operations (the budget)")
            }
        }
    }
}

/// The store that wrote an element last: the op and the induction
/// variables of its enclosing loops, outermost first.
#[derive(Clone, Debug)]
pub struct Write {
    pub op: Op,
    pub iteration: Box<[(Op, i64)]>,
}

/// A buffer's elements.
#[derive(Debug)]
pub struct Buffer {
    pub shape: Vec<i64>,
    pub data: Vec<TermId>,
    live: bool,
    /// The last write of each element, for kernel arguments.
    pub writes: Option<Vec<Option<Write>>>,
}

#[derive(Clone, Copy, Debug)]
enum Val {
    Term(TermId),
    Buf(usize),
}

/// One program's symbolic run.
pub struct Machine<'a> {
    m: &'a Module,
    d: Symbolic<'a>,
    pub buffers: Vec<Buffer>,
    budget: u64,
    loops: Vec<(Op, i64)>,
    calls: Vec<Op>,
    arith: HashMap<Op, arith::ArithOp>,
    math: HashMap<Op, math::MathOp>,
}

/// An op's resolved meaning, resolved once per op.
fn cached<T: Copy>(
    cache: &mut HashMap<Op, T>,
    op: Op,
    resolve: impl FnOnce() -> Result<T, String>,
) -> Result<T, ExecError> {
    if let Some(r) = cache.get(&op) {
        return Ok(*r);
    }
    let r = resolve().map_err(|reason| ExecError::unsupported(op, reason))?;
    cache.insert(op, r);
    Ok(r)
}

/// The value of each SSA value, indexed by the value's arena index.
struct Env(Vec<Option<Val>>);

impl Env {
    fn new(m: &Module) -> Env {
        Env(vec![None; m.num_value_slots()])
    }
    fn insert(&mut self, v: Value, val: Val) {
        if let Some(slot) = self.0.get_mut(v.index()) {
            *slot = Some(val);
        }
    }
    fn get(&self, v: &Value) -> Option<&Val> {
        self.0.get(v.index()).and_then(Option::as_ref)
    }
}

impl<'a> Machine<'a> {
    pub fn new(m: &'a Module, store: &'a mut TermStore, budget: u64) -> Self {
        Machine {
            m,
            d: Symbolic {
                store,
                ops: 0,
                divisors: Default::default(),
            },
            buffers: Vec::new(),
            budget,
            loops: Vec::new(),
            calls: Vec::new(),
            arith: HashMap::new(),
            math: HashMap::new(),
        }
    }

    /// Operations executed so far.
    pub fn ops(&self) -> u64 {
        self.d.ops
    }

    /// The non-constant divisors of the run's divisions.
    pub fn take_divisors(&mut self) -> std::collections::HashSet<TermId, crate::term::FxBuild> {
        std::mem::take(&mut self.d.divisors)
    }

    pub fn store(&mut self) -> &mut TermStore {
        self.d.store
    }

    /// Runs `kernel` on symbolic arguments: buffer `p` of each tensor
    /// parameter holds `Input { param: p, .. }`, scalars are inputs too.
    /// Returns the buffer of each parameter (`None` for scalars).
    pub fn run_kernel(&mut self, kernel: Op) -> Result<Vec<Option<usize>>, ExecError> {
        let m = self.m;
        let entry = m
            .entry_block(kernel, 0)
            .ok_or_else(|| ExecError::unsupported(kernel, "a function without a body"))?;
        let params = func::kernel_params(m, kernel);
        let mut env = Env::new(m);
        let mut bufs = Vec::new();
        for (p, &arg) in params.iter().zip(m.block_args(entry)) {
            let param = p.index as u32;
            match p.memref() {
                Some(t) => {
                    let size: i64 = t.shape.iter().product();
                    let data = (0..size.max(0) as u32)
                        .map(|offset| self.d.store.intern(Node::Input { param, offset }))
                        .collect();
                    let b = self.new_buffer(t.shape.clone(), data, true);
                    env.insert(arg, Val::Buf(b));
                    bufs.push(Some(b));
                }
                None => {
                    let t = self.d.store.intern(Node::Input { param, offset: 0 });
                    env.insert(arg, Val::Term(t));
                    bufs.push(None);
                }
            }
        }
        self.block(entry, &mut env)?;
        Ok(bufs)
    }

    fn new_buffer(&mut self, shape: Vec<i64>, data: Vec<TermId>, record: bool) -> usize {
        let n = data.len();
        self.buffers.push(Buffer {
            shape,
            data,
            live: true,
            writes: record.then(|| vec![None; n]),
        });
        self.buffers.len() - 1
    }

    fn block(&mut self, block: Block, env: &mut Env) -> Result<(), ExecError> {
        let m = self.m;
        for &op in m.block_ops(block) {
            self.op(op, env)?;
        }
        Ok(())
    }

    fn region(&mut self, op: Op, region: usize, env: &mut Env) -> Result<(), ExecError> {
        if let Some(b) = self.m.entry_block(op, region) {
            self.block(b, env)?;
        }
        Ok(())
    }

    fn term(&self, op: Op, env: &Env, v: Value) -> Result<TermId, ExecError> {
        match env.get(&v) {
            Some(Val::Term(t)) => Ok(*t),
            _ => Err(ExecError::unsupported(
                op,
                "an operand that is not a scalar defined before it",
            )),
        }
    }

    /// The terms of scalar operands `vs` of `op`.
    fn terms(&self, op: Op, env: &Env, vs: &[Value]) -> Result<Vec<TermId>, ExecError> {
        vs.iter().map(|v| self.term(op, env, *v)).collect()
    }

    fn buffer(&self, op: Op, env: &Env, v: Value) -> Result<usize, ExecError> {
        match env.get(&v) {
            Some(Val::Buf(b)) => Ok(*b),
            _ => Err(ExecError::unsupported(
                op,
                "a memref operand that is not a buffer",
            )),
        }
    }

    /// The concrete value of a term that must be constant.
    fn concrete(&mut self, op: Op, t: TermId, what: &'static str) -> Result<i64, ExecError> {
        let t = self.d.store.canonical(t);
        match self.d.store.node(t) {
            Node::Int { width, bits } => Ok(accc_interp::concrete::sext(*bits, *width)),
            _ => Err(ExecError::DataDependent { op, what }),
        }
    }

    fn fault(op: Op) -> impl Fn(Fault) -> ExecError {
        move |fault| ExecError::Fault { op, fault }
    }

    fn check_budget(&self) -> Result<(), ExecError> {
        if self.d.ops > self.budget {
            return Err(ExecError::OverBudget { ops: self.budget });
        }
        Ok(())
    }

    /// The row-major offset of `index` in buffer `b`, bounds checked.
    fn offset(&self, op: Op, b: usize, index: &[i64]) -> Result<usize, ExecError> {
        let buf = &self.buffers[b];
        if !buf.live {
            return Err(ExecError::Fault {
                op,
                fault: Fault::Deallocated,
            });
        }
        if index.len() != buf.shape.len() {
            return Err(ExecError::unsupported(
                op,
                format!(
                    "{} indices for a rank-{} memref",
                    index.len(),
                    buf.shape.len()
                ),
            ));
        }
        let mut offset = 0i64;
        for (dim, (&i, &size)) in index.iter().zip(&buf.shape).enumerate() {
            if i < 0 || i >= size {
                return Err(ExecError::Fault {
                    op,
                    fault: Fault::OutOfBounds {
                        dim,
                        index: i,
                        size,
                    },
                });
            }
            offset = offset * size + i;
        }
        Ok(offset as usize)
    }

    /// The buffer and concrete indices of a load or store.
    fn address(&mut self, op: Op, env: &Env) -> Result<(usize, Vec<i64>), ExecError> {
        let m = self.m;
        let name = m.op_name(op);
        let operands = m.operands(op);
        if name.starts_with("affine.") {
            let (map, map_operands) = affine::access_map(m, op)
                .ok_or(ExecError::unsupported(op, "an access without a map"))?;
            let args = self.terms(op, env, map_operands)?;
            // Indices of loop variables and constants (the usual case)
            // are computed on integers, without building terms.
            let constants: Option<Vec<u64>> =
                args.iter().map(|t| self.d.store.constant(*t)).collect();
            let index = match constants {
                Some(values) => affine::eval_map(&mut Concrete, map, &values)
                    .map_err(Self::fault(op))?
                    .into_iter()
                    .map(|v| v as i64)
                    .collect(),
                None => {
                    let results =
                        affine::eval_map(&mut self.d, map, &args).map_err(Self::fault(op))?;
                    results
                        .iter()
                        .map(|t| self.concrete(op, *t, "index"))
                        .collect::<Result<_, _>>()?
                }
            };
            let memref = affine::access_memref(m, op).expect("an affine access");
            Ok((self.buffer(op, env, memref)?, index))
        } else {
            let first = usize::from(name == "memref.store");
            let b = self.buffer(op, env, operands[first])?;
            let index = operands[first + 1..]
                .iter()
                .map(|v| {
                    let t = self.term(op, env, *v)?;
                    self.concrete(op, t, "index")
                })
                .collect::<Result<_, _>>()?;
            Ok((b, index))
        }
    }

    fn op(&mut self, op: Op, env: &mut Env) -> Result<(), ExecError> {
        let m = self.m;
        let name = m.op_name(op);
        let operands = m.operands(op);
        let define = |env: &mut Env, t: TermId| {
            env.insert(m.result(op, 0), Val::Term(t));
        };
        match name {
            "affine.yield" | "scf.yield" | "func.return" => {
                if !operands.is_empty() {
                    return Err(ExecError::unsupported(op, "yielded or returned values"));
                }
            }
            _ if name.starts_with("arith.") => {
                let resolved = cached(&mut self.arith, op, || arith::resolve(m, op))?;
                let mut args = self.terms(op, env, operands)?;
                // A commutative op sees its operands in one order, so both
                // orders build one term (its meaning is order-independent).
                // Sums and products are put in normal form by the store
                // already (and an integer sum in progress must stay a
                // chain).
                let normalized = matches!(
                    resolved,
                    arith::ArithOp::Int {
                        op: arith::IntBinary::AddI | arith::IntBinary::MulI,
                        ..
                    } | arith::ArithOp::Float {
                        op: arith::FloatBinary::AddF | arith::FloatBinary::MulF,
                        ..
                    }
                );
                if resolved.is_commutative() && !normalized && args.len() == 2 {
                    let (a, b) = (
                        self.d.store.canonical(args[0]),
                        self.d.store.canonical(args[1]),
                    );
                    args = vec![a.min(b), a.max(b)];
                }
                let t = arith::apply(&mut self.d, &resolved, &args).map_err(Self::fault(op))?;
                define(env, t);
            }
            _ if name.starts_with("math.") => {
                let resolved = cached(&mut self.math, op, || math::resolve(m, op))?;
                let args = self.terms(op, env, operands)?;
                let t = math::apply(&mut self.d, &resolved, &args).map_err(Self::fault(op))?;
                define(env, t);
            }
            "affine.load" | "memref.load" => {
                let (b, index) = self.address(op, env)?;
                let offset = self.offset(op, b, &index)?;
                self.d.ops += 1;
                let t = self.buffers[b].data[offset];
                define(env, t);
            }
            "affine.store" | "memref.store" => {
                let value = self.term(op, env, operands[0])?;
                let (b, index) = self.address(op, env)?;
                let offset = self.offset(op, b, &index)?;
                self.d.ops += 1;
                let buf = &mut self.buffers[b];
                buf.data[offset] = value;
                if let Some(w) = &mut buf.writes {
                    // A reduction rewrites one element from one nest: its
                    // record is updated in place, without an allocation.
                    match &mut w[offset] {
                        Some(last) if last.iteration.len() == self.loops.len() => {
                            last.op = op;
                            last.iteration.copy_from_slice(&self.loops);
                        }
                        slot => {
                            *slot = Some(Write {
                                op,
                                iteration: self.loops.clone().into_boxed_slice(),
                            })
                        }
                    }
                }
            }
            "affine.apply" | "affine.min" | "affine.max" => {
                let map = m
                    .attr(op, "map")
                    .and_then(Attribute::as_affine_map)
                    .ok_or(ExecError::unsupported(op, "a missing `map`"))?;
                let args = self.terms(op, env, operands)?;
                let t = match name {
                    "affine.apply" => affine::eval_map(&mut self.d, map, &args)
                        .map_err(Self::fault(op))?
                        .first()
                        .copied()
                        .ok_or(ExecError::Fault {
                            op,
                            fault: Fault::EmptyMap,
                        })?,
                    _ => affine::eval_extremum(&mut self.d, map, &args, name == "affine.max")
                        .map_err(Self::fault(op))?,
                };
                define(env, t);
            }
            "affine.for" | "scf.for" => {
                let (lb, ub, step) = if name == "affine.for" {
                    let (lb, ub) = affine::for_bounds(m, op)
                        .ok_or(ExecError::unsupported(op, "malformed bounds"))?;
                    let bound = |this: &mut Self, b: &affine::Bound, max: bool| {
                        let args = this.terms(op, env, &b.operands)?;
                        let t = affine::eval_extremum(&mut this.d, &b.map, &args, max)
                            .map_err(Self::fault(op))?;
                        this.concrete(op, t, "loop bound")
                    };
                    let lower = bound(self, &lb, true)?;
                    let upper = bound(self, &ub, false)?;
                    (lower, upper, affine::for_step(m, op).unwrap_or(1))
                } else {
                    let mut c = [0i64; 3];
                    for (k, v) in operands.iter().take(3).enumerate() {
                        let t = self.term(op, env, *v)?;
                        c[k] = self.concrete(op, t, "loop bound")?;
                    }
                    (c[0], c[1], c[2])
                };
                if step <= 0 {
                    return Err(ExecError::Fault {
                        op,
                        fault: Fault::NonPositiveStep(step),
                    });
                }
                let Some(body) = m.entry_block(op, 0) else {
                    return Ok(());
                };
                let iv = m.block_args(body).first().copied();
                let mut i = lb;
                while i < ub {
                    self.check_budget()?;
                    if let Some(iv) = iv {
                        let t = self.d.store.int(64, i as u64);
                        env.insert(iv, Val::Term(t));
                    }
                    self.loops.push((op, i));
                    let r = self.block(body, env);
                    self.loops.pop();
                    r?;
                    i = match i.checked_add(step) {
                        Some(n) => n,
                        None => break,
                    };
                }
            }
            "affine.if" | "scf.if" => {
                let cond = if name == "scf.if" {
                    self.term(op, env, operands[0])?
                } else {
                    let set = m
                        .attr(op, "condition")
                        .and_then(Attribute::as_integer_set)
                        .ok_or(ExecError::unsupported(op, "a missing `condition`"))?;
                    let args = self.terms(op, env, operands)?;
                    affine::eval_set(&mut self.d, set, &args).map_err(Self::fault(op))?
                };
                let taken = self.concrete(op, cond, "condition")? & 1 == 1;
                if taken {
                    self.region(op, 0, env)?;
                } else if m.op_regions(op).len() > 1 {
                    self.region(op, 1, env)?;
                }
            }
            "memref.alloc" | "memref.alloca" => {
                let ty = m.value_type(m.result(op, 0));
                let Some(t) = ty.as_memref() else {
                    return Err(ExecError::unsupported(op, "a non-memref allocation"));
                };
                // A new buffer is filled with zeros (docs/semantics.md).
                let Some(elem) = ScalarType::of(&t.elem) else {
                    return Err(ExecError::unsupported(
                        op,
                        "a memref of non-scalar elements",
                    ));
                };
                let zero = match elem {
                    ScalarType::Int(w) => self.d.store.int(w, 0),
                    ScalarType::Float(f) => self.d.store.intern(Node::Float { format: f, bits: 0 }),
                };
                let size: i64 = t.shape.iter().product();
                let b = self.new_buffer(t.shape.clone(), vec![zero; size.max(0) as usize], false);
                env.insert(m.result(op, 0), Val::Buf(b));
            }
            "memref.dealloc" => {
                let b = self.buffer(op, env, operands[0])?;
                if !self.buffers[b].live {
                    return Err(ExecError::Fault {
                        op,
                        fault: Fault::Deallocated,
                    });
                }
                self.buffers[b].live = false;
            }
            "memref.copy" => {
                let src = self.buffer(op, env, operands[0])?;
                let dst = self.buffer(op, env, operands[1])?;
                if !self.buffers[src].live || !self.buffers[dst].live {
                    return Err(ExecError::Fault {
                        op,
                        fault: Fault::Deallocated,
                    });
                }
                if self.buffers[src].shape != self.buffers[dst].shape {
                    return Err(ExecError::unsupported(
                        op,
                        "a copy between memrefs of different shapes",
                    ));
                }
                let data = self.buffers[src].data.clone();
                self.d.ops += data.len() as u64;
                let iteration: Box<[(Op, i64)]> = self.loops.clone().into_boxed_slice();
                let buf = &mut self.buffers[dst];
                buf.data = data;
                if let Some(w) = &mut buf.writes {
                    for slot in w.iter_mut() {
                        *slot = Some(Write {
                            op,
                            iteration: iteration.clone(),
                        });
                    }
                }
            }
            "func.call" => {
                let callee_name = m
                    .attr(op, "callee")
                    .and_then(Attribute::as_symbol)
                    .unwrap_or("");
                let callee = m.lookup_symbol(callee_name).ok_or(ExecError::unsupported(
                    op,
                    format!("a call to the undefined `@{callee_name}`"),
                ))?;
                if self.calls.contains(&callee) {
                    return Err(ExecError::Fault {
                        op,
                        fault: Fault::Recursion(callee_name.to_string()),
                    });
                }
                let entry = m.entry_block(callee, 0).ok_or(ExecError::unsupported(
                    op,
                    format!("a call to `@{callee_name}`, which has no body"),
                ))?;
                let mut inner = Env::new(m);
                for (arg, v) in m.block_args(entry).iter().zip(operands) {
                    let val = *env.get(v).ok_or(ExecError::unsupported(
                        op,
                        "an argument defined outside the function",
                    ))?;
                    inner.insert(*arg, val);
                }
                self.calls.push(callee);
                let r = self.block(entry, &mut inner);
                self.calls.pop();
                r?;
            }
            _ => {
                return Err(ExecError::unsupported(
                    op,
                    "an op the verifier does not know",
                ))
            }
        }
        Ok(())
    }
}

/// An estimate of the symbolic operations a run of `kernel` takes: every
/// op counted once per iteration of its enclosing loops (constant bounds
/// exactly; a `min`/`max` bound by its constant results), calls by their
/// callee's estimate, and every element of the arguments and of each
/// allocation once. Cheap (one walk of the IR), so a kernel far over the
/// budget is not run at all.
pub fn estimate_ops(m: &Module, kernel: Op) -> u64 {
    fn trips(m: &Module, op: Op) -> u64 {
        let Some((lb, ub)) = affine::for_bounds(m, op) else {
            return 1;
        };
        let constants = |b: &affine::Bound| -> Vec<i64> {
            b.map
                .results
                .iter()
                .filter_map(|e| match e {
                    accc_ir::AffineExpr::Const(c) => Some(*c),
                    _ => None,
                })
                .collect()
        };
        let lower = constants(&lb).into_iter().max().unwrap_or(0);
        let Some(upper) = constants(&ub).into_iter().min() else {
            return 1;
        };
        let step = affine::for_step(m, op).unwrap_or(1).max(1);
        (upper.saturating_sub(lower).max(0) as u64).div_ceil(step as u64)
    }
    fn block_cost(m: &Module, block: Block, stack: &mut Vec<Op>) -> u64 {
        let mut total = 0u64;
        for &op in m.block_ops(block) {
            let inner: u64 = m
                .op_regions(op)
                .iter()
                .filter_map(|r| m.region_blocks(*r).first().copied())
                .map(|b| block_cost(m, b, stack))
                .fold(0, u64::saturating_add);
            let cost = match m.op_name(op) {
                "affine.for" | "scf.for" => trips(m, op).saturating_mul(inner.max(1)),
                "func.call" => {
                    let callee = m
                        .attr(op, "callee")
                        .and_then(Attribute::as_symbol)
                        .and_then(|n| m.lookup_symbol(n));
                    match callee {
                        Some(c) if !stack.contains(&c) => {
                            stack.push(c);
                            let cost = m.entry_block(c, 0).map_or(1, |b| block_cost(m, b, stack));
                            stack.pop();
                            cost
                        }
                        _ => 1,
                    }
                }
                // A buffer costs one op per element (zero-filling it).
                "memref.alloc" | "memref.alloca" => m
                    .value_type(m.result(op, 0))
                    .as_memref()
                    .map_or(1, |t| t.shape.iter().product::<i64>().max(1) as u64),
                _ => 1u64.saturating_add(inner),
            };
            total = total.saturating_add(cost);
        }
        total
    }
    // The arguments' elements each become an input term.
    let arguments: u64 = func::kernel_params(m, kernel)
        .iter()
        .filter_map(|p| {
            p.memref()
                .map(|t| t.shape.iter().product::<i64>().max(1) as u64)
        })
        .fold(0, u64::saturating_add);
    m.entry_block(kernel, 0)
        .map_or(0, |b| block_cost(m, b, &mut vec![kernel]))
        .saturating_add(arguments)
}

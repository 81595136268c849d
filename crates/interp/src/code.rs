//! Closure compilation: every instruction of a function's tree becomes a
//! boxed closure specialised to what is known before the run — the
//! primitive and its width or format, the element width of a buffer, the
//! number of terms of a proven access, constant loop bounds — so executing
//! an op is an indirect call into straight-line code, with no dispatch on
//! the op's kind, width or access form.
//!
//! Within a block, a value used exactly once, by an op later in the same
//! block, is not written to a register: its op becomes an expression
//! closure that the consumer calls for the operand ("expression fusion").
//! The gemm inner loop `store(addi(load, muli(extsi(load), extsi(load))))`
//! is then one statement. Fusion never changes the order in which ops run:
//! a value is fused only when every op between it and its consumer is
//! fused into the same consumer, and a consumer evaluates its fused
//! operands in program order. So loads see the same memory and the first
//! fault is the same fault. Executed-op counts are those of the unfused
//! block.
//!
//! The meaning of every op is still the one in `accc_ir::dialects`: a
//! closure calls the dialect's `apply` (or the domain primitive it
//! resolves to) on the [`Concrete`] domain with the resolved op as a
//! constant, which the optimiser folds.

use std::sync::Arc;

use accc_ir::dialects::{affine, arith, math};
use accc_ir::semantics::{Domain, Fault, FloatFormat, FloatOp, IntOp};

use crate::concrete::Concrete;
use crate::exec::{
    bound, checked_offset, linear, past_end, run_block, Frame, Machine, Stop, Storage,
};
use crate::program::{
    Access, ApplyKind, Condition, DimIndex, Inst, LoopBound, Program, Site, Slot, Step,
};

/// One compiled statement.
pub(crate) type Code = Box<dyn Fn(&mut Frame, &mut Machine) -> Result<(), Stop> + Send + Sync>;

/// One compiled expression: computes a value without writing a register.
type Expr = Box<dyn Fn(&mut Frame, &mut Machine) -> Result<u64, Stop> + Send + Sync>;

/// A compiled block.
pub(crate) struct Body {
    pub codes: Box<[Code]>,
    /// The block's op count (before fusion).
    pub ops: u64,
}

/// A function compiled to closures.
pub(crate) struct Compiled {
    pub params: Box<[Slot]>,
    pub num_slots: usize,
    pub body: Body,
}

/// Compiles every function of `program` (callees before callers; the
/// program has no recursion).
pub(crate) fn compile_program(program: &Program) -> Vec<Arc<Compiled>> {
    let mut done: Vec<Option<Arc<Compiled>>> = vec![None; program.functions.len()];
    for f in 0..program.functions.len() {
        compile_function(program, f, &mut done);
    }
    done.into_iter().flatten().collect()
}

fn compile_function(
    program: &Program,
    f: usize,
    done: &mut Vec<Option<Arc<Compiled>>>,
) -> Arc<Compiled> {
    if let Some(c) = &done[f] {
        return c.clone();
    }
    let func = &program.functions[f];
    let mut uses = vec![0u32; func.num_slots];
    count_uses(&func.body, &mut uses);
    let mut cx = Cx {
        program,
        func: f,
        done,
        uses,
    };
    let compiled = Arc::new(Compiled {
        params: func.params.clone().into_boxed_slice(),
        num_slots: func.num_slots,
        body: cx.block(&func.body),
    });
    done[f] = Some(compiled.clone());
    compiled
}

/// Adds every register read in `insts` (nested blocks included) to `uses`.
fn count_uses(insts: &[Inst], uses: &mut [u32]) {
    for inst in insts {
        for s in reads(inst) {
            uses[s as usize] += 1;
        }
        match inst {
            Inst::For { body, .. } => count_uses(body, uses),
            Inst::If {
                then_body,
                else_body,
                ..
            } => {
                count_uses(then_body, uses);
                count_uses(else_body, uses);
            }
            _ => {}
        }
    }
}

/// The registers an instruction reads itself (not in nested blocks).
fn reads(inst: &Inst) -> Vec<Slot> {
    fn dims(index: &[DimIndex], out: &mut Vec<Slot>) {
        for ix in index {
            match ix {
                DimIndex::Slot(s) => out.push(*s),
                DimIndex::Linear { terms, .. } => out.extend(terms.iter().map(|(s, _)| *s)),
                DimIndex::Expr { operands, .. } => out.extend(operands.iter()),
            }
        }
    }
    fn access(a: &Access, out: &mut Vec<Slot>) {
        match a {
            Access::Proven { terms, .. } => out.extend(terms.iter().map(|(s, _)| *s)),
            Access::Checked(index) => dims(index, out),
        }
    }
    fn bound(b: &LoopBound, out: &mut Vec<Slot>) {
        match b {
            LoopBound::Const(_) => {}
            LoopBound::Slot(s) => out.push(*s),
            LoopBound::Map { operands, .. } => out.extend(operands.iter()),
        }
    }
    let mut out = fusable_operands(inst);
    match inst {
        Inst::Prim { .. } | Inst::Arith { .. } | Inst::Math { .. } | Inst::Alloc { .. } => {}
        Inst::Load { mem, access: a, .. } | Inst::Store { mem, access: a, .. } => {
            out.push(*mem);
            access(a, &mut out);
        }
        Inst::Apply { operands, .. } => out.extend(operands.iter()),
        Inst::For {
            lower, upper, step, ..
        } => {
            bound(lower, &mut out);
            bound(upper, &mut out);
            if let Step::Slot(s) = step {
                out.push(*s);
            }
        }
        Inst::If { cond, .. } => match cond {
            Condition::Slot(s) => out.push(*s),
            Condition::Set { operands, .. } => out.extend(operands.iter()),
        },
        Inst::Dealloc { mem, .. } => out.push(*mem),
        Inst::Copy { src, dst, .. } => out.extend([*src, *dst]),
        Inst::Call { args, .. } => out.extend(args.iter()),
    }
    out
}

/// The operands an instruction can take as fused expressions, in operand
/// order.
fn fusable_operands(inst: &Inst) -> Vec<Slot> {
    match inst {
        Inst::Prim {
            op: arith::Primitive::Resize { .. },
            a,
            ..
        } => vec![*a],
        Inst::Prim { a, b, .. } => vec![*a, *b],
        Inst::Arith { args, arity, .. } => args[..usize::from(*arity)].to_vec(),
        Inst::Math { arg, .. } => vec![*arg],
        Inst::Store { value, .. } => vec![*value],
        _ => Vec::new(),
    }
}

/// The register a pure instruction defines; `None` for instructions with
/// effects (stores, loops, allocation, calls), which are never fused.
fn pure_result(inst: &Inst) -> Option<Slot> {
    match inst {
        Inst::Prim { dst, .. }
        | Inst::Arith { dst, .. }
        | Inst::Math { dst, .. }
        | Inst::Load { dst, .. }
        | Inst::Apply { dst, .. } => Some(*dst),
        _ => None,
    }
}

/// A value operand: a register, or a fused expression.
enum Operand {
    Reg(Slot),
    Tree(Expr),
}

impl Operand {
    #[inline(always)]
    fn get(&self, f: &mut Frame, m: &mut Machine) -> Result<u64, Stop> {
        match self {
            Operand::Reg(s) => Ok(f.regs[*s as usize]),
            Operand::Tree(e) => e(f, m),
        }
    }
}

/// An instruction's operands, with fused ones evaluated in program order.
struct Operands<const N: usize> {
    ops: [Operand; N],
    /// Operand positions in evaluation order.
    order: [u8; N],
}

impl<const N: usize> Operands<N> {
    #[inline(always)]
    fn get(&self, f: &mut Frame, m: &mut Machine) -> Result<[u64; N], Stop> {
        let mut values = [0u64; N];
        for &p in &self.order {
            values[p as usize] = self.ops[p as usize].get(f, m)?;
        }
        Ok(values)
    }
}

/// A pure instruction whose result is not yet written: it is either fused
/// into a later consumer or, at a flush, compiled to a statement.
#[derive(Clone)]
struct Pending<'i> {
    inst: &'i Inst,
    dst: Slot,
    /// Fused operands (operand position, instruction), in program order.
    trees: Vec<(usize, Pending<'i>)>,
    /// The height of its expression tree.
    depth: u32,
}

/// `match $value { V => { const $c: T = T::V; $body } ... }` over every
/// listed variant, so `$body` sees the variant as a constant.
macro_rules! each_variant {
    ($value:expr, $ty:ident { $($variant:ident),* $(,)? }, $c:ident => $body:expr) => {
        match $value {
            $($ty::$variant => {
                const $c: $ty = $ty::$variant;
                $body
            })*
        }
    };
}

struct Cx<'a> {
    program: &'a Program,
    func: usize,
    done: &'a mut Vec<Option<Arc<Compiled>>>,
    /// Reads of each register in the whole function.
    uses: Vec<u32>,
}

/// Where an access happens: the memref register and, for faults, the
/// function and site.
#[derive(Clone, Copy)]
struct At {
    mem: Slot,
    fi: usize,
    site: Site,
}

/// A buffer's elements at one width.
trait Elem: 'static {
    fn get(data: &Storage, i: usize) -> Option<u64>;
    fn set(data: &mut Storage, i: usize, v: u64) -> Option<()>;
}

macro_rules! elem {
    ($name:ident, $variant:ident, $t:ty) => {
        struct $name;
        impl Elem for $name {
            #[inline(always)]
            fn get(data: &Storage, i: usize) -> Option<u64> {
                match data {
                    Storage::$variant(v) => v.get(i).map(|x| u64::from(*x)),
                    _ => None,
                }
            }
            #[inline(always)]
            fn set(data: &mut Storage, i: usize, v: u64) -> Option<()> {
                match data {
                    Storage::$variant(d) => {
                        *d.get_mut(i)? = v as $t;
                        Some(())
                    }
                    _ => None,
                }
            }
        }
    };
}
elem!(E8, U8, u8);
elem!(E16, U16, u16);
elem!(E32, U32, u32);
elem!(E64, U64, u64);

/// How an access computes its row-major offset.
trait Addr: Send + Sync + 'static {
    fn offset(&self, regs: &[u64], shape: &[i64]) -> Result<usize, Fault>;
}

/// A proven access with `N` terms.
struct Flat<const N: usize> {
    constant: i64,
    terms: [(Slot, i64); N],
}

impl<const N: usize> Addr for Flat<N> {
    #[inline(always)]
    fn offset(&self, regs: &[u64], _: &[i64]) -> Result<usize, Fault> {
        Ok(linear(self.constant, &self.terms, regs) as usize)
    }
}

/// A proven access with any number of terms.
struct FlatMany {
    constant: i64,
    terms: Box<[(Slot, i64)]>,
}

impl Addr for FlatMany {
    #[inline(always)]
    fn offset(&self, regs: &[u64], _: &[i64]) -> Result<usize, Fault> {
        Ok(linear(self.constant, &self.terms, regs) as usize)
    }
}

struct Checked(Box<[DimIndex]>);

impl Addr for Checked {
    #[inline(always)]
    fn offset(&self, regs: &[u64], shape: &[i64]) -> Result<usize, Fault> {
        checked_offset(&self.0, shape, regs)
    }
}

/// Expands `$body` with `E` bound to the element type of width `$bits` and
/// `addr` to the specialised form of `$access`.
macro_rules! with_elem_and_addr {
    ($bits:expr, $access:expr, |$e:ident, $addr:ident| $body:expr) => {{
        match $bits {
            0..=8 => with_addr!($access, E8, |$e, $addr| $body),
            9..=16 => with_addr!($access, E16, |$e, $addr| $body),
            17..=32 => with_addr!($access, E32, |$e, $addr| $body),
            _ => with_addr!($access, E64, |$e, $addr| $body),
        }
    }};
}

macro_rules! with_addr {
    ($access:expr, $elem:ty, |$e:ident, $addr:ident| $body:expr) => {{
        type $e = $elem;
        match $access {
            Access::Proven { constant, terms } => {
                let constant = *constant;
                match terms.len() {
                    0 => {
                        let $addr = Flat::<0> {
                            constant,
                            terms: [],
                        };
                        $body
                    }
                    1 => {
                        let $addr = Flat::<1> {
                            constant,
                            terms: [terms[0]],
                        };
                        $body
                    }
                    2 => {
                        let $addr = Flat::<2> {
                            constant,
                            terms: [terms[0], terms[1]],
                        };
                        $body
                    }
                    3 => {
                        let $addr = Flat::<3> {
                            constant,
                            terms: [terms[0], terms[1], terms[2]],
                        };
                        $body
                    }
                    _ => {
                        let $addr = FlatMany {
                            constant,
                            terms: terms.clone(),
                        };
                        $body
                    }
                }
            }
            Access::Checked(index) => {
                let $addr = Checked(index.clone());
                $body
            }
        }
    }};
}

/// How a pure instruction's value is delivered: as an expression for a
/// consumer ([`AsExpr`]) or written to its register ([`ToReg`]).
trait Sink {
    type Out;
    fn finish<V>(self, v: V) -> Self::Out
    where
        V: Fn(&mut Frame, &mut Machine) -> Result<u64, Stop> + Send + Sync + 'static;
}

struct AsExpr;

impl Sink for AsExpr {
    type Out = Expr;
    fn finish<V>(self, v: V) -> Expr
    where
        V: Fn(&mut Frame, &mut Machine) -> Result<u64, Stop> + Send + Sync + 'static,
    {
        Box::new(v)
    }
}

struct ToReg(Slot);

impl Sink for ToReg {
    type Out = Code;
    fn finish<V>(self, v: V) -> Code
    where
        V: Fn(&mut Frame, &mut Machine) -> Result<u64, Stop> + Send + Sync + 'static,
    {
        let d = self.0 as usize;
        Box::new(move |f, m| {
            let x = v(f, m)?;
            f.regs[d] = x;
            Ok(())
        })
    }
}

/// The deepest expression tree fusion builds (evaluating one recurses once
/// per level).
const MAX_DEPTH: u32 = 48;

/// `Ok(v)` or the fault recorded at `site`.
#[inline(always)]
fn or_fail(m: &mut Machine, fi: usize, site: Site, r: Result<u64, Fault>) -> Result<u64, Stop> {
    match r {
        Ok(v) => Ok(v),
        Err(fault) => Err(m.fail(fi, site, fault)),
    }
}

impl Cx<'_> {
    /// An access to the memref in register `mem` by the op at `site`.
    fn at(&self, mem: Slot, site: Site) -> At {
        At {
            mem,
            fi: self.func,
            site,
        }
    }

    /// Operands in positions `slots`, the fused ones replaced by their
    /// expressions and evaluated first, in program order.
    fn operands<const N: usize>(
        &mut self,
        slots: [Slot; N],
        trees: Vec<(usize, Pending)>,
    ) -> Operands<N> {
        let mut ops = slots.map(Operand::Reg);
        let mut order = [0u8; N];
        let mut n = 0;
        for (pos, p) in trees {
            ops[pos] = Operand::Tree(self.build(p, AsExpr));
            order[n] = pos as u8;
            n += 1;
        }
        for (p, op) in ops.iter().enumerate() {
            if matches!(op, Operand::Reg(_)) {
                order[n] = p as u8;
                n += 1;
            }
        }
        Operands { ops, order }
    }

    /// Compiles a block, fusing single-use values into their consumers.
    fn block(&mut self, insts: &[Inst]) -> Body {
        let mut codes: Vec<Code> = Vec::new();
        let mut pending: Vec<Pending> = Vec::new();
        for inst in insts {
            let fusable = fusable_operands(inst);
            let candidates: Vec<(usize, Slot)> = fusable
                .iter()
                .enumerate()
                .filter(|(_, s)| {
                    self.uses[**s as usize] == 1 && pending.iter().any(|p| p.dst == **s)
                })
                .map(|(i, s)| (i, *s))
                .collect();
            // Fuse only the most recent pending instructions, so nothing
            // between a value and its consumer runs out of order.
            let k = candidates.len();
            let top = pending.len().saturating_sub(k);
            let fuse = k > 0
                && k <= pending.len()
                && pending[top..]
                    .iter()
                    .all(|p| p.depth < MAX_DEPTH && candidates.iter().any(|(_, s)| *s == p.dst));
            let mut trees = Vec::new();
            let mut depth = 1;
            if fuse {
                for p in pending.split_off(top) {
                    let pos = candidates.iter().position(|(_, s)| *s == p.dst);
                    let pos = candidates[pos.unwrap_or(0)].0;
                    depth = depth.max(p.depth + 1);
                    trees.push((pos, p));
                }
            }
            // Pending values this instruction reads as registers are
            // written first; everything pending is, before an effect.
            let reads_pending = reads(inst)
                .iter()
                .any(|s| pending.iter().any(|p| p.dst == *s));
            match pure_result(inst) {
                Some(dst) => {
                    if reads_pending {
                        self.flush(&mut pending, &mut codes);
                    }
                    pending.push(Pending {
                        inst,
                        dst,
                        trees,
                        depth,
                    });
                }
                None => {
                    self.flush(&mut pending, &mut codes);
                    codes.push(self.statement(inst, trees));
                }
            }
        }
        self.flush(&mut pending, &mut codes);
        Body {
            codes: codes.into_boxed_slice(),
            ops: insts.len() as u64,
        }
    }

    /// Writes every pending value to its register, in program order.
    fn flush(&mut self, pending: &mut Vec<Pending>, codes: &mut Vec<Code>) {
        for p in pending.drain(..) {
            let dst = p.dst;
            codes.push(self.build(p, ToReg(dst)));
        }
    }

    /// A pure instruction with its fused operands.
    fn build<S: Sink>(&mut self, p: Pending, sink: S) -> S::Out {
        let fi = self.func;
        let Pending { inst, trees, .. } = p;
        match inst {
            Inst::Prim {
                op: arith::Primitive::Resize { from, to, signed },
                a,
                ..
            } => {
                let (from, to, signed) = (*from, *to, *signed);
                // A resize of a fused load is done by the load.
                if let [(
                    _,
                    Pending {
                        inst:
                            Inst::Load {
                                mem,
                                access,
                                elem_bits,
                                site,
                                ..
                            },
                        ..
                    },
                )] = trees.as_slice()
                {
                    let at = self.at(*mem, *site);
                    let post = move |x: u64| Concrete.int_resize(&x, from, to, signed);
                    return with_elem_and_addr!(*elem_bits, access, |E, addr| sink.finish(load::<
                        E,
                        _,
                        _,
                    >(
                        at, addr, post
                    )));
                }
                let arg = self.operands([*a], trees);
                sink.finish(move |f, m| {
                    let [x] = arg.get(f, m)?;
                    Ok(Concrete.int_resize(&x, from, to, signed))
                })
            }
            Inst::Prim {
                op: arith::Primitive::Int(op, w),
                a,
                b,
                site,
                ..
            } => {
                let args = self.operands([*a, *b], trees);
                int_prim(*op, *w, args, fi, *site, sink)
            }
            Inst::Prim {
                op: arith::Primitive::Float(op, format),
                a,
                b,
                ..
            } => {
                let args = self.operands([*a, *b], trees);
                float_prim(*op, *format, args, sink)
            }
            Inst::Arith { op, args, site, .. } => {
                let (op, args, site) = (*op, self.operands(*args, trees), *site);
                sink.finish(move |f, m| {
                    let values = args.get(f, m)?;
                    let r = arith::apply(&mut Concrete, &op, &values);
                    or_fail(m, fi, site, r)
                })
            }
            Inst::Math { op, arg, site, .. } => {
                let (op, arg, site) = (*op, self.operands([*arg], trees), *site);
                sink.finish(move |f, m| {
                    let values = arg.get(f, m)?;
                    let r = math::apply(&mut Concrete, &op, &values);
                    or_fail(m, fi, site, r)
                })
            }
            Inst::Load {
                mem,
                access,
                elem_bits,
                site,
                ..
            } => {
                let at = self.at(*mem, *site);
                with_elem_and_addr!(*elem_bits, access, |E, addr| sink.finish(load::<E, _, _>(
                    at,
                    addr,
                    |x| x
                )))
            }
            Inst::Apply {
                kind,
                map,
                operands,
                site,
                ..
            } => {
                let (kind, map, operands, site) = (*kind, map.clone(), operands.clone(), *site);
                sink.finish(move |f, m| {
                    let values: Vec<u64> = operands.iter().map(|s| f.regs[*s as usize]).collect();
                    let v = match kind {
                        ApplyKind::Apply => {
                            affine::eval_map(&mut Concrete, &map, &values).map(|r| r[0])
                        }
                        ApplyKind::Min => {
                            affine::eval_extremum(&mut Concrete, &map, &values, false)
                        }
                        ApplyKind::Max => affine::eval_extremum(&mut Concrete, &map, &values, true),
                    };
                    or_fail(m, fi, site, v)
                })
            }
            Inst::Store { .. }
            | Inst::For { .. }
            | Inst::If { .. }
            | Inst::Alloc { .. }
            | Inst::Dealloc { .. }
            | Inst::Copy { .. }
            | Inst::Call { .. } => {
                unreachable!("only pure instructions are pending (pure_result)")
            }
        }
    }

    /// An instruction with effects, with its fused operands.
    fn statement(&mut self, inst: &Inst, trees: Vec<(usize, Pending)>) -> Code {
        let fi = self.func;
        match inst {
            Inst::Store {
                value,
                mem,
                access,
                elem_bits,
                site,
            } => {
                let at = self.at(*mem, *site);
                if let Some(code) = self.update(inst, &trees) {
                    return code;
                }
                let value = self.operands([*value], trees);
                with_elem_and_addr!(*elem_bits, access, |E, addr| store::<E, _>(at, addr, value))
            }
            Inst::For {
                iv,
                lower,
                upper,
                step,
                body,
                site,
            } => {
                let (iv, site) = (*iv, *site);
                let body = self.block(body);
                match (lower, upper, step) {
                    (LoopBound::Const(lb), LoopBound::Const(ub), Step::Const(st)) if *st > 0 => {
                        let (lb, ub, st) = (*lb, *ub, *st);
                        Box::new(move |f, m| iterate(lb, ub, st, iv, &body, f, m))
                    }
                    _ => {
                        let (lower, upper, step) = (lower.clone(), upper.clone(), step.clone());
                        Box::new(move |f, m| {
                            let bounds = (|| {
                                let lb = bound(&lower, &f.regs, false)?;
                                let ub = bound(&upper, &f.regs, true)?;
                                let st = match step {
                                    Step::Const(c) => c,
                                    Step::Slot(s) => f.regs[s as usize] as i64,
                                };
                                if st <= 0 {
                                    return Err(Fault::NonPositiveStep(st));
                                }
                                Ok((lb, ub, st))
                            })();
                            match bounds {
                                Ok((lb, ub, st)) => iterate(lb, ub, st, iv, &body, f, m),
                                Err(fault) => Err(m.fail(fi, site, fault)),
                            }
                        })
                    }
                }
            }
            Inst::If {
                cond,
                then_body,
                else_body,
                site,
            } => {
                let site = *site;
                let (then_body, else_body) = (self.block(then_body), self.block(else_body));
                match cond {
                    Condition::Slot(s) => {
                        let s = *s;
                        Box::new(move |f, m| {
                            if f.regs[s as usize] & 1 == 1 {
                                run_block(&then_body, f, m)
                            } else {
                                run_block(&else_body, f, m)
                            }
                        })
                    }
                    Condition::Set { set, operands } => {
                        let (set, operands) = (set.clone(), operands.clone());
                        Box::new(move |f, m| {
                            let values: Vec<u64> =
                                operands.iter().map(|s| f.regs[*s as usize]).collect();
                            match affine::eval_set(&mut Concrete, &set, &values) {
                                Ok(1) => run_block(&then_body, f, m),
                                Ok(_) => run_block(&else_body, f, m),
                                Err(fault) => Err(m.fail(fi, site, fault)),
                            }
                        })
                    }
                }
            }
            Inst::Alloc {
                dst,
                shape,
                elem_bits,
                on_stack,
                site,
            } => {
                let (dst, shape, elem_bits, on_stack, site) =
                    (*dst, shape.clone(), *elem_bits, *on_stack, *site);
                let len = shape.iter().product::<i64>().max(0) as usize;
                Box::new(move |f, m| {
                    let cached = if on_stack {
                        f.stack.iter().find(|(s, _)| *s == site).map(|(_, h)| *h)
                    } else {
                        None
                    };
                    let handle = match cached {
                        Some(h) => {
                            if let Some(b) = m.live_mut(h) {
                                b.data.fill_zero();
                            }
                            h
                        }
                        None => {
                            let h = m.add_buffer(Storage::zeros(elem_bits, len), shape.clone());
                            if on_stack {
                                f.stack.push((site, h));
                            }
                            h
                        }
                    };
                    f.regs[dst as usize] = handle;
                    Ok(())
                })
            }
            Inst::Dealloc { mem, site } => {
                let (mem, site) = (*mem, *site);
                Box::new(move |f, m| {
                    let handle = f.regs[mem as usize];
                    if m.live(handle).is_none() {
                        return Err(m.fail(fi, site, Fault::Deallocated));
                    }
                    m.release(handle);
                    Ok(())
                })
            }
            Inst::Copy { src, dst, site } => {
                let (src, dst, site) = (*src, *dst, *site);
                Box::new(move |f, m| {
                    let (s, d) = (f.regs[src as usize], f.regs[dst as usize]);
                    let Some(data) = m.live(s).map(|b| b.data.clone()) else {
                        return Err(m.fail(fi, site, Fault::Deallocated));
                    };
                    match m.live_mut(d) {
                        Some(b) => {
                            b.data = data;
                            Ok(())
                        }
                        None => Err(m.fail(fi, site, Fault::Deallocated)),
                    }
                })
            }
            Inst::Call { callee, args, site } => {
                let site = *site;
                let target = compile_function(self.program, *callee, self.done);
                let memref_args: Box<[bool]> = self.program.functions[*callee]
                    .param_types
                    .iter()
                    .map(|t| t.as_memref().is_some())
                    .collect();
                let args = args.clone();
                Box::new(move |f, m| {
                    let values: Vec<u64> = args.iter().map(|s| f.regs[*s as usize]).collect();
                    // Passing a deallocated buffer is already a use of it.
                    for (is_memref, v) in memref_args.iter().zip(&values) {
                        if *is_memref && m.live(*v).is_none() {
                            return Err(m.fail(fi, site, Fault::Deallocated));
                        }
                    }
                    m.call(&target, &values)
                })
            }
            Inst::Prim { dst, .. }
            | Inst::Arith { dst, .. }
            | Inst::Math { dst, .. }
            | Inst::Load { dst, .. }
            | Inst::Apply { dst, .. } => {
                let p = Pending {
                    inst,
                    dst: *dst,
                    trees,
                    depth: 0,
                };
                self.build(p, ToReg(*dst))
            }
        }
    }
}

impl Cx<'_> {
    /// `store(op(load(X), y), X)` — a read-modify-write of one element, the
    /// shape of every reduction — as one statement that finds the element
    /// once. `None` unless `store` (with its fused value `trees`) has that
    /// shape.
    fn update(&mut self, store: &Inst, trees: &[(usize, Pending)]) -> Option<Code> {
        let Inst::Store {
            mem,
            access,
            elem_bits,
            ..
        } = store
        else {
            return None;
        };
        let [(_, value)] = trees else { return None };
        let Inst::Prim {
            op: op @ (arith::Primitive::Int(..) | arith::Primitive::Float(..)),
            a,
            b,
            site: op_site,
            ..
        } = value.inst
        else {
            return None;
        };
        let load_index = value.trees.iter().position(|(_, t)| {
            matches!(t.inst, Inst::Load { mem: m, access: x, .. } if m == mem && x == access)
        })?;
        let (load_pos, load) = &value.trees[load_index];
        let Inst::Load { site, .. } = load.inst else {
            return None;
        };
        let at = self.at(*mem, *site);
        let load_pos = *load_pos;
        let load_first = load_index == 0 && value.trees.len() == 2;
        // Rebuild the other operand from a copy of the pending tree.
        let (op, op_site) = (*op, *op_site);
        let other_slot = if load_pos == 0 { *b } else { *a };
        let other = match value
            .trees
            .iter()
            .enumerate()
            .find(|(i, _)| *i != load_index)
        {
            Some((_, (_, t))) => Operand::Tree(self.build(t.clone(), AsExpr)),
            None => Operand::Reg(other_slot),
        };
        let rmw = Rmw {
            at,
            load_pos,
            load_first,
            op,
            op_site,
            other,
        };
        Some(with_elem_and_addr!(*elem_bits, access, |E, addr| update::<
            E,
            _,
        >(
            rmw, addr
        )))
    }
}

/// A read-modify-write `X = op(X, other)` (or `op(other, X)`).
struct Rmw {
    /// The element's memref and the load's site.
    at: At,
    /// Which operand of `op` the element is.
    load_pos: usize,
    /// The element is read before a fused `other` is evaluated.
    load_first: bool,
    op: arith::Primitive,
    op_site: Site,
    other: Operand,
}

fn update<E: Elem, A: Addr>(rmw: Rmw, addr: A) -> Code {
    Box::new(move |f, m| {
        let Rmw {
            at,
            load_pos,
            load_first,
            op,
            op_site,
            ref other,
        } = rmw;
        let early = if load_first {
            match read_element::<E, A>(f, m, at.mem, &addr) {
                Ok(v) => Some(v),
                Err(fault) => return Err(m.fail(at.fi, at.site, fault)),
            }
        } else {
            None
        };
        let y = other.get(f, m)?;
        let (o, old) = match early {
            Some(v) => v,
            None => match read_element::<E, A>(f, m, at.mem, &addr) {
                Ok(v) => v,
                Err(fault) => return Err(m.fail(at.fi, at.site, fault)),
            },
        };
        let (x, y) = if load_pos == 0 { (old, y) } else { (y, old) };
        let v = match op.apply(&mut Concrete, &x, &y) {
            Ok(v) => v,
            Err(fault) => return Err(m.fail(at.fi, op_site, fault)),
        };
        // The element was just read from this live buffer, and fused
        // expressions neither free nor reallocate buffers.
        let handle = f.regs[at.mem as usize];
        match m.live_mut(handle).and_then(|b| E::set(&mut b.data, o, v)) {
            Some(()) => Ok(()),
            None => Err(m.fail(at.fi, at.site, Fault::Deallocated)),
        }
    })
}

/// Runs `body` for `iv = lb, lb + st, ... < ub` (`st > 0`), stopping before
/// the induction variable would overflow.
#[inline(always)]
fn iterate(
    lb: i64,
    ub: i64,
    st: i64,
    iv: Slot,
    body: &Body,
    f: &mut Frame,
    m: &mut Machine,
) -> Result<(), Stop> {
    let mut i = lb;
    while i < ub {
        f.regs[iv as usize] = i as u64;
        run_block(body, f, m)?;
        match i.checked_add(st) {
            Some(next) => i = next,
            None => break,
        }
    }
    Ok(())
}

/// An integer primitive with its op as a constant.
fn int_prim<S: Sink>(
    op: IntOp,
    w: u32,
    args: Operands<2>,
    fi: usize,
    site: Site,
    sink: S,
) -> S::Out {
    each_variant!(
        op,
        IntOp { Add, Sub, Mul, DivS, DivU, RemS, RemU, And, Or, Xor, Shl, ShrS, ShrU },
        OP => sink.finish(move |f, m| {
            let [x, y] = args.get(f, m)?;
            let r = Concrete.int_op(OP, w, &x, &y);
            or_fail(m, fi, site, r)
        })
    )
}

/// A float primitive with its op and format as constants.
fn float_prim<S: Sink>(op: FloatOp, format: FloatFormat, args: Operands<2>, sink: S) -> S::Out {
    each_variant!(
        format,
        FloatFormat { F16, BF16, F32, F64 },
        FORMAT => each_variant!(
            op,
            FloatOp { Add, Sub, Mul, Div, Rem },
            OP => sink.finish(move |f, m| {
                let [x, y] = args.get(f, m)?;
                Ok(Concrete.float_op(OP, FORMAT, &x, &y))
            })
        )
    )
}

/// A load, then `post` (the identity, or a fused resize).
fn load<E: Elem, A: Addr, P>(
    at: At,
    addr: A,
    post: P,
) -> impl Fn(&mut Frame, &mut Machine) -> Result<u64, Stop> + Send + Sync + 'static
where
    P: Fn(u64) -> u64 + Send + Sync + 'static,
{
    move |f, m| {
        let value = read_element::<E, A>(f, m, at.mem, &addr).map(|(_, v)| v);
        or_fail(m, at.fi, at.site, value).map(&post)
    }
}

/// The offset and value of the element an access names in the buffer in
/// register `mem`.
#[inline(always)]
fn read_element<E: Elem, A: Addr>(
    f: &Frame,
    m: &Machine,
    mem: Slot,
    addr: &A,
) -> Result<(usize, u64), Fault> {
    let b = m.live(f.regs[mem as usize]).ok_or(Fault::Deallocated)?;
    let o = addr.offset(&f.regs, &b.shape)?;
    let v = E::get(&b.data, o).ok_or_else(|| past_end(o, &b.data))?;
    Ok((o, v))
}

fn store<E: Elem, A: Addr>(at: At, addr: A, value: Operands<1>) -> Code {
    Box::new(move |f, m| {
        let [x] = value.get(f, m)?;
        let done = match m.live_mut(f.regs[at.mem as usize]) {
            Some(b) => addr
                .offset(&f.regs, &b.shape)
                .and_then(|o| E::set(&mut b.data, o, x).ok_or_else(|| past_end(o, &b.data))),
            None => Err(Fault::Deallocated),
        };
        done.map_err(|fault| m.fail(at.fi, at.site, fault))
    })
}

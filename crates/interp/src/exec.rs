//! Executing compiled functions on flat buffers.
//!
//! Registers are a `Vec<u64>` per call; a memref register holds a
//! [`Handle`] (buffer index and generation), so a handle kept after
//! `memref.dealloc` is detected instead of reading a reused buffer.

use accc_ir::dialects::{affine, arith, math};
use accc_ir::semantics::Fault;

use crate::concrete::Concrete;
use crate::program::{
    Access, ApplyKind, Condition, DimIndex, Function, Inst, LoopBound, Program, Site, Slot, Step,
};
use crate::InterpError;

/// Elements stored at their own width (an `i8` buffer takes one byte per
/// element), so the interpreter's working set is the program's.
#[derive(Clone, Debug)]
pub(crate) enum Storage {
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
    U64(Vec<u64>),
}

impl Storage {
    pub fn zeros(elem_bits: u32, len: usize) -> Storage {
        match elem_bits {
            0..=8 => Storage::U8(vec![0; len]),
            9..=16 => Storage::U16(vec![0; len]),
            17..=32 => Storage::U32(vec![0; len]),
            _ => Storage::U64(vec![0; len]),
        }
    }

    /// From canonical bits (each value fits `elem_bits`).
    pub fn from_bits(elem_bits: u32, values: &[u64]) -> Storage {
        match elem_bits {
            0..=8 => Storage::U8(values.iter().map(|v| *v as u8).collect()),
            9..=16 => Storage::U16(values.iter().map(|v| *v as u16).collect()),
            17..=32 => Storage::U32(values.iter().map(|v| *v as u32).collect()),
            _ => Storage::U64(values.to_vec()),
        }
    }

    pub fn to_bits(&self) -> Vec<u64> {
        match self {
            Storage::U8(v) => v.iter().map(|x| u64::from(*x)).collect(),
            Storage::U16(v) => v.iter().map(|x| u64::from(*x)).collect(),
            Storage::U32(v) => v.iter().map(|x| u64::from(*x)).collect(),
            Storage::U64(v) => v.clone(),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Storage::U8(v) => v.len(),
            Storage::U16(v) => v.len(),
            Storage::U32(v) => v.len(),
            Storage::U64(v) => v.len(),
        }
    }

    /// `None` past the end (see [`past_end`]).
    #[inline(always)]
    fn get(&self, i: usize) -> Option<u64> {
        Some(match self {
            Storage::U8(v) => u64::from(*v.get(i)?),
            Storage::U16(v) => u64::from(*v.get(i)?),
            Storage::U32(v) => u64::from(*v.get(i)?),
            Storage::U64(v) => *v.get(i)?,
        })
    }

    #[inline(always)]
    fn set(&mut self, i: usize, x: u64) -> Option<()> {
        match self {
            Storage::U8(v) => *v.get_mut(i)? = x as u8,
            Storage::U16(v) => *v.get_mut(i)? = x as u16,
            Storage::U32(v) => *v.get_mut(i)? = x as u32,
            Storage::U64(v) => *v.get_mut(i)? = x,
        }
        Some(())
    }

    fn fill_zero(&mut self) {
        match self {
            Storage::U8(v) => v.fill(0),
            Storage::U16(v) => v.fill(0),
            Storage::U32(v) => v.fill(0),
            Storage::U64(v) => v.fill(0),
        }
    }
}

/// One buffer, row-major.
pub(crate) struct Buffer {
    pub data: Storage,
    pub shape: Box<[i64]>,
    pub generation: u32,
    pub live: bool,
}

/// A memref value: `generation << 32 | index`.
#[derive(Clone, Copy)]
pub(crate) struct Handle(pub u64);

impl Handle {
    fn new(index: usize, generation: u32) -> Handle {
        Handle((u64::from(generation) << 32) | index as u64)
    }
    fn index(self) -> usize {
        (self.0 & 0xffff_ffff) as usize
    }
    fn generation(self) -> u32 {
        (self.0 >> 32) as u32
    }
}

pub(crate) struct Machine<'p> {
    pub program: &'p Program,
    pub buffers: Vec<Buffer>,
    free: Vec<usize>,
    /// Executed ops: every op once per execution, a loop once per iteration.
    pub ops: u64,
}

type Result<T> = std::result::Result<T, InterpError>;

impl<'p> Machine<'p> {
    pub fn new(program: &'p Program) -> Machine<'p> {
        Machine {
            program,
            buffers: Vec::new(),
            free: Vec::new(),
            ops: 0,
        }
    }

    /// Adds a buffer and returns its handle (as register bits).
    pub fn add_buffer(&mut self, data: Storage, shape: Box<[i64]>) -> u64 {
        if let Some(index) = self.free.pop() {
            let b = &mut self.buffers[index];
            b.data = data;
            b.shape = shape;
            b.live = true;
            return Handle::new(index, b.generation).0;
        }
        self.buffers.push(Buffer {
            data,
            shape,
            generation: 0,
            live: true,
        });
        Handle::new(self.buffers.len() - 1, 0).0
    }

    pub fn buffer_bits(&self, handle: u64) -> Vec<u64> {
        self.buffers[Handle(handle).index()].data.to_bits()
    }

    fn release(&mut self, handle: u64) {
        let index = Handle(handle).index();
        let b = &mut self.buffers[index];
        b.live = false;
        b.generation = b.generation.wrapping_add(1);
        b.data = Storage::U8(Vec::new());
        self.free.push(index);
    }

    /// Runs function `f` with `args` as its parameters' register values.
    pub fn call(&mut self, f: usize, args: &[u64]) -> Result<()> {
        let func = &self.program.functions[f];
        let mut frame = Frame {
            regs: vec![0; func.num_slots],
            stack: Vec::new(),
        };
        for (slot, v) in func.params.iter().zip(args) {
            frame.regs[*slot as usize] = *v;
        }
        let result = self.block(func, &func.body, &mut frame);
        for (_, handle) in std::mem::take(&mut frame.stack) {
            self.release(handle);
        }
        result
    }

    fn buffer(&self, func: &Function, site: Site, handle: u64) -> Result<&Buffer> {
        let h = Handle(handle);
        match self.buffers.get(h.index()) {
            Some(b) if b.live && b.generation == h.generation() => Ok(b),
            _ => Err(func.fault(site, Fault::Deallocated)),
        }
    }

    fn block(&mut self, func: &Function, insts: &[Inst], frame: &mut Frame) -> Result<()> {
        self.ops += insts.len() as u64;
        for inst in insts {
            self.inst(func, inst, frame)?;
        }
        Ok(())
    }

    #[inline(always)]
    fn inst(&mut self, func: &Function, inst: &Inst, frame: &mut Frame) -> Result<()> {
        let regs = &mut frame.regs;
        match inst {
            Inst::Arith {
                op,
                args,
                dst,
                site,
            } => {
                let values = [
                    regs[args[0] as usize],
                    regs[args[1] as usize],
                    regs[args[2] as usize],
                ];
                regs[*dst as usize] =
                    arith::apply(&mut Concrete, op, &values).map_err(|f| func.fault(*site, f))?;
            }
            Inst::Prim {
                op,
                a,
                b,
                dst,
                site,
            } => {
                regs[*dst as usize] = op
                    .apply(&mut Concrete, &regs[*a as usize], &regs[*b as usize])
                    .map_err(|f| func.fault(*site, f))?;
            }
            Inst::Math { op, arg, dst, site } => {
                regs[*dst as usize] = math::apply(&mut Concrete, op, &[regs[*arg as usize]])
                    .map_err(|f| func.fault(*site, f))?;
            }
            Inst::Load {
                mem,
                access,
                dst,
                site,
            } => {
                let b = self.buffer(func, *site, regs[*mem as usize])?;
                let offset =
                    element_offset(access, &b.shape, regs).map_err(|f| func.fault(*site, f))?;
                match b.data.get(offset) {
                    Some(v) => regs[*dst as usize] = v,
                    None => return Err(func.fault(*site, past_end(offset, &b.data))),
                }
            }
            Inst::Store {
                value,
                mem,
                access,
                site,
            } => {
                let handle = regs[*mem as usize];
                let b = self.buffer(func, *site, handle)?;
                let offset =
                    element_offset(access, &b.shape, regs).map_err(|f| func.fault(*site, f))?;
                let data = &mut self.buffers[Handle(handle).index()].data;
                if data.set(offset, regs[*value as usize]).is_none() {
                    return Err(func.fault(*site, past_end(offset, data)));
                }
            }
            Inst::Apply {
                kind,
                map,
                operands,
                dst,
                site,
            } => {
                let values: Vec<u64> = operands.iter().map(|s| regs[*s as usize]).collect();
                let v = match kind {
                    ApplyKind::Apply => affine::eval_map(&mut Concrete, map, &values).map(|r| r[0]),
                    ApplyKind::Min => affine::eval_extremum(&mut Concrete, map, &values, false),
                    ApplyKind::Max => affine::eval_extremum(&mut Concrete, map, &values, true),
                };
                regs[*dst as usize] = v.map_err(|f| func.fault(*site, f))?;
            }
            Inst::For {
                iv,
                lower,
                upper,
                step,
                body,
                site,
            } => {
                let lb = bound(lower, regs, false).map_err(|f| func.fault(*site, f))?;
                let ub = bound(upper, regs, true).map_err(|f| func.fault(*site, f))?;
                let step = match step {
                    Step::Const(c) => *c,
                    Step::Slot(s) => regs[*s as usize] as i64,
                };
                if step <= 0 {
                    return Err(func.fault(*site, Fault::NonPositiveStep(step)));
                }
                let mut i = lb;
                while i < ub {
                    frame.regs[*iv as usize] = i as u64;
                    self.block(func, body, frame)?;
                    match i.checked_add(step) {
                        Some(next) => i = next,
                        None => break,
                    }
                }
            }
            Inst::If {
                cond,
                then_body,
                else_body,
                site,
            } => {
                let holds = match cond {
                    Condition::Slot(s) => regs[*s as usize] & 1 == 1,
                    Condition::Set { set, operands } => {
                        let values: Vec<u64> = operands.iter().map(|s| regs[*s as usize]).collect();
                        affine::eval_set(&mut Concrete, set, &values)
                            .map_err(|f| func.fault(*site, f))?
                            == 1
                    }
                };
                let body = if holds { then_body } else { else_body };
                self.block(func, body, frame)?;
            }
            Inst::Alloc {
                dst,
                shape,
                elem_bits,
                on_stack,
                site,
            } => {
                let len = shape.iter().product::<i64>().max(0) as usize;
                let cached = if *on_stack {
                    frame
                        .stack
                        .iter()
                        .find(|(s, _)| *s == *site)
                        .map(|(_, h)| *h)
                } else {
                    None
                };
                let handle = match cached {
                    Some(h) => {
                        self.buffers[Handle(h).index()].data.fill_zero();
                        h
                    }
                    None => {
                        let h = self.add_buffer(Storage::zeros(*elem_bits, len), shape.clone());
                        if *on_stack {
                            frame.stack.push((*site, h));
                        }
                        h
                    }
                };
                frame.regs[*dst as usize] = handle;
            }
            Inst::Dealloc { mem, site } => {
                let handle = regs[*mem as usize];
                self.buffer(func, *site, handle)?;
                self.release(handle);
            }
            Inst::Copy { src, dst, site } => {
                let (s, d) = (regs[*src as usize], regs[*dst as usize]);
                let data = self.buffer(func, *site, s)?.data.clone();
                self.buffer(func, *site, d)?;
                self.buffers[Handle(d).index()].data = data;
            }
            Inst::Call { callee, args, site } => {
                let values: Vec<u64> = args.iter().map(|s| regs[*s as usize]).collect();
                // Passing a deallocated buffer is already a use of it.
                let callee_types = &self.program.functions[*callee].param_types;
                for (ty, v) in callee_types.iter().zip(&values) {
                    if ty.as_memref().is_some() {
                        self.buffer(func, *site, *v)?;
                    }
                }
                self.call(*callee, &values)?;
            }
        }
        Ok(())
    }
}

struct Frame {
    regs: Vec<u64>,
    /// `memref.alloca` buffers of this call, by allocating site.
    stack: Vec<(Site, u64)>,
}

/// `constant + Σ coeff · regs[slot]` in wrap-around `index` arithmetic.
#[inline(always)]
fn linear(constant: i64, terms: &[(Slot, i64)], regs: &[u64]) -> i64 {
    terms.iter().fold(constant, |acc, (s, c)| {
        acc.wrapping_add((regs[*s as usize] as i64).wrapping_mul(*c))
    })
}

/// The row-major offset of the element an access names.
#[inline(always)]
fn element_offset(
    access: &Access,
    shape: &[i64],
    regs: &[u64],
) -> std::result::Result<usize, Fault> {
    match access {
        Access::Proven { constant, terms } => Ok(linear(*constant, terms, regs) as usize),
        Access::Checked(index) => checked_offset(index, shape, regs),
    }
}

/// The fault for an offset past a buffer's end (which the compile-time
/// bounds proof and the per-dimension checks rule out; reported rather than
/// panicking so no interpreter bug can abort a run).
#[cold]
fn past_end(offset: usize, data: &Storage) -> Fault {
    Fault::OutOfBounds {
        dim: 0,
        index: offset as i64,
        size: data.len() as i64,
    }
}

/// A loop's lower (`upper = false`: the greatest result) or upper bound.
fn bound(b: &LoopBound, regs: &[u64], upper: bool) -> std::result::Result<i64, Fault> {
    Ok(match b {
        LoopBound::Const(c) => *c,
        LoopBound::Slot(s) => regs[*s as usize] as i64,
        LoopBound::Map { map, operands } => {
            let values: Vec<u64> = operands.iter().map(|s| regs[*s as usize]).collect();
            affine::eval_extremum(&mut Concrete, map, &values, !upper)? as i64
        }
    })
}

/// The row-major offset of a checked access, checking every index against
/// its dimension.
#[inline(always)]
fn checked_offset(
    index: &[DimIndex],
    shape: &[i64],
    regs: &[u64],
) -> std::result::Result<usize, Fault> {
    let mut offset = 0i64;
    for (dim, (ix, &size)) in index.iter().zip(shape).enumerate() {
        let i = match ix {
            DimIndex::Slot(s) => regs[*s as usize] as i64,
            DimIndex::Linear { constant, terms } => linear(*constant, terms, regs),
            DimIndex::Expr {
                expr,
                num_dims,
                operands,
            } => {
                let values: Vec<u64> = operands.iter().map(|s| regs[*s as usize]).collect();
                affine::eval_expr(&mut Concrete, expr, *num_dims, &values)? as i64
            }
        };
        if i < 0 || i >= size {
            return Err(Fault::OutOfBounds {
                dim,
                index: i,
                size,
            });
        }
        offset = offset * size + i;
    }
    Ok(offset as usize)
}

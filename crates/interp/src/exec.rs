//! Executing compiled functions on flat buffers.
//!
//! Registers are a `Vec<u64>` per call; a memref register holds a
//! [`Handle`] (buffer index and generation), so a handle kept after
//! `memref.dealloc` is detected instead of reading a reused buffer.

use accc_ir::dialects::affine;
use accc_ir::semantics::Fault;

use crate::code::{Body, Compiled};
use crate::concrete::Concrete;
use crate::program::{DimIndex, LoopBound, Site, Slot};

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

    pub fn fill_zero(&mut self) {
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

pub(crate) struct Machine {
    pub buffers: Vec<Buffer>,
    free: Vec<usize>,
    /// Executed ops: every op once per execution, a loop once per iteration.
    pub ops: u64,
    /// The fault that stopped the run: function, site, fault.
    pub error: Option<(usize, Site, Fault)>,
}

/// A run stopped; the reason is in [`Machine::error`].
#[derive(Debug)]
pub(crate) struct Stop;

impl Machine {
    pub fn new() -> Machine {
        Machine {
            buffers: Vec::new(),
            free: Vec::new(),
            ops: 0,
            error: None,
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

    pub fn release(&mut self, handle: u64) {
        let index = Handle(handle).index();
        let b = &mut self.buffers[index];
        b.live = false;
        b.generation = b.generation.wrapping_add(1);
        b.data = Storage::U8(Vec::new());
        self.free.push(index);
    }

    /// The live buffer `handle` names.
    #[inline(always)]
    pub fn live(&self, handle: u64) -> Option<&Buffer> {
        let h = Handle(handle);
        self.buffers
            .get(h.index())
            .filter(|b| b.live && b.generation == h.generation())
    }

    #[inline(always)]
    pub fn live_mut(&mut self, handle: u64) -> Option<&mut Buffer> {
        let h = Handle(handle);
        self.buffers
            .get_mut(h.index())
            .filter(|b| b.live && b.generation == h.generation())
    }

    /// Records `fault` at `site` of function `func` and stops the run.
    #[cold]
    #[inline(never)]
    pub fn fail(&mut self, func: usize, site: Site, fault: Fault) -> Stop {
        self.error = Some((func, site, fault));
        Stop
    }

    /// Runs a compiled function with `args` as its parameters' register
    /// values.
    pub fn call(&mut self, f: &Compiled, args: &[u64]) -> Result<(), Stop> {
        let mut frame = Frame {
            regs: vec![0; f.num_slots],
            stack: Vec::new(),
        };
        for (slot, v) in f.params.iter().zip(args) {
            frame.regs[*slot as usize] = *v;
        }
        let result = run_block(&f.body, &mut frame, self);
        for (_, handle) in std::mem::take(&mut frame.stack) {
            self.release(handle);
        }
        result
    }
}

/// Executes a block: counts its ops, then runs them in order.
#[inline(always)]
pub(crate) fn run_block(body: &Body, frame: &mut Frame, m: &mut Machine) -> Result<(), Stop> {
    m.ops += body.ops;
    for code in body.codes.iter() {
        code(frame, m)?;
    }
    Ok(())
}

/// The registers and `memref.alloca` buffers of one call.
pub(crate) struct Frame {
    pub regs: Vec<u64>,
    /// `memref.alloca` buffers of this call, by allocating site.
    pub stack: Vec<(Site, u64)>,
}

/// `constant + Σ coeff · regs[slot]` in wrap-around `index` arithmetic.
#[inline(always)]
pub(crate) fn linear(constant: i64, terms: &[(Slot, i64)], regs: &[u64]) -> i64 {
    terms.iter().fold(constant, |acc, (s, c)| {
        acc.wrapping_add((regs[*s as usize] as i64).wrapping_mul(*c))
    })
}

/// The fault for an offset past a buffer's end (which the compile-time
/// bounds proof and the per-dimension checks rule out; reported rather than
/// panicking so no interpreter bug can abort a run).
#[cold]
pub(crate) fn past_end(offset: usize, data: &Storage) -> Fault {
    Fault::OutOfBounds {
        dim: 0,
        index: offset as i64,
        size: data.len() as i64,
    }
}

/// A loop's lower (`upper = false`: the greatest result) or upper bound.
pub(crate) fn bound(b: &LoopBound, regs: &[u64], upper: bool) -> std::result::Result<i64, Fault> {
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
pub(crate) fn checked_offset(
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

//! The functional model: Gemmini's scratchpad, accumulator, systolic array
//! and controller configurations, and what every command does to them and
//! to DRAM, element by element.
//!
//! The rules follow Gemmini's own functional model (libgemmini's Spike
//! extension), with every case it leaves undefined made an error instead:
//! a command before its configuration, an address past the end of a
//! memory, more rows than DIM, a compute with no preload, A or weights
//! read from the accumulator. Each command also reports its [`Effects`]:
//! the local rows it reads and writes and the work it hands a controller,
//! which is all the timing model needs.

use crate::decode::{Command, ExConfig, LoadConfig, StoreConfig};
use crate::dram::Dram;
use crate::SimError;
use accc_targets::gemmini::hardware::{Dataflows, HardwareConfig};
use accc_targets::gemmini::isa::{activation, Dataflow, Operand};

/// A run of local rows `[lo, hi)` in the scratchpad or the accumulator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub acc: bool,
    pub lo: u32,
    pub hi: u32,
}

impl Span {
    pub fn overlaps(&self, other: &Span) -> bool {
        self.acc == other.acc && self.lo < other.hi && other.lo < self.hi
    }
}

/// What a command asks of the controllers, for the timing model.
#[derive(Clone, Debug, PartialEq)]
pub enum Work {
    /// A configuration of the load (0), execute (1) or store (2) controller.
    Config(usize),
    /// A mvin: `rows` rows of `row_bytes` bytes, `stride` apart in DRAM
    /// (`dram` 0: zeros, no memory traffic), into `blocks` local blocks.
    Load {
        dram: u64,
        stride: u64,
        rows: u32,
        row_bytes: u32,
        blocks: u32,
    },
    /// A mvout: `rows` rows of `row_bytes` bytes to DRAM.
    Store {
        dram: u64,
        stride: u64,
        rows: u32,
        row_bytes: u32,
        from_acc: bool,
    },
    /// A preload: only recorded until the compute that follows it.
    Preload,
    /// A compute (with its preload): `rows` rows of A stream through the
    /// array; `new_weights` when weights are shifted in from the
    /// scratchpad at the same time, `same_bank` when they come from A's
    /// bank (the two then share one read port).
    Tile {
        rows: u32,
        new_weights: bool,
        same_bank: bool,
    },
    Flush,
}

/// The local rows a command reads and writes, and its work.
#[derive(Clone, Debug, PartialEq)]
pub struct Effects {
    pub reads: Vec<Span>,
    pub writes: Vec<Span>,
    pub work: Work,
    /// Multiply-accumulates the array performed (rows x K x columns).
    pub macs: u64,
}

impl Effects {
    fn new(work: Work) -> Effects {
        Effects {
            reads: Vec::new(),
            writes: Vec::new(),
            work,
            macs: 0,
        }
    }
}

/// Gemmini's architectural state.
pub struct Machine {
    dim: usize,
    spad_rows: u32,
    acc_rows: u32,
    bank_rows: u32,
    max_block_len: u32,
    max_block_len_acc: u32,
    spad: Vec<i8>,
    acc: Vec<i32>,
    ld: [Option<LoadConfig>; 3],
    ex: Option<ExConfig>,
    st: Option<StoreConfig>,
    /// The dataflows the array was built with.
    dataflows: Dataflows,
    /// The array's stationary operand: weights (WS) or partial sums (OS),
    /// `dim x dim`, row-major.
    pe: Vec<i32>,
    /// The last preload's operand and output.
    preload: Option<(Operand, Operand)>,
    /// Scratch rows for DRAM traffic.
    bytes: Vec<u8>,
    /// Rows ever written, for the footprint statistics.
    spad_touched: Vec<bool>,
    acc_touched: Vec<bool>,
}

/// Round half to even, then saturate to `i8` (Gemmini's `ROUND_NEAR_EVEN`
/// followed by the clamp of `MVIN_SCALE` and `ACC_SCALE`).
pub fn scale_to_i8(x: i32, scale: f32) -> i8 {
    let y = (x as f32 * scale).round_ties_even();
    if y.is_nan() {
        0
    } else {
        y.clamp(-128.0, 127.0) as i8
    }
}

/// Gemmini's rounding right shift (round half to even), for shifts < 32.
pub fn rounding_shift(x: i32, shift: u32) -> i32 {
    if shift == 0 {
        return x;
    }
    let x = i64::from(x);
    let base = x >> shift;
    let half = (x >> (shift - 1)) & 1;
    let sticky = x & ((1i64 << (shift - 1)) - 1) != 0;
    (base + (half & i64::from(sticky || (base & 1) == 1))) as i32
}

fn saturate_i8(x: i32) -> i8 {
    x.clamp(-128, 127) as i8
}

impl Machine {
    pub fn new(cfg: &HardwareConfig) -> Machine {
        let dim = cfg.dim() as usize;
        Machine {
            dim,
            spad_rows: cfg.spad_rows(),
            acc_rows: cfg.acc_rows(),
            bank_rows: cfg.spad_bank_rows(),
            max_block_len: cfg.max_block_len(),
            max_block_len_acc: cfg.max_block_len_acc(),
            spad: vec![0; cfg.spad_rows() as usize * dim],
            acc: vec![0; cfg.acc_rows() as usize * dim],
            ld: [None; 3],
            ex: None,
            st: None,
            dataflows: cfg.array.dataflow,
            pe: vec![0; dim * dim],
            preload: None,
            bytes: Vec::new(),
            spad_touched: vec![false; cfg.spad_rows() as usize],
            acc_touched: vec![false; cfg.acc_rows() as usize],
        }
    }

    /// Distinct scratchpad and accumulator rows written so far.
    pub fn rows_touched(&self) -> (u64, u64) {
        let count = |v: &[bool]| v.iter().filter(|&&t| t).count() as u64;
        (count(&self.spad_touched), count(&self.acc_touched))
    }

    /// A copy of one scratchpad row (tests and debugging).
    pub fn spad_row(&self, row: u32) -> &[i8] {
        &self.spad[row as usize * self.dim..][..self.dim]
    }

    /// A copy of one accumulator row.
    pub fn acc_row(&self, row: u32) -> &[i32] {
        &self.acc[row as usize * self.dim..][..self.dim]
    }

    pub fn execute(&mut self, cmd: &Command, dram: &mut dyn Dram) -> Result<Effects, SimError> {
        match *cmd {
            Command::ConfigEx(ex) => {
                self.config_ex(ex)?;
                Ok(Effects::new(Work::Config(1)))
            }
            Command::ConfigLd { id, ld } => {
                if id > 2 {
                    return Err(SimError::BadConfig(format!(
                        "config_ld names mover {id}; Gemmini has movers 0, 1 and 2"
                    )));
                }
                if ld.pixel_repeats > 1 {
                    return Err(SimError::Unsupported(format!(
                        "config_ld with pixel_repeats = {} (the first-layer convolution trick)",
                        ld.pixel_repeats
                    )));
                }
                if !ld.scale.is_finite() {
                    return Err(SimError::BadConfig(format!(
                        "config_ld mover {id}: the scale {} is not finite",
                        ld.scale
                    )));
                }
                self.ld[id] = Some(ld);
                Ok(Effects::new(Work::Config(0)))
            }
            Command::ConfigSt(st) => {
                if st.pool_stride != 0 {
                    return Err(SimError::Unsupported(
                        "config_st with pooling (max-pool on mvout)".into(),
                    ));
                }
                if st.activation > activation::RELU {
                    return Err(SimError::Unsupported(format!(
                        "config_st activation {} (only NO_ACTIVATION and RELU are modelled)",
                        st.activation
                    )));
                }
                if !st.scale.is_finite() {
                    return Err(SimError::BadConfig(format!(
                        "config_st: the scale {} is not finite",
                        st.scale
                    )));
                }
                self.st = Some(st);
                Ok(Effects::new(Work::Config(2)))
            }
            Command::Mvin {
                id,
                dram: addr,
                dst,
            } => self.mvin(id, addr, dst, dram),
            Command::Mvout { dram: addr, src } => self.mvout(addr, src, dram),
            Command::Preload { bd, c } => self.preload(bd, c),
            Command::Compute { preloaded, a, bd } => self.compute(preloaded, a, bd),
            Command::Flush => Ok(Effects::new(Work::Flush)),
        }
    }

    fn config_ex(&mut self, ex: ExConfig) -> Result<(), SimError> {
        if ex.set_only_strides {
            let Some(cur) = self.ex.as_mut() else {
                return Err(SimError::BadConfig(
                    "config_ex sets only strides before any full config_ex".into(),
                ));
            };
            cur.a_stride = ex.a_stride;
            cur.c_stride = ex.c_stride;
            return Ok(());
        }
        if ex.sys_shift >= 32 {
            return Err(SimError::BadConfig(format!(
                "config_ex: shift {} must be below 32",
                ex.sys_shift
            )));
        }
        if ex.activation > activation::RELU {
            return Err(SimError::Unsupported(format!(
                "config_ex activation {} (only NO_ACTIVATION and RELU are modelled)",
                ex.activation
            )));
        }
        if !self.dataflows.supports(ex.dataflow) {
            return Err(SimError::BadConfig(format!(
                "config_ex: {} on an array built for array.dataflow = \"{}\" only",
                ex.dataflow.c_name(),
                self.dataflows.name()
            )));
        }
        match (ex.dataflow, ex.a_transpose, ex.b_transpose) {
            (Dataflow::OutputStationary, false, true) => {
                return Err(SimError::BadConfig(
                    "config_ex: the output-stationary dataflow cannot transpose B without A".into(),
                ))
            }
            (Dataflow::WeightStationary, true, true) => {
                return Err(SimError::BadConfig(
                    "config_ex: the weight-stationary dataflow cannot transpose both A and B"
                        .into(),
                ))
            }
            _ => {}
        }
        self.ex = Some(ex);
        Ok(())
    }

    /// Checks `rows` local rows from `start` lie in their memory.
    fn check_rows(&self, what: &str, acc: bool, start: u64, rows: u64) -> Result<(), SimError> {
        let (name, limit) = if acc {
            ("accumulator", self.acc_rows)
        } else {
            ("scratchpad", self.spad_rows)
        };
        if rows > 0 && start + rows > u64::from(limit) {
            return Err(SimError::OutOfRange(format!(
                "{what} touches {name} row {}, past the last row {} ({limit} rows)",
                start + rows - 1,
                limit - 1
            )));
        }
        Ok(())
    }

    fn check_shape(&self, what: &str, op: &Operand, max_cols: u32) -> Result<(), SimError> {
        if op.rows as usize > self.dim {
            return Err(SimError::BadOperand(format!(
                "{what} moves {} rows; at most DIM = {} per command",
                op.rows, self.dim
            )));
        }
        if op.cols > max_cols {
            return Err(SimError::BadOperand(format!(
                "{what} moves {} columns; at most {max_cols} here",
                op.cols
            )));
        }
        Ok(())
    }

    fn touch(&mut self, span: Span) {
        let v = if span.acc {
            &mut self.acc_touched
        } else {
            &mut self.spad_touched
        };
        for t in &mut v[span.lo as usize..span.hi as usize] {
            *t = true;
        }
    }

    fn mvin(
        &mut self,
        id: usize,
        addr: u64,
        dst: Operand,
        dram: &mut dyn Dram,
    ) -> Result<Effects, SimError> {
        let what = ["mvin", "mvin2", "mvin3"][id];
        let ld = self.ld[id].ok_or_else(|| {
            SimError::BadConfig(format!(
                "{what} before any config_ld for mover {id}: its DRAM stride and scale are not set"
            ))
        })?;
        if dst.addr.is_garbage() {
            return Err(SimError::BadOperand(format!("{what} to GARBAGE_ADDR")));
        }
        let to_acc = dst.addr.is_acc();
        let wide = to_acc && !ld.shrunk;
        let elem_bytes: u32 = if wide { 4 } else { 1 };
        let max_blocks = if wide {
            self.max_block_len_acc
        } else {
            self.max_block_len
        };
        self.check_shape(what, &dst, max_blocks * self.dim as u32)?;
        let dim = self.dim as u32;
        let blocks = dst.cols.div_ceil(dim);
        let base = u64::from(dst.addr.row());
        let last_block = u64::from(blocks.saturating_sub(1)) * u64::from(ld.block_stride);
        self.check_rows(what, to_acc, base + last_block, u64::from(dst.rows))?;
        let row_bytes = dst.cols * elem_bytes;
        let mut effects = Effects::new(Work::Load {
            dram: addr,
            stride: ld.stride,
            rows: dst.rows,
            row_bytes,
            blocks,
        });
        if dst.rows == 0 || dst.cols == 0 {
            return Ok(effects);
        }
        let total = dst.rows as usize * row_bytes as usize;
        self.bytes.resize(total, 0);
        if addr == 0 {
            self.bytes.fill(0);
        } else {
            dram.read_rows(addr, ld.stride, dst.rows, row_bytes, &mut self.bytes)
                .map_err(|f| SimError::Dram(format!("{what} from {addr:#x}: {f}")))?;
        }
        let accumulate = to_acc && dst.addr.accumulate();
        for r in 0..dst.rows as usize {
            let src = &self.bytes[r * row_bytes as usize..][..row_bytes as usize];
            for c in 0..dst.cols as usize {
                let block = (c / self.dim) as u64;
                let row = (base + block * u64::from(ld.block_stride)) as usize + r;
                let col = c % self.dim;
                if to_acc {
                    let v = if wide {
                        i32::from_le_bytes([
                            src[4 * c],
                            src[4 * c + 1],
                            src[4 * c + 2],
                            src[4 * c + 3],
                        ])
                    } else {
                        i32::from(scale_mvin(src[c] as i8, ld.scale))
                    };
                    let slot = &mut self.acc[row * self.dim + col];
                    *slot = if accumulate { slot.wrapping_add(v) } else { v };
                } else {
                    self.spad[row * self.dim + col] = scale_mvin(src[c] as i8, ld.scale);
                }
            }
        }
        for b in 0..u64::from(blocks) {
            let lo = (base + b * u64::from(ld.block_stride)) as u32;
            let span = Span {
                acc: to_acc,
                lo,
                hi: lo + dst.rows,
            };
            self.touch(span);
            effects.writes.push(span);
        }
        Ok(effects)
    }

    fn mvout(&mut self, addr: u64, src: Operand, dram: &mut dyn Dram) -> Result<Effects, SimError> {
        let st = self.st.ok_or_else(|| {
            SimError::BadConfig("mvout before any config_st: the DRAM stride is not set".into())
        })?;
        if src.addr.is_garbage() {
            return Err(SimError::BadOperand("mvout from GARBAGE_ADDR".into()));
        }
        let from_acc = src.addr.is_acc();
        let full = from_acc && src.addr.full_width();
        let max_cols = if from_acc {
            self.dim as u32
        } else {
            self.max_block_len * self.dim as u32
        };
        self.check_shape("mvout", &src, max_cols)?;
        if addr == 0 {
            return Err(SimError::BadOperand("mvout to the NULL address".into()));
        }
        let dim = self.dim as u32;
        let blocks = src.cols.div_ceil(dim);
        let base = u64::from(src.addr.row());
        self.check_rows(
            "mvout",
            from_acc,
            base + u64::from(blocks.saturating_sub(1)) * u64::from(dim),
            u64::from(src.rows),
        )?;
        let elem_bytes: u32 = if full { 4 } else { 1 };
        let row_bytes = src.cols * elem_bytes;
        let mut effects = Effects::new(Work::Store {
            dram: addr,
            stride: st.stride,
            rows: src.rows,
            row_bytes,
            from_acc,
        });
        if src.rows == 0 || src.cols == 0 {
            return Ok(effects);
        }
        self.bytes.resize(src.rows as usize * row_bytes as usize, 0);
        for r in 0..src.rows as usize {
            let out = &mut self.bytes[r * row_bytes as usize..][..row_bytes as usize];
            for c in 0..src.cols as usize {
                let row = base as usize + (c / self.dim) * self.dim + r;
                let col = c % self.dim;
                if !from_acc {
                    out[c] = self.spad[row * self.dim + col] as u8;
                    continue;
                }
                let v = self.acc[row * self.dim + col];
                if full {
                    out[4 * c..4 * c + 4].copy_from_slice(&v.to_le_bytes());
                } else {
                    let mut s = scale_to_i8(v, st.scale);
                    if st.activation == activation::RELU {
                        s = s.max(0);
                    }
                    out[c] = s as u8;
                }
            }
        }
        dram.write_rows(addr, st.stride, src.rows, row_bytes, &self.bytes)
            .map_err(|f| SimError::Dram(format!("mvout to {addr:#x}: {f}")))?;
        for b in 0..u64::from(blocks) {
            let lo = (base + b * u64::from(dim)) as u32;
            effects.reads.push(Span {
                acc: from_acc,
                lo,
                hi: lo + src.rows,
            });
        }
        Ok(effects)
    }

    fn preload(&mut self, bd: Operand, c: Operand) -> Result<Effects, SimError> {
        self.check_shape("preload", &bd, self.dim as u32)?;
        self.check_shape("preload", &c, self.dim as u32)?;
        if !bd.addr.is_garbage() {
            if bd.addr.is_acc() {
                return Err(SimError::BadOperand(format!(
                    "preload from {}: the array loads its operand from the scratchpad only",
                    bd.addr
                )));
            }
            self.check_rows(
                "preload",
                false,
                u64::from(bd.addr.row()),
                u64::from(bd.rows),
            )?;
        }
        self.preload = Some((bd, c));
        Ok(Effects::new(Work::Preload))
    }

    /// The scratchpad row holding row `i` of a `stride`-strided operand.
    fn operand_rows(
        &self,
        what: &str,
        op: &Operand,
        count: u32,
        stride: u32,
    ) -> Result<Option<Span>, SimError> {
        if op.addr.is_garbage() || count == 0 {
            return Ok(None);
        }
        if op.addr.is_acc() {
            return Err(SimError::BadOperand(format!(
                "{what} reads {}: the array reads its operands from the scratchpad only",
                op.addr
            )));
        }
        let lo = u64::from(op.addr.row());
        let span = u64::from(count - 1) * u64::from(stride.max(1)) + 1;
        self.check_rows(what, false, lo, span)?;
        Ok(Some(Span {
            acc: false,
            lo: lo as u32,
            hi: (lo + span) as u32,
        }))
    }

    fn compute(&mut self, preloaded: bool, a: Operand, bd: Operand) -> Result<Effects, SimError> {
        let what = if preloaded {
            "compute_preloaded"
        } else {
            "compute_accumulated"
        };
        let ex = self.ex.ok_or_else(|| {
            SimError::BadConfig(format!(
                "{what} before any config_ex: the dataflow is not set"
            ))
        })?;
        let (pre_bd, c) = self.preload.ok_or_else(|| {
            SimError::BadOperand(format!(
                "{what} with no preload before it: the output address is not set"
            ))
        })?;
        let dim = self.dim;
        self.check_shape(what, &a, dim as u32)?;
        self.check_shape(what, &bd, dim as u32)?;
        if a.addr.is_garbage() {
            return Err(SimError::BadOperand(format!(
                "{what} with A at GARBAGE_ADDR"
            )));
        }
        let a_count = if ex.a_transpose { a.cols } else { a.rows };
        let a_span = self.operand_rows(what, &a, a_count, ex.a_stride)?;
        let bd_count = match ex.dataflow {
            Dataflow::OutputStationary if ex.b_transpose => bd.cols,
            _ => bd.rows,
        };
        let bd_span = self.operand_rows(what, &bd, bd_count, 1)?;
        let ws = ex.dataflow == Dataflow::WeightStationary;

        // Load the stationary operand: weights (WS) or the bias D (OS).
        let mut weights_span = None;
        if preloaded {
            let transpose = ws && ex.b_transpose;
            for i in 0..dim {
                for j in 0..dim {
                    let inside = !pre_bd.addr.is_garbage()
                        && (i as u32) < pre_bd.rows
                        && (j as u32) < pre_bd.cols;
                    let (r, col) = if transpose { (j, i) } else { (i, j) };
                    self.pe[i * dim + j] = if inside {
                        i32::from(self.spad[(pre_bd.addr.row() as usize + r) * dim + col])
                    } else {
                        0
                    };
                }
            }
            if !pre_bd.addr.is_garbage() && pre_bd.rows > 0 {
                let lo = pre_bd.addr.row();
                weights_span = Some(Span {
                    acc: false,
                    lo,
                    hi: lo + pre_bd.rows.max(pre_bd.cols),
                });
            }
        }

        // A (rows x K), zero outside its rows and columns.
        let read_a = |m: &Machine, i: usize, k: usize| -> i32 {
            if i as u32 >= a.rows || k as u32 >= a.cols {
                return 0;
            }
            let (r, col) = if ex.a_transpose { (k, i) } else { (i, k) };
            let row = a.addr.row() as usize + ex.a_stride as usize * r;
            i32::from(m.spad[row * dim + col])
        };
        let mut result = vec![0i32; dim * dim];
        if ws {
            // D (the bias) from the compute's BD operand.
            if !bd.addr.is_garbage() {
                for i in 0..bd.rows.min(dim as u32) as usize {
                    for j in 0..bd.cols.min(dim as u32) as usize {
                        result[i * dim + j] =
                            i32::from(self.spad[(bd.addr.row() as usize + i) * dim + j]);
                    }
                }
            }
            for i in 0..(a.rows as usize).min(dim) {
                let out = &mut result[i * dim..][..dim];
                for k in 0..(a.cols as usize).min(dim) {
                    let x = read_a(self, i, k);
                    if x == 0 {
                        continue;
                    }
                    let w = &self.pe[k * dim..][..dim];
                    for (o, &w) in out.iter_mut().zip(w) {
                        *o = o.wrapping_add(x.wrapping_mul(w));
                    }
                }
            }
        } else {
            // B (K x columns) from the compute's BD operand.
            let mut b = vec![0i32; dim * dim];
            if !bd.addr.is_garbage() {
                for k in 0..dim {
                    for j in 0..dim {
                        if (k as u32) < bd.rows && (j as u32) < bd.cols {
                            let (r, col) = if ex.b_transpose { (j, k) } else { (k, j) };
                            b[k * dim + j] =
                                i32::from(self.spad[(bd.addr.row() as usize + r) * dim + col]);
                        }
                    }
                }
            }
            for i in 0..dim {
                for k in 0..dim {
                    let x = read_a(self, i, k);
                    if x == 0 {
                        continue;
                    }
                    for j in 0..dim {
                        let p = &mut self.pe[i * dim + j];
                        *p = p.wrapping_add(x.wrapping_mul(b[k * dim + j]));
                    }
                }
            }
            result.copy_from_slice(&self.pe);
        }

        // Useful MACs: A's rows and columns times the output columns.
        let cols_out = match ex.dataflow {
            Dataflow::WeightStationary if c.addr.is_garbage() => dim as u32,
            Dataflow::WeightStationary => c.cols,
            Dataflow::OutputStationary => bd.cols,
        };
        let mut effects = Effects::new(Work::Tile {
            rows: a.rows,
            new_weights: weights_span.is_some(),
            same_bank: match (weights_span, a_span) {
                (Some(w), Some(a)) => w.lo / self.bank_rows == a.lo / self.bank_rows,
                _ => false,
            },
        });
        effects.macs = u64::from(a.rows) * u64::from(a.cols) * u64::from(cols_out.min(dim as u32));
        effects.reads.extend(a_span);
        effects.reads.extend(bd_span);
        effects.reads.extend(weights_span);

        // Write C (unless GARBAGE): raw int32 into the accumulator, or
        // shifted, saturated and activated int8 into the scratchpad.
        if !c.addr.is_garbage() && c.rows > 0 {
            let base = u64::from(c.addr.row());
            let stride = u64::from(ex.c_stride.max(1));
            let span_rows = u64::from(c.rows - 1) * stride + 1;
            let to_acc = c.addr.is_acc();
            self.check_rows(what, to_acc, base, span_rows)?;
            let shift = if ws { 0 } else { ex.sys_shift };
            for i in 0..c.rows as usize {
                let row = (base + stride * i as u64) as usize;
                for j in 0..c.cols as usize {
                    let v = result[i * dim + j];
                    if to_acc {
                        let slot = &mut self.acc[row * dim + j];
                        *slot = if c.addr.accumulate() {
                            slot.wrapping_add(v)
                        } else {
                            v
                        };
                    } else {
                        let mut s = saturate_i8(rounding_shift(v, shift));
                        if ex.activation == activation::RELU {
                            s = s.max(0);
                        }
                        self.spad[row * dim + j] = s;
                    }
                }
            }
            let span = Span {
                acc: to_acc,
                lo: base as u32,
                hi: (base + span_rows) as u32,
            };
            self.touch(span);
            effects.writes.push(span);
        }
        Ok(effects)
    }
}

/// The mvin scale: identity at 1.0 (the common case), else Gemmini's
/// rounded, saturated product.
fn scale_mvin(x: i8, scale: f32) -> i8 {
    if scale == 1.0 {
        x
    } else {
        scale_to_i8(i32::from(x), scale)
    }
}

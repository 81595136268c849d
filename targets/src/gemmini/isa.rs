//! Gemmini's instruction encoding: RoCC `custom3` commands with a `funct`
//! code and two 64-bit source registers, and the 32-bit local addresses
//! of the scratchpad and accumulator. The header accc ships
//! (`gemmini.h`) builds these words; the emulator decodes them with the
//! types here, so the two cannot drift apart on a field.

use std::fmt;

/// The RoCC `funct` codes Gemmini defines (include/gemmini.h `k_*`).
pub mod funct {
    pub const CONFIG: u64 = 0;
    pub const MVIN2: u64 = 1;
    pub const MVIN: u64 = 2;
    pub const MVOUT: u64 = 3;
    pub const COMPUTE_PRELOADED: u64 = 4;
    pub const COMPUTE_ACCUMULATE: u64 = 5;
    pub const PRELOAD: u64 = 6;
    pub const FLUSH: u64 = 7;
    pub const LOOP_WS: u64 = 8;
    pub const LOOP_WS_CONFIG_FIRST: u64 = 9;
    pub const LOOP_WS_CONFIG_LAST: u64 = 13;
    pub const MVIN3: u64 = 14;
    pub const LOOP_CONV_WS: u64 = 15;
    pub const LOOP_CONV_WS_CONFIG_FIRST: u64 = 16;
    pub const LOOP_CONV_WS_CONFIG_LAST: u64 = 21;
    pub const COUNTER: u64 = 126;
}

/// `rs1[1:0]` of a CONFIG command.
pub mod config_kind {
    pub const EX: u64 = 0;
    pub const LD: u64 = 1;
    pub const ST: u64 = 2;
    pub const NORM: u64 = 3;
}

/// The all-ones address: "no operand" (a zero bias, zero weights) or "do
/// not write the result".
pub const GARBAGE_ADDR: u32 = u32::MAX;

/// Dataflows (`config_ex` bit 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dataflow {
    OutputStationary,
    WeightStationary,
}

impl Dataflow {
    pub fn bit(self) -> u64 {
        match self {
            Dataflow::OutputStationary => 0,
            Dataflow::WeightStationary => 1,
        }
    }

    pub fn from_bit(bit: u64) -> Dataflow {
        if bit & 1 == 1 {
            Dataflow::WeightStationary
        } else {
            Dataflow::OutputStationary
        }
    }

    pub fn c_name(self) -> &'static str {
        match self {
            Dataflow::OutputStationary => "OUTPUT_STATIONARY",
            Dataflow::WeightStationary => "WEIGHT_STATIONARY",
        }
    }
}

/// Activations applied on the way out of the accumulator.
pub mod activation {
    pub const NONE: u64 = 0;
    pub const RELU: u64 = 1;
}

/// A 32-bit scratchpad or accumulator address in Gemmini's format:
/// bit 31 selects the accumulator; bit 30 (writes to the accumulator)
/// adds to what is there instead of overwriting; bit 29 (reads from the
/// accumulator) reads full-width `acc_t` instead of scaled `elem_t`; the
/// low 29 bits are the row.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct LocalAddr(pub u32);

impl LocalAddr {
    const ACC: u32 = 1 << 31;
    const ACCUMULATE: u32 = 1 << 30;
    const FULL_WIDTH: u32 = 1 << 29;
    const ROW_MASK: u32 = (1 << 29) - 1;

    pub fn spad(row: u32) -> LocalAddr {
        LocalAddr(row & Self::ROW_MASK)
    }

    pub fn acc(row: u32, accumulate: bool, full_width: bool) -> LocalAddr {
        let mut a = Self::ACC | (row & Self::ROW_MASK);
        if accumulate {
            a |= Self::ACCUMULATE;
        }
        if full_width {
            a |= Self::FULL_WIDTH;
        }
        LocalAddr(a)
    }

    pub fn garbage() -> LocalAddr {
        LocalAddr(GARBAGE_ADDR)
    }

    pub fn is_garbage(self) -> bool {
        self.0 == GARBAGE_ADDR
    }

    pub fn is_acc(self) -> bool {
        self.0 & Self::ACC != 0
    }

    pub fn accumulate(self) -> bool {
        self.0 & Self::ACCUMULATE != 0
    }

    pub fn full_width(self) -> bool {
        self.0 & Self::FULL_WIDTH != 0
    }

    pub fn row(self) -> u32 {
        self.0 & Self::ROW_MASK
    }
}

impl fmt::Debug for LocalAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for LocalAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_garbage() {
            return f.write_str("GARBAGE");
        }
        if !self.is_acc() {
            return write!(f, "spad[{}]", self.row());
        }
        write!(f, "acc[{}]", self.row())?;
        if self.accumulate() {
            f.write_str("+=")?;
        }
        if self.full_width() {
            f.write_str("(full)")?;
        }
        Ok(())
    }
}

/// An operand register: `rows << 48 | cols << 32 | local address`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operand {
    pub addr: LocalAddr,
    pub cols: u32,
    pub rows: u32,
}

impl Operand {
    pub fn decode(reg: u64) -> Operand {
        Operand {
            addr: LocalAddr(reg as u32),
            cols: ((reg >> 32) & 0xffff) as u32,
            rows: ((reg >> 48) & 0xffff) as u32,
        }
    }

    pub fn encode(self) -> u64 {
        (u64::from(self.rows) << 48) | (u64::from(self.cols) << 32) | u64::from(self.addr.0)
    }
}

/// One RoCC command word: what the header's macros build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rocc {
    pub funct: u64,
    pub rs1: u64,
    pub rs2: u64,
}

/// The commands of Gemmini's C API as words, packed exactly as the macros
/// of `gemmini.h` pack them (same names, same argument order).
pub mod encode {
    use super::{config_kind, funct, LocalAddr, Operand, Rocc};

    fn op(addr: LocalAddr, cols: u32, rows: u32) -> u64 {
        Operand { addr, cols, rows }.encode()
    }

    /// `gemmini_extended_mvin` (id 0), `mvin2` (1), `mvin3` (2).
    pub fn mvin(id: u8, dram: u64, dst: LocalAddr, cols: u32, rows: u32) -> Rocc {
        let funct = [funct::MVIN, funct::MVIN2, funct::MVIN3][usize::from(id.min(2))];
        Rocc {
            funct,
            rs1: dram,
            rs2: op(dst, cols, rows),
        }
    }

    /// `gemmini_extended_mvout`.
    pub fn mvout(dram: u64, src: LocalAddr, cols: u32, rows: u32) -> Rocc {
        Rocc {
            funct: funct::MVOUT,
            rs1: dram,
            rs2: op(src, cols, rows),
        }
    }

    /// `gemmini_extended_preload(BD, C, BD_cols, BD_rows, C_cols, C_rows)`.
    pub fn preload(
        bd: LocalAddr,
        c: LocalAddr,
        bd_cols: u32,
        bd_rows: u32,
        c_cols: u32,
        c_rows: u32,
    ) -> Rocc {
        Rocc {
            funct: funct::PRELOAD,
            rs1: op(bd, bd_cols, bd_rows),
            rs2: op(c, c_cols, c_rows),
        }
    }

    /// `gemmini_extended_compute_preloaded` / `_accumulated(A, BD, A_cols,
    /// A_rows, BD_cols, BD_rows)`.
    pub fn compute(
        preloaded: bool,
        a: LocalAddr,
        bd: LocalAddr,
        a_cols: u32,
        a_rows: u32,
        bd_cols: u32,
        bd_rows: u32,
    ) -> Rocc {
        let funct = if preloaded {
            funct::COMPUTE_PRELOADED
        } else {
            funct::COMPUTE_ACCUMULATE
        };
        Rocc {
            funct,
            rs1: op(a, a_cols, a_rows),
            rs2: op(bd, bd_cols, bd_rows),
        }
    }

    /// `gemmini_extended3_config_ex(dataflow, act, sys_shift, acc_scale,
    /// C_stride, A_stride, A_transpose, B_transpose, set_only_strides)`.
    #[allow(clippy::too_many_arguments)]
    pub fn config_ex(
        dataflow: u64,
        act: u64,
        sys_shift: u32,
        acc_scale: f32,
        c_stride: u16,
        a_stride: u16,
        a_transpose: bool,
        b_transpose: bool,
        set_only_strides: bool,
    ) -> Rocc {
        let rs1 = (u64::from(acc_scale.to_bits()) << 32)
            | (u64::from(a_stride) << 16)
            | (u64::from(b_transpose) << 9)
            | (u64::from(a_transpose) << 8)
            | (u64::from(set_only_strides) << 7)
            | (act << 3)
            | (dataflow << 2)
            | config_kind::EX;
        Rocc {
            funct: funct::CONFIG,
            rs1,
            rs2: (u64::from(c_stride) << 48) | u64::from(sys_shift),
        }
    }

    /// `gemmini_extended4_config_ld(stride, scale, shrunk, block_mvin_stride, id)`.
    pub fn config_ld(stride: u64, scale: f32, shrunk: bool, block_stride: u16, id: u8) -> Rocc {
        let rs1 = (u64::from(scale.to_bits()) << 32)
            | (u64::from(block_stride) << 16)
            | (1 << 8)
            | (u64::from(id) << 3)
            | (u64::from(shrunk) << 2)
            | config_kind::LD;
        Rocc {
            funct: funct::CONFIG,
            rs1,
            rs2: stride,
        }
    }

    /// `gemmini_extended_config_st(stride, acc_act, acc_scale)`.
    pub fn config_st(stride: u32, act: u64, scale: f32) -> Rocc {
        Rocc {
            funct: funct::CONFIG,
            rs1: (act << 2) | config_kind::ST,
            rs2: (u64::from(scale.to_bits()) << 32) | u64::from(stride),
        }
    }

    /// `gemmini_flush(skip)`.
    pub fn flush() -> Rocc {
        Rocc {
            funct: funct::FLUSH,
            rs1: 0,
            rs2: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_addresses() {
        let a = LocalAddr::acc(5, true, false);
        assert_eq!(a.0, 0xC000_0005);
        assert!(a.is_acc() && a.accumulate() && !a.full_width());
        assert_eq!(a.to_string(), "acc[5]+=");
        assert_eq!(LocalAddr::spad(7).to_string(), "spad[7]");
        assert!(LocalAddr::garbage().is_garbage());
        let op = Operand {
            addr: a,
            cols: 16,
            rows: 3,
        };
        assert_eq!(Operand::decode(op.encode()), op);
    }
}

//! RoCC command words (`funct`, `rs1`, `rs2`) decoded into Gemmini's
//! commands, field by field as Gemmini's C API packs them
//! (`accc_targets::gemmini::isa` holds the shared layout). Commands the
//! emulator does not model (the loop FSMs, counters, norm configuration)
//! decode to an error that names them, never to a silent no-op.

use crate::SimError;
use accc_targets::gemmini::isa::{config_kind, funct, Dataflow, Operand};

/// One decoded Gemmini command.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Command {
    ConfigEx(ExConfig),
    ConfigLd {
        id: usize,
        ld: LoadConfig,
    },
    ConfigSt(StoreConfig),
    Mvin {
        id: usize,
        dram: u64,
        dst: Operand,
    },
    Mvout {
        dram: u64,
        src: Operand,
    },
    Preload {
        bd: Operand,
        c: Operand,
    },
    Compute {
        preloaded: bool,
        a: Operand,
        bd: Operand,
    },
    Flush,
}

/// `config_ex`: the execute controller's state.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExConfig {
    pub dataflow: Dataflow,
    pub activation: u64,
    /// Only `a_stride` and `c_stride` change.
    pub set_only_strides: bool,
    pub a_transpose: bool,
    pub b_transpose: bool,
    pub a_stride: u32,
    pub c_stride: u32,
    /// Output-stationary right shift of results written to the scratchpad.
    pub sys_shift: u32,
}

/// `config_ld` for one of the three movers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LoadConfig {
    /// DRAM bytes between rows.
    pub stride: u64,
    pub scale: f32,
    /// A mvin into the accumulator reads `elem_t` instead of `acc_t`.
    pub shrunk: bool,
    /// Scratchpad rows between the DIM-column blocks of one mvin.
    pub block_stride: u32,
    pub pixel_repeats: u32,
}

/// `config_st`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StoreConfig {
    /// DRAM bytes between rows.
    pub stride: u64,
    pub activation: u64,
    pub scale: f32,
    pub pool_stride: u64,
}

fn bits(word: u64, lo: u32, width: u32) -> u64 {
    (word >> lo) & ((1u64 << width) - 1)
}

fn float_field(word: u64) -> f32 {
    f32::from_bits((word >> 32) as u32)
}

impl Command {
    pub fn decode(f: u64, rs1: u64, rs2: u64) -> Result<Command, SimError> {
        let unsupported = |what: &str| SimError::Unsupported(what.to_string());
        Ok(match f {
            funct::CONFIG => match rs1 & 3 {
                config_kind::EX => Command::ConfigEx(ExConfig {
                    dataflow: Dataflow::from_bit(bits(rs1, 2, 1)),
                    activation: bits(rs1, 3, 2),
                    set_only_strides: bits(rs1, 7, 1) == 1,
                    a_transpose: bits(rs1, 8, 1) == 1,
                    b_transpose: bits(rs1, 9, 1) == 1,
                    a_stride: bits(rs1, 16, 16) as u32,
                    c_stride: bits(rs2, 48, 16) as u32,
                    sys_shift: rs2 as u32,
                }),
                config_kind::LD => Command::ConfigLd {
                    id: bits(rs1, 3, 2) as usize,
                    ld: LoadConfig {
                        stride: rs2,
                        scale: float_field(rs1),
                        shrunk: bits(rs1, 2, 1) == 1,
                        block_stride: bits(rs1, 16, 16) as u32,
                        pixel_repeats: bits(rs1, 8, 8) as u32,
                    },
                },
                config_kind::ST => Command::ConfigSt(StoreConfig {
                    stride: u64::from(rs2 as u32),
                    activation: bits(rs1, 2, 2),
                    scale: float_field(rs2),
                    pool_stride: bits(rs1, 4, 2),
                }),
                _ => {
                    return Err(unsupported(
                        "gemmini_config_norm (normalization statistics)",
                    ))
                }
            },
            funct::MVIN | funct::MVIN2 | funct::MVIN3 => Command::Mvin {
                id: match f {
                    funct::MVIN => 0,
                    funct::MVIN2 => 1,
                    _ => 2,
                },
                dram: rs1,
                dst: Operand::decode(rs2),
            },
            funct::MVOUT => Command::Mvout {
                dram: rs1,
                src: Operand::decode(rs2),
            },
            funct::PRELOAD => Command::Preload {
                bd: Operand::decode(rs1),
                c: Operand::decode(rs2),
            },
            funct::COMPUTE_PRELOADED | funct::COMPUTE_ACCUMULATE => Command::Compute {
                preloaded: f == funct::COMPUTE_PRELOADED,
                a: Operand::decode(rs1),
                bd: Operand::decode(rs2),
            },
            funct::FLUSH => Command::Flush,
            funct::LOOP_WS..=funct::LOOP_WS_CONFIG_LAST => {
                return Err(unsupported("gemmini_loop_ws (the matmul FSM)"))
            }
            funct::LOOP_CONV_WS..=funct::LOOP_CONV_WS_CONFIG_LAST => {
                return Err(unsupported("gemmini_loop_conv_ws (the convolution FSM)"))
            }
            funct::COUNTER => return Err(unsupported("the performance counters (funct 126)")),
            other => return Err(SimError::UnknownFunct(other)),
        })
    }

    /// The name of the C API call that issues this command.
    pub fn api_name(&self) -> &'static str {
        match self {
            Command::ConfigEx(_) => "config_ex",
            Command::ConfigLd { .. } => "config_ld",
            Command::ConfigSt(_) => "config_st",
            Command::Mvin { id: 0, .. } => "mvin",
            Command::Mvin { id: 1, .. } => "mvin2",
            Command::Mvin { .. } => "mvin3",
            Command::Mvout { .. } => "mvout",
            Command::Preload { .. } => "preload",
            Command::Compute {
                preloaded: true, ..
            } => "compute_preloaded",
            Command::Compute { .. } => "compute_accumulated",
            Command::Flush => "flush",
        }
    }
}

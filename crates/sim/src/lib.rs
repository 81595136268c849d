//! accc-sim: accc's built-in Gemmini emulator, the default evaluator of
//! schedule search.
//!
//! It executes the RoCC command stream Gemmini's C API produces — config,
//! mvin/mvin2/mvin3, mvout, preload, compute, flush — with a functional
//! model ([`machine`]: scratchpad, accumulator, both dataflows, int8 x int8
//! -> int32, scaling, activation and saturation on the way out) and times
//! it with a model of Gemmini's decoupled controllers ([`timing`]). Every
//! parameter comes from the hardware description
//! (`accc_targets::gemmini::hardware`); `docs/gemmini-emulator.md` states
//! the model and where each default comes from.
//!
//! Two ways in:
//! - [`Emulator::rocc`] with any [`Dram`] (the Rust API, tests);
//! - [`host`]: a C program written against Gemmini's C API, built with the
//!   header accc ships, run in a child process whose RoCC commands reach
//!   the emulator and whose own memory is the emulated DRAM.
//!
//! Guarantees: a command the model does not cover, a bad configuration or
//! an address outside a memory stops the run with an [`EmulatorError`]
//! naming the command (its index and C API name); nothing is guessed.

pub mod decode;
pub mod dram;
pub mod host;
pub mod machine;
pub mod timing;

use accc_targets::gemmini::hardware::HardwareConfig;
use decode::Command;
pub use dram::{Dram, DramFault, VecDram};
use machine::Machine;
use timing::Timing;

/// Why a command could not run.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SimError {
    #[error("unknown Gemmini funct code {0}")]
    UnknownFunct(u64),
    #[error("{0} is not modelled by accc's emulator")]
    Unsupported(String),
    #[error("{0}")]
    BadConfig(String),
    #[error("{0}")]
    BadOperand(String),
    #[error("{0}")]
    OutOfRange(String),
    #[error("{0}")]
    Dram(String),
}

/// A failed command: which one, and why.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("Gemmini command #{index} ({command}): {error}")]
pub struct EmulatorError {
    /// 0-based position in the command stream.
    pub index: u64,
    /// The C API name (`mvin2`, `compute_preloaded`, ...) or `funct N`.
    pub command: String,
    pub error: SimError,
}

/// How many commands of each kind ran.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CommandCounts {
    pub config: u64,
    pub mvin: u64,
    pub mvout: u64,
    pub preload: u64,
    pub compute: u64,
    pub flush: u64,
}

/// What a run measured.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Report {
    /// The measured cycles: between the last two `read_cycles()` calls of
    /// the program, or from the first command to the end of the last when
    /// it read the clock fewer than twice.
    pub cycles: u64,
    /// Every value `read_cycles()` returned, in order.
    pub cycle_reads: Vec<u64>,
    /// From the first command to the end of the last.
    pub active_cycles: u64,
    /// Multiply-accumulates the array performed (useful rows x columns).
    pub macs: u64,
    /// `macs / (DIM^2 x cycles)`.
    pub utilization: f64,
    /// Fraction of `active_cycles` each controller was busy.
    pub load_busy: f64,
    pub exec_busy: f64,
    pub store_busy: f64,
    /// Distinct scratchpad and accumulator rows written during the run.
    pub spad_rows_peak: u64,
    pub acc_rows_peak: u64,
    pub commands: CommandCounts,
}

/// The emulator: functional state, timing state and statistics.
pub struct Emulator {
    peak: u64,
    machine: Machine,
    timing: Timing,
    macs: u64,
    index: u64,
    counts: CommandCounts,
    cycle_reads: Vec<u64>,
}

impl Emulator {
    pub fn new(cfg: &HardwareConfig) -> Emulator {
        Emulator {
            peak: cfg.peak_macs_per_cycle(),
            machine: Machine::new(cfg),
            timing: Timing::new(cfg),
            macs: 0,
            index: 0,
            counts: CommandCounts::default(),
            cycle_reads: Vec::new(),
        }
    }

    /// Executes and times one RoCC command.
    pub fn rocc(
        &mut self,
        funct: u64,
        rs1: u64,
        rs2: u64,
        dram: &mut dyn Dram,
    ) -> Result<(), EmulatorError> {
        let index = self.index;
        self.index += 1;
        let fail = |command: String, error| EmulatorError {
            index,
            command,
            error,
        };
        let cmd =
            Command::decode(funct, rs1, rs2).map_err(|e| fail(format!("funct {funct}"), e))?;
        let effects = self
            .machine
            .execute(&cmd, dram)
            .map_err(|e| fail(cmd.api_name().to_string(), e))?;
        let c = &mut self.counts;
        match cmd {
            Command::ConfigEx(_) | Command::ConfigLd { .. } | Command::ConfigSt(_) => c.config += 1,
            Command::Mvin { .. } => c.mvin += 1,
            Command::Mvout { .. } => c.mvout += 1,
            Command::Preload { .. } => c.preload += 1,
            Command::Compute { .. } => c.compute += 1,
            Command::Flush => c.flush += 1,
        }
        self.macs += effects.macs;
        self.timing.issue(effects);
        Ok(())
    }

    /// `gemmini_fence()`: the core waits for every command.
    pub fn fence(&mut self) {
        self.timing.fence();
    }

    /// `read_cycles()`: the core's clock.
    pub fn read_cycles(&mut self) -> u64 {
        let now = self.timing.now();
        self.cycle_reads.push(now);
        now
    }

    pub fn machine(&self) -> &Machine {
        &self.machine
    }

    /// The statistics so far.
    pub fn report(&self) -> Report {
        let first = self.timing.first_command().unwrap_or(0);
        let active = self.timing.end().saturating_sub(first);
        let cycles = match self.cycle_reads.as_slice() {
            [.., a, b] => b - a,
            _ => active,
        };
        let frac = |busy: u64| {
            if active == 0 {
                0.0
            } else {
                (busy as f64 / active as f64).min(1.0)
            }
        };
        let [load, exec, store] = self.timing.busy_cycles();
        let (spad_rows, acc_rows) = self.machine.rows_touched();
        Report {
            cycles,
            cycle_reads: self.cycle_reads.clone(),
            active_cycles: active,
            macs: self.macs,
            utilization: if cycles == 0 {
                0.0
            } else {
                self.macs as f64 / (self.peak as f64 * cycles as f64)
            },
            load_busy: frac(load),
            exec_busy: frac(exec),
            store_busy: frac(store),
            spad_rows_peak: spad_rows,
            acc_rows_peak: acc_rows,
            commands: self.counts.clone(),
        }
    }
}

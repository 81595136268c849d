//! Command streams for the emulator's tests: a DRAM block, an emulator on
//! the default configuration, and seeded int8 matrices.

#![allow(dead_code)]

use accc_sim::{Emulator, EmulatorError, VecDram};
use accc_targets::gemmini::hardware::HardwareConfig;
use accc_targets::gemmini::isa::Rocc;

pub const BASE: u64 = 0x1000_0000;

pub struct Bench {
    pub emu: Emulator,
    pub dram: VecDram,
    pub cfg: HardwareConfig,
}

impl Bench {
    pub fn new(dram_bytes: usize) -> Bench {
        Bench::with(HardwareConfig::default(), dram_bytes)
    }

    pub fn with(cfg: HardwareConfig, dram_bytes: usize) -> Bench {
        Bench {
            emu: Emulator::new(&cfg),
            dram: VecDram::new(BASE, dram_bytes),
            cfg,
        }
    }

    pub fn issue(&mut self, cmd: Rocc) -> Result<(), EmulatorError> {
        self.emu.rocc(cmd.funct, cmd.rs1, cmd.rs2, &mut self.dram)
    }

    pub fn ok(&mut self, cmd: Rocc) {
        if let Err(e) = self.issue(cmd) {
            panic!("{e}");
        }
    }

    /// Cycles of `body`, between fences.
    pub fn timed(&mut self, body: impl FnOnce(&mut Bench)) -> u64 {
        self.emu.fence();
        let start = self.emu.read_cycles();
        body(self);
        self.emu.fence();
        self.emu.read_cycles() - start
    }
}

/// A seeded matrix of int8 values in [-range, range].
pub fn matrix(rows: usize, cols: usize, seed: u64, range: i32) -> Vec<i8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..rows * cols)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (((x >> 33) as i64).rem_euclid(2 * range as i64 + 1) - range as i64) as i8
        })
        .collect()
}

pub fn bytes(m: &[i8]) -> Vec<u8> {
    m.iter().map(|&v| v as u8).collect()
}

/// C = A (m x k) * B (k x n) in int32.
pub fn matmul(a: &[i8], b: &[i8], m: usize, k: usize, n: usize) -> Vec<i32> {
    let mut c = vec![0i32; m * n];
    for i in 0..m {
        for p in 0..k {
            for j in 0..n {
                c[i * n + j] += i32::from(a[i * k + p]) * i32::from(b[p * n + j]);
            }
        }
    }
    c
}

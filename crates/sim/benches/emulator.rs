//! Emulator speed on the six GEMM shapes of the examples (Autocomp's exo
//! set), each as the naive command stream an unoptimized schedule issues:
//! every DIM block of A and B moved in, computed and its C block moved out
//! in turn (the most commands and the least reuse, so the slowest case
//! for the emulator). Prints a table: commands, emulated cycles, wall
//! time, emulated cycles per second and MACs per second.
//!
//! Run: `cargo bench -p accc-sim --bench emulator`.

use accc_sim::{Emulator, VecDram};
use accc_targets::gemmini::hardware::HardwareConfig;
use accc_targets::gemmini::isa::{encode, LocalAddr, Rocc};
use std::time::Instant;

const SHAPES: [(u64, u64, u64); 6] = [
    (512, 512, 512),
    (12544, 64, 256),
    (12544, 256, 64),
    (3136, 128, 512),
    (3136, 512, 128),
    (784, 256, 1024),
];

fn main() {
    let cfg = HardwareConfig::default();
    println!("| shape (M x K x N) | commands | emulated cycles | wall (s) | emulated cycles/s | MACs/s |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (m, k, n) in SHAPES {
        let base = 0x1000_0000u64;
        let a = base;
        let b = a + m * k;
        let c = b + k * n;
        let mut dram = VecDram::new(base, (m * k + k * n + m * n) as usize);
        let mut emu = Emulator::new(&cfg);
        let mut issue = |r: Rocc, dram: &mut VecDram| {
            emu.rocc(r.funct, r.rs1, r.rs2, dram)
                .expect("the naive GEMM stream is valid");
        };
        let started = Instant::now();
        issue(encode::config_ld(k, 1.0, false, 16, 0), &mut dram);
        issue(encode::config_ld(n, 1.0, false, 16, 1), &mut dram);
        issue(
            encode::config_ex(1, 0, 0, 1.0, 1, 1, false, false, false),
            &mut dram,
        );
        issue(encode::config_st(n as u32, 0, 1.0), &mut dram);
        let mut commands = 4u64;
        for i in (0..m).step_by(16) {
            for j in (0..n).step_by(16) {
                for (t, p) in (0..k).step_by(16).enumerate() {
                    issue(
                        encode::mvin(0, a + i * k + p, LocalAddr::spad(0), 16, 16),
                        &mut dram,
                    );
                    issue(
                        encode::mvin(1, b + p * n + j, LocalAddr::spad(4096), 16, 16),
                        &mut dram,
                    );
                    let out = LocalAddr::acc(0, t > 0, false);
                    issue(
                        encode::preload(LocalAddr::spad(4096), out, 16, 16, 16, 16),
                        &mut dram,
                    );
                    issue(
                        encode::compute(
                            true,
                            LocalAddr::spad(0),
                            LocalAddr::garbage(),
                            16,
                            16,
                            16,
                            16,
                        ),
                        &mut dram,
                    );
                    commands += 4;
                }
                issue(
                    encode::mvout(c + i * n + j, LocalAddr::acc(0, false, false), 16, 16),
                    &mut dram,
                );
                commands += 1;
            }
        }
        emu.fence();
        let wall = started.elapsed().as_secs_f64();
        let report = emu.report();
        println!(
            "| {m} x {k} x {n} | {commands} | {} | {wall:.2} | {:.2e} | {:.2e} |",
            report.active_cycles,
            report.active_cycles as f64 / wall,
            report.macs as f64 / wall
        );
    }
}

//! C programs written by hand against Gemmini's C API, built with the host
//! compiler against accc's `gemmini.h`, run on the emulator in a host
//! process; and the same header in hardware mode, cross-compiled to real
//! RISC-V RoCC instructions.

use accc_sim::host::{self, Outcome};
use accc_targets::gemmini::hardware::HardwareConfig;
use std::path::{Path, PathBuf};
use std::process::Command;

fn program(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/programs")
        .join(name)
}

fn run(name: &str) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let cfg = HardwareConfig::default();
    host::write_headers(dir.path(), &cfg).unwrap();
    let lib =
        host::build(&[program(name)], dir.path(), dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let exe = Path::new(env!("CARGO_BIN_EXE_accc-gemmini-host"));
    host::run(exe, &[], &lib, &cfg, &[], None).unwrap()
}

#[test]
fn a_hand_written_matmul_runs_correctly() {
    let out = run("hand_matmul.c");
    assert_eq!(out.exit_code, Some(0), "{out:#?}");
    assert!(out.stdout.contains("Correct result"), "{}", out.stdout);
    let report = out.report.expect("a report");
    assert_eq!(report.macs, 64 * 64 * 48);
    assert_eq!(report.cycle_reads.len(), 2);
    assert!(
        out.stdout
            .contains(&format!("latency: {} cycles", report.cycles)),
        "{}",
        out.stdout
    );
    // 4*4*3 = 48 tiles of 4096 MACs cannot take fewer than 768 cycles.
    assert!(
        report.cycles > 768 && report.utilization < 1.0,
        "{report:?}"
    );
    assert_eq!(report.commands.compute, 48);
    // A once (4 row tiles), then per column tile: D (4) and B (4).
    assert_eq!(report.commands.mvin, 4 + 3 * (4 + 4));
    println!("{report:#?}");
}

#[test]
fn a_bad_pointer_stops_the_program_with_the_command_named() {
    let out = run("bad_pointer.c");
    assert_eq!(out.exit_code, Some(host::EXIT_EMULATOR_ERROR), "{out:#?}");
    let error = out.error.expect("an emulator error");
    assert!(
        error.contains("Gemmini command #1 (mvin)") && error.contains("not mapped"),
        "{error}"
    );
}

#[test]
fn a_program_that_calls_exit_still_reports() {
    let out = run("exits_early.c");
    assert_eq!(out.exit_code, Some(3), "{out:#?}");
    let report = out.report.expect("a report");
    assert_eq!(report.commands.mvin, 1);
}

#[test]
fn a_program_built_for_the_emulator_says_so_when_run_alone() {
    let dir = tempfile::tempdir().unwrap();
    host::write_headers(dir.path(), &HardwareConfig::default()).unwrap();
    let exe = dir.path().join("alone");
    let status = Command::new(host::c_compiler())
        .arg("-I")
        .arg(dir.path())
        .arg(program("exits_early.c"))
        .arg("-o")
        .arg(&exe)
        .status()
        .unwrap();
    assert!(status.success());
    let out = Command::new(&exe).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("accc emulate"), "{stderr}");
}

#[test]
fn hardware_mode_emits_rocc_custom3_instructions() {
    let gcc = "riscv64-unknown-elf-gcc";
    if Command::new(gcc).arg("--version").output().is_err() {
        // scripts/setup.sh installs it; say so rather than pass silently.
        panic!("{gcc} is not installed: run scripts/setup.sh (Debian gcc-riscv64-unknown-elf)");
    }
    let dir = tempfile::tempdir().unwrap();
    host::write_headers(dir.path(), &HardwareConfig::default()).unwrap();
    let obj = dir.path().join("hand_matmul.o");
    let out = Command::new(gcc)
        .args([
            "-DACCC_GEMMINI_HARDWARE",
            "--specs=picolibc.specs",
            "-march=rv64gc",
            "-mabi=lp64d",
            "-mcmodel=medany",
            "-O2",
            "-c",
            "-I",
        ])
        .arg(dir.path())
        .arg(program("hand_matmul.c"))
        .arg("-o")
        .arg(&obj)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dump = Command::new("riscv64-unknown-elf-objdump")
        .arg("-d")
        .arg(&obj)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&dump.stdout);
    // custom3 is major opcode 0x7b; with xs1 = xs2 = 1 and xd = 0 the word
    // ends in 0x...307b, and funct7 selects the command (e.g. 4 = compute).
    let words: Vec<u32> = text
        .lines()
        .filter_map(|l| l.split('\t').nth(1))
        .filter_map(|w| u32::from_str_radix(w.trim(), 16).ok())
        .filter(|w| w & 0x7f == 0x7b)
        .collect();
    assert!(!words.is_empty(), "no custom3 instructions in:\n{text}");
    assert!(
        words
            .iter()
            .all(|w| (w >> 12) & 7 == 3 && (w >> 7) & 0x1f == 0),
        "{words:x?}"
    );
    let functs: std::collections::BTreeSet<u32> = words.iter().map(|w| w >> 25).collect();
    for f in [0, 1, 2, 3, 4, 5, 6, 7, 14] {
        assert!(functs.contains(&f), "funct {f} missing from {functs:?}");
    }
}

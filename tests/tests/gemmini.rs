//! The Gemmini target's compiler side: `tensorize` proved through the
//! intrinsic's expansion (and a wrong instruction op refuted), the lowering
//! verified (and a wrong chunk refuted, symbolically and at full size),
//! and Gemmini C emitted for every schedule of the examples and
//! cross-compiled to RISC-V in hardware mode.

use accc::ir::text::{parse_module, print_module};
use accc::ir::Module;
use accc::targets::gemmini::hardware::HardwareConfig;
use accc::verify::{Options, Verdict};
use accc::{CompileOptions, SourceFile};
use std::path::Path;
use std::process::Command;

const SOURCE: &str = r#"
kernel gemm(A: i8[32, 32], B: i8[32, 32]) -> (C: i32[32, 32]) {
  for i, j in grid(32, 32) {
    C[i, j] = 0;
    for k in range(0, 32) {
      C[i, j] += i32(A[i, k]) * i32(B[k, j]);
    }
  }
}

schedule blocks for gemm {
  io, ii = split(i, 16);
  jo, ji = split(j, 16);
  ko, ki = split(k, 16);
  reorder(io, jo, ii, ji);
  fission(ko, levels = 2);
  reorder(ko, ii, ji, ki);
  cbuf = buffer_at(C, jo, mem = accumulator);
  abuf = buffer_at(A, ko, mem = scratchpad);
  bbuf = buffer_at(B, ko, mem = scratchpad);
  tensorize(ii, gemmini.matmul);
}

const M = 512;
kernel big(A: i8[M, M], B: i8[M, M]) -> (C: i32[M, M]) {
  for i, j in grid(M, M) {
    C[i, j] = 0;
    for k in range(0, M) {
      C[i, j] += i32(A[i, k]) * i32(B[k, j]);
    }
  }
}

schedule big_blocks for big {
  io, ii = split(i, 64);
  jo, ji = split(j, 64);
  ko, ki = split(k, 64);
  reorder(io, jo, ii, ji);
  fission(ko, levels = 2);
  reorder(ko, ii, ji, ki);
  iio, iii = split(ii, 16);
  jio, jii = split(ji, 16);
  kio, kii = split(ki, 16);
  reorder(iio, jio, kio, iii, jii, kii);
  cbuf = buffer_at(C, jo, mem = accumulator);
  abuf = buffer_at(A, ko, mem = scratchpad);
  bbuf = buffer_at(B, ko, mem = scratchpad);
  tensorize(iii, gemmini.matmul);
}
"#;

fn compiled(kernel: &str, schedule: &str) -> (Module, accc::passes::schedule::Trace) {
    let file = SourceFile::new("gemmini.acc", SOURCE.to_string());
    let options = CompileOptions {
        kernel: Some(kernel.into()),
        schedule: Some(schedule.into()),
        ..Default::default()
    };
    accc::compile_traced(&file, &options).unwrap_or_else(|d| panic!("{d:?}"))
}

fn reparse(text: &str) -> Module {
    parse_module(&SourceFile::new("mutated.mlir", text.to_string()))
        .unwrap_or_else(|d| panic!("{d:?}\n{text}"))
}

#[test]
fn tensorize_is_proved_and_a_wrong_instruction_refuted() {
    let (_, trace) = compiled("gemm", "blocks");
    let outcomes = accc::verify_trace(&trace, "gemm", &Options::default());
    let last = outcomes.last().expect("the schedule has steps");
    assert_eq!(last.verdict, Verdict::Equivalent, "{last:?}");
    // The same op reading B's window one 16-column block over: the
    // expansion computes something else, and the verifier says so.
    let entry = trace.steps.last().expect("steps");
    let text = print_module(&entry.after);
    let at = text
        .find("\"gemmini.matmul\"(%abuf")
        .expect("the instruction is printed");
    let line_end = at + text[at..].find('\n').expect("one line");
    let line = &text[at..line_end];
    let mutated_line = line.replacen(
        "[16 : i64, 16 : i64, 16 : i64]",
        "[16 : i64, 16 : i64, 15 : i64]",
        1,
    );
    assert_ne!(line, mutated_line);
    let mutated = reparse(&text.replacen(line, &mutated_line, 1));
    let programs = [&*entry.before, &mutated];
    let expanded = accc::expand_all(&programs, &trace.intrinsics)
        .expect("expands")
        .expect("has instructions");
    let v = accc::verify::verify(&expanded[0], &expanded[1], "gemm", &Options::default());
    assert!(matches!(v.verdict, Verdict::NotEquivalent { .. }), "{v:?}");
}

/// The lowered module with one chunk's DRAM origin moved by one row.
fn wrong_chunk(lowered: &Module) -> Module {
    let text = print_module(lowered);
    let from = "affine_map<(d0) -> (d0 * 16)>";
    assert!(text.contains(from), "{text}");
    reparse(&text.replacen(from, "affine_map<(d0) -> (d0 * 16 + 1)>", 1))
}

#[test]
fn the_lowering_is_verified_and_a_wrong_chunk_refuted() {
    let intrinsics = accc::gemmini::default_intrinsics();
    let options = Options::default();
    for (kernel, schedule, method) in [("gemm", "blocks", "symbolic"), ("big", "big_blocks", "z3")]
    {
        let (module, _) = compiled(kernel, schedule);
        let lowered =
            accc::gemmini::lower(&module, kernel, intrinsics, Some(&options)).expect("lowers");
        assert_eq!(
            lowered.verdict.verdict,
            Verdict::Equivalent,
            "{kernel}: {:?}",
            lowered.verdict
        );
        assert_eq!(lowered.verdict.method, method, "{kernel}");
        let text = print_module(&lowered.module);
        assert!(
            !text.contains("affine.load") && !text.contains("affine.store"),
            "{text}"
        );
        let bad = wrong_chunk(&lowered.module);
        let expanded = accc::expand_all(&[&module, &bad], intrinsics)
            .expect("expands")
            .expect("instructions");
        let v = accc::fullsize::verify_lowering(&expanded[0], &expanded[1], kernel, &options);
        assert!(
            matches!(v.verdict, Verdict::NotEquivalent { .. }),
            "{kernel}: {v:?}"
        );
    }
}

#[test]
fn every_example_schedule_emits_c_that_cross_compiles_to_risc_v() {
    let gcc = "riscv64-unknown-elf-gcc";
    if Command::new(gcc).arg("--version").output().is_err() {
        panic!("{gcc} is not installed: run scripts/setup.sh (Debian gcc-riscv64-unknown-elf)");
    }
    let cfg = HardwareConfig::default();
    let intrinsics = accc::gemmini::default_intrinsics();
    let dir = tempfile::tempdir().unwrap();
    accc::sim::host::write_headers(dir.path(), &cfg).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut built = 0;
    for example in ["examples/gemmini.acc", "examples/gemmini_conv.acc"] {
        let text = std::fs::read_to_string(root.join(example)).unwrap();
        let file = SourceFile::new(example, text);
        let program = accc::dsl::parse_and_check(&file).unwrap_or_else(|d| panic!("{d:?}"));
        for schedule in &program.schedules {
            let kernel = program.kernels[schedule.kernel.index()].name.clone();
            let options = CompileOptions {
                kernel: Some(kernel.clone()),
                schedule: Some(schedule.name.clone()),
                ..Default::default()
            };
            let (module, _) =
                accc::compile_traced(&file, &options).unwrap_or_else(|d| panic!("{d:?}"));
            let reference = accc::compile(
                &file,
                &CompileOptions {
                    kernel: Some(kernel.clone()),
                    ..Default::default()
                },
            )
            .unwrap();
            let lowered = accc::gemmini::lower(&module, &kernel, intrinsics, None).expect("lowers");
            let program = accc::targets::gemmini::emit::emit(
                &lowered.module,
                &reference,
                &kernel,
                &cfg,
                intrinsics,
                &Default::default(),
            )
            .unwrap_or_else(|e| panic!("{}: {e}", schedule.name));
            let c = dir.path().join(format!("{}.c", schedule.name));
            std::fs::write(&c, &program.source).unwrap();
            let out = Command::new(gcc)
                .args([
                    "-DACCC_GEMMINI_HARDWARE",
                    "--specs=picolibc.specs",
                    "-march=rv64gc",
                    "-mabi=lp64d",
                    "-mcmodel=medany",
                    "-O1",
                    "-c",
                    "-I",
                ])
                .arg(dir.path())
                .arg(&c)
                .arg("-o")
                .arg(dir.path().join(format!("{}.o", schedule.name)))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}: {}",
                schedule.name,
                String::from_utf8_lossy(&out.stderr)
            );
            built += 1;
        }
    }
    println!("{built} Gemmini kernels cross-compiled for RISC-V");
    assert!(built >= 37, "{built}");
}

//! `mlir-opt` accepts what accc prints.

use super::gen::{gen_module, has_unregistered, GenConfig, Tape};
use crate::diag::SourceFile;
use crate::text::*;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

const MLIR_OPT: &str = "/usr/lib/llvm-19/bin/mlir-opt";

/// Runs `mlir-opt` on modules separated by `// -----`; returns its stdout,
/// or `None` (after saying so on stderr) when `mlir-opt` is not installed.
fn run_mlir_opt(modules: &[String], allow_unregistered: bool) -> Option<String> {
    if !Path::new(MLIR_OPT).exists() {
        eprintln!("SKIPPED: mlir-opt not found at {MLIR_OPT} (install `mlir-19-tools`); the acceptance check did not run");
        return None;
    }
    let input = modules.join("\n// -----\n");
    let mut cmd = Command::new(MLIR_OPT);
    cmd.arg("--split-input-file").arg("--verify-each");
    if allow_unregistered {
        cmd.arg("--allow-unregistered-dialect");
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mlir-opt");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input.as_bytes())
        .expect("write to mlir-opt");
    let out = child.wait_with_output().expect("mlir-opt finishes");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "mlir-opt rejected accc's output:\n{stderr}\n----- input -----\n{}",
        numbered(&input)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn numbered(text: &str) -> String {
    text.split("\n// -----\n")
        .enumerate()
        .map(|(i, chunk)| {
            let lines: Vec<String> = chunk
                .lines()
                .enumerate()
                .map(|(n, l)| format!("{:4} {l}", n + 1))
                .collect();
            format!("===== chunk {i} =====\n{}", lines.join("\n"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// accc reads back what mlir-opt printed (aliases, generated names,
/// default dialect), and it verifies.
fn reparse_mlir_opt_output(stdout: &str, expected: usize) {
    let chunks: Vec<&str> = stdout
        .split("// -----")
        .filter(|c| !c.trim().is_empty())
        .collect();
    assert_eq!(chunks.len(), expected, "{stdout}");
    for chunk in chunks {
        let file = SourceFile::new("mlir-opt-output.mlir", chunk);
        if let Err(d) = parse_module(&file) {
            panic!(
                "accc cannot read mlir-opt's output:\n{}\n{chunk}",
                crate::diag::render(&file, &d)
            );
        }
    }
}

fn hand_written() -> Vec<String> {
    let mut texts = vec![super::roundtrip::GEMM.to_string()];
    texts.extend(
        super::roundtrip::pretty_cases()
            .into_iter()
            .filter(|t| !t.contains("gemmini") && !t.contains("test.")),
    );
    texts.push(super::roundtrip::FUNCTIONS.to_string());
    // Printed, not just written: the printer's own output of each.
    texts
        .iter()
        .map(|t| print_module(&super::roundtrip::parse(t)))
        .collect()
}

#[test]
fn mlir_opt_accepts_hand_written_kernels() {
    let modules = hand_written();
    let with_locs: Vec<String> = modules
        .iter()
        .map(|t| {
            print_module_with(
                &super::roundtrip::parse(t),
                &PrintOptions {
                    print_locations: true,
                    generic: false,
                },
            )
        })
        .collect();
    if let Some(out) = run_mlir_opt(&modules, false) {
        reparse_mlir_opt_output(&out, modules.len());
        run_mlir_opt(&with_locs, false);
    }
}

#[test]
fn mlir_opt_accepts_generated_modules() {
    let upstream: Vec<String> = (0..60)
        .map(|seed| {
            let m = gen_module(
                &mut Tape::from_seed(seed, 1500),
                GenConfig {
                    mlir: true,
                    unregistered: false,
                },
            );
            assert!(!has_unregistered(&m));
            crate::verify_module(&m).unwrap();
            let opts = PrintOptions {
                print_locations: seed % 2 == 0,
                generic: false,
            };
            print_module_with(&m, &opts)
        })
        .collect();
    if let Some(out) = run_mlir_opt(&upstream, false) {
        reparse_mlir_opt_output(&out, upstream.len());
    }
    // With target-dialect ops allowed: only the modules that do contain
    // one get `--allow-unregistered-dialect`.
    let (mut with, mut without) = (vec![], vec![]);
    for seed in 1000..1060 {
        let m = gen_module(
            &mut Tape::from_seed(seed, 1500),
            GenConfig {
                mlir: true,
                unregistered: true,
            },
        );
        let text = print_module_with(
            &m,
            &PrintOptions {
                print_locations: seed % 2 == 0,
                generic: false,
            },
        );
        if has_unregistered(&m) || text.contains("!gemmini.") {
            with.push(text);
        } else {
            without.push(text);
        }
    }
    assert!(
        with.len() >= 20,
        "the generator should produce target-dialect ops"
    );
    run_mlir_opt(&with, true);
    run_mlir_opt(&without, false);
}

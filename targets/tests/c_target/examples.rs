//! Every example kernel compiles without a warning under `-Wall -Wextra
//! -Werror`, and the smaller ones run under the undefined-behaviour and
//! address sanitizers (plus `float-cast-overflow`, which `undefined` leaves
//! out) on random bit patterns without a report.

use crate::support::{example, npy_bytes};
use accc_ir::dialects::func;
use accc_ir::Type;
use accc_targets::c;

const WARNINGS: &[&str] = &["-Wall", "-Wextra", "-Werror"];

/// The kernels of an example file.
fn kernels(file: &str) -> Vec<String> {
    let path = format!("{}/../examples/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter_map(|l| l.strip_prefix("kernel "))
        .map(|l| l[..l.find('(').unwrap()].trim().to_string())
        .collect()
}

const FILES: &[&str] = &[
    "attention.acc",
    "batched_matmul.acc",
    "blend.acc",
    "conv1d.acc",
    "conv2d.acc",
    "gemm.acc",
    "gemm_bias_relu.acc",
    "gemm_int8.acc",
    "layernorm.acc",
    "rmsnorm.acc",
    "softmax.acc",
];

#[test]
fn every_example_compiles_without_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let mut count = 0;
    for file in FILES {
        for kernel in kernels(file) {
            let module = example(file, &kernel);
            let program =
                c::emit_kernel(&module, &kernel).unwrap_or_else(|e| panic!("{kernel}: {e}"));
            let mut flags = WARNINGS.to_vec();
            flags.push("-fsyntax-only");
            if let Err(e) = c::build_with_flags(&program, dir.path(), &flags) {
                panic!("{file} {kernel}: {e}");
            }
            count += 1;
        }
    }
    assert!(count >= 30, "only {count} kernels found");
}

/// Deterministic pseudo-random bytes (an LCG; the values only need to
/// cover all bit patterns, NaNs and infinities included).
fn random_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 56) as u8
        })
        .collect()
}

fn descr(dtype: &str) -> &'static str {
    match dtype {
        "i8" => "|i1",
        "u8" => "|u1",
        "i16" => "<i2",
        "u16" => "<u2",
        "i32" => "<i4",
        "u32" => "<u4",
        "i64" => "<i8",
        "f16" => "<f2",
        "bf16" => "<V2",
        "f32" => "<f4",
        other => panic!("no descriptor for {other}"),
    }
}

/// Can this machine build and run a sanitized program?
fn sanitizers_available(dir: &std::path::Path) -> bool {
    let src = dir.join("probe.c");
    std::fs::write(&src, "int main(void) { return 0; }\n").unwrap();
    let cc = c::c_compiler();
    let exe = dir.join("probe");
    let built = std::process::Command::new(&cc[0])
        .args(&cc[1..])
        .args(["-fsanitize=undefined,address", "-o"])
        .arg(&exe)
        .arg(&src)
        .status()
        .is_ok_and(|s| s.success());
    built
        && std::process::Command::new(&exe)
            .env("ASAN_OPTIONS", "detect_leaks=0")
            .status()
            .is_ok_and(|s| s.success())
}

#[test]
fn small_examples_run_clean_under_sanitizers() {
    let dir = tempfile::tempdir().unwrap();
    if !sanitizers_available(dir.path()) {
        println!("NOTE: the C compiler cannot build sanitized programs here (no libubsan/libasan); skipping the sanitizer runs");
        return;
    }
    let cases = [
        ("softmax.acc", "softmax"),
        ("layernorm.acc", "layernorm"),
        ("rmsnorm.acc", "rmsnorm"),
        ("attention.acc", "attention"),
        ("attention.acc", "attention_probs_causal"),
        ("blend.acc", "blend_screen"),
        ("blend.acc", "blend_normal"),
        ("batched_matmul.acc", "bmm_i8"),
        ("conv1d.acc", "conv1d_depthwise"),
        ("gemm_int8.acc", "gemm_int8_relu_512x512x512"),
    ];
    for (seed, (file, kernel)) in cases.iter().enumerate() {
        let module = example(file, kernel);
        let program = c::emit_kernel(&module, kernel).unwrap();
        let work = dir.path().join(kernel);
        let mut flags = WARNINGS.to_vec();
        flags.extend([
            "-fsanitize=undefined,float-cast-overflow,address",
            "-fno-sanitize-recover=all",
            "-g",
        ]);
        let exe = c::build_with_flags(&program, &work, &flags)
            .unwrap_or_else(|e| panic!("{kernel}: {e}"));
        let inputs = work.join("in");
        std::fs::create_dir_all(&inputs).unwrap();
        let f = module.lookup_symbol(kernel).unwrap();
        for p in func::kernel_params(&module, f)
            .iter()
            .filter(|p| !p.is_output)
        {
            let (shape, elem): (Vec<usize>, &Type) = match &p.ty {
                Type::MemRef(mt) => (mt.shape.iter().map(|d| *d as usize).collect(), &mt.elem),
                t => (vec![], t),
            };
            let bytes = shape.iter().product::<usize>()
                * (elem.int_width().or(elem.float_width()).unwrap() as usize / 8);
            let data = random_bytes(seed as u64 * 1000 + p.index as u64, bytes);
            std::fs::write(
                inputs.join(format!("{}.npy", p.name)),
                npy_bytes(descr(&p.dtype), &shape, &data),
            )
            .unwrap();
        }
        let env = [
            ("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1"),
            ("ASAN_OPTIONS", "detect_leaks=0:halt_on_error=1"),
        ];
        if let Err(e) = c::run_with_env(&exe, &inputs, &work.join("out"), &env) {
            panic!("{kernel} under sanitizers: {e}");
        }
    }
}

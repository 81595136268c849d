//! Interpreter throughput: executed ops per second on the example GEMMs.
//!
//! `cargo bench -p accc-interp` prints a table; `-- --quick` runs only the
//! 512³ int8 GEMM once. Measures wall time of `Interpreter::run` (the module
//! is compiled once, outside the timing) on seeded uniform inputs.

use std::time::Instant;

use accc_interp::Interpreter;
use accc_ir::diag::SourceFile;
use accc_ir::dialects::func::kernel_params;
use accc_tensor::random::{generate, Distribution};
use accc_tensor::{DType, Tensor};

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    // Other arguments (except cargo's `--bench`) select kernels by substring.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let cases: &[(&str, &str)] = if quick {
        &[("gemm.acc", "gemm_512x512x512")]
    } else {
        &[
            ("gemm.acc", "gemm_512x512x512"),
            ("gemm_bias_relu.acc", "gemm_bias_relu_f32"),
            ("gemm_int8.acc", "gemm_int8_512x512x512"),
            ("softmax.acc", "softmax"),
            ("conv2d.acc", "conv2d_3x3_valid"),
            ("attention.acc", "attention"),
        ]
    };
    println!("| kernel | executed ops | wall (s) | Mops/s | ns/op |\n|---|---:|---:|---:|---:|");
    for (file, kernel) in cases {
        if !filters.is_empty() && !filters.iter().any(|f| kernel.contains(f.as_str())) {
            continue;
        }
        let path = format!("{}/../../examples/{file}", env!("CARGO_MANIFEST_DIR"));
        let source = SourceFile::new(
            *file,
            std::fs::read_to_string(&path).expect("example exists"),
        );
        let program = accc_dsl::parse_and_check(&source).expect("example checks");
        let module = accc_dsl::lower::lower_program(&source, &program, Some(kernel))
            .expect("example lowers");
        let f = module.lookup_symbol(kernel).expect("kernel exists");
        let mut args: Vec<Tensor> = kernel_params(&module, f)
            .iter()
            .map(|p| {
                let dtype = DType::from_name(&p.dtype).expect("example dtypes are known");
                let shape: Vec<usize> = p
                    .memref()
                    .map(|m| m.shape.iter().map(|d| *d as usize).collect())
                    .unwrap_or_default();
                if p.is_output {
                    Tensor::zeros(dtype, shape)
                } else {
                    generate(dtype, &shape, Distribution::Uniform, 1, &p.name)
                }
            })
            .collect();
        let interp = Interpreter::new(&module).expect("examples interpret");
        let start = Instant::now();
        let stats = interp.run(kernel, &mut args).expect("examples run");
        let secs = start.elapsed().as_secs_f64();
        println!(
            "| {kernel} | {} | {secs:.2} | {:.1} | {:.2} |",
            stats.ops,
            stats.ops as f64 / secs / 1e6,
            secs * 1e9 / stats.ops as f64
        );
    }
}

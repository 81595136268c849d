//! Every file in `examples/` parses and checks cleanly.

use accc_ir::diag::{render, SourceFile};
use std::path::PathBuf;

pub fn example_files() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "acc"))
        .map(|p| {
            let text = std::fs::read_to_string(&p)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
            (
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                text,
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn every_example_parses_and_checks() {
    let files = example_files();
    assert!(
        files.len() >= 11,
        "expected the example files, found {}",
        files.len()
    );
    for (name, text) in files {
        let file = SourceFile::new(name.clone(), text);
        let program = accc_dsl::parse_and_check(&file)
            .unwrap_or_else(|diags| panic!("{name} does not check:\n{}", render(&file, &diags)));
        assert!(!program.kernels.is_empty(), "{name} has no kernels");
        // The AST is printable as JSON (`accc --emit ast`).
        let ast = accc_dsl::parse(&file).expect("parsed above");
        assert!(serde_json::to_string(&ast).is_ok());
    }
}

#[test]
fn example_families_have_the_requested_kernels() {
    let files = example_files();
    let kernels = |name: &str| -> Vec<String> {
        let (_, text) = files
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("missing {name}"));
        let file = SourceFile::new(name, text.clone());
        accc_dsl::parse_and_check(&file)
            .map(|p| p.kernels.into_iter().map(|k| k.name).collect())
            .unwrap_or_default()
    };
    let shapes = [
        "512x512x512",
        "12544x64x256",
        "12544x256x64",
        "3136x128x512",
        "3136x512x128",
        "784x256x1024",
    ];
    let gemm = kernels("gemm.acc");
    let int8 = kernels("gemm_int8.acc");
    for s in shapes {
        assert!(gemm.contains(&format!("gemm_{s}")), "gemm_{s} missing");
        assert!(
            int8.contains(&format!("gemm_int8_{s}")),
            "gemm_int8_{s} missing"
        );
        assert!(
            int8.contains(&format!("gemm_int8_relu_{s}")),
            "gemm_int8_relu_{s} missing"
        );
    }
}

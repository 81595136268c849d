//! Every example compiles to verified IR whose printed text is pinned by an
//! insta snapshot, and printing then parsing gives back the identical module.

use accc::ir::text::{parse_module, print_module, structurally_equal};
use accc::{compile, CompileOptions, SourceFile};
use std::path::PathBuf;

fn examples() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("examples/ exists")
        .map(|e| e.expect("readable dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "acc"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "expected at least 10 example files, found {}",
        files.len()
    );
    files
}

fn compile_example(path: &PathBuf) -> (SourceFile, accc::ir::Module) {
    let name = format!("examples/{}", path.file_name().unwrap().to_string_lossy());
    let file = SourceFile::new(name, std::fs::read_to_string(path).unwrap());
    let module = compile(&file, &CompileOptions::default())
        .unwrap_or_else(|d| panic!("{}", accc::render_diagnostics(&file, &d)));
    (file, module)
}

#[test]
fn every_example_lowers_to_verified_ir_snapshot() {
    for path in examples() {
        let (_, module) = compile_example(&path);
        accc::ir::verify_module(&module).unwrap();
        let text = print_module(&module);
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        insta::assert_snapshot!(format!("ir_{stem}"), text);
    }
}

#[test]
fn every_example_round_trips_through_text() {
    for path in examples() {
        let (_, module) = compile_example(&path);
        let text = print_module(&module);
        let reparsed = parse_module(&SourceFile::new("roundtrip.mlir", text.clone()))
            .unwrap_or_else(|d| panic!("{}: reparse failed: {d:?}", path.display()));
        structurally_equal(&module, &reparsed)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            print_module(&reparsed),
            text,
            "{}: printing is not a fixed point",
            path.display()
        );
    }
}

#[test]
fn each_kernel_compiles_alone_with_its_callees() {
    for path in examples() {
        let (file, module) = compile_example(&path);
        for f in module.block_ops(module.body()).to_vec() {
            let name = accc::ir::dialects::func::sym_name(&module, f)
                .unwrap()
                .to_string();
            let alone = compile(
                &file,
                &CompileOptions {
                    kernel: Some(name.clone()),
                    ..Default::default()
                },
            )
            .unwrap_or_else(|d| panic!("{}", accc::render_diagnostics(&file, &d)));
            assert!(
                alone.lookup_symbol(&name).is_some(),
                "{name} missing when compiled alone"
            );
        }
    }
}

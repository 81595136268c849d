use crate::diag::SourceFile;
use crate::text::*;

pub(crate) fn parse(text: &str) -> crate::Module {
    match parse_module(&SourceFile::new("t.mlir", text)) {
        Ok(m) => m,
        Err(d) => panic!("{}", crate::diag::render(&SourceFile::new("t.mlir", text), &d)),
    }
}

#[test]
fn smoke() {
    let m = parse("module {\n}\n");
    assert_eq!(print_module(&m), "module {\n}\n");
}

//! Tests of the public front-end API: parse, check, and the diagnostics a
//! user can trigger. One test binary (modules below) to keep link time low.

mod checked_tree;
mod diagnostics;
mod examples;
mod mutations;

use accc_ir::diag::{render, Diagnostic, SourceFile};

/// Parses and checks `src` as `t.acc`; returns the diagnostics and their
/// rendering (empty when the program is clean).
pub fn diagnose(src: &str) -> (Vec<Diagnostic>, String) {
    let file = SourceFile::new("t.acc", src);
    match accc_dsl::parse_and_check(&file) {
        Ok(_) => (Vec::new(), String::new()),
        Err(diags) => {
            let text = render(&file, &diags);
            (diags, text)
        }
    }
}

/// Asserts that checking `src` reports exactly one error, whose message
/// contains `message` and whose rendering points at `t.acc:line:col`.
/// Returns the rendering for further assertions.
#[track_caller]
pub fn expect_one(src: &str, message: &str, line_col: &str) -> String {
    let (diags, text) = diagnose(src);
    assert_eq!(
        diags.len(),
        1,
        "expected exactly one diagnostic, got:\n{text}"
    );
    assert!(
        diags[0].message.contains(message),
        "message {:?} lacks {message:?}\n{text}",
        diags[0].message
    );
    assert!(
        diags[0].primary_span().is_some(),
        "no primary span:\n{text}"
    );
    let loc = format!("t.acc:{line_col}");
    assert!(text.contains(&loc), "rendering lacks {loc}:\n{text}");
    text
}

//! Seeded random token mutations of the examples never panic anywhere in
//! parse + check + lower + render, every diagnostic has a primary span, and
//! every mutant the checker accepts lowers to verified IR.

use super::examples::example_files;
use accc_ir::diag::{render, SourceFile};

/// SplitMix64: a tiny deterministic generator, enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Splits text into tokens at whitespace/punctuation boundaries: runs of
/// word characters, runs of whitespace, and single other characters.
/// Concatenating the tokens gives the text back.
fn tokenize(text: &str) -> Vec<String> {
    let mut tokens: Vec<String> = Vec::new();
    let class = |c: char| {
        if c.is_alphanumeric() || c == '_' || c == '.' {
            0
        } else if c.is_whitespace() {
            1
        } else {
            2
        }
    };
    for c in text.chars() {
        match tokens.last_mut() {
            Some(last) if class(c) != 2 && last.chars().next().map(class) == Some(class(c)) => {
                last.push(c)
            }
            _ => tokens.push(c.to_string()),
        }
    }
    tokens
}

fn mutate(tokens: &mut Vec<String>, rng: &mut Rng) {
    let solid: Vec<usize> = (0..tokens.len())
        .filter(|&i| !tokens[i].trim().is_empty())
        .collect();
    if solid.is_empty() {
        return;
    }
    let a = solid[rng.below(solid.len())];
    let b = solid[rng.below(solid.len())];
    match rng.below(4) {
        0 => {
            tokens.remove(a);
        }
        1 => {
            let t = tokens[a].clone();
            tokens.insert(a, t);
        }
        2 => tokens.swap(a, b),
        _ => {
            // Swap with a neighbour: small local damage, often still parses.
            if let Some(&n) = solid.iter().find(|&&i| i > a) {
                tokens.swap(a, n);
            }
        }
    }
}

#[test]
fn a_thousand_mutations_never_panic() {
    let files = example_files();
    assert!(!files.is_empty());
    let mut rng = Rng(0x5EED_ACC0);
    let (mut clean, mut rejected) = (0, 0);
    for case in 0..1000 {
        let (name, text) = &files[case % files.len()];
        let mut tokens = tokenize(text);
        assert_eq!(tokens.concat(), *text, "tokenize must be lossless");
        for _ in 0..1 + rng.below(3) {
            mutate(&mut tokens, &mut rng);
        }
        let mutated = tokens.concat();
        let file = SourceFile::new(format!("{name}#{case}"), mutated.clone());
        // A program the checker accepts must also lower to verified IR: the
        // lowering reports its own bugs as internal errors, caught here.
        let outcome = std::panic::catch_unwind(|| match accc_dsl::parse_and_check(&file) {
            Ok(program) => {
                if let Err(diags) = accc_dsl::lower::lower_program(&file, &program, None) {
                    panic!(
                        "case {case}: a checked program failed to lower:\n{}",
                        render(&file, &diags)
                    );
                }
                None
            }
            Err(diags) => Some((diags.clone(), render(&file, &diags))),
        });
        match outcome {
            Err(_) => panic!("case {case} ({name}) panicked on:\n{mutated}"),
            Ok(None) => clean += 1,
            Ok(Some((diags, text))) => {
                rejected += 1;
                assert!(!diags.is_empty());
                for d in &diags {
                    let span = d
                        .primary_span()
                        .unwrap_or_else(|| panic!("case {case}: no primary span: {d:?}"));
                    assert!(
                        span.end as usize <= mutated.len(),
                        "case {case}: span past the end: {d:?}"
                    );
                }
                assert!(
                    text.contains(&format!("{name}#{case}:")),
                    "case {case}: rendering lacks the location:\n{text}"
                );
            }
        }
    }
    // Both outcomes must occur, or the mutations test nothing.
    assert!(
        clean > 0 && rejected > 500,
        "clean {clean}, rejected {rejected}"
    );
}

#[test]
fn pathological_inputs_are_rejected_without_panicking() {
    let deep_parens = format!("const X = {}1{};", "(".repeat(5000), ")".repeat(5000));
    let long_sum = format!("const X = {};", vec!["1"; 20000].join(" + "));
    let deep_negs = format!("const X = {}1;", "-".repeat(20000));
    // Just inside the limits: must be accepted (and not overflow a test
    // thread's 2 MiB stack in a debug build).
    let deepest_ok = format!(
        "kernel k(s: f32) -> (C: f32[1]) {{\n  C[0] = {} + {}s{};\n}}",
        vec!["s"; 250].join(" + "),
        "(-".repeat(98),
        ")".repeat(98)
    );
    let file = SourceFile::new("deep.acc", deepest_ok);
    if let Err(diags) = accc_dsl::parse_and_check(&file) {
        panic!("{}", render(&file, &diags));
    }
    let cases = [
        deep_parens,
        long_sum,
        deep_negs,
        String::new(),
        "\u{feff}kernel".into(),
        "kernel k(A: i8[99999999999999999999]) -> (B: i8[1]) {}".into(),
        "const X = 9223372036854775807 + 1;".into(),
        "const X = -9223372036854775807 - 1; const Y = X / -1;".into(),
        "/* unterminated".into(),
        "schedule s for k { x(\"unterminated); }".into(),
        "é ü 漢字".into(),
    ];
    for src in cases {
        let file = SourceFile::new("p.acc", src.clone());
        let result = accc_dsl::parse_and_check(&file);
        if let Err(diags) = &result {
            let _ = render(&file, diags);
            assert!(
                diags.iter().all(|d| d.primary_span().is_some()),
                "{src:.60}: {diags:?}"
            );
        }
        let short: String = src.chars().take(40).collect();
        assert!(
            result.is_err() || src.is_empty(),
            "{short} should be rejected"
        );
    }
}

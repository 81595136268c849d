//! C identifiers for IR names.
//!
//! Source names (`A`, `acc`, loop names) are kept where C allows them, so the
//! emitted code reads like the kernel. A name that C or the C library
//! already uses (a keyword, a type, a function a kernel calls, a macro) gets
//! a trailing `_`; every name is unique within its function, so no
//! declaration ever shadows another. The emitter's own names live in spaces
//! no source name can take: `v<N>`, `t<N>` and `iv<N>` (values, temporaries,
//! unnamed loop variables), the `accc_`/`ACCC_` prefixes (prelude) and
//! `kernel_` (functions).

use std::collections::HashSet;

/// C99 keywords and common extensions.
const KEYWORDS: &[&str] = &[
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else",
    "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long", "register",
    "restrict", "return", "short", "signed", "sizeof", "static", "struct", "switch", "typedef",
    "union", "unsigned", "void", "volatile", "while", "asm", "typeof", "bool", "true", "false",
    "main",
];

/// Names from the headers the prelude includes that kernel code can meet:
/// functions called in kernel bodies, object-like macros, and identifiers
/// that are macros in glibc.
const LIBRARY: &[&str] = &[
    "expf",
    "exp",
    "logf",
    "log",
    "tanhf",
    "tanh",
    "sqrtf",
    "sqrt",
    "floorf",
    "floor",
    "ceilf",
    "ceil",
    "roundf",
    "round",
    "rintf",
    "rint",
    "fabsf",
    "fabs",
    "fmodf",
    "fmod",
    "free",
    "calloc",
    "malloc",
    "memmove",
    "memcpy",
    "memset",
    "NULL",
    "EOF",
    "NAN",
    "INFINITY",
    "BUFSIZ",
    "errno",
    "stdin",
    "stdout",
    "stderr",
    "assert",
    "offsetof",
    "math_errhandling",
    "L_tmpnam",
    "FILE",
    "va_list",
];

/// Is `s` a name the emitted code must not declare?
pub(crate) fn is_reserved(s: &str) -> bool {
    let numbered = |prefix: &str| {
        s.strip_prefix(prefix)
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit()))
    };
    KEYWORDS.contains(&s)
        || LIBRARY.contains(&s)
        || s.starts_with('_')
        || s.starts_with("accc_")
        || s.starts_with("ACCC_")
        || s.starts_with("kernel_")
        || s.ends_with("_t")
        // INT32_MAX, UINT64_C, CLOCK_MONOTONIC, FLT_EVAL_METHOD, ...
        || (s.contains('_') && s.bytes().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_'))
        || numbered("v")
        || numbered("t")
        || numbered("iv")
}

/// `s` with every character C does not allow in an identifier replaced by
/// `_`, and an `x` before a leading digit or underscore.
pub(crate) fn sanitize(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    // A leading `_` could start a name reserved to the implementation.
    if out.is_empty() || out.as_bytes()[0].is_ascii_digit() || out.starts_with('_') {
        out.insert(0, 'x');
    }
    out
}

/// The identifiers declared in one scope (a function, or the functions of a
/// program).
#[derive(Default)]
pub(crate) struct Idents {
    taken: HashSet<String>,
}

impl Idents {
    /// A new identifier for the source name `base`.
    pub(crate) fn fresh(&mut self, base: &str) -> String {
        let mut base = sanitize(base);
        if is_reserved(&base) {
            base.push('_');
        }
        self.unique(base)
    }

    /// Claims an identifier the emitter generated (`v3`, `kernel_gemm`),
    /// uniquified if needed but never escaped.
    pub(crate) fn generated(&mut self, name: String) -> String {
        self.unique(name)
    }

    fn unique(&mut self, base: String) -> String {
        let mut candidate = base.clone();
        let mut k = 1;
        while self.taken.contains(&candidate) || (candidate != base && is_reserved(&candidate)) {
            candidate = format!("{base}_{k}");
            k += 1;
        }
        self.taken.insert(candidate.clone());
        candidate
    }
}

/// MLIR's rule for a usable name hint (as accc's printer applies it): a
/// suffix-id that does not look like a generated name (`12`, `arg3`).
pub(crate) fn is_usable_hint(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit());
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || matches!(b[0], b'$' | b'.' | b'_' | b'-'))
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'$' | b'.' | b'_' | b'-'))
        && !digits(s)
        && !s.strip_prefix("arg").is_some_and(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_names_survive_unless_c_needs_them() {
        let mut ids = Idents::default();
        assert_eq!(ids.fresh("A"), "A");
        assert_eq!(ids.fresh("acc"), "acc");
        assert_eq!(ids.fresh("acc"), "acc_1");
        assert_eq!(ids.fresh("int"), "int_");
        assert_eq!(ids.fresh("exp"), "exp_");
        assert_eq!(ids.fresh("v3"), "v3_");
        assert_eq!(ids.fresh("UINT8_MAX"), "UINT8_MAX_");
        assert_eq!(ids.fresh("c.1-x"), "c_1_x");
        assert_eq!(ids.fresh("3d"), "x3d");
        assert_eq!(ids.fresh("_hidden"), "x_hidden");
        assert_eq!(ids.generated("v3".into()), "v3");
    }

    #[test]
    fn hints_follow_the_printer() {
        assert!(is_usable_hint("acc"));
        assert!(is_usable_hint("c_1"));
        assert!(!is_usable_hint("12"));
        assert!(!is_usable_hint("arg0"));
        assert!(is_usable_hint("args"));
    }
}

//! The tokens of MLIR's textual syntax, lexed on demand.
//!
//! The lexer is positional rather than a token stream: the parser asks for
//! the token at a byte offset, which lets it re-lex in the few places where
//! MLIR's syntax is context sensitive (`16x16xi8` in memref shapes, the raw
//! bodies of dialect types `!d.t<...>`). It works on bytes and slices the
//! source only at ASCII boundaries, so it cannot panic on any UTF-8 input.

use crate::diag::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    Eof,
    /// `[a-zA-Z_][a-zA-Z0-9_$.]*`: keywords, op names, type names, `d0`.
    BareId,
    /// `%suffix-id`.
    PercentId,
    /// `^suffix-id`.
    CaretId,
    /// `@suffix-id` or `@"string"`.
    AtId,
    /// `#suffix-id` (aliases, result numbers `%x#1`).
    HashId,
    /// `!ident` with dots (`!nvws.aref`); a body in `<...>` is scanned by the parser.
    BangId,
    /// Decimal or `0x` hexadecimal, without sign.
    Int,
    /// `[0-9]+.[0-9]*([eE][-+]?[0-9]+)?`, without sign.
    Float,
    /// `"..."` with escapes.
    Str,
    LParen,
    RParen,
    LBrace,
    RBrace,
    LSquare,
    RSquare,
    Less,
    Greater,
    Comma,
    Colon,
    Equal,
    EqEq,
    GreaterEq,
    LessEq,
    Arrow,
    Minus,
    Plus,
    Star,
    Question,
    /// A character that starts no token, or an unterminated string.
    Error,
}

impl Tok {
    /// How the token is named in "expected ..." messages.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Tok::Eof => "end of input",
            Tok::BareId => "identifier",
            Tok::PercentId => "SSA value",
            Tok::CaretId => "block label",
            Tok::AtId => "symbol",
            Tok::HashId => "`#` name",
            Tok::BangId => "dialect type",
            Tok::Int => "integer",
            Tok::Float => "float",
            Tok::Str => "string",
            Tok::LParen => "`(`",
            Tok::RParen => "`)`",
            Tok::LBrace => "`{`",
            Tok::RBrace => "`}`",
            Tok::LSquare => "`[`",
            Tok::RSquare => "`]`",
            Tok::Less => "`<`",
            Tok::Greater => "`>`",
            Tok::Comma => "`,`",
            Tok::Colon => "`:`",
            Tok::Equal => "`=`",
            Tok::EqEq => "`==`",
            Tok::GreaterEq => "`>=`",
            Tok::LessEq => "`<=`",
            Tok::Arrow => "`->`",
            Tok::Minus => "`-`",
            Tok::Plus => "`+`",
            Tok::Star => "`*`",
            Tok::Question => "`?`",
            Tok::Error => "invalid character",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: Tok,
    pub span: Span,
}

pub(crate) fn is_bare_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

pub(crate) fn is_bare_continue(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$' | b'.')
}

/// Characters of MLIR's suffix-ids (`%x.y-1`, `%0`, `^bb2`).
pub(crate) fn is_suffix_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$' | b'.' | b'-')
}

/// Skips whitespace and `//` comments from `pos`.
pub(crate) fn skip_trivia(src: &[u8], mut pos: usize) -> usize {
    loop {
        while pos < src.len() && src[pos].is_ascii_whitespace() {
            pos += 1;
        }
        if src[pos..].starts_with(b"//") {
            while pos < src.len() && src[pos] != b'\n' {
                pos += 1;
            }
        } else {
            return pos;
        }
    }
}

/// Lexes one token starting at or after `pos` (trivia skipped).
pub(crate) fn lex(src: &[u8], pos: usize) -> Token {
    let start = skip_trivia(src, pos);
    let tok = |kind, end: usize| Token {
        kind,
        span: Span::new(start, end),
    };
    let Some(&c) = src.get(start) else {
        return tok(Tok::Eof, start);
    };
    let next = src.get(start + 1).copied();
    let suffix_end = |from: usize| {
        let mut e = from;
        while e < src.len() && is_suffix_char(src[e]) {
            e += 1;
        }
        e
    };
    match c {
        b'(' => tok(Tok::LParen, start + 1),
        b')' => tok(Tok::RParen, start + 1),
        b'{' => tok(Tok::LBrace, start + 1),
        b'}' => tok(Tok::RBrace, start + 1),
        b'[' => tok(Tok::LSquare, start + 1),
        b']' => tok(Tok::RSquare, start + 1),
        b'<' if next == Some(b'=') => tok(Tok::LessEq, start + 2),
        b'<' => tok(Tok::Less, start + 1),
        b'>' if next == Some(b'=') => tok(Tok::GreaterEq, start + 2),
        b'>' => tok(Tok::Greater, start + 1),
        b',' => tok(Tok::Comma, start + 1),
        b':' => tok(Tok::Colon, start + 1),
        b'=' if next == Some(b'=') => tok(Tok::EqEq, start + 2),
        b'=' => tok(Tok::Equal, start + 1),
        b'-' if next == Some(b'>') => tok(Tok::Arrow, start + 2),
        b'-' => tok(Tok::Minus, start + 1),
        b'+' => tok(Tok::Plus, start + 1),
        b'*' => tok(Tok::Star, start + 1),
        b'?' => tok(Tok::Question, start + 1),
        b'%' | b'^' | b'#' => {
            let end = suffix_end(start + 1);
            if end == start + 1 {
                return tok(Tok::Error, start + 1);
            }
            let kind = match c {
                b'%' => Tok::PercentId,
                b'^' => Tok::CaretId,
                _ => Tok::HashId,
            };
            tok(kind, end)
        }
        b'@' => {
            if next == Some(b'"') {
                match string_end(src, start + 1) {
                    Some(end) => tok(Tok::AtId, end),
                    None => tok(Tok::Error, start + 1),
                }
            } else {
                let end = suffix_end(start + 1);
                if end == start + 1 {
                    tok(Tok::Error, start + 1)
                } else {
                    tok(Tok::AtId, end)
                }
            }
        }
        b'!' => {
            let mut end = start + 1;
            while end < src.len() && is_bare_continue(src[end]) {
                end += 1;
            }
            if end == start + 1 {
                tok(Tok::Error, start + 1)
            } else {
                tok(Tok::BangId, end)
            }
        }
        b'"' => match string_end(src, start) {
            Some(end) => tok(Tok::Str, end),
            None => tok(Tok::Error, start + 1),
        },
        b'0'..=b'9' => {
            if c == b'0'
                && next == Some(b'x')
                && src.get(start + 2).is_some_and(u8::is_ascii_hexdigit)
            {
                let mut end = start + 2;
                while end < src.len() && src[end].is_ascii_hexdigit() {
                    end += 1;
                }
                return tok(Tok::Int, end);
            }
            let mut end = start;
            while end < src.len() && src[end].is_ascii_digit() {
                end += 1;
            }
            if src.get(end) != Some(&b'.') {
                return tok(Tok::Int, end);
            }
            end += 1;
            while end < src.len() && src[end].is_ascii_digit() {
                end += 1;
            }
            if matches!(src.get(end), Some(b'e' | b'E')) {
                let mut e = end + 1;
                if matches!(src.get(e), Some(b'+' | b'-')) {
                    e += 1;
                }
                if src.get(e).is_some_and(u8::is_ascii_digit) {
                    while e < src.len() && src[e].is_ascii_digit() {
                        e += 1;
                    }
                    end = e;
                }
            }
            tok(Tok::Float, end)
        }
        _ if is_bare_start(c) => {
            let mut end = start + 1;
            while end < src.len() && is_bare_continue(src[end]) {
                end += 1;
            }
            tok(Tok::BareId, end)
        }
        _ => {
            // Cover the whole (possibly multi-byte) character.
            let mut end = start + 1;
            while end < src.len() && (src[end] & 0xC0) == 0x80 {
                end += 1;
            }
            tok(Tok::Error, end)
        }
    }
}

/// The end (after the closing quote) of a string literal starting at `start`.
fn string_end(src: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < src.len() {
        match src[i] {
            b'"' => return Some(i + 1),
            b'\\' => i += 2,
            b'\n' => return None,
            _ => i += 1,
        }
    }
    None
}

/// Decodes the text of a string literal (with its quotes) as MLIR does:
/// `\"`, `\\`, `\n`, `\t` and two-digit hex escapes `\XX`. Errors carry the
/// byte offset (within `text`) of the bad escape.
pub(crate) fn decode_string(text: &str) -> Result<String, (usize, String)> {
    let bytes = text.as_bytes();
    let inner = &bytes[1..bytes.len().saturating_sub(1).max(1)];
    let mut out = Vec::with_capacity(inner.len());
    let mut i = 0;
    while i < inner.len() {
        let b = inner[i];
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let offset = i + 1;
        match inner.get(i + 1) {
            Some(b'"') => out.push(b'"'),
            Some(b'\\') => out.push(b'\\'),
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(h)
                if h.is_ascii_hexdigit() && inner.get(i + 2).is_some_and(u8::is_ascii_hexdigit) =>
            {
                let hex = |x: u8| (x as char).to_digit(16).unwrap_or(0) as u8;
                out.push(hex(*h) * 16 + hex(inner[i + 2]));
                i += 3;
                continue;
            }
            _ => {
                return Err((
                    offset,
                    "unknown escape in string; use `\\\"`, `\\\\`, `\\n`, `\\t` or `\\XX`".into(),
                ))
            }
        }
        i += 2;
    }
    String::from_utf8(out).map_err(|_| (0, "string escapes do not form valid UTF-8".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<Tok> {
        let mut pos = 0;
        let mut out = vec![];
        loop {
            let t = lex(s.as_bytes(), pos);
            out.push(t.kind);
            if t.kind == Tok::Eof || t.kind == Tok::Error {
                return out;
            }
            pos = t.span.end as usize;
        }
    }

    #[test]
    fn lexes_mlir_punctuation_and_ids() {
        use Tok::*;
        assert_eq!(
            kinds("%0 = \"a.b\"(%x#1) : (i32) -> () // c\n ^bb0 @f @\"q\" #map !d.t 0x7F 1.5e-3 >= == -"),
            vec![
                PercentId, Equal, Str, LParen, PercentId, HashId, RParen, Colon, LParen, BareId, RParen, Arrow, LParen, RParen,
                CaretId, AtId, AtId, HashId, BangId, Int, Float, GreaterEq, EqEq, Minus, Eof
            ]
        );
        assert_eq!(kinds("\"open"), vec![Error]);
        assert_eq!(kinds("é"), vec![Error]);
    }

    #[test]
    fn decodes_escapes() {
        assert_eq!(
            decode_string(r#""a\"b\\c\n\0A\C3\A9""#).unwrap(),
            "a\"b\\c\n\né"
        );
        assert!(decode_string(r#""\q""#).is_err());
        assert!(decode_string(r#""\FF""#).is_err());
    }
}

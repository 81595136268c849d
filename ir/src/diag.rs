//! Located diagnostics shared by every front end of accc (the DSL, the MLIR
//! text parser, the schedule applier).
//!
//! A [`Diagnostic`] names byte spans in one [`SourceFile`]; [`render`] prints
//! it the way users expect from a compiler: `file:line:col`, the offending
//! source line, a caret under the span, and hints. Rendering never panics,
//! even for spans that fall outside the file (they are clamped).

use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term;

/// A half-open byte range `[start, end)` in a source file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span {
            start: start as u32,
            end: end.max(start) as u32,
        }
    }
    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// A named text that spans point into.
#[derive(Clone, Debug)]
pub struct SourceFile {
    name: String,
    text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> SourceFile {
        let text = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceFile {
            name: name.into(),
            text,
            line_starts,
        }
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn text(&self) -> &str {
        &self.text
    }
    /// 1-based line and column (in characters) of a byte offset; offsets past
    /// the end are clamped to the end.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = self.clamp(offset);
        let line = match self.line_starts.binary_search(&offset) {
            Ok(l) => l,
            Err(l) => l - 1,
        };
        let col = self.text[self.line_starts[line]..offset].chars().count() + 1;
        (line + 1, col)
    }
    /// The byte offset of a 1-based line and column (in characters), the
    /// inverse of [`SourceFile::line_col`]; `None` outside the file.
    pub fn offset_of(&self, line: u32, col: u32) -> Option<usize> {
        let start = *self.line_starts.get((line as usize).checked_sub(1)?)?;
        let end = self
            .line_starts
            .get(line as usize)
            .copied()
            .unwrap_or(self.text.len());
        let skip = (col as usize).checked_sub(1)?;
        match self.text[start..end].char_indices().nth(skip) {
            Some((i, _)) => Some(start + i),
            None if skip == self.text[start..end].chars().count() => Some(end),
            None => None,
        }
    }
    /// The text of a span, clamped to the file and to char boundaries.
    pub fn snippet(&self, span: Span) -> &str {
        let (s, e) = self.clamp_span(span);
        &self.text[s..e]
    }
    fn clamp(&self, mut offset: usize) -> usize {
        offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        offset
    }
    fn clamp_span(&self, span: Span) -> (usize, usize) {
        let s = self.clamp(span.start as usize);
        let e = self.clamp(span.end as usize).max(s);
        (s, e)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
    Note,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
    pub primary: bool,
}

/// One message about a source file: a headline, labelled spans, and hints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    pub labels: Vec<Label>,
    /// Printed as `= help: ...` lines under the snippet.
    pub hints: Vec<String>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            labels: vec![],
            hints: vec![],
        }
    }
    pub fn warning(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(message)
        }
    }
    /// The span the diagnostic is about; its label may be empty.
    #[must_use]
    pub fn with_primary(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: label.into(),
            primary: true,
        });
        self
    }
    /// A related span (for example the earlier definition of a duplicate name).
    #[must_use]
    pub fn with_secondary(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: label.into(),
            primary: false,
        });
        self
    }
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hints.push(hint.into());
        self
    }
    /// The primary span, if any.
    pub fn primary_span(&self) -> Option<Span> {
        self.labels.iter().find(|l| l.primary).map(|l| l.span)
    }
}

/// Renders diagnostics as plain text (no colour), one after another.
pub fn render(file: &SourceFile, diagnostics: &[Diagnostic]) -> String {
    let simple = SimpleFile::new(file.name(), file.text());
    let config = term::Config {
        chars: term::Chars::ascii(),
        ..term::Config::default()
    };
    let mut out = String::new();
    for diagnostic in diagnostics {
        let severity = match diagnostic.severity {
            Severity::Error => cs::Severity::Error,
            Severity::Warning => cs::Severity::Warning,
            Severity::Note => cs::Severity::Note,
        };
        let labels = diagnostic
            .labels
            .iter()
            .map(|l| {
                let (s, e) = file.clamp_span(l.span);
                let style = if l.primary {
                    cs::LabelStyle::Primary
                } else {
                    cs::LabelStyle::Secondary
                };
                cs::Label::new(style, (), s..e).with_message(l.message.clone())
            })
            .collect();
        let notes = diagnostic
            .hints
            .iter()
            .map(|h| format!("help: {h}"))
            .collect();
        let cs_diag = cs::Diagnostic::new(severity)
            .with_message(diagnostic.message.clone())
            .with_labels(labels)
            .with_notes(notes);
        // Rendering into a string fails only on a codespan bug; fall back to
        // a plain line rather than losing the message.
        if term::emit_to_string(&mut out, &config, &simple, &cs_diag).is_err() {
            let (line, col) = diagnostic
                .primary_span()
                .map(|s| file.line_col(s.start as usize))
                .unwrap_or((1, 1));
            out.push_str(&format!(
                "error: {}\n --> {}:{line}:{col}\n",
                diagnostic.message,
                file.name()
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_line_and_caret() {
        let file = SourceFile::new("k.acc", "const M = 4;\nkernel k(A: i8[Q]) {}\n");
        let start = file.text().find('Q').unwrap();
        let d = Diagnostic::error("undefined constant `Q`")
            .with_primary(Span::new(start, start + 1), "not defined")
            .with_hint("constants are declared with `const Q = ...;`");
        let text = render(&file, &[d]);
        assert!(text.contains("k.acc:2:16"), "{text}");
        assert!(text.contains("kernel k(A: i8[Q]) {}"), "{text}");
        assert!(text.contains("^ not defined"), "{text}");
        assert!(text.contains("help: constants"), "{text}");
    }

    #[test]
    fn out_of_range_spans_do_not_panic() {
        let file = SourceFile::new("x", "é");
        let d = Diagnostic::error("m").with_primary(Span::new(1, 99), "");
        let _ = render(&file, &[d]);
        assert_eq!(file.line_col(1000), (1, 2));
    }
}

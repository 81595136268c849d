//! Text to [`ast::Program`]: the pest grammar (`grammar.pest`) plus the code
//! that turns its pairs into the AST.
//!
//! Guarantees: never panics on any input; a syntax error becomes one
//! [`Diagnostic`] at the furthest position the grammar reached, saying what
//! was expected there in words (`expected `;` or an operator`); problems the
//! grammar cannot express (a literal too large for 64 bits, a chain of
//! comparisons, absurdly deep nesting) are reported too, all of them, before
//! `parse` gives up.

use crate::ast::*;
use accc_ir::diag::{Diagnostic, SourceFile, Span};
use pest::error::InputLocation;
use pest::iterators::{Pair, Pairs};
use pest::Parser as _;

#[derive(pest_derive::Parser)]
#[grammar = "grammar.pest"]
struct AccParser;

/// How deeply brackets and expressions may nest. Deeper input is rejected
/// up front, which keeps the recursive parser and checker far from the end
/// of the stack.
pub const MAX_NESTING: usize = 100;

/// How deep an expression tree may be (operator chains count: `a+b+c` is
/// two levels).
pub const MAX_EXPR_DEPTH: usize = 256;

/// Parses a whole file.
pub fn parse(file: &SourceFile) -> Result<Program, Vec<Diagnostic>> {
    if let Some(d) = check_nesting(file.text()) {
        return Err(vec![d]);
    }
    pest::set_error_detail(true);
    let pairs = match AccParser::parse(Rule::program, file.text()) {
        Ok(pairs) => pairs,
        Err(e) => return Err(vec![syntax_error(file, &e)]),
    };
    let mut builder = Builder { diags: Vec::new() };
    let program = match builder.program(pairs) {
        Ok(p) => p,
        Err(d) => {
            builder.diags.push(d);
            return Err(builder.diags);
        }
    };
    if builder.diags.is_empty() {
        Ok(program)
    } else {
        Err(builder.diags)
    }
}

// ------------------------------------------------------------------ syntax errors

/// Rejects bracket nesting deeper than [`MAX_NESTING`] before pest recurses
/// into it. Comments and strings are skipped so that they cannot trigger it.
fn check_nesting(text: &str) -> Option<Diagnostic> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i += 1;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(
                        Diagnostic::error(format!(
                            "brackets are nested more than {MAX_NESTING} levels deep"
                        ))
                        .with_primary(Span::new(i, i + 1), "too deep")
                        .with_hint("split the expression with `let` variables"),
                    );
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Words for the rules a user may see in an "expected ..." message. `None`
/// hides a rule whose meaning is already covered by a literal token or by
/// its parent.
fn describe_rule(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::EOI => "end of file",
        Rule::ident | Rule::ident_list | Rule::name | Rule::target | Rule::step_results => "a name",
        Rule::word | Rule::path => "a name",
        Rule::elem_type | Rule::type_expr => {
            "an element type (i8, i16, i32, i64, u8, u16, u32, f16, bf16, f32)"
        }
        Rule::int | Rule::sched_int => "an integer",
        Rule::float | Rule::sched_float => "a number",
        Rule::string => "a string",
        Rule::expr
        | Rule::sum
        | Rule::product
        | Rule::unary
        | Rule::paren
        | Rule::access
        | Rule::call
        | Rule::inf => "an expression",
        Rule::cmp_op | Rule::add_op | Rule::mul_op => "an operator",
        Rule::neg => "an expression",
        Rule::assign_op => "an assignment operator (=, +=, -=, *=, max=, min=)",
        Rule::const_item | Rule::kernel_item | Rule::schedule_item => {
            "an item (`const`, `kernel`, `schedule`)"
        }
        Rule::for_stmt | Rule::let_stmt | Rule::call_stmt | Rule::assign_stmt | Rule::block => {
            "a statement"
        }
        Rule::param => "a parameter",
        Rule::outputs => "`->`",
        Rule::kw_const => "`const`",
        Rule::kw_kernel => "`kernel`",
        Rule::kw_schedule => "`schedule`",
        Rule::kw_for => "`for`",
        Rule::kw_in => "`in`",
        Rule::kw_grid => "`grid`",
        Rule::kw_range => "`range`",
        Rule::kw_let => "`let`",
        Rule::dims | Rule::indices => "`[`",
        Rule::grid_iter => "`grid`",
        Rule::range_iter => "`range`",
        Rule::step => "a schedule step",
        Rule::sched_arg | Rule::sched_list => "a schedule argument",
        _ => return None,
    })
}

/// Operator tokens are summarized as "an operator" / "an expression".
const OPERATORS: [&str; 16] = [
    "==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "%", "+=", "-=", "*=", "max=", "min=",
];

const KEYWORDS: [&str; 8] = [
    "const", "kernel", "schedule", "for", "let", "in", "grid", "range",
];

fn syntax_error(file: &SourceFile, error: &pest::error::Error<Rule>) -> Diagnostic {
    let mut pos = match error.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let mut expected: Vec<String> = Vec::new();
    let mut push = |s: &str| {
        if !expected.iter().any(|e| e == s) {
            expected.push(s.to_string());
        }
    };
    // Whole constructs ("a statement") are named only when no token
    // explains the error better.
    let mut constructs: Vec<&str> = Vec::new();
    match error.parse_attempts() {
        // The detailed attempts also track literal tokens, so their position
        // is the true furthest point (pest's plain error stops at the last
        // *rule* attempt, which may lie before a missing `,` or `)`).
        Some(attempts) if attempts.max_position >= pos => {
            pos = attempts.max_position;
            // `ParsingToken` is not exported by pest; its `Display` is the
            // token text for literals and `a..z` for character ranges.
            for token in attempts.expected_tokens() {
                let token = token.to_string();
                let layout = token.chars().all(char::is_whitespace)
                    || matches!(token.as_str(), "//" | "/*" | "*/");
                if layout || OPERATORS.contains(&token.as_str()) {
                    continue;
                }
                if token.chars().all(|c| !c.is_alphanumeric() && c != '_')
                    || KEYWORDS.contains(&token.as_str())
                {
                    push(&format!("`{token}`"));
                }
            }
            for stack in attempts.call_stacks() {
                // A failed literal is listed above; its parent rule is only
                // worth naming when it is itself a token (a name, a number),
                // not a whole construct around the literal.
                let rule = match stack.deepest.get_rule() {
                    Some(rule) => Some(*rule),
                    None => stack.parent.filter(|r| is_token_rule(*r)),
                };
                if let Some(rule) = rule {
                    if let Some(desc) = describe_rule(rule) {
                        if is_construct_rule(rule) {
                            constructs.push(desc);
                        } else {
                            push(desc);
                        }
                    }
                }
            }
        }
        _ => {
            if let pest::error::ErrorVariant::ParsingError { positives, .. } = &error.variant {
                for rule in positives {
                    if let Some(desc) = describe_rule(*rule) {
                        push(desc);
                    }
                }
            }
        }
    }
    // Tokens before words, then alphabetical, so messages are stable.
    if expected.iter().all(|e| !e.starts_with('`')) {
        for c in constructs {
            if !expected.iter().any(|e| e == c) {
                expected.push(c.to_string());
            }
        }
    }
    if expected.iter().any(|e| e == "an expression") {
        expected.retain(|e| e != "`(`" && e != "`-`");
    }
    expected.sort_by_key(|s| (!s.starts_with('`'), s.clone()));
    let found = found_text(file.text(), pos);
    let message = match expected.len() {
        0 => format!("syntax error: unexpected {found}"),
        1 => format!("syntax error: expected {}, found {found}", expected[0]),
        n => format!(
            "syntax error: expected {} or {}, found {found}",
            expected[..n - 1].join(", "),
            expected[n - 1]
        ),
    };
    // When the offending token starts a new line and a closing token is
    // expected, the mistake is at the end of the previous line (a missing
    // `;` or `)`): point there.
    let closer = expected
        .iter()
        .find(|e| matches!(e.as_str(), "`;`" | "`)`" | "`]`" | "`}`"));
    if let (Some(closer), Some((start, end, newline))) = (closer, previous_token(file.text(), pos))
    {
        if newline {
            let label = format!("expected {closer} after this");
            return Diagnostic::error(message).with_primary(Span::new(start, end), label);
        }
    }
    let end = next_char_boundary(file.text(), pos);
    Diagnostic::error(message).with_primary(Span::new(pos, end), "unexpected here")
}

fn is_construct_rule(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::const_item
            | Rule::kernel_item
            | Rule::schedule_item
            | Rule::for_stmt
            | Rule::let_stmt
            | Rule::call_stmt
            | Rule::assign_stmt
            | Rule::block
            | Rule::step
            | Rule::param
            | Rule::sched_arg
            | Rule::sched_list
            | Rule::grid_iter
            | Rule::range_iter
            | Rule::dims
            | Rule::indices
            | Rule::outputs
    )
}

fn is_token_rule(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::ident
            | Rule::word
            | Rule::elem_type
            | Rule::int
            | Rule::float
            | Rule::inf
            | Rule::string
            | Rule::sched_int
            | Rule::sched_float
            | Rule::path
            | Rule::cmp_op
            | Rule::add_op
            | Rule::mul_op
            | Rule::assign_op
            | Rule::neg
    )
}

/// The byte range of the last character of the last token before `pos`
/// (skipping whitespace and comments), and whether a line break separates
/// it from `pos`.
fn previous_token(text: &str, pos: usize) -> Option<(usize, usize, bool)> {
    let bytes = text.as_bytes();
    let pos = pos.min(bytes.len());
    let mut last: Option<(usize, usize)> = None;
    let mut i = 0;
    while i < pos {
        if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'/') {
            while i < pos && bytes[i] != b'\n' {
                i += 1;
            }
        } else if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
            i += 2;
            while i < pos && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                i += 1;
            }
            i += 2;
        } else if bytes[i].is_ascii_whitespace() {
            i += 1;
        } else {
            let start = i;
            let len = text
                .get(i..)
                .and_then(|r| r.chars().next())
                .map_or(1, char::len_utf8);
            i += len;
            last = Some((start, i));
        }
    }
    let (start, end) = last?;
    let newline = text
        .get(end..pos)
        .is_some_and(|between| between.contains('\n'));
    Some((start, end, newline))
}

fn next_char_boundary(text: &str, pos: usize) -> usize {
    text.get(pos..)
        .and_then(|rest| rest.chars().next())
        .map(|c| pos + c.len_utf8())
        .unwrap_or(pos)
}

/// A short quote of what stands at `pos`: a word, one punctuation character,
/// or "end of file".
fn found_text(text: &str, pos: usize) -> String {
    let rest = text.get(pos..).unwrap_or("");
    let mut chars = rest.chars();
    match chars.next() {
        None => "end of file".to_string(),
        Some(c) if c.is_alphanumeric() || c == '_' => {
            let word: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
                .take(24)
                .collect();
            format!("`{word}`")
        }
        Some('\n') | Some('\r') => "end of line".to_string(),
        Some(c) => format!("`{c}`"),
    }
}

// ------------------------------------------------------------------ AST building

fn span_of(pair: &Pair<Rule>) -> Span {
    let s = pair.as_span();
    Span::new(s.start(), s.end())
}

/// The grammar fixes the shape of every pair; a mismatch is a bug in this
/// file, reported as a diagnostic instead of a panic.
fn internal(span: Span, what: &str) -> Diagnostic {
    Diagnostic::error(format!("internal error in the parser: {what}"))
        .with_primary(span, "while reading this")
        .with_hint("please report this input to the accc developers")
}

/// The children of a pair, without the keyword tokens (`kw_*` rules are
/// atomic so that `constM` is not `const M`, which makes them visible).
type Children<'i> = std::vec::IntoIter<Pair<'i, Rule>>;

trait ChildrenExt<'i> {
    fn children(self) -> Children<'i>;
}

impl<'i> ChildrenExt<'i> for Pair<'i, Rule> {
    fn children(self) -> Children<'i> {
        self.into_inner()
            .filter(|p| {
                !matches!(
                    p.as_rule(),
                    Rule::kw_const
                        | Rule::kw_kernel
                        | Rule::kw_schedule
                        | Rule::kw_for
                        | Rule::kw_in
                        | Rule::kw_grid
                        | Rule::kw_range
                        | Rule::kw_let
                )
            })
            .collect::<Vec<_>>()
            .into_iter()
    }
}

struct Builder {
    /// Non-fatal problems found while building (the build goes on).
    diags: Vec<Diagnostic>,
}

type Build<T> = Result<T, Diagnostic>;

fn next<'i>(pairs: &mut Children<'i>, parent: Span, what: &str) -> Build<Pair<'i, Rule>> {
    pairs
        .next()
        .ok_or_else(|| internal(parent, &format!("missing {what}")))
}

impl Builder {
    fn program(&mut self, mut pairs: Pairs<Rule>) -> Build<Program> {
        let program = pairs
            .next()
            .ok_or_else(|| internal(Span::default(), "no program"))?;
        let mut items = Vec::new();
        for pair in program.children() {
            match pair.as_rule() {
                Rule::const_item => items.push(Item::Const(self.const_item(pair)?)),
                Rule::kernel_item => items.push(Item::Kernel(self.kernel_item(pair)?)),
                Rule::schedule_item => items.push(Item::Schedule(self.schedule_item(pair)?)),
                Rule::EOI => {}
                _ => return Err(internal(span_of(&pair), "unexpected item")),
            }
        }
        Ok(Program { items })
    }

    fn ident(&mut self, pair: Pair<Rule>) -> Ident {
        Ident {
            name: pair.as_str().to_string(),
            span: span_of(&pair),
        }
    }

    fn const_item(&mut self, pair: Pair<Rule>) -> Build<ConstDecl> {
        let span = span_of(&pair);
        let mut inner = pair.children();
        let name = self.ident(next(&mut inner, span, "constant name")?);
        let value = self.expr(next(&mut inner, span, "constant value")?, 0)?;
        Ok(ConstDecl { name, value, span })
    }

    fn kernel_item(&mut self, pair: Pair<Rule>) -> Build<KernelDecl> {
        let span = span_of(&pair);
        let mut inner = pair.children();
        let name = self.ident(next(&mut inner, span, "kernel name")?);
        let params_pair = next(&mut inner, span, "parameters")?;
        let mut signature_span = name.span.to(span_of(&params_pair));
        let params = self.params(params_pair)?;
        let mut outputs = Vec::new();
        let mut body = None;
        for pair in inner {
            match pair.as_rule() {
                Rule::outputs => {
                    signature_span = signature_span.to(span_of(&pair));
                    outputs = self.params(pair)?;
                }
                Rule::block => body = Some(self.block(pair)?),
                _ => return Err(internal(span_of(&pair), "unexpected part of a kernel")),
            }
        }
        let body = body.ok_or_else(|| internal(span, "kernel without body"))?;
        signature_span = Span::new(span.start as usize, signature_span.end as usize);
        Ok(KernelDecl {
            name,
            params,
            outputs,
            body,
            signature_span,
            span,
        })
    }

    fn params(&mut self, pair: Pair<Rule>) -> Build<Vec<Param>> {
        let mut params = Vec::new();
        for p in pair.children() {
            let span = span_of(&p);
            let mut inner = p.children();
            let name = self.ident(next(&mut inner, span, "parameter name")?);
            let ty = self.type_expr(next(&mut inner, span, "parameter type")?)?;
            params.push(Param { name, ty, span });
        }
        Ok(params)
    }

    fn type_expr(&mut self, pair: Pair<Rule>) -> Build<TypeExpr> {
        let span = span_of(&pair);
        let mut inner = pair.children();
        let elem_pair = next(&mut inner, span, "element type")?;
        let elem = ElemType::from_name(elem_pair.as_str())
            .ok_or_else(|| internal(span_of(&elem_pair), "unknown element type"))?;
        let dims = match inner.next() {
            Some(dims) => Some(self.expr_list(dims)?),
            None => None,
        };
        Ok(TypeExpr { elem, dims, span })
    }

    fn expr_list(&mut self, pair: Pair<Rule>) -> Build<Vec<Expr>> {
        pair.children().map(|p| self.expr(p, 0)).collect()
    }

    fn block(&mut self, pair: Pair<Rule>) -> Build<Block> {
        let span = span_of(&pair);
        let stmts = pair
            .children()
            .map(|p| self.stmt(p))
            .collect::<Build<Vec<_>>>()?;
        Ok(Block { stmts, span })
    }

    fn stmt(&mut self, pair: Pair<Rule>) -> Build<Stmt> {
        let span = span_of(&pair);
        let rule = pair.as_rule();
        let mut inner = pair.children();
        let kind = match rule {
            Rule::for_stmt => {
                let vars_pair = next(&mut inner, span, "loop variables")?;
                let vars = vars_pair.children().map(|p| self.ident(p)).collect();
                let iter_pair = next(&mut inner, span, "loop iterator")?;
                let iter_span = span_of(&iter_pair);
                let iter = match iter_pair.as_rule() {
                    Rule::grid_iter => LoopIter::Grid {
                        extents: self.expr_list(iter_pair)?,
                        span: iter_span,
                    },
                    Rule::range_iter => {
                        let mut bounds = iter_pair.children();
                        let lo = self.expr(next(&mut bounds, iter_span, "lower bound")?, 0)?;
                        let hi = self.expr(next(&mut bounds, iter_span, "upper bound")?, 0)?;
                        LoopIter::Range {
                            lo,
                            hi,
                            span: iter_span,
                        }
                    }
                    _ => return Err(internal(iter_span, "unexpected loop iterator")),
                };
                let body = self.block(next(&mut inner, span, "loop body")?)?;
                StmtKind::For { vars, iter, body }
            }
            Rule::let_stmt => {
                let name = self.ident(next(&mut inner, span, "local name")?);
                let ty = self.type_expr(next(&mut inner, span, "local type")?)?;
                let init = match inner.next() {
                    Some(p) => Some(self.expr(p, 0)?),
                    None => None,
                };
                StmtKind::Let { name, ty, init }
            }
            Rule::call_stmt => {
                let callee = self.ident(next(&mut inner, span, "callee")?);
                let args = inner.map(|p| self.expr(p, 0)).collect::<Build<Vec<_>>>()?;
                StmtKind::Call { callee, args }
            }
            Rule::assign_stmt => {
                let target_pair = next(&mut inner, span, "assignment target")?;
                let target_span = span_of(&target_pair);
                let mut target_inner = target_pair.children();
                let name = self.ident(next(&mut target_inner, target_span, "target name")?);
                let indices = match target_inner.next() {
                    Some(p) => Some(self.expr_list(p)?),
                    None => None,
                };
                let target = Target {
                    name,
                    indices,
                    span: target_span,
                };
                let op_pair = next(&mut inner, span, "assignment operator")?;
                let op = match op_pair.as_str() {
                    "=" => AssignOp::Set,
                    "+=" => AssignOp::Add,
                    "-=" => AssignOp::Sub,
                    "*=" => AssignOp::Mul,
                    "max=" => AssignOp::Max,
                    "min=" => AssignOp::Min,
                    _ => return Err(internal(span_of(&op_pair), "unknown assignment operator")),
                };
                let value = self.expr(next(&mut inner, span, "assigned value")?, 0)?;
                StmtKind::Assign { target, op, value }
            }
            _ => return Err(internal(span, "unexpected statement")),
        };
        Ok(Stmt { kind, span })
    }

    /// Builds any expression-level pair. `depth` is the depth of the AST node
    /// being built; past [`MAX_EXPR_DEPTH`] the expression is rejected, which
    /// bounds the recursion of every later pass (long operator chains become
    /// deep left-leaning trees).
    fn expr(&mut self, pair: Pair<Rule>, depth: usize) -> Build<Expr> {
        let span = span_of(&pair);
        if depth > MAX_EXPR_DEPTH {
            return Err(Diagnostic::error(format!(
                "expression is nested more than {MAX_EXPR_DEPTH} levels deep"
            ))
            .with_primary(span, "too deep")
            .with_hint("split the expression with `let` variables"));
        }
        match pair.as_rule() {
            Rule::expr | Rule::sum | Rule::product => {
                let rule = pair.as_rule();
                let mut inner = pair.children();
                let first_pair = next(&mut inner, span, "operand")?;
                let rest: Vec<(Pair<Rule>, Pair<Rule>)> = pairs_of_two(inner, span)?;
                if rule == Rule::expr && rest.len() > 1 {
                    let second_op = span_of(&rest[1].0);
                    self.diags.push(
                        Diagnostic::error("comparison operators cannot be chained")
                            .with_primary(second_op, "second comparison")
                            .with_hint(
                                "compare two values at a time; `a < b < c` has no meaning here",
                            ),
                    );
                }
                // A chain `a + b + c` folds to the left: `a` ends up deepest.
                let first = self.expr(first_pair, depth + rest.len())?;
                self.fold_binary(first, rest, depth)
            }
            Rule::unary => {
                let mut negs = Vec::new();
                let mut operand = None;
                for p in pair.children() {
                    match p.as_rule() {
                        Rule::neg => negs.push(span_of(&p)),
                        _ => operand = Some(p),
                    }
                }
                let operand = operand.ok_or_else(|| internal(span, "missing operand"))?;
                let mut e = self.expr(operand, depth + negs.len())?;
                for neg in negs.into_iter().rev() {
                    let s = neg.to(e.span);
                    e = Expr {
                        kind: ExprKind::Unary {
                            op: UnaryOp::Neg,
                            operand: Box::new(e),
                        },
                        span: s,
                    };
                }
                Ok(e)
            }
            Rule::paren => {
                let mut inner = pair.children();
                let e = self.expr(
                    next(&mut inner, span, "parenthesized expression")?,
                    depth + 1,
                )?;
                Ok(Expr {
                    kind: ExprKind::Paren(Box::new(e)),
                    span,
                })
            }
            Rule::int => {
                let value = match pair.as_str().parse::<i64>() {
                    Ok(v) => v,
                    Err(_) => {
                        self.diags.push(
                            Diagnostic::error("integer literal is too large")
                                .with_primary(span, "does not fit in 64 bits")
                                .with_hint(format!("the largest integer literal is {}", i64::MAX)),
                        );
                        0
                    }
                };
                Ok(Expr {
                    kind: ExprKind::Int(value),
                    span,
                })
            }
            Rule::float => {
                let value = match pair.as_str().parse::<f64>() {
                    Ok(v) if v.is_finite() => v,
                    _ => {
                        self.diags.push(
                            Diagnostic::error("float literal is out of range")
                                .with_primary(span, "too large to represent")
                                .with_hint("write `inf` for infinity"),
                        );
                        0.0
                    }
                };
                Ok(Expr {
                    kind: ExprKind::Float(value),
                    span,
                })
            }
            Rule::inf => Ok(Expr {
                kind: ExprKind::Inf,
                span,
            }),
            Rule::name => {
                let mut inner = pair.children();
                let id = self.ident(next(&mut inner, span, "name")?);
                Ok(Expr {
                    kind: ExprKind::Name(id),
                    span,
                })
            }
            Rule::access => {
                let mut inner = pair.children();
                let tensor = self.ident(next(&mut inner, span, "tensor name")?);
                let idx = next(&mut inner, span, "indices")?;
                let indices = idx
                    .children()
                    .map(|p| self.expr(p, depth + 1))
                    .collect::<Build<Vec<_>>>()?;
                Ok(Expr {
                    kind: ExprKind::Access { tensor, indices },
                    span,
                })
            }
            Rule::call => {
                let mut inner = pair.children();
                let callee = self.ident(next(&mut inner, span, "function name")?);
                let args = inner
                    .map(|p| self.expr(p, depth + 1))
                    .collect::<Build<Vec<_>>>()?;
                Ok(Expr {
                    kind: ExprKind::Call { callee, args },
                    span,
                })
            }
            _ => Err(internal(span, "unexpected expression")),
        }
    }

    fn fold_binary(
        &mut self,
        first: Expr,
        rest: Vec<(Pair<Rule>, Pair<Rule>)>,
        depth: usize,
    ) -> Build<Expr> {
        let n = rest.len();
        let mut lhs = first;
        for (i, (op_pair, rhs_pair)) in rest.into_iter().enumerate() {
            let op = match op_pair.as_str() {
                "+" => BinOp::Add,
                "-" => BinOp::Sub,
                "*" => BinOp::Mul,
                "/" => BinOp::Div,
                "%" => BinOp::Rem,
                "==" => BinOp::Eq,
                "!=" => BinOp::Ne,
                "<" => BinOp::Lt,
                "<=" => BinOp::Le,
                ">" => BinOp::Gt,
                ">=" => BinOp::Ge,
                _ => return Err(internal(span_of(&op_pair), "unknown operator")),
            };
            let rhs = self.expr(rhs_pair, depth + n - i)?;
            let span = lhs.span.to(rhs.span);
            lhs = Expr {
                kind: ExprKind::Binary {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
                span,
            };
        }
        Ok(lhs)
    }

    fn schedule_item(&mut self, pair: Pair<Rule>) -> Build<ScheduleDecl> {
        let span = span_of(&pair);
        let mut inner = pair.children();
        let name = self.ident(next(&mut inner, span, "schedule name")?);
        let kernel = self.ident(next(&mut inner, span, "kernel name")?);
        let mut steps = Vec::new();
        for step in inner {
            let step_span = span_of(&step);
            let mut results = Vec::new();
            let mut primitive = None;
            let mut args = Vec::new();
            for p in step.children() {
                match p.as_rule() {
                    Rule::step_results => results = p.children().map(|w| self.ident(w)).collect(),
                    Rule::word => primitive = Some(self.ident(p)),
                    Rule::sched_arg => args.push(self.sched_arg(p)?),
                    _ => return Err(internal(span_of(&p), "unexpected part of a schedule step")),
                }
            }
            let primitive =
                primitive.ok_or_else(|| internal(step_span, "step without primitive"))?;
            steps.push(ScheduleStep {
                results,
                primitive,
                args,
                span: step_span,
            });
        }
        Ok(ScheduleDecl {
            name,
            kernel,
            steps,
            span,
        })
    }

    fn sched_arg(&mut self, pair: Pair<Rule>) -> Build<ScheduleArg> {
        let span = span_of(&pair);
        let mut key = None;
        let mut value = None;
        for p in pair.children() {
            match p.as_rule() {
                Rule::word => key = Some(self.ident(p)),
                _ => value = Some(self.sched_value(p)?),
            }
        }
        let value = value.ok_or_else(|| internal(span, "schedule argument without value"))?;
        Ok(ScheduleArg { key, value, span })
    }

    fn sched_value(&mut self, pair: Pair<Rule>) -> Build<ScheduleValue> {
        let span = span_of(&pair);
        let kind = match pair.as_rule() {
            Rule::sched_int => match pair.as_str().parse::<i64>() {
                Ok(v) => ScheduleValueKind::Int(v),
                Err(_) => {
                    self.diags.push(
                        Diagnostic::error("integer is too large")
                            .with_primary(span, "does not fit in 64 bits"),
                    );
                    ScheduleValueKind::Int(0)
                }
            },
            Rule::sched_float => match pair.as_str().parse::<f64>() {
                Ok(v) if v.is_finite() => ScheduleValueKind::Float(v),
                _ => {
                    self.diags.push(
                        Diagnostic::error("number is out of range").with_primary(span, "too large"),
                    );
                    ScheduleValueKind::Float(0.0)
                }
            },
            Rule::string => {
                let text = pair.as_str();
                let unquoted = text
                    .strip_prefix('"')
                    .and_then(|t| t.strip_suffix('"'))
                    .unwrap_or(text);
                ScheduleValueKind::Str(unquoted.to_string())
            }
            Rule::path => ScheduleValueKind::Path(pair.children().map(|w| self.ident(w)).collect()),
            Rule::sched_list => ScheduleValueKind::List(
                pair.children()
                    .map(|p| self.sched_value(p))
                    .collect::<Build<Vec<_>>>()?,
            ),
            _ => return Err(internal(span, "unexpected schedule value")),
        };
        Ok(ScheduleValue { kind, span })
    }
}

/// Groups `op operand op operand ...` into pairs.
fn pairs_of_two<'i>(
    mut pairs: Children<'i>,
    parent: Span,
) -> Build<Vec<(Pair<'i, Rule>, Pair<'i, Rule>)>> {
    let mut out = Vec::new();
    while let Some(op) = pairs.next() {
        let operand = next(&mut pairs, parent, "operand after operator")?;
        out.push((op, operand));
    }
    Ok(out)
}

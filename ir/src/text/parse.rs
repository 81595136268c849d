//! The MLIR parser: a recursive-descent parser over the positional lexer.
//!
//! It reads what [`super::print`] writes (pretty and generic forms) and the
//! common subset of what `mlir-opt` 19 writes: `#alias = affine_map<...>`
//! and `#loc = loc(...)` definitions, ops in the default `func` dialect
//! (`return`, `call`), result groups (`%0:2`, `%0#1`), `<{...}>` properties,
//! block argument locations.
//!
//! Guarantees:
//! - it never panics, whatever the input: every problem is a
//!   [`Diagnostic`] whose primary span is the offending token, and nesting
//!   deeper than [`MAX_NESTING`] is an error rather than a stack overflow;
//! - undefined SSA names, redefinitions (within one isolated-from-above
//!   region, as MLIR) and operands whose type differs from the type the
//!   syntax declares are errors at the use;
//! - [`parse_module`] verifies the result with [`crate::verify_module`] and
//!   reports verifier errors at the op's span (op spans are kept in a side
//!   table, [`ParsedModule::op_spans`]);
//! - names that are not generated-looking (`%A`, `%i`, not `%0`/`%arg2`)
//!   become the values' name hints; `loc("file":line:col)` becomes the op's
//!   location (other location kinds are accepted and read as unknown).

use super::lexer::{decode_string, lex, skip_trivia, Tok, Token};
use super::print::is_usable_hint;
use crate::affine::{AffineExpr, AffineMap, IntegerSet};
use crate::attrs::Attribute;
use crate::diag::{Diagnostic, SourceFile, Span};
use crate::dialects::{arith, math};
use crate::entity::{Block, Op, Value};
use crate::module::{Location, Module, OpSpec};
use crate::types::{FunctionType, MemRefType, MemorySpace, Type};
use std::collections::{BTreeMap, HashMap};

/// How deeply regions, types, attributes and expressions may nest (in
/// total). Deeper input is an error; this bound keeps the recursive
/// verifier, printer and comparison within a 2 MiB stack in debug builds.
pub const MAX_NESTING: usize = 64;

/// The parser runs on its own thread with this stack: recursive descent in
/// a debug build takes tens of kilobytes per nesting level.
const PARSER_STACK: usize = 64 << 20;

/// A parsed module with the source span of every parsed op (from its first
/// result name to the end of its op name). Implicit terminators (elided in
/// the pretty form) have no span of their own.
#[derive(Debug)]
pub struct ParsedModule {
    pub module: Module,
    pub op_spans: HashMap<Op, Span>,
}

impl ParsedModule {
    /// The span of an op, or of its closest parsed ancestor.
    pub fn span_of(&self, op: Op) -> Option<Span> {
        let mut cur = Some(op);
        while let Some(o) = cur {
            if let Some(s) = self.op_spans.get(&o) {
                return Some(*s);
            }
            cur = self.module.parent_op(o);
        }
        None
    }
}

/// Parses and verifies a module.
pub fn parse_module(file: &SourceFile) -> Result<Module, Vec<Diagnostic>> {
    parse_module_with_spans(file).map(|p| p.module)
}

/// Parses and verifies a module, keeping the op spans.
pub fn parse_module_with_spans(file: &SourceFile) -> Result<ParsedModule, Vec<Diagnostic>> {
    let parsed = parse_module_unverified(file)?;
    match crate::verify_module(&parsed.module) {
        Ok(()) => Ok(parsed),
        Err(errors) => Err(errors
            .iter()
            .map(|e| {
                let span = parsed.span_of(e.op).unwrap_or_default();
                Diagnostic::error(format!("'{}' op {}", e.op_name, e.message))
                    .with_primary(span, "")
            })
            .collect()),
    }
}

/// Parses without verifying (for tools and tests that want to see the
/// verifier's complaints themselves).
pub fn parse_module_unverified(file: &SourceFile) -> Result<ParsedModule, Vec<Diagnostic>> {
    std::thread::scope(|scope| {
        match std::thread::Builder::new()
            .name("accc-ir-parser".into())
            .stack_size(PARSER_STACK)
            .spawn_scoped(scope, || parse_here(file))
        {
            Ok(handle) => handle.join().unwrap_or_else(|_| {
                Err(vec![Diagnostic::error(
                    "internal error: the IR parser panicked",
                )])
            }),
            // No thread available: parse on the caller's stack.
            Err(_) => parse_here(file),
        }
    })
}

fn parse_here(file: &SourceFile) -> Result<ParsedModule, Vec<Diagnostic>> {
    let mut p = Parser::new(file.text());
    match p.parse_top() {
        Ok(()) => Ok(ParsedModule {
            module: p.m,
            op_spans: p.spans,
        }),
        Err(d) => Err(vec![d]),
    }
}

type PResult<T> = Result<T, Diagnostic>;

#[derive(Clone)]
enum Def {
    Single(Value),
    Group(Vec<Value>),
}

struct Frame {
    isolated: bool,
    names: HashMap<String, (Def, Span)>,
}

/// What a custom (pretty) op parser produces: the op's state and its
/// regions (detached blocks), plus terminators it made up.
struct Parsed {
    spec: OpSpec,
    regions: Vec<Vec<Block>>,
    implicit: Vec<Op>,
}

impl Parsed {
    fn new(spec: OpSpec) -> Parsed {
        Parsed {
            spec,
            regions: vec![],
            implicit: vec![],
        }
    }
}

/// Identifiers an affine expression may use.
enum ExprIds<'c> {
    /// `d0`, `s0` or any names bound by the map's `(...)[...]` lists.
    Named(&'c HashMap<String, AffineExpr>),
    /// `%i` (a dim) and `symbol(%n)` in affine access syntax; values are
    /// numbered in order of first appearance.
    Ssa { dims: Vec<Value>, syms: Vec<Value> },
}

enum LocRef {
    Known(Location),
    Alias(String, Span),
}

struct Parser<'a> {
    src: &'a str,
    bytes: &'a [u8],
    tok: Token,
    m: Module,
    attr_aliases: HashMap<String, Attribute>,
    type_aliases: HashMap<String, Type>,
    loc_aliases: HashMap<String, Location>,
    pending_locs: Vec<(Vec<Op>, String, Span)>,
    frames: Vec<Frame>,
    /// Names of the ops whose regions are being parsed (for the default
    /// dialect: `return` inside `func.func`).
    parents: Vec<String>,
    spans: HashMap<Op, Span>,
    depth: usize,
}

fn err(span: Span, message: impl Into<String>) -> Diagnostic {
    Diagnostic::error(message).with_primary(span, "")
}

/// Integer literal text (decimal or `0x` hex) to its value.
fn int_literal(text: &str) -> Option<u128> {
    match text.strip_prefix("0x") {
        Some(hex) => u128::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

fn f32_bits_to_f64(b: u32) -> f64 {
    let f = f32::from_bits(b);
    if f.is_nan() {
        let sign = u64::from(b >> 31) << 63;
        f64::from_bits(sign | (0x7FFu64 << 52) | (u64::from(b & 0x7F_FFFF) << 29))
    } else {
        f64::from(f)
    }
}

fn f16_bits_to_f64(b: u16) -> f64 {
    let sign = if b & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((b >> 10) & 0x1F);
    let mant = f64::from(b & 0x3FF);
    match exp {
        0 => sign * mant * 2f64.powi(-24),
        31 if mant == 0.0 => sign * f64::INFINITY,
        31 => f64::from_bits(
            (u64::from(b >> 15) << 63) | (0x7FFu64 << 52) | (u64::from(b & 0x3FF) << 42),
        ),
        _ => sign * (1.0 + mant / 1024.0) * 2f64.powi(exp - 15),
    }
}

/// A float type's value from a hexadecimal bit pattern (`0x7F800000 : f32`).
fn float_from_bits(bits: u128, ty: &Type) -> Option<f64> {
    Some(match ty {
        Type::F16 => f16_bits_to_f64(u16::try_from(bits).ok()?),
        Type::BF16 => f32_bits_to_f64(u32::from(u16::try_from(bits).ok()?) << 16),
        Type::F32 => f32_bits_to_f64(u32::try_from(bits).ok()?),
        Type::F64 => f64::from_bits(u64::try_from(bits).ok()?),
        _ => return None,
    })
}

/// `a - b` as MLIR's trees have it, mirroring the printer: a constant
/// becomes a negated constant, anything else is multiplied by -1.
fn subtract(a: AffineExpr, b: AffineExpr) -> AffineExpr {
    match b {
        AffineExpr::Const(c) if c != i64::MIN => a.add(AffineExpr::Const(-c)),
        b => a.add(b.mul(AffineExpr::Const(-1))),
    }
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Parser<'a> {
        let bytes = src.as_bytes();
        Parser {
            src,
            bytes,
            tok: lex(bytes, 0),
            m: Module::new(),
            attr_aliases: HashMap::new(),
            type_aliases: HashMap::new(),
            loc_aliases: HashMap::new(),
            pending_locs: vec![],
            frames: vec![],
            parents: vec![],
            spans: HashMap::new(),
            depth: 0,
        }
    }

    // ----- tokens -----------------------------------------------------------

    fn text(&self, t: Token) -> &'a str {
        self.src.get(t.span.range()).unwrap_or("")
    }

    fn bump(&mut self) -> Token {
        let t = self.tok;
        self.tok = lex(self.bytes, t.span.end as usize);
        t
    }

    fn reset_to(&mut self, pos: usize) {
        self.tok = lex(self.bytes, pos);
    }

    fn at(&self, kind: Tok) -> bool {
        self.tok.kind == kind
    }

    fn eat(&mut self, kind: Tok) -> bool {
        if self.at(kind) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn at_keyword(&self, kw: &str) -> bool {
        self.tok.kind == Tok::BareId && self.text(self.tok) == kw
    }

    fn eat_keyword(&mut self, kw: &str) -> bool {
        if self.at_keyword(kw) {
            self.bump();
            true
        } else {
            false
        }
    }

    /// The error for an unexpected current token.
    fn unexpected(&self, what: &str) -> Diagnostic {
        let t = self.tok;
        let found = match t.kind {
            Tok::Eof => "end of input".to_string(),
            Tok::Error if self.text(t).starts_with('"') || self.text(t).starts_with("@\"") => {
                return err(t.span, format!("unterminated string (expected {what})"));
            }
            Tok::Error => {
                return err(
                    t.span,
                    format!("unexpected character `{}` (expected {what})", self.text(t)),
                )
            }
            _ => format!("`{}`", self.text(t)),
        };
        err(t.span, format!("expected {what}, found {found}"))
    }

    fn expect(&mut self, kind: Tok, context: &str) -> PResult<Token> {
        if self.at(kind) {
            Ok(self.bump())
        } else {
            Err(self.unexpected(&format!("{} {context}", kind.describe())))
        }
    }

    fn expect_keyword(&mut self, kw: &str, context: &str) -> PResult<Token> {
        if self.at_keyword(kw) {
            Ok(self.bump())
        } else {
            Err(self.unexpected(&format!("`{kw}` {context}")))
        }
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(err(
                self.tok.span,
                format!("nesting is deeper than {MAX_NESTING} levels"),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn string_value(&mut self) -> PResult<String> {
        let t = self.expect(Tok::Str, "")?;
        decode_string(self.text(t)).map_err(|(offset, msg)| {
            let at = t.span.start as usize + 1 + offset;
            err(
                Span::new(
                    at.min(t.span.end as usize),
                    (at + 1).min(t.span.end as usize),
                ),
                msg,
            )
        })
    }

    fn symbol_name(&mut self) -> PResult<(String, Span)> {
        let t = self.expect(Tok::AtId, "")?;
        let text = &self.text(t)[1..];
        let name = if text.starts_with('"') {
            decode_string(text).map_err(|(_, msg)| err(t.span, msg))?
        } else {
            text.to_string()
        };
        if self.at(Tok::Colon) && self.bytes.get(self.tok.span.end as usize) == Some(&b':') {
            return Err(err(
                self.tok.span,
                "nested symbol references (`@a::@b`) are not supported",
            ));
        }
        Ok((name, t.span))
    }

    // ----- names --------------------------------------------------------------

    fn lookup(&self, name: &str) -> Option<&(Def, Span)> {
        for f in self.frames.iter().rev() {
            if let Some(d) = f.names.get(name) {
                return Some(d);
            }
            if f.isolated {
                break;
            }
        }
        None
    }

    fn define(&mut self, name: &str, def: Def, span: Span) -> PResult<()> {
        if let Some((_, prev)) = self.lookup(name) {
            return Err(err(span, format!("redefinition of SSA value `%{name}`"))
                .with_secondary(*prev, "first defined here"));
        }
        if let Def::Single(v) = &def {
            if is_usable_hint(name) {
                self.m.set_name_hint(*v, name);
            }
        }
        match self.frames.last_mut() {
            Some(f) => {
                f.names.insert(name.to_string(), (def, span));
                Ok(())
            }
            None => Err(err(span, "internal error: no name scope")),
        }
    }

    /// `%x` or `%x#2`.
    fn value_use(&mut self) -> PResult<(Value, Span)> {
        let t = self.expect(Tok::PercentId, "")?;
        let name = self.text(t)[1..].to_string();
        let mut span = t.span;
        let mut index = None;
        if self.at(Tok::HashId) && self.tok.span.start == t.span.end {
            let h = self.bump();
            span = span.to(h.span);
            match self.text(h)[1..].parse::<usize>() {
                Ok(i) => index = Some(i),
                Err(_) => return Err(err(h.span, "expected a result number after `#`")),
            }
        }
        let Some((def, _)) = self.lookup(&name) else {
            return Err(err(span, format!("use of undefined value `%{name}`")));
        };
        match (def, index) {
            (Def::Single(v), None | Some(0)) => Ok((*v, span)),
            (Def::Group(vs), Some(i)) if i < vs.len() => Ok((vs[i], span)),
            (Def::Group(vs), None) if vs.len() == 1 => Ok((vs[0], span)),
            (Def::Group(vs), None) => Err(err(
                span,
                format!("`%{name}` names {} results; use `%{name}#N`", vs.len()),
            )),
            _ => Err(err(
                span,
                format!("`%{name}` has no result {}", index.unwrap_or(0)),
            )),
        }
    }

    fn value_uses_until(&mut self, close: Tok) -> PResult<Vec<(Value, Span)>> {
        let mut out = vec![];
        if self.at(close) {
            return Ok(out);
        }
        loop {
            out.push(self.value_use()?);
            if !self.eat(Tok::Comma) {
                return Ok(out);
            }
        }
    }

    /// Parses `(inputs) -> results` for already-parsed operands, checking that
    /// it lists one input type per operand (`noun`: "operand", "argument")
    /// and that each matches; returns the result types.
    fn parse_operands_function_type(
        &mut self,
        operands: &[(Value, Span)],
        noun: &str,
    ) -> PResult<Vec<Type>> {
        let ft_span = self.tok.span;
        let (inputs, results) = self.parse_function_type()?;
        if inputs.len() != operands.len() {
            return Err(err(
                ft_span,
                format!(
                    "the type lists {} {noun} type(s) for {} {noun}(s)",
                    inputs.len(),
                    operands.len()
                ),
            ));
        }
        for (o, t) in operands.iter().zip(&inputs) {
            self.check_type(*o, t)?;
        }
        Ok(results)
    }

    fn check_type(&self, (v, span): (Value, Span), expected: &Type) -> PResult<()> {
        let actual = self.m.value_type(v);
        if actual != expected {
            return Err(err(
                span,
                format!(
                    "`{}` has type `{actual}`, but the op's syntax declares `{expected}`",
                    self.src.get(span.range()).unwrap_or("value")
                ),
            ));
        }
        Ok(())
    }

    // ----- top level ------------------------------------------------------------

    fn parse_top(&mut self) -> PResult<()> {
        self.frames.push(Frame {
            isolated: true,
            names: HashMap::new(),
        });
        let body = self.m.body();
        loop {
            match self.tok.kind {
                Tok::Eof => break,
                Tok::HashId if lex(self.bytes, self.tok.span.end as usize).kind == Tok::Equal => {
                    self.alias_definition()?
                }
                Tok::BangId if lex(self.bytes, self.tok.span.end as usize).kind == Tok::Equal => {
                    let t = self.bump();
                    self.bump();
                    let ty = self.parse_type()?;
                    self.type_aliases.insert(self.text(t)[1..].to_string(), ty);
                }
                _ => self.parse_op(body)?,
            }
        }
        self.frames.pop();
        for (ops, name, span) in std::mem::take(&mut self.pending_locs) {
            let Some(loc) = self.loc_aliases.get(&name).cloned() else {
                return Err(err(span, format!("undefined location alias `#{name}`")));
            };
            for op in ops {
                self.m.op_mut(op).loc = loc.clone();
            }
        }
        self.unwrap_single_module();
        Ok(())
    }

    fn alias_definition(&mut self) -> PResult<()> {
        let t = self.bump();
        let name = self.text(t)[1..].to_string();
        self.bump();
        if self.at_keyword("loc") {
            let loc = match self.parse_loc()? {
                LocRef::Known(l) => l,
                LocRef::Alias(other, span) => match self.loc_aliases.get(&other) {
                    Some(l) => l.clone(),
                    None => return Err(err(span, format!("undefined location alias `#{other}`"))),
                },
            };
            self.loc_aliases.insert(name, loc);
        } else {
            let a = self.parse_attr()?;
            self.attr_aliases.insert(name, a);
        }
        Ok(())
    }

    /// A file holding exactly one `module` is that module (as in MLIR);
    /// anything else is wrapped in an implicit one.
    fn unwrap_single_module(&mut self) {
        let body = self.m.body();
        let &[inner] = self.m.block_ops(body) else {
            return;
        };
        if self.m.op_name(inner) != "builtin.module"
            || !self.m.results(inner).is_empty()
            || !self.m.operands(inner).is_empty()
        {
            return;
        }
        let regions = self.m.op_regions(inner).to_vec();
        let [region] = regions[..] else { return };
        let &[inner_body] = self.m.region_blocks(region) else {
            return;
        };
        if !self.m.block_args(inner_body).is_empty() {
            return;
        }
        let top = self.m.top();
        let data = self.m.op(inner).clone();
        self.m.op_mut(top).attrs = data.attrs;
        self.m.op_mut(top).loc = data.loc;
        for op in self.m.block_ops(inner_body).to_vec() {
            self.m.detach_op(op);
            // The op was just detached, so appending cannot fail.
            let _ = self.m.append_op(body, op);
        }
        if let Some(span) = self.spans.remove(&inner) {
            self.spans.insert(top, span);
        }
        let _ = self.m.erase_op(inner);
    }

    // ----- locations ----------------------------------------------------------

    fn parse_loc(&mut self) -> PResult<LocRef> {
        self.expect_keyword("loc", "")?;
        self.expect(Tok::LParen, "after `loc`")?;
        let loc = if self.eat_keyword("unknown") {
            LocRef::Known(Location::Unknown)
        } else if self.at(Tok::HashId) {
            let t = self.bump();
            LocRef::Alias(self.text(t)[1..].to_string(), t.span)
        } else if self.at(Tok::Str) {
            let file = self.string_value()?;
            if self.eat(Tok::Colon) {
                let line = self.small_uint("a line number")?;
                self.expect(Tok::Colon, "after the line number")?;
                let col = self.small_uint("a column number")?;
                LocRef::Known(Location::FileLineCol { file, line, col })
            } else {
                // A name location, possibly with a child location.
                self.skip_balanced_to_rparen()?;
                LocRef::Known(Location::Unknown)
            }
        } else {
            // callsite(...), fused[...]: kept as unknown.
            self.skip_balanced_to_rparen()?;
            LocRef::Known(Location::Unknown)
        };
        self.expect(Tok::RParen, "to close the location")?;
        Ok(loc)
    }

    fn small_uint(&mut self, what: &str) -> PResult<u32> {
        let t = self.expect(Tok::Int, &format!("({what})"))?;
        int_literal(self.text(t))
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| err(t.span, format!("{what} is too large")))
    }

    /// Skips tokens up to (not including) the `)` that closes the current
    /// parenthesis level.
    fn skip_balanced_to_rparen(&mut self) -> PResult<()> {
        let mut depth = 0usize;
        loop {
            match self.tok.kind {
                Tok::Eof | Tok::Error => return Err(self.unexpected("`)`")),
                Tok::LParen => depth += 1,
                Tok::RParen if depth == 0 => return Ok(()),
                Tok::RParen => depth -= 1,
                _ => {}
            }
            self.bump();
        }
    }

    fn optional_trailing_loc(&mut self) -> PResult<Option<LocRef>> {
        if self.at_keyword("loc") && lex(self.bytes, self.tok.span.end as usize).kind == Tok::LParen
        {
            Ok(Some(self.parse_loc()?))
        } else {
            Ok(None)
        }
    }

    // ----- ops ------------------------------------------------------------------

    fn parse_op(&mut self, block: Block) -> PResult<()> {
        self.enter()?;
        let start = self.tok.span;
        // (name, number of results, written as a group `%x:N`, span)
        let mut result_names: Vec<(String, usize, bool, Span)> = vec![];
        if self.at(Tok::PercentId) {
            loop {
                let t = self.expect(Tok::PercentId, "as a result name")?;
                let mut count = 1;
                let grouped = self.at(Tok::Colon);
                if self.eat(Tok::Colon) {
                    let n = self.expect(Tok::Int, "(the number of results in the group)")?;
                    count = int_literal(self.text(n))
                        .and_then(|c| usize::try_from(c).ok())
                        .filter(|c| (1..=4096).contains(c))
                        .ok_or_else(|| {
                            err(n.span, "a result group has between 1 and 4096 results")
                        })?;
                }
                result_names.push((self.text(t)[1..].to_string(), count, grouped, t.span));
                if !self.eat(Tok::Comma) {
                    break;
                }
            }
            self.expect(Tok::Equal, "after the result names")?;
        }
        let name_tok = self.tok;
        let parsed = match self.tok.kind {
            Tok::Str => self.parse_generic_op()?,
            Tok::BareId => self.parse_custom_op()?,
            _ => return Err(self.unexpected("an operation")),
        };
        let op_name = parsed.spec.name.clone();
        let implicit = parsed.implicit.clone();
        let op = self.finish(parsed);
        let declared: usize = result_names.iter().map(|(_, c, _, _)| c).sum();
        let results = self.m.results(op).to_vec();
        if declared != results.len() {
            return Err(err(
                start.to(name_tok.span),
                format!(
                    "`{op_name}` has {} result(s), but {declared} name(s) are defined for it",
                    results.len()
                ),
            ));
        }
        if let Some(loc) = self.optional_trailing_loc()? {
            let mut ops = implicit;
            ops.push(op);
            match loc {
                LocRef::Known(l) => {
                    for o in ops {
                        self.m.op_mut(o).loc = l.clone();
                    }
                }
                LocRef::Alias(name, span) => match self.loc_aliases.get(&name).cloned() {
                    Some(l) => {
                        for o in ops {
                            self.m.op_mut(o).loc = l.clone();
                        }
                    }
                    None => self.pending_locs.push((ops, name, span)),
                },
            }
        }
        let mut next = 0;
        for (name, count, grouped, span) in result_names {
            let def = if !grouped {
                Def::Single(results[next])
            } else {
                Def::Group(results[next..next + count].to_vec())
            };
            next += count;
            self.define(&name, def, span)?;
        }
        // A fresh op is live and detached: appending cannot fail.
        if let Err(e) = self.m.append_op(block, op) {
            return Err(err(name_tok.span, format!("internal error: {e}")));
        }
        self.spans.insert(op, start.to(name_tok.span));
        self.leave();
        Ok(())
    }

    fn finish(&mut self, parsed: Parsed) -> Op {
        let mut spec = parsed.spec;
        spec.num_regions = parsed.regions.len();
        let op = self.m.create_op(spec);
        let regions = self.m.op_regions(op).to_vec();
        for (region, blocks) in regions.into_iter().zip(parsed.regions) {
            for b in blocks {
                self.m.push_block(region, b);
            }
        }
        op
    }

    /// `{` ops `}` with optional block headers. `entry_args` are arguments
    /// declared by the op's syntax (function arguments, induction
    /// variables); returns the (detached) blocks.
    fn parse_region(
        &mut self,
        entry_args: Option<Vec<(String, Span, Type)>>,
        isolated: bool,
    ) -> PResult<Vec<Block>> {
        self.expect(Tok::LBrace, "to start a region")?;
        self.frames.push(Frame {
            isolated,
            names: HashMap::new(),
        });
        let mut blocks = vec![];
        let mut labels: HashMap<String, Span> = HashMap::new();
        if let Some(args) = entry_args {
            let types: Vec<Type> = args.iter().map(|(_, _, t)| t.clone()).collect();
            let b = self.m.create_block(&types);
            for (i, (name, span, _)) in args.into_iter().enumerate() {
                let v = self.m.block_args(b)[i];
                self.define(&name, Def::Single(v), span)?;
            }
            blocks.push(b);
            self.parse_block_ops(b)?;
        } else if !self.at(Tok::RBrace) && !self.at(Tok::CaretId) {
            let b = self.m.create_block(&[]);
            blocks.push(b);
            self.parse_block_ops(b)?;
        }
        while self.at(Tok::CaretId) {
            let t = self.bump();
            let label = self.text(t)[1..].to_string();
            if let Some(prev) = labels.insert(label.clone(), t.span) {
                return Err(err(t.span, format!("redefinition of block `^{label}`"))
                    .with_secondary(prev, "first defined here"));
            }
            let b = self.m.create_block(&[]);
            if self.eat(Tok::LParen) {
                if !self.at(Tok::RParen) {
                    loop {
                        let a = self.expect(Tok::PercentId, "as a block argument")?;
                        self.expect(Tok::Colon, "after the block argument name")?;
                        let ty = self.parse_type()?;
                        self.optional_trailing_loc()?;
                        let v = self.m.add_block_arg(b, ty);
                        self.define(&self.text(a)[1..], Def::Single(v), a.span)?;
                        if !self.eat(Tok::Comma) {
                            break;
                        }
                    }
                }
                self.expect(Tok::RParen, "to close the block arguments")?;
            }
            self.expect(Tok::Colon, "after the block header")?;
            blocks.push(b);
            self.parse_block_ops(b)?;
        }
        self.expect(Tok::RBrace, "to end the region")?;
        self.frames.pop();
        Ok(blocks)
    }

    fn parse_block_ops(&mut self, b: Block) -> PResult<()> {
        while !self.at(Tok::RBrace) && !self.at(Tok::CaretId) {
            if self.at(Tok::Eof) {
                return Err(self.unexpected("`}` to end the region"));
            }
            self.parse_op(b)?;
        }
        Ok(())
    }

    /// Parses the regions of op `name`, with `name` as the parent seen by
    /// the default-dialect rule.
    fn region_of(
        &mut self,
        name: &str,
        entry_args: Option<Vec<(String, Span, Type)>>,
        isolated: bool,
    ) -> PResult<Vec<Block>> {
        self.parents.push(name.to_string());
        let r = self.parse_region(entry_args, isolated);
        self.parents.pop();
        r
    }

    fn parse_generic_op(&mut self) -> PResult<Parsed> {
        let t = self.tok;
        let name = self.string_value()?;
        if name.is_empty() {
            return Err(err(t.span, "the op name is empty"));
        }
        self.expect(Tok::LParen, "after the op name")?;
        let operands = self.value_uses_until(Tok::RParen)?;
        self.expect(Tok::RParen, "after the operands")?;
        if self.at(Tok::LSquare) {
            return Err(err(
                self.tok.span,
                "successor blocks are not supported by accc's IR",
            ));
        }
        let mut attrs = BTreeMap::new();
        if self.at(Tok::Less) {
            self.bump();
            attrs = self.parse_dict()?;
            self.expect(Tok::Greater, "to close the properties")?;
        }
        let mut regions = vec![];
        if self.eat(Tok::LParen) {
            let isolated = crate::dialects::is_isolated_from_above(&name);
            loop {
                regions.push(self.region_of(&name, None, isolated)?);
                if !self.eat(Tok::Comma) {
                    break;
                }
            }
            self.expect(Tok::RParen, "after the regions")?;
        }
        if self.at(Tok::LBrace) {
            let dict_start = self.tok.span;
            for (k, v) in self.parse_dict()? {
                if attrs.insert(k.clone(), v).is_some() {
                    return Err(err(
                        dict_start,
                        format!("attribute `{k}` is given both as a property and an attribute"),
                    ));
                }
            }
        }
        self.expect(Tok::Colon, "followed by the op's type after the operands")?;
        let results = self.parse_operands_function_type(&operands, "operand")?;
        let mut spec = OpSpec::new(name)
            .operands(operands.iter().map(|(v, _)| *v))
            .results(results);
        spec.attrs = attrs;
        Ok(Parsed {
            spec,
            regions,
            implicit: vec![],
        })
    }

    fn resolve_op_name(&self, t: Token) -> PResult<String> {
        let text = self.text(t);
        if text.contains('.') {
            return Ok(text.to_string());
        }
        if text == "module" {
            return Ok("builtin.module".into());
        }
        if self.parents.last().is_some_and(|p| p == "func.func") {
            return Ok(format!("func.{text}"));
        }
        Err(err(t.span, format!("unknown operation `{text}`")))
    }

    fn parse_custom_op(&mut self) -> PResult<Parsed> {
        let t = self.bump();
        let name = self.resolve_op_name(t)?;
        let (dialect, short) = name.split_once('.').unwrap_or(("", name.as_str()));
        let short = short.to_string();
        match dialect {
            "builtin" if short == "module" => self.parse_module_op(),
            "func" if short == "func" => self.parse_func(),
            "func" if short == "return" => self.parse_terminator(&name),
            "func" if short == "call" => self.parse_call(),
            "affine" => match short.as_str() {
                "for" => self.parse_affine_for(),
                "if" => self.parse_affine_if(),
                "load" | "store" => self.parse_affine_access(&name),
                "apply" | "min" | "max" => {
                    let map = self.parse_map_ref()?;
                    let operands = self.dims_and_syms(map.num_dims, map.num_syms)?;
                    let attrs = self.optional_dict()?;
                    let spec = OpSpec::new(name.clone())
                        .attr("map", Attribute::AffineMap(map))
                        .operands(operands)
                        .results([Type::Index]);
                    Ok(Parsed::new(self.with_attrs(spec, attrs, t.span)?))
                }
                "yield" => self.parse_terminator(&name),
                _ => Err(self.no_custom_form(t, &name)),
            },
            "arith" => self.parse_arith(t, &name, &short),
            "math" if math::FLOAT_UNARY.contains(&short.as_str()) || short == "absi" => {
                self.parse_unary_op(&name)
            }
            "memref" => self.parse_memref(t, &name, &short),
            "scf" => match short.as_str() {
                "for" => self.parse_scf_for(),
                "if" => self.parse_scf_if(),
                "yield" => self.parse_terminator(&name),
                _ => Err(self.no_custom_form(t, &name)),
            },
            _ => Err(self.no_custom_form(t, &name)),
        }
    }

    fn no_custom_form(&self, t: Token, name: &str) -> Diagnostic {
        err(
            t.span,
            format!("accc does not know the custom syntax of `{name}`"),
        )
        .with_hint(format!(
            "write it in MLIR's generic form: \"{name}\"(%operands) {{attrs}} : (types) -> (types)"
        ))
    }

    /// Adds attributes parsed from an attribute dictionary, refusing names
    /// the syntax itself sets.
    fn with_attrs(
        &self,
        mut spec: OpSpec,
        attrs: BTreeMap<String, Attribute>,
        span: Span,
    ) -> PResult<OpSpec> {
        for (k, v) in attrs {
            if spec.attrs.insert(k.clone(), v).is_some() {
                return Err(err(
                    span,
                    format!("attribute `{k}` is already set by the op's syntax"),
                ));
            }
        }
        Ok(spec)
    }

    fn optional_dict(&mut self) -> PResult<BTreeMap<String, Attribute>> {
        if self.at(Tok::LBrace) {
            self.parse_dict()
        } else {
            Ok(BTreeMap::new())
        }
    }

    fn reject_flags(&self) -> PResult<()> {
        for flag in ["overflow", "fastmath"] {
            if self.at_keyword(flag) {
                return Err(err(
                    self.tok.span,
                    format!("`{flag}` flags are not supported by accc's IR"),
                ));
            }
        }
        Ok(())
    }

    /// The region of a pretty op: one block, ending with `terminator`
    /// (added when elided). `entry` are the block's declared arguments.
    fn single_block_region(
        &mut self,
        op_name: &str,
        entry: Option<Vec<(String, Span, Type)>>,
        terminator: &str,
        implicit: &mut Vec<Op>,
    ) -> PResult<Vec<Block>> {
        let start = self.tok.span;
        let mut blocks = self.region_of(op_name, entry, false)?;
        if blocks.len() > 1 {
            return Err(err(
                start,
                format!("the region of `{op_name}` must have a single block"),
            ));
        }
        if blocks.is_empty() {
            blocks.push(self.m.create_block(&[]));
        }
        let b = blocks[0];
        let ends_right = self
            .m
            .block_terminator(b)
            .is_some_and(|t| self.m.op_name(t) == terminator);
        if !ends_right {
            let t = self.m.create_op(OpSpec::new(terminator));
            let _ = self.m.append_op(b, t);
            implicit.push(t);
        }
        Ok(blocks)
    }

    fn parse_module_op(&mut self) -> PResult<Parsed> {
        let mut spec = OpSpec::new("builtin.module");
        if self.at(Tok::AtId) {
            let (sym, _) = self.symbol_name()?;
            spec = spec.attr("sym_name", Attribute::String(sym));
        }
        if self.eat_keyword("attributes") {
            let span = self.tok.span;
            let attrs = self.parse_dict()?;
            spec = self.with_attrs(spec, attrs, span)?;
        }
        let start = self.tok.span;
        let mut blocks = self.region_of("builtin.module", None, true)?;
        if blocks.len() > 1 {
            return Err(err(start, "a module body must be a single block"));
        }
        if blocks.is_empty() {
            blocks.push(self.m.create_block(&[]));
        }
        Ok(Parsed {
            spec,
            regions: vec![blocks],
            implicit: vec![],
        })
    }

    /// A type with an optional attribute dictionary (`i32 {accc.name = "x"}`).
    fn type_and_attrs(&mut self) -> PResult<(Type, BTreeMap<String, Attribute>)> {
        let ty = self.parse_type()?;
        let attrs = self.optional_dict()?;
        Ok((ty, attrs))
    }

    fn parse_func(&mut self) -> PResult<Parsed> {
        let mut spec = OpSpec::new("func.func");
        if ["private", "public", "nested"]
            .iter()
            .any(|v| self.at_keyword(v))
        {
            let t = self.bump();
            spec = spec.attr("sym_visibility", Attribute::string(self.text(t)));
        }
        let (sym, _) = if self.at(Tok::AtId) {
            self.symbol_name()?
        } else {
            return Err(self.unexpected("the function name `@name`"));
        };
        self.expect(Tok::LParen, "to start the function arguments")?;
        let mut named: Vec<(String, Span, Type)> = vec![];
        let mut inputs = vec![];
        let mut arg_attrs = vec![];
        let mut has_names = None;
        if !self.at(Tok::RParen) {
            loop {
                let is_named = self.at(Tok::PercentId);
                if *has_names.get_or_insert(is_named) != is_named {
                    return Err(err(
                        self.tok.span,
                        "either every function argument is named or none is",
                    ));
                }
                let mut name = None;
                if is_named {
                    let t = self.bump();
                    name = Some((self.text(t)[1..].to_string(), t.span));
                    self.expect(Tok::Colon, "after the argument name")?;
                }
                let (ty, attrs) = self.type_and_attrs()?;
                self.optional_trailing_loc()?;
                if let Some((n, s)) = name {
                    named.push((n, s, ty.clone()));
                }
                inputs.push(ty);
                arg_attrs.push(Attribute::Dict(attrs));
                if !self.eat(Tok::Comma) {
                    break;
                }
            }
        }
        self.expect(Tok::RParen, "to close the function arguments")?;
        let mut results = vec![];
        let mut res_attrs = vec![];
        if self.eat(Tok::Arrow) {
            if self.eat(Tok::LParen) {
                if !self.at(Tok::RParen) {
                    loop {
                        let (ty, attrs) = self.type_and_attrs()?;
                        results.push(ty);
                        res_attrs.push(Attribute::Dict(attrs));
                        if !self.eat(Tok::Comma) {
                            break;
                        }
                    }
                }
                self.expect(Tok::RParen, "to close the function results")?;
            } else {
                results.push(self.parse_type()?);
                res_attrs.push(Attribute::Dict(BTreeMap::new()));
            }
        }
        let nonempty =
            |a: &[Attribute]| a.iter().any(|d| d.as_dict().is_some_and(|d| !d.is_empty()));
        if nonempty(&arg_attrs) {
            spec = spec.attr("arg_attrs", Attribute::Array(arg_attrs));
        }
        if nonempty(&res_attrs) {
            spec = spec.attr("res_attrs", Attribute::Array(res_attrs));
        }
        spec = spec.attr("sym_name", Attribute::String(sym)).attr(
            "function_type",
            Attribute::Type(Type::Function(FunctionType {
                inputs: inputs.clone(),
                results,
            })),
        );
        if self.eat_keyword("attributes") {
            let span = self.tok.span;
            let attrs = self.parse_dict()?;
            spec = self.with_attrs(spec, attrs, span)?;
        }
        let mut regions = vec![vec![]];
        if self.at(Tok::LBrace) {
            if has_names == Some(false) {
                return Err(err(
                    self.tok.span,
                    "a function with a body needs named arguments (`%x: type`)",
                ));
            }
            regions = vec![self.region_of("func.func", Some(named), true)?];
        }
        Ok(Parsed {
            spec,
            regions,
            implicit: vec![],
        })
    }

    /// `return`, `affine.yield`, `scf.yield`: `{attrs}? (%v, ... : types)?`.
    fn parse_terminator(&mut self, name: &str) -> PResult<Parsed> {
        let span = self.tok.span;
        let attrs = self.optional_dict()?;
        let spec = self.with_attrs(OpSpec::new(name), attrs, span)?;
        let mut operands = vec![];
        if self.at(Tok::PercentId) {
            operands = self.value_uses_until(Tok::Colon)?;
            self.expect(Tok::Colon, "followed by the operand types")?;
            let types = self.type_list(operands.len())?;
            for (o, t) in operands.iter().zip(&types) {
                self.check_type(*o, t)?;
            }
        }
        Ok(Parsed::new(
            spec.operands(operands.into_iter().map(|(v, _)| v)),
        ))
    }

    /// Exactly `n` comma-separated types.
    fn type_list(&mut self, n: usize) -> PResult<Vec<Type>> {
        let start = self.tok.span;
        let mut types = vec![self.parse_type()?];
        while self.eat(Tok::Comma) {
            types.push(self.parse_type()?);
        }
        if types.len() != n {
            return Err(err(
                start,
                format!("expected {n} type(s), found {}", types.len()),
            ));
        }
        Ok(types)
    }

    fn parse_call(&mut self) -> PResult<Parsed> {
        let (callee, _) = if self.at(Tok::AtId) {
            self.symbol_name()?
        } else {
            return Err(self.unexpected("the callee `@name`"));
        };
        self.expect(Tok::LParen, "after the callee")?;
        let operands = self.value_uses_until(Tok::RParen)?;
        self.expect(Tok::RParen, "after the call arguments")?;
        let span = self.tok.span;
        let attrs = self.optional_dict()?;
        self.expect(
            Tok::Colon,
            "followed by the callee's type after the arguments",
        )?;
        let results = self.parse_operands_function_type(&operands, "argument")?;
        let spec = OpSpec::new("func.call")
            .attr("callee", Attribute::SymbolRef(callee))
            .operands(operands.iter().map(|(v, _)| *v))
            .results(results);
        Ok(Parsed::new(self.with_attrs(spec, attrs, span)?))
    }

    /// `(%d0, ...)[%s0, ...]` with the given counts.
    fn dims_and_syms(&mut self, num_dims: u32, num_syms: u32) -> PResult<Vec<Value>> {
        let start = self.tok.span;
        self.expect(Tok::LParen, "for the map's dimension operands")?;
        let mut operands = self.value_uses_until(Tok::RParen)?;
        self.expect(Tok::RParen, "after the dimension operands")?;
        let dims = operands.len();
        if self.eat(Tok::LSquare) {
            operands.extend(self.value_uses_until(Tok::RSquare)?);
            self.expect(Tok::RSquare, "after the symbol operands")?;
        }
        let syms = operands.len() - dims;
        if dims != num_dims as usize || syms != num_syms as usize {
            return Err(err(
                start,
                format!(
                    "the map takes {num_dims} dimension(s) and {num_syms} symbol(s), but {dims} and {syms} operand(s) are given"
                ),
            ));
        }
        Ok(operands.into_iter().map(|(v, _)| v).collect())
    }

    fn signed_int(&mut self, what: &str) -> PResult<i64> {
        let neg = self.eat(Tok::Minus);
        let t = self.expect(Tok::Int, what)?;
        let v = int_literal(self.text(t)).ok_or_else(|| err(t.span, "integer is too large"))?;
        let v = if neg {
            i128::try_from(v).ok().map(|x| -x)
        } else {
            i128::try_from(v).ok()
        };
        v.and_then(|x| i64::try_from(x).ok())
            .ok_or_else(|| err(t.span, "integer does not fit in 64 bits"))
    }

    fn parse_bound(&mut self, lower: bool) -> PResult<(AffineMap, Vec<Value>)> {
        if self.at(Tok::Int) || self.at(Tok::Minus) {
            let c = self.signed_int("(a constant bound)")?;
            return Ok((AffineMap::constant(c), vec![]));
        }
        if self.at(Tok::PercentId) {
            let (v, _) = self.value_use()?;
            return Ok((AffineMap::new(0, 1, vec![AffineExpr::Sym(0)]), vec![v]));
        }
        let keyword = if lower { "max" } else { "min" };
        let has_keyword = self.eat_keyword(keyword);
        let start = self.tok.span;
        let map = self.parse_map_ref()?;
        let operands = self.dims_and_syms(map.num_dims, map.num_syms)?;
        if map.results.len() != 1 && !has_keyword {
            return Err(err(
                start,
                format!("a bound map with several results needs `{keyword}` before it"),
            ));
        }
        Ok((map, operands))
    }

    fn parse_affine_for(&mut self) -> PResult<Parsed> {
        let iv = self.expect(Tok::PercentId, "(the induction variable)")?;
        self.optional_trailing_loc()?;
        self.expect(Tok::Equal, "after the induction variable")?;
        let (lb, lb_ops) = self.parse_bound(true)?;
        self.expect_keyword("to", "between the loop bounds")?;
        let (ub, ub_ops) = self.parse_bound(false)?;
        let step = if self.eat_keyword("step") {
            self.signed_int("(the step)")?
        } else {
            1
        };
        if self.at_keyword("iter_args") {
            return Err(err(
                self.tok.span,
                "loop-carried values (`iter_args`) are not supported by accc's IR",
            ));
        }
        let mut implicit = vec![];
        let entry = vec![(self.text(iv)[1..].to_string(), iv.span, Type::Index)];
        let body =
            self.single_block_region("affine.for", Some(entry), "affine.yield", &mut implicit)?;
        let span = self.tok.span;
        let attrs = self.optional_dict()?;
        let spec = OpSpec::new("affine.for")
            .operands(lb_ops.into_iter().chain(ub_ops))
            .attr("lowerBoundMap", Attribute::AffineMap(lb))
            .attr("upperBoundMap", Attribute::AffineMap(ub))
            .attr("step", Attribute::index(step));
        Ok(Parsed {
            spec: self.with_attrs(spec, attrs, span)?,
            regions: vec![body],
            implicit,
        })
    }

    fn parse_affine_if(&mut self) -> PResult<Parsed> {
        let set = self.parse_set_ref()?;
        let operands = self.dims_and_syms(set.num_dims, set.num_syms)?;
        if self.at(Tok::Arrow) {
            return Err(err(
                self.tok.span,
                "`affine.if` with results is not supported by accc's IR",
            ));
        }
        let mut implicit = vec![];
        let then_blocks =
            self.single_block_region("affine.if", None, "affine.yield", &mut implicit)?;
        let else_blocks = if self.eat_keyword("else") {
            self.single_block_region("affine.if", None, "affine.yield", &mut implicit)?
        } else {
            vec![]
        };
        let span = self.tok.span;
        let attrs = self.optional_dict()?;
        let spec = OpSpec::new("affine.if")
            .operands(operands)
            .attr("condition", Attribute::IntegerSet(set));
        Ok(Parsed {
            spec: self.with_attrs(spec, attrs, span)?,
            regions: vec![then_blocks, else_blocks],
            implicit,
        })
    }

    /// `: memref<...>` checked against the memref operand; returns the
    /// memref type.
    fn memref_type_of(&mut self, memref: (Value, Span)) -> PResult<MemRefType> {
        let t = self.tok.span;
        let ty = self.parse_type()?;
        let Type::MemRef(mt) = &ty else {
            return Err(err(t, format!("expected a memref type, found `{ty}`")));
        };
        self.check_type(memref, &ty)?;
        Ok(mt.clone())
    }

    fn parse_affine_access(&mut self, name: &str) -> PResult<Parsed> {
        let store = name == "affine.store";
        let mut operands = vec![];
        if store {
            operands.push(self.value_use()?.0);
            self.expect(Tok::Comma, "after the stored value")?;
        }
        let memref = self.value_use()?;
        operands.push(memref.0);
        self.expect(Tok::LSquare, "to start the indices")?;
        let mut ids = ExprIds::Ssa {
            dims: vec![],
            syms: vec![],
        };
        let mut results = vec![];
        if !self.at(Tok::RSquare) {
            loop {
                results.push(self.parse_expr(&mut ids)?);
                if !self.eat(Tok::Comma) {
                    break;
                }
            }
        }
        self.expect(Tok::RSquare, "to close the indices")?;
        let ExprIds::Ssa { dims, syms } = ids else {
            return Err(err(memref.1, "internal error: access ids changed kind"));
        };
        let map = AffineMap::new(dims.len() as u32, syms.len() as u32, results);
        operands.extend(dims);
        operands.extend(syms);
        let span = self.tok.span;
        let attrs = self.optional_dict()?;
        self.expect(Tok::Colon, "followed by the memref type")?;
        let mt = self.memref_type_of(memref)?;
        let mut spec = OpSpec::new(name)
            .operands(operands)
            .attr("map", Attribute::AffineMap(map));
        if !store {
            spec = spec.results([(*mt.elem).clone()]);
        }
        Ok(Parsed::new(self.with_attrs(spec, attrs, span)?))
    }

    fn parse_arith(&mut self, t: Token, name: &str, short: &str) -> PResult<Parsed> {
        if short == "constant" {
            let span = self.tok.span;
            let attrs = self.optional_dict()?;
            let vspan = self.tok.span;
            let value = self.parse_attr()?;
            let ty = match &value {
                Attribute::Int { ty, .. } | Attribute::Float { ty, .. } => ty.clone(),
                Attribute::Bool(_) => Type::i1(),
                _ => return Err(err(vspan, "expected an integer, float or boolean constant")),
            };
            let spec = OpSpec::new(name).attr("value", value).results([ty]);
            return Ok(Parsed::new(self.with_attrs(spec, attrs, span)?));
        }
        if short == "negf" {
            return self.parse_unary_op(name);
        }
        if arith::INT_BINARY.contains(&short) || arith::FLOAT_BINARY.contains(&short) {
            let a = self.value_use()?;
            self.expect(Tok::Comma, "between the operands")?;
            let b = self.value_use()?;
            self.reject_flags()?;
            let span = self.tok.span;
            let attrs = self.optional_dict()?;
            self.expect(Tok::Colon, "followed by the type after the operands")?;
            let ty = self.parse_type()?;
            self.check_type(a, &ty)?;
            self.check_type(b, &ty)?;
            let spec = OpSpec::new(name).operands([a.0, b.0]).results([ty]);
            return Ok(Parsed::new(self.with_attrs(spec, attrs, span)?));
        }
        if short == "cmpi" || short == "cmpf" {
            let table: &[&str] = if short == "cmpi" {
                &arith::CMPI_PREDICATES
            } else {
                &arith::CMPF_PREDICATES
            };
            let pt = self.tok;
            let predicate = match pt.kind {
                Tok::BareId => {
                    self.bump();
                    self.text(pt).to_string()
                }
                Tok::Str => self.string_value()?,
                _ => return Err(self.unexpected("a comparison predicate")),
            };
            let Some(index) = table.iter().position(|p| *p == predicate) else {
                return Err(err(
                    pt.span,
                    format!("unknown `{short}` predicate `{predicate}`"),
                )
                .with_hint(format!("one of: {}", table.join(", "))));
            };
            self.expect(Tok::Comma, "after the predicate")?;
            let a = self.value_use()?;
            self.expect(Tok::Comma, "between the operands")?;
            let b = self.value_use()?;
            self.reject_flags()?;
            let span = self.tok.span;
            let attrs = self.optional_dict()?;
            self.expect(Tok::Colon, "followed by the operand type")?;
            let ty = self.parse_type()?;
            self.check_type(a, &ty)?;
            self.check_type(b, &ty)?;
            let spec = OpSpec::new(name)
                .operands([a.0, b.0])
                .attr("predicate", Attribute::i64(index as i64))
                .results([Type::i1()]);
            return Ok(Parsed::new(self.with_attrs(spec, attrs, span)?));
        }
        if short == "select" {
            let c = self.value_use()?;
            self.expect(Tok::Comma, "after the condition")?;
            let a = self.value_use()?;
            self.expect(Tok::Comma, "between the choices")?;
            let b = self.value_use()?;
            let span = self.tok.span;
            let attrs = self.optional_dict()?;
            self.expect(Tok::Colon, "followed by the result type")?;
            let mut ty = self.parse_type()?;
            if self.eat(Tok::Comma) {
                self.check_type(c, &ty)?;
                ty = self.parse_type()?;
            }
            self.check_type(a, &ty)?;
            self.check_type(b, &ty)?;
            let spec = OpSpec::new(name).operands([c.0, a.0, b.0]).results([ty]);
            return Ok(Parsed::new(self.with_attrs(spec, attrs, span)?));
        }
        if arith::cast_kind(name).is_some() {
            let x = self.value_use()?;
            let span = self.tok.span;
            let attrs = self.optional_dict()?;
            self.expect(Tok::Colon, "followed by the source type")?;
            let from = self.parse_type()?;
            self.check_type(x, &from)?;
            self.expect_keyword("to", "between the source and result types")?;
            let to = self.parse_type()?;
            let spec = OpSpec::new(name).operands([x.0]).results([to]);
            return Ok(Parsed::new(self.with_attrs(spec, attrs, span)?));
        }
        Err(self.no_custom_form(t, name))
    }

    /// `name %x {attrs}? : T` with result type `T`.
    fn parse_unary_op(&mut self, name: &str) -> PResult<Parsed> {
        let x = self.value_use()?;
        self.reject_flags()?;
        let span = self.tok.span;
        let attrs = self.optional_dict()?;
        self.expect(Tok::Colon, "followed by the type after the operand")?;
        let ty = self.parse_type()?;
        self.check_type(x, &ty)?;
        let spec = OpSpec::new(name).operands([x.0]).results([ty]);
        Ok(Parsed::new(self.with_attrs(spec, attrs, span)?))
    }

    fn parse_memref(&mut self, t: Token, name: &str, short: &str) -> PResult<Parsed> {
        match short {
            "alloc" | "alloca" => {
                self.expect(Tok::LParen, "after the op name")?;
                if !self.at(Tok::RParen) {
                    return Err(err(
                        self.tok.span,
                        "dynamic sizes are not supported by accc's IR (shapes are static)",
                    ));
                }
                self.bump();
                if self.at(Tok::LSquare) {
                    return Err(err(
                        self.tok.span,
                        "symbol operands of allocations are not supported by accc's IR",
                    ));
                }
                let span = self.tok.span;
                let attrs = self.optional_dict()?;
                self.expect(Tok::Colon, "followed by the memref type")?;
                let ts = self.tok.span;
                let ty = self.parse_type()?;
                if ty.as_memref().is_none() {
                    return Err(err(ts, format!("expected a memref type, found `{ty}`")));
                }
                Ok(Parsed::new(self.with_attrs(
                    OpSpec::new(name).results([ty]),
                    attrs,
                    span,
                )?))
            }
            "dealloc" => {
                let x = self.value_use()?;
                let span = self.tok.span;
                let attrs = self.optional_dict()?;
                self.expect(Tok::Colon, "followed by the memref type")?;
                self.memref_type_of(x)?;
                Ok(Parsed::new(self.with_attrs(
                    OpSpec::new(name).operands([x.0]),
                    attrs,
                    span,
                )?))
            }
            "load" | "store" => {
                let store = short == "store";
                let mut operands = vec![];
                if store {
                    operands.push(self.value_use()?.0);
                    self.expect(Tok::Comma, "after the stored value")?;
                }
                let memref = self.value_use()?;
                operands.push(memref.0);
                self.expect(Tok::LSquare, "to start the indices")?;
                operands.extend(
                    self.value_uses_until(Tok::RSquare)?
                        .into_iter()
                        .map(|(v, _)| v),
                );
                self.expect(Tok::RSquare, "to close the indices")?;
                let span = self.tok.span;
                let attrs = self.optional_dict()?;
                self.expect(Tok::Colon, "followed by the memref type")?;
                let mt = self.memref_type_of(memref)?;
                let mut spec = OpSpec::new(name).operands(operands);
                if !store {
                    spec = spec.results([(*mt.elem).clone()]);
                }
                Ok(Parsed::new(self.with_attrs(spec, attrs, span)?))
            }
            "copy" => {
                let a = self.value_use()?;
                self.expect(Tok::Comma, "between source and target")?;
                let b = self.value_use()?;
                let span = self.tok.span;
                let attrs = self.optional_dict()?;
                self.expect(Tok::Colon, "followed by the source type")?;
                let ta = self.parse_type()?;
                self.check_type(a, &ta)?;
                self.expect_keyword("to", "between the source and target types")?;
                let tb = self.parse_type()?;
                self.check_type(b, &tb)?;
                Ok(Parsed::new(self.with_attrs(
                    OpSpec::new(name).operands([a.0, b.0]),
                    attrs,
                    span,
                )?))
            }
            _ => Err(self.no_custom_form(t, name)),
        }
    }

    fn parse_scf_for(&mut self) -> PResult<Parsed> {
        let iv = self.expect(Tok::PercentId, "(the induction variable)")?;
        self.optional_trailing_loc()?;
        self.expect(Tok::Equal, "after the induction variable")?;
        let lb = self.value_use()?;
        self.expect_keyword("to", "between the loop bounds")?;
        let ub = self.value_use()?;
        self.expect_keyword("step", "after the upper bound")?;
        let step = self.value_use()?;
        if self.at_keyword("iter_args") {
            return Err(err(
                self.tok.span,
                "loop-carried values (`iter_args`) are not supported by accc's IR",
            ));
        }
        if self.eat(Tok::Colon) {
            let ts = self.tok.span;
            let ty = self.parse_type()?;
            if ty != Type::Index {
                return Err(err(ts, "accc's `scf.for` loops over `index` only"));
            }
        }
        for v in [lb, ub, step] {
            self.check_type(v, &Type::Index)?;
        }
        let mut implicit = vec![];
        let entry = vec![(self.text(iv)[1..].to_string(), iv.span, Type::Index)];
        let body = self.single_block_region("scf.for", Some(entry), "scf.yield", &mut implicit)?;
        let span = self.tok.span;
        let attrs = self.optional_dict()?;
        let spec = OpSpec::new("scf.for").operands([lb.0, ub.0, step.0]);
        Ok(Parsed {
            spec: self.with_attrs(spec, attrs, span)?,
            regions: vec![body],
            implicit,
        })
    }

    fn parse_scf_if(&mut self) -> PResult<Parsed> {
        let c = self.value_use()?;
        if self.at(Tok::Arrow) {
            return Err(err(
                self.tok.span,
                "`scf.if` with results is not supported by accc's IR",
            ));
        }
        let mut implicit = vec![];
        let then_blocks = self.single_block_region("scf.if", None, "scf.yield", &mut implicit)?;
        let else_blocks = if self.eat_keyword("else") {
            self.single_block_region("scf.if", None, "scf.yield", &mut implicit)?
        } else {
            vec![]
        };
        let span = self.tok.span;
        let attrs = self.optional_dict()?;
        let spec = OpSpec::new("scf.if").operands([c.0]);
        Ok(Parsed {
            spec: self.with_attrs(spec, attrs, span)?,
            regions: vec![then_blocks, else_blocks],
            implicit,
        })
    }

    // ----- types ----------------------------------------------------------------

    fn parse_type(&mut self) -> PResult<Type> {
        self.enter()?;
        let r = self.parse_type_inner();
        self.leave();
        r
    }

    fn parse_type_inner(&mut self) -> PResult<Type> {
        let t = self.tok;
        match t.kind {
            Tok::BareId => {
                let text = self.text(t);
                let ty = match text {
                    "index" => Type::Index,
                    "f16" => Type::F16,
                    "bf16" => Type::BF16,
                    "f32" => Type::F32,
                    "f64" => Type::F64,
                    "memref" => {
                        self.bump();
                        return self.parse_memref_type();
                    }
                    _ if text.len() > 1
                        && text.starts_with('i')
                        && text[1..].bytes().all(|b| b.is_ascii_digit()) =>
                    {
                        let width = text[1..]
                            .parse::<u32>()
                            .ok()
                            .filter(|w| (1..=(1 << 24)).contains(w));
                        Type::Int(
                            width.ok_or_else(|| {
                                err(t.span, "integer widths range from 1 to 2^24")
                            })?,
                        )
                    }
                    _ if (text.starts_with("si") || text.starts_with("ui"))
                        && text[2..].bytes().all(|b| b.is_ascii_digit()) =>
                    {
                        return Err(err(
                            t.span,
                            "signed and unsigned integer types are not supported: accc's integers are signless",
                        ));
                    }
                    _ => return Err(err(t.span, format!("unknown or unsupported type `{text}`"))),
                };
                self.bump();
                Ok(ty)
            }
            Tok::LParen => {
                let (inputs, results) = self.parse_function_type()?;
                Ok(Type::Function(FunctionType { inputs, results }))
            }
            Tok::BangId => self.parse_dialect_type(),
            _ => Err(self.unexpected("a type")),
        }
    }

    /// After `memref`: `<16x16xi8, "space">`.
    fn parse_memref_type(&mut self) -> PResult<Type> {
        self.expect(Tok::Less, "after `memref`")?;
        // Shapes are lexed by hand: `16x16xi8` is not a token sequence.
        let mut pos = self.tok.span.start as usize;
        let mut shape = vec![];
        loop {
            let p = skip_trivia(self.bytes, pos);
            match self.bytes.get(p) {
                Some(b'?') => {
                    return Err(err(
                        Span::new(p, p + 1),
                        "dynamic dimensions are not supported by accc's IR",
                    ))
                }
                Some(b'*') => {
                    return Err(err(
                        Span::new(p, p + 1),
                        "unranked memrefs are not supported by accc's IR",
                    ))
                }
                Some(c) if c.is_ascii_digit() => {
                    let mut q = p;
                    while q < self.bytes.len() && self.bytes[q].is_ascii_digit() {
                        q += 1;
                    }
                    if self.bytes.get(q) != Some(&b'x') {
                        break;
                    }
                    let dim = self.src[p..q]
                        .parse::<i64>()
                        .map_err(|_| err(Span::new(p, q), "dimension is too large"))?;
                    shape.push(dim);
                    pos = q + 1;
                }
                _ => break,
            }
        }
        self.reset_to(pos);
        let elem = self.parse_type()?;
        let mut memory_space = None;
        if self.eat(Tok::Comma) {
            let t = self.tok;
            memory_space = Some(match t.kind {
                Tok::Int => {
                    self.bump();
                    MemorySpace::Int(
                        int_literal(self.text(t))
                            .and_then(|v| u64::try_from(v).ok())
                            .ok_or_else(|| err(t.span, "memory space is too large"))?,
                    )
                }
                Tok::Str => MemorySpace::Name(self.string_value()?),
                _ => {
                    return Err(err(
                        t.span,
                        "expected a memory space (an integer or a string); memref layouts are not supported",
                    ));
                }
            });
        }
        self.expect(Tok::Greater, "to close the memref type")?;
        Ok(Type::memref(shape, elem, memory_space))
    }

    /// `!alias` or `!dialect.name<raw body>`.
    fn parse_dialect_type(&mut self) -> PResult<Type> {
        let t = self.bump();
        let ident = &self.text(t)[1..];
        if let Some(ty) = self.type_aliases.get(ident) {
            return Ok(ty.clone());
        }
        let Some((dialect, name)) = ident.split_once('.') else {
            return Err(err(t.span, format!("undefined type alias `!{ident}`"))
                .with_hint("dialect types are written `!dialect.name<...>`"));
        };
        if dialect.is_empty() || name.is_empty() {
            return Err(err(t.span, "expected `!dialect.name`"));
        }
        let mut end = t.span.end as usize;
        if self.bytes.get(end) == Some(&b'<') {
            end = self.balanced_end(end)?;
        }
        let body = format!("{name}{}", &self.src[t.span.end as usize..end]);
        self.reset_to(end);
        Ok(Type::Opaque {
            dialect: dialect.to_string(),
            body,
        })
    }

    /// The end of a `<...>` body starting at `start`, balancing brackets,
    /// skipping strings and `->`.
    fn balanced_end(&self, start: usize) -> PResult<usize> {
        let mut stack: Vec<u8> = vec![];
        let mut i = start;
        while i < self.bytes.len() {
            let c = self.bytes[i];
            match c {
                b'<' | b'(' | b'[' | b'{' => stack.push(c),
                b'>' if i > 0 && self.bytes[i - 1] == b'-' => {}
                b'>' | b')' | b']' | b'}' => {
                    let open = match c {
                        b'>' => b'<',
                        b')' => b'(',
                        b']' => b'[',
                        _ => b'{',
                    };
                    if stack.pop() != Some(open) {
                        return Err(err(
                            Span::new(i, i + 1),
                            "unbalanced brackets in a dialect type",
                        ));
                    }
                    if stack.is_empty() {
                        return Ok(i + 1);
                    }
                }
                b'"' => {
                    i += 1;
                    while i < self.bytes.len() && self.bytes[i] != b'"' {
                        if self.bytes[i] == b'\\' {
                            i += 1;
                        }
                        i += 1;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        Err(err(
            Span::new(start, start + 1),
            "unterminated `<` in a dialect type",
        ))
    }

    /// `(T, U) -> V` or `(T) -> (V, W)`.
    fn parse_function_type(&mut self) -> PResult<(Vec<Type>, Vec<Type>)> {
        self.expect(Tok::LParen, "to start a function type")?;
        let inputs = self.types_until(Tok::RParen)?;
        self.expect(Tok::RParen, "to close the input types")?;
        self.expect(Tok::Arrow, "in a function type")?;
        let results = if self.eat(Tok::LParen) {
            let r = self.types_until(Tok::RParen)?;
            self.expect(Tok::RParen, "to close the result types")?;
            r
        } else {
            vec![self.parse_type()?]
        };
        Ok((inputs, results))
    }

    fn types_until(&mut self, close: Tok) -> PResult<Vec<Type>> {
        let mut out = vec![];
        if self.at(close) {
            return Ok(out);
        }
        loop {
            out.push(self.parse_type()?);
            if !self.eat(Tok::Comma) {
                return Ok(out);
            }
        }
    }

    // ----- attributes -------------------------------------------------------------

    fn parse_dict(&mut self) -> PResult<BTreeMap<String, Attribute>> {
        self.enter()?;
        self.expect(Tok::LBrace, "to start an attribute dictionary")?;
        let mut d = BTreeMap::new();
        if !self.at(Tok::RBrace) {
            loop {
                let t = self.tok;
                let key = match t.kind {
                    Tok::BareId => {
                        self.bump();
                        self.text(t).to_string()
                    }
                    Tok::Str => self.string_value()?,
                    _ => return Err(self.unexpected("an attribute name")),
                };
                let value = if self.eat(Tok::Equal) {
                    self.parse_attr()?
                } else {
                    Attribute::Unit
                };
                if d.insert(key.clone(), value).is_some() {
                    return Err(err(t.span, format!("duplicate attribute `{key}`")));
                }
                if !self.eat(Tok::Comma) {
                    break;
                }
            }
        }
        self.expect(Tok::RBrace, "to close the attribute dictionary")?;
        self.leave();
        Ok(d)
    }

    fn parse_attr(&mut self) -> PResult<Attribute> {
        self.enter()?;
        let r = self.parse_attr_inner();
        self.leave();
        r
    }

    fn parse_attr_inner(&mut self) -> PResult<Attribute> {
        let t = self.tok;
        match t.kind {
            Tok::BareId => match self.text(t) {
                "unit" => {
                    self.bump();
                    Ok(Attribute::Unit)
                }
                "true" | "false" => {
                    self.bump();
                    Ok(Attribute::Bool(self.text(t) == "true"))
                }
                "affine_map" => Ok(Attribute::AffineMap(self.parse_map_ref()?)),
                "affine_set" => Ok(Attribute::IntegerSet(self.parse_set_ref()?)),
                "array" => {
                    self.bump();
                    self.expect(Tok::Less, "after `array`")?;
                    let elem = self.parse_type()?;
                    let mut values = vec![];
                    if self.eat(Tok::Colon) {
                        loop {
                            values.push(self.signed_int("(an array element)")?);
                            if !self.eat(Tok::Comma) {
                                break;
                            }
                        }
                    }
                    self.expect(Tok::Greater, "to close the array")?;
                    Ok(Attribute::DenseArray { elem, values })
                }
                "dense" | "sparse" | "dense_resource" | "strided" | "opaque" | "distinct" => {
                    Err(err(
                        t.span,
                        format!(
                            "`{}` attributes are not supported by accc's IR",
                            self.text(t)
                        ),
                    ))
                }
                _ => Ok(Attribute::Type(self.parse_type()?)),
            },
            Tok::Int | Tok::Float | Tok::Minus => self.parse_number_attr(),
            Tok::Str => {
                let s = self.string_value()?;
                if self.at(Tok::Colon) {
                    return Err(err(
                        self.tok.span,
                        "typed string attributes are not supported by accc's IR",
                    ));
                }
                Ok(Attribute::String(s))
            }
            Tok::LSquare => {
                self.bump();
                let mut items = vec![];
                if !self.at(Tok::RSquare) {
                    loop {
                        items.push(self.parse_attr()?);
                        if !self.eat(Tok::Comma) {
                            break;
                        }
                    }
                }
                self.expect(Tok::RSquare, "to close the array")?;
                Ok(Attribute::Array(items))
            }
            Tok::LBrace => Ok(Attribute::Dict(self.parse_dict()?)),
            Tok::AtId => Ok(Attribute::SymbolRef(self.symbol_name()?.0)),
            Tok::HashId => {
                self.bump();
                let name = &self.text(t)[1..];
                match self.attr_aliases.get(name) {
                    Some(a) => Ok(a.clone()),
                    None if name.contains('.') => Err(err(
                        t.span,
                        format!("dialect attributes (`#{name}`) are not supported by accc's IR"),
                    )),
                    None => Err(err(t.span, format!("undefined attribute alias `#{name}`"))),
                }
            }
            Tok::LParen | Tok::BangId => Ok(Attribute::Type(self.parse_type()?)),
            _ => Err(self.unexpected("an attribute")),
        }
    }

    /// `-5 : i32`, `1.5 : f32`, `0x7F800000 : f32`; untyped integers are
    /// `i64` and untyped floats `f64`, as in MLIR.
    fn parse_number_attr(&mut self) -> PResult<Attribute> {
        let neg = self.eat(Tok::Minus);
        let t = self.tok;
        if !matches!(t.kind, Tok::Int | Tok::Float) {
            return Err(self.unexpected("a number"));
        }
        self.bump();
        let text = self.text(t);
        let ty = if self.eat(Tok::Colon) {
            Some((self.tok.span, self.parse_type()?))
        } else {
            None
        };
        if t.kind == Tok::Float {
            let mut v: f64 = text
                .parse()
                .map_err(|_| err(t.span, "malformed float literal"))?;
            if neg {
                v = -v;
            }
            let ty = match ty {
                None => Type::F64,
                Some((_, ty)) if ty.is_float() => ty,
                Some((span, ty)) => {
                    return Err(err(
                        span,
                        format!("a float literal needs a float type, not `{ty}`"),
                    ))
                }
            };
            return Ok(Attribute::Float {
                bits: v.to_bits(),
                ty,
            });
        }
        let magnitude =
            int_literal(text).ok_or_else(|| err(t.span, "integer literal is too large"))?;
        match ty {
            Some((_, ty)) if ty.is_float() => {
                let v = if text.starts_with("0x") {
                    if neg {
                        return Err(err(t.span, "a hexadecimal float literal cannot be negated"));
                    }
                    float_from_bits(magnitude, &ty).ok_or_else(|| {
                        err(t.span, format!("the bit pattern is too wide for `{ty}`"))
                    })?
                } else {
                    let v = magnitude as f64;
                    if neg {
                        -v
                    } else {
                        v
                    }
                };
                Ok(Attribute::Float {
                    bits: v.to_bits(),
                    ty,
                })
            }
            Some((span, ty)) if !ty.is_int_or_index() => Err(err(
                span,
                format!("an integer literal needs an integer or index type, not `{ty}`"),
            )),
            ty => {
                let ty = ty.map_or(Type::Int(64), |(_, t)| t);
                let value = if neg {
                    i128::try_from(magnitude)
                        .ok()
                        .map(|m| -m)
                        .and_then(|v| i64::try_from(v).ok())
                } else {
                    // Up to 2^64 - 1, read as the 64-bit pattern.
                    u64::try_from(magnitude).ok().map(|v| v as i64)
                };
                let value = value.ok_or_else(|| err(t.span, "integer does not fit in 64 bits"))?;
                Ok(Attribute::Int { value, ty })
            }
        }
    }

    // ----- affine maps, sets and expressions ------------------------------------------

    /// If the current token is a `#alias`, consumes it and returns the
    /// aliased attribute, checked to be a `what` by `pick`.
    fn alias_ref<T>(
        &mut self,
        what: &str,
        pick: impl Fn(&Attribute) -> Option<T>,
    ) -> Option<PResult<T>> {
        let t = self.tok;
        if t.kind != Tok::HashId {
            return None;
        }
        self.bump();
        Some(match self.attr_aliases.get(&self.text(t)[1..]) {
            Some(attr) => {
                pick(attr).ok_or_else(|| err(t.span, format!("`{}` is not {what}", self.text(t))))
            }
            None => Err(err(
                t.span,
                format!("undefined attribute alias `{}`", self.text(t)),
            )),
        })
    }

    fn parse_map_ref(&mut self) -> PResult<AffineMap> {
        if let Some(aliased) = self.alias_ref("an affine map", |a| a.as_affine_map().cloned()) {
            return aliased;
        }
        self.expect_keyword("affine_map", "")?;
        self.expect(Tok::Less, "after `affine_map`")?;
        let (names, nd, ns) = self.dim_sym_lists()?;
        self.expect(Tok::Arrow, "after the map's dimensions and symbols")?;
        self.expect(Tok::LParen, "to start the map's results")?;
        let mut results = vec![];
        if !self.at(Tok::RParen) {
            loop {
                results.push(self.parse_expr(&mut ExprIds::Named(&names))?);
                if !self.eat(Tok::Comma) {
                    break;
                }
            }
        }
        self.expect(Tok::RParen, "to close the map's results")?;
        self.expect(Tok::Greater, "to close the affine map")?;
        Ok(AffineMap::new(nd, ns, results))
    }

    fn parse_set_ref(&mut self) -> PResult<IntegerSet> {
        if let Some(aliased) = self.alias_ref("an integer set", |a| a.as_integer_set().cloned()) {
            return aliased;
        }
        self.expect_keyword("affine_set", "")?;
        self.expect(Tok::Less, "after `affine_set`")?;
        let (names, nd, ns) = self.dim_sym_lists()?;
        self.expect(Tok::Colon, "after the set's dimensions and symbols")?;
        self.expect(Tok::LParen, "to start the constraints")?;
        let mut constraints = vec![];
        if !self.at(Tok::RParen) {
            loop {
                let lhs = self.parse_expr(&mut ExprIds::Named(&names))?;
                let op = self.tok;
                if !matches!(op.kind, Tok::GreaterEq | Tok::EqEq | Tok::LessEq) {
                    return Err(self.unexpected("`>=`, `<=` or `==` in a constraint"));
                }
                self.bump();
                let rhs = self.parse_expr(&mut ExprIds::Named(&names))?;
                let zero = rhs == AffineExpr::Const(0);
                constraints.push(match op.kind {
                    Tok::GreaterEq if zero => (lhs, false),
                    Tok::EqEq if zero => (lhs, true),
                    Tok::GreaterEq => (subtract(lhs, rhs), false),
                    Tok::EqEq => (subtract(lhs, rhs), true),
                    _ => (subtract(rhs, lhs), false),
                });
                if !self.eat(Tok::Comma) {
                    break;
                }
            }
        }
        self.expect(Tok::RParen, "to close the constraints")?;
        self.expect(Tok::Greater, "to close the integer set")?;
        Ok(IntegerSet {
            num_dims: nd,
            num_syms: ns,
            constraints,
        })
    }

    /// `(d0, d1)[s0]`: the names bound to dims and symbols.
    fn dim_sym_lists(&mut self) -> PResult<(HashMap<String, AffineExpr>, u32, u32)> {
        let mut names = HashMap::new();
        let mut counts = [0u32; 2];
        for (k, (open, close)) in [(Tok::LParen, Tok::RParen), (Tok::LSquare, Tok::RSquare)]
            .into_iter()
            .enumerate()
        {
            if k == 0 {
                self.expect(open, "to start the dimension list")?;
            } else if !self.eat(open) {
                break;
            }
            if !self.at(close) {
                loop {
                    let t = self.expect(Tok::BareId, "(a dimension or symbol name)")?;
                    let e = if k == 0 {
                        AffineExpr::Dim(counts[0])
                    } else {
                        AffineExpr::Sym(counts[1])
                    };
                    counts[k] += 1;
                    if names.insert(self.text(t).to_string(), e).is_some() {
                        return Err(err(t.span, format!("`{}` is declared twice", self.text(t))));
                    }
                    if !self.eat(Tok::Comma) {
                        break;
                    }
                }
            }
            self.expect(close, "to close the list")?;
        }
        Ok((names, counts[0], counts[1]))
    }

    fn parse_expr(&mut self, ids: &mut ExprIds) -> PResult<AffineExpr> {
        self.enter()?;
        let mut lhs = self.parse_product(ids)?;
        loop {
            if self.eat(Tok::Plus) {
                let rhs = self.parse_product(ids)?;
                lhs = lhs.add(rhs);
            } else if self.eat(Tok::Minus) {
                let rhs = self.parse_product(ids)?;
                lhs = subtract(lhs, rhs);
            } else {
                break;
            }
        }
        self.leave();
        Ok(lhs)
    }

    fn parse_product(&mut self, ids: &mut ExprIds) -> PResult<AffineExpr> {
        let mut lhs = self.parse_unary(ids)?;
        loop {
            let combine: fn(AffineExpr, AffineExpr) -> AffineExpr = if self.eat(Tok::Star) {
                AffineExpr::mul
            } else if self.eat_keyword("floordiv") {
                AffineExpr::floor_div
            } else if self.eat_keyword("ceildiv") {
                AffineExpr::ceil_div
            } else if self.eat_keyword("mod") {
                AffineExpr::modulo
            } else {
                return Ok(lhs);
            };
            let rhs = self.parse_unary(ids)?;
            lhs = combine(lhs, rhs);
        }
    }

    fn parse_unary(&mut self, ids: &mut ExprIds) -> PResult<AffineExpr> {
        if !self.at(Tok::Minus) {
            return self.parse_atom(ids);
        }
        if lex(self.bytes, self.tok.span.end as usize).kind == Tok::Int {
            return Ok(AffineExpr::Const(self.signed_int("")?));
        }
        self.bump();
        self.enter()?;
        let operand = self.parse_unary(ids)?;
        self.leave();
        Ok(operand.mul(AffineExpr::Const(-1)))
    }

    fn parse_atom(&mut self, ids: &mut ExprIds) -> PResult<AffineExpr> {
        let t = self.tok;
        match (t.kind, ids) {
            (Tok::Int, _) => Ok(AffineExpr::Const(self.signed_int("")?)),
            (Tok::LParen, ids) => {
                self.bump();
                let e = self.parse_expr(ids)?;
                self.expect(Tok::RParen, "to close the parenthesized expression")?;
                Ok(e)
            }
            (Tok::BareId, ExprIds::Named(names)) => {
                self.bump();
                names.get(self.text(t)).cloned().ok_or_else(|| {
                    err(
                        t.span,
                        format!("`{}` is not a dimension or symbol of the map", self.text(t)),
                    )
                })
            }
            (Tok::BareId, ExprIds::Ssa { syms, .. }) if self.text(t) == "symbol" => {
                self.bump();
                self.expect(Tok::LParen, "after `symbol`")?;
                let (v, _) = self.value_use()?;
                self.expect(Tok::RParen, "to close `symbol(...)`")?;
                let index = syms.iter().position(|x| *x == v).unwrap_or_else(|| {
                    syms.push(v);
                    syms.len() - 1
                });
                Ok(AffineExpr::Sym(index as u32))
            }
            (Tok::PercentId, ExprIds::Ssa { dims, .. }) => {
                let (v, _) = self.value_use()?;
                let index = dims.iter().position(|x| *x == v).unwrap_or_else(|| {
                    dims.push(v);
                    dims.len() - 1
                });
                Ok(AffineExpr::Dim(index as u32))
            }
            _ => Err(self.unexpected("an affine expression")),
        }
    }
}

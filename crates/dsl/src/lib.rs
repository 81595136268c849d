//! accc-dsl: the text front end of accc.
//!
//! [`parse`] turns an `.acc` file into an [`ast::Program`] (every node with
//! its span); [`check`] resolves names, evaluates shapes and types every
//! expression, producing a [`checked::Program`] ready for lowering to IR.
//! Neither ever panics on user input: every problem becomes a located
//! [`Diagnostic`], which [`accc_ir::diag::render`] prints as
//! `file:line:col`, the source line and a caret. The language is described
//! in `docs/language.md`.

pub mod ast;
mod check;
pub mod checked;
mod parse;

pub use parse::{MAX_EXPR_DEPTH, MAX_NESTING};

use accc_ir::diag::{Diagnostic, SourceFile};

/// Parses an `.acc` file into its syntax tree.
pub fn parse(file: &SourceFile) -> Result<ast::Program, Vec<Diagnostic>> {
    parse::parse(file)
}

/// Checks a parsed program (from `file`, which spans point into).
pub fn check(file: &SourceFile, program: &ast::Program) -> Result<checked::Program, Vec<Diagnostic>> {
    check::check(file, program)
}

/// [`parse`], then [`check`].
pub fn parse_and_check(file: &SourceFile) -> Result<checked::Program, Vec<Diagnostic>> {
    let program = parse(file)?;
    check(file, &program)
}

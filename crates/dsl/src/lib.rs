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
pub mod lower;
mod parse;

pub use parse::{MAX_EXPR_DEPTH, MAX_NESTING};

use accc_ir::diag::{Diagnostic, SourceFile};

/// Parses an `.acc` file into its syntax tree.
pub fn parse(file: &SourceFile) -> Result<ast::Program, Vec<Diagnostic>> {
    with_deep_stack(|| parse::parse(file))
}

/// Checks a parsed program (from `file`, which spans point into).
pub fn check(
    file: &SourceFile,
    program: &ast::Program,
) -> Result<checked::Program, Vec<Diagnostic>> {
    with_deep_stack(|| check::check(file, program))
}

/// [`parse`], then [`check`].
pub fn parse_and_check(file: &SourceFile) -> Result<checked::Program, Vec<Diagnostic>> {
    with_deep_stack(|| {
        let program = parse::parse(file)?;
        check::check(file, &program)
    })
}

/// Stack for the recursive parser and checker. pest's generated code uses
/// large frames in debug builds (tens of KiB per bracket level), so input
/// within [`MAX_NESTING`] could overflow a caller's small stack (a test
/// thread has 2 MiB). The memory is reserved, not committed, until used.
const FRONT_END_STACK: usize = 256 << 20;

/// Runs `f` on a scoped thread with [`FRONT_END_STACK`] bytes of stack, or
/// on the current thread if no thread can be spawned.
fn with_deep_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    // The closure sits in a slot so that it can still run here if spawning
    // fails; whoever takes it runs it.
    let slot = std::sync::Mutex::new(Some(f));
    let take = || slot.lock().ok().and_then(|mut s| s.take());
    let from_thread = std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("accc-dsl".into())
            .stack_size(FRONT_END_STACK)
            .spawn_scoped(scope, || take().map(|f| f()));
        match spawned {
            Ok(handle) => match handle.join() {
                Ok(result) => result,
                Err(panic) => std::panic::resume_unwind(panic),
            },
            Err(_) => None,
        }
    });
    match from_thread {
        Some(result) => result,
        None => match take() {
            Some(f) => f(),
            None => unreachable!("the closure is taken exactly once: by the thread or here"),
        },
    }
}

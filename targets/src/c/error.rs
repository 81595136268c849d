//! What can go wrong when emitting, compiling or running a C kernel.

use accc_ir::Location;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CError {
    /// The module has no `func.func` of that name.
    #[error("no kernel named `{name}`; {}", kernel_list(.known))]
    UnknownKernel { name: String, known: Vec<String> },

    /// An op (or a type, or a kernel interface) the C target cannot express.
    #[error("{loc}: the C target does not support `{op}`: {reason}")]
    Unsupported {
        op: String,
        loc: Location,
        reason: String,
    },

    /// Functions that call each other in a cycle; `cycle` starts and ends
    /// with the same function.
    #[error("recursive calls are not supported: {}", .cycle.iter().map(|f| format!("@{f}")).collect::<Vec<_>>().join(" -> "))]
    Recursion { cycle: Vec<String> },

    #[error("cannot {action} {}: {error}", .path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },

    /// The C compiler could not be started (not installed, `CC` wrong).
    #[error("cannot run the C compiler `{cc}`: {error}")]
    CompilerUnavailable {
        cc: String,
        #[source]
        error: std::io::Error,
    },

    /// The C compiler rejected the program: an accc bug, or flags the
    /// compiler does not know.
    #[error("the C compiler `{cc}` failed on {}:\n{stderr}", .file.display())]
    CompileFailed {
        cc: String,
        file: PathBuf,
        stderr: String,
    },

    /// The kernel stopped with an error of docs/semantics.md ("Errors while
    /// running"); the message is the program's, e.g.
    /// `k.acc:3:5: error: division by zero in `arith.divsi``.
    #[error("{0}")]
    Fault(String),

    /// An input file was missing or did not match its parameter; the message
    /// names the file.
    #[error("{0}")]
    Input(String),

    /// The program failed in any other way (crashed, could not write an
    /// output, printed no timing).
    #[error("{} failed ({status}):\n{stderr}", .exe.display())]
    RunFailed {
        exe: PathBuf,
        status: String,
        stderr: String,
    },
}

fn kernel_list(known: &[String]) -> String {
    if known.is_empty() {
        "the module has no kernels".to_string()
    } else {
        format!("kernels are: {}", known.join(", "))
    }
}

impl CError {
    pub(crate) fn unsupported(op: &str, loc: &Location, reason: impl Into<String>) -> CError {
        CError::Unsupported {
            op: op.to_string(),
            loc: loc.clone(),
            reason: reason.into(),
        }
    }
}

//! accc as a library: the same pipeline the `accc` driver runs, for tools
//! that embed accc.
//!
//! ```no_run
//! use accc::{compile, CompileOptions, SourceFile};
//! let file = SourceFile::new("gemm.acc", std::fs::read_to_string("examples/gemm.acc").unwrap());
//! let module = compile(&file, &CompileOptions { kernel: Some("gemm_512x512x512".into()), ..Default::default() })
//!     .map_err(|diags| accc::render_diagnostics(&file, &diags))
//!     .unwrap();
//! println!("{}", accc::ir::text::print_module(&module));
//! ```
//!
//! Every stage reports problems as located [`Diagnostic`]s; nothing here
//! panics on user input.

pub use accc_dsl as dsl;
pub use accc_interp as interp;
pub use accc_ir as ir;
pub use accc_ir::diag::{render as render_diagnostics, Diagnostic, SourceFile, Span};
pub use accc_passes as passes;
pub use accc_targets as targets;
pub use accc_tensor as tensor;

pub mod run;

use accc_ir::Module;

/// What to compile from a source file.
#[derive(Clone, Debug, Default)]
pub struct CompileOptions {
    /// Only this kernel (and the kernels it calls); all kernels when `None`.
    pub kernel: Option<String>,
    /// A schedule of the file to apply to the kernel.
    pub schedule: Option<String>,
}

/// Parses, checks and lowers an `.acc` file to a verified IR module.
pub fn compile(file: &SourceFile, options: &CompileOptions) -> Result<Module, Vec<Diagnostic>> {
    let program = dsl::parse_and_check(file)?;
    if let Some(name) = &options.schedule {
        let Some(schedule) = program.schedules.iter().find(|s| s.name == *name) else {
            let known: Vec<&str> = program.schedules.iter().map(|s| s.name.as_str()).collect();
            return Err(vec![Diagnostic::error(format!(
                "no schedule named `{name}` in {}",
                file.name()
            ))
            .with_primary(Span::new(0, 0), "")
            .with_hint(if known.is_empty() {
                "this file declares no schedules".to_string()
            } else {
                format!("schedules in this file: {}", known.join(", "))
            })]);
        };
        let target = &program.kernels[schedule.kernel.index()].name;
        if let Some(kernel) = &options.kernel {
            if target != kernel {
                return Err(vec![Diagnostic::error(format!(
                    "schedule `{name}` is for kernel `{target}`, not `{kernel}`"
                ))
                .with_primary(schedule.span, "declared here")]);
            }
        }
        return Err(vec![Diagnostic::error(format!(
            "schedule `{name}` parsed and checked, but applying schedules is not implemented yet"
        ))
        .with_primary(schedule.span, "this schedule")
        .with_hint("schedule primitives arrive with the primitives issue; compile without --schedule for now")]);
    }
    dsl::lower::lower_program(file, &program, options.kernel.as_deref())
}

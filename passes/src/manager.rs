//! The pass manager: a pipeline of named passes, verification after each,
//! and an observer hook for printing IR between passes.

use accc_ir::{verify_module, Module, VerifyError};

/// A whole-module rewrite.
pub trait Pass {
    /// The name used on the command line (`accc opt --pass NAME`).
    fn name(&self) -> &'static str;
    /// Runs the pass; returns whether it changed the module.
    fn run(&mut self, module: &mut Module) -> Result<bool, PassError>;
}

/// What the registry knows of a pass before it is created.
#[derive(Clone, Copy, Debug)]
pub struct PassInfo {
    pub name: &'static str,
    pub summary: &'static str,
    create: fn() -> Box<dyn Pass>,
}

impl PassInfo {
    pub fn create(&self) -> Box<dyn Pass> {
        (self.create)()
    }
}

/// Every pass accc knows, in the order `--help` lists them.
pub fn registered_passes() -> &'static [PassInfo] {
    &[
        PassInfo {
            name: "canonicalize",
            summary: "simplify affine maps, fold affine.apply of constants and constant arith ops",
            create: || Box::new(crate::canonicalize::Canonicalize),
        },
        PassInfo {
            name: "dce",
            summary: "erase ops without side effects whose results are unused",
            create: || Box::new(crate::dce::DeadCodeElimination),
        },
    ]
}

#[derive(Debug, thiserror::Error)]
pub enum PassError {
    #[error("unknown pass `{name}`; known passes: {known}")]
    UnknownPass { name: String, known: String },
    #[error("pass `{pass}` failed: {message}")]
    Failed { pass: String, message: String },
    #[error("pass `{pass}` produced invalid IR:\n{}", format_errors(.errors))]
    BrokeInvariants {
        pass: String,
        errors: Vec<VerifyError>,
    },
}

fn format_errors(errors: &[VerifyError]) -> String {
    errors
        .iter()
        .map(|e| format!("  {e}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs passes in order, verifying after each.
#[derive(Default)]
pub struct PassManager {
    passes: Vec<Box<dyn Pass>>,
}

impl PassManager {
    pub fn new() -> PassManager {
        PassManager::default()
    }

    pub fn add(&mut self, pass: Box<dyn Pass>) {
        self.passes.push(pass);
    }

    /// Adds a registered pass by name.
    pub fn add_by_name(&mut self, name: &str) -> Result<(), PassError> {
        let passes = registered_passes();
        let info =
            passes
                .iter()
                .find(|p| p.name == name)
                .ok_or_else(|| PassError::UnknownPass {
                    name: name.to_string(),
                    known: passes.iter().map(|p| p.name).collect::<Vec<_>>().join(", "),
                })?;
        self.add(info.create());
        Ok(())
    }

    pub fn pass_names(&self) -> Vec<&'static str> {
        self.passes.iter().map(|p| p.name()).collect()
    }

    /// Runs the pipeline; `after_each(pass_name, module)` is called after
    /// every pass that verified.
    pub fn run(
        &mut self,
        module: &mut Module,
        mut after_each: impl FnMut(&str, &Module),
    ) -> Result<(), PassError> {
        for pass in &mut self.passes {
            pass.run(module)?;
            verify_module(module).map_err(|errors| PassError::BrokeInvariants {
                pass: pass.name().to_string(),
                errors,
            })?;
            after_each(pass.name(), module);
        }
        Ok(())
    }
}

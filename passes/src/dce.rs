//! `dce`: erases ops that have no side effects and whose results are all
//! unused, repeating until nothing changes. Only ops known to be pure
//! (`arith.*`, `math.*`, `affine.apply/min/max/load`, `memref.load`) are
//! candidates; anything unknown is assumed to have effects.

use crate::manager::{Pass, PassError};
use accc_ir::Module;

pub struct DeadCodeElimination;

fn is_pure(name: &str) -> bool {
    name.starts_with("arith.")
        || name.starts_with("math.")
        || matches!(
            name,
            "affine.apply" | "affine.min" | "affine.max" | "affine.load" | "memref.load"
        )
}

impl Pass for DeadCodeElimination {
    fn name(&self) -> &'static str {
        "dce"
    }

    fn run(&mut self, m: &mut Module) -> Result<bool, PassError> {
        let mut changed = false;
        loop {
            let dead: Vec<_> = m
                .walk_ops(m.top())
                .into_iter()
                .filter(|&op| {
                    is_pure(m.op_name(op)) && m.results(op).iter().all(|r| m.uses(*r).is_empty())
                })
                .collect();
            if dead.is_empty() {
                return Ok(changed);
            }
            for op in dead {
                m.erase_op(op).map_err(|e| PassError::Failed {
                    pass: "dce".into(),
                    message: e.to_string(),
                })?;
            }
            changed = true;
        }
    }
}

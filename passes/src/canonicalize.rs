//! `canonicalize`: brings affine maps to their simplified form
//! ([`accc_ir::AffineExpr::simplify`]) and folds `affine.apply` whose
//! operands are all constants into an `arith.constant`.

use crate::manager::{Pass, PassError};
use accc_ir::dialects::arith;
use accc_ir::{Attribute, Builder, Module};

pub struct Canonicalize;

impl Pass for Canonicalize {
    fn name(&self) -> &'static str {
        "canonicalize"
    }

    fn run(&mut self, m: &mut Module) -> Result<bool, PassError> {
        let mut changed = false;
        for op in m.walk_ops(m.top()) {
            if m.is_erased(op) {
                continue;
            }
            let names: Vec<String> = m.op(op).attrs.keys().cloned().collect();
            for name in names {
                if let Some(Attribute::AffineMap(map)) = m.attr(op, &name) {
                    let simplified = map.simplify();
                    if simplified != *map {
                        m.set_attr(op, name, Attribute::AffineMap(simplified));
                        changed = true;
                    }
                }
            }
            if m.op_name(op) == "affine.apply" {
                let constants: Option<Vec<i64>> = m
                    .operands(op)
                    .iter()
                    .map(|v| arith::constant_value(m, *v).and_then(Attribute::as_int))
                    .collect();
                let value = match (
                    constants,
                    m.attr(op, "map").and_then(Attribute::as_affine_map),
                ) {
                    (Some(c), Some(map)) => map.eval(&c).and_then(|r| r.first().copied()),
                    _ => None,
                };
                if let Some(value) = value {
                    let Some(mut b) = Builder::before(m, op) else {
                        continue;
                    };
                    let c = arith::build_index_constant(&mut b, value);
                    m.replace_op(op, &[c]).map_err(|e| PassError::Failed {
                        pass: "canonicalize".into(),
                        message: e.to_string(),
                    })?;
                    changed = true;
                }
            }
        }
        Ok(changed)
    }
}

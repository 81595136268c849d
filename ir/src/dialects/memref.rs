//! The `memref` dialect: `alloc`, `alloca`, `dealloc`, `load`, `store`,
//! `copy`. Accesses take one `index` operand per dimension.

use super::expect_counts;
use crate::builder::Builder;
use crate::entity::{Op, Value};
use crate::module::{Module, OpSpec};
use crate::types::Type;

/// `memref.alloc` (heap) or, with `on_stack`, `memref.alloca`.
pub fn build_alloc(b: &mut Builder, ty: Type, on_stack: bool) -> Value {
    let name = if on_stack {
        "memref.alloca"
    } else {
        "memref.alloc"
    };
    b.insert_value(OpSpec::new(name).results([ty]))
}

pub fn build_dealloc(b: &mut Builder, memref: Value) -> Op {
    b.insert(OpSpec::new("memref.dealloc").operands([memref]))
}

pub fn build_load(b: &mut Builder, memref: Value, indices: &[Value]) -> Value {
    let elem = match b.module.value_type(memref) {
        Type::MemRef(mt) => (*mt.elem).clone(),
        other => other.clone(),
    };
    b.insert_value(
        OpSpec::new("memref.load")
            .operands(std::iter::once(memref).chain(indices.iter().copied()))
            .results([elem]),
    )
}

pub fn build_store(b: &mut Builder, value: Value, memref: Value, indices: &[Value]) -> Op {
    b.insert(
        OpSpec::new("memref.store")
            .operands([value, memref].into_iter().chain(indices.iter().copied())),
    )
}

fn check_indices(m: &Module, memref: Value, indices: &[Value]) -> Result<Type, String> {
    let Type::MemRef(mt) = m.value_type(memref) else {
        return Err(format!(
            "expects a memref, found `{}`",
            m.value_type(memref)
        ));
    };
    if indices.len() != mt.rank() {
        return Err(format!(
            "takes {} index(es) for a rank-{} memref",
            indices.len(),
            mt.rank()
        ));
    }
    if let Some(v) = indices.iter().find(|v| *m.value_type(**v) != Type::Index) {
        return Err(format!(
            "indices must be `index`, found `{}`",
            m.value_type(*v)
        ));
    }
    Ok((*mt.elem).clone())
}

pub(crate) fn verify(m: &Module, op: Op) -> Result<(), String> {
    match m.op_name(op) {
        "memref.alloc" | "memref.alloca" => {
            expect_counts(m, op, 0, 1)?;
            if m.value_type(m.result(op, 0)).as_memref().is_none() {
                return Err("the result must be a memref".into());
            }
            Ok(())
        }
        "memref.dealloc" => {
            expect_counts(m, op, 1, 0)?;
            if m.value_type(m.operand(op, 0)).as_memref().is_none() {
                return Err("expects a memref".into());
            }
            Ok(())
        }
        "memref.load" => {
            if m.operands(op).is_empty() {
                return Err("expects a memref operand".into());
            }
            expect_counts(m, op, m.operands(op).len(), 1)?;
            let elem = check_indices(m, m.operand(op, 0), &m.operands(op)[1..])?;
            if *m.value_type(m.result(op, 0)) != elem {
                return Err("the result type differs from the element type".into());
            }
            Ok(())
        }
        "memref.store" => {
            if m.operands(op).len() < 2 {
                return Err("expects a value and a memref".into());
            }
            expect_counts(m, op, m.operands(op).len(), 0)?;
            let elem = check_indices(m, m.operand(op, 1), &m.operands(op)[2..])?;
            if *m.value_type(m.operand(op, 0)) != elem {
                return Err(format!(
                    "stores `{}` into a memref of `{elem}`",
                    m.value_type(m.operand(op, 0))
                ));
            }
            Ok(())
        }
        "memref.copy" => {
            expect_counts(m, op, 2, 0)?;
            let (a, b) = (
                m.value_type(m.operand(op, 0)),
                m.value_type(m.operand(op, 1)),
            );
            match (a.as_memref(), b.as_memref()) {
                (Some(x), Some(y)) if x.shape == y.shape && x.elem == y.elem => Ok(()),
                _ => Err(format!(
                    "copies `{a}` into `{b}`: shapes and element types must match"
                )),
            }
        }
        _ => Ok(()),
    }
}

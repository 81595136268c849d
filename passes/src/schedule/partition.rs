//! `partition(buffer, dim, kind = block|cyclic|complete, factor = n)`:
//! array partitioning (HLS `array_partition`, Allo's `partition`) as a
//! layout rewrite.
//!
//! Dimension `dim` (of extent `N`) of a local buffer becomes two: a bank
//! dimension and an offset within the bank. With `b` banks of `s = ceil(N
//! / b)` elements:
//! - `block`: element `i` lives in bank `i floordiv s` at `i mod s`;
//! - `cyclic`: element `i` lives in bank `i mod b` at `i floordiv b`;
//! - `complete`: every element is its own bank: bank `i`, offset 0.
//!
//! The buffer's type changes from `[.., N, ..]` to `[.., b, s, ..]`, every
//! access's index is rewritten, and the allocation records the partition
//! in `accc.partition` (a list of `{dim, kind, factor}`), which targets use
//! to map banks onto memories.

use std::collections::BTreeMap;

use accc_ir::attrs::Attribute;
use accc_ir::dialects::affine;
use accc_ir::{AffineExpr, AffineMap, Module, Op, Type};

use super::access::{find_tensor, memref_type};
use super::{Args, ScheduleError, StepReport};

pub(crate) fn apply(m: &mut Module, func: Op, args: &Args) -> Result<StepReport, ScheduleError> {
    args.expect(2, 2, &["kind", "factor"])?;
    let tname = args.name(0, "the buffer to partition")?;
    let t = find_tensor(m, func, tname).map_err(|e| e.at(args.span(0)))?;
    let alloc = m
        .defining_op(t)
        .filter(|d| matches!(m.op_name(*d), "memref.alloc" | "memref.alloca"))
        .ok_or_else(|| {
            ScheduleError::new(format!(
                "`{tname}` is a kernel argument, whose layout the caller fixes; partition applies to local buffers"
            ))
            .at(args.span(0))
            .with_hint(format!("stage it first: `buf = buffer_at({tname}, loop)`, then partition `buf`"))
        })?;
    let ty = memref_type(m, t)?;
    let dim = args.int(1, "the dimension to partition")?;
    let rank = ty.shape.len();
    let Some(d) = usize::try_from(dim).ok().filter(|d| *d < rank) else {
        return Err(ScheduleError::new(format!(
            "`{tname}` has {rank} dimension(s) (0 to {}), so it has no dimension {dim}",
            rank.saturating_sub(1)
        ))
        .at(args.span(1)));
    };
    let kind = args.choice("kind", &["block", "cyclic", "complete"], "block")?;
    let n = ty.shape[d];
    let banks = if kind == "complete" {
        let f = args.keyword_int("factor", n)?;
        if f != n {
            return Err(ScheduleError::new(format!(
                "a complete partition of dimension {d} of `{tname}` makes {n} banks; leave out `factor` or give {n}"
            ))
            .at(args.keyword_span("factor")));
        }
        n
    } else {
        let f = args.keyword_int("factor", 0)?;
        if f < 1 || f > n {
            let got = if args.keyword_span("factor").is_some() || f != 0 {
                format!("got {f}")
            } else {
                "none was given".to_string()
            };
            return Err(ScheduleError::new(format!(
                "a {kind} partition needs `factor = banks`, between 1 and {n} (the extent of dimension {d} of `{tname}`); {got}"
            ))
            .at(args.keyword_span("factor").or(args.span(1))));
        }
        f
    };
    let size = (n + banks - 1) / banks;

    // Every use must be an access we can rewrite, or the dealloc.
    let users: Vec<Op> = m.uses(t).iter().map(|u| u.op).collect();
    for &u in &users {
        let ok = matches!(m.op_name(u), "memref.dealloc")
            || (affine::access_map(m, u).is_some() && affine::access_memref(m, u) == Some(t));
        if !ok {
            return Err(ScheduleError::new(format!(
                "`{tname}` is used by `{}` at {}, which partition cannot re-index",
                m.op_name(u),
                m.op(u).loc
            ))
            .at(args.span(0)));
        }
    }
    let mut rewritten = 0;
    for u in users {
        let Some((map, operands)) = affine::access_map(m, u) else {
            continue;
        };
        let (map, operands) = (map.clone(), operands.to_vec());
        let e = map.results[d].clone();
        let (bank, offset) = match kind {
            "block" => (
                e.clone().floor_div(AffineExpr::constant(size)),
                e.modulo(AffineExpr::constant(size)),
            ),
            "cyclic" => (
                e.clone().modulo(AffineExpr::constant(banks)),
                e.floor_div(AffineExpr::constant(banks)),
            ),
            _ => (e, AffineExpr::constant(0)),
        };
        let mut results = map.results.clone();
        results.splice(d..=d, [bank.simplify(), offset.simplify()]);
        affine::set_map(
            m,
            u,
            AffineMap::new(map.num_dims, map.num_syms, results),
            &operands,
        );
        rewritten += 1;
    }
    let mut shape = ty.shape.clone();
    shape.splice(d..=d, [banks, size]);
    let new_ty = Type::memref(shape, (*ty.elem).clone(), ty.memory_space.clone());
    m.set_value_type(t, new_ty.clone());
    let mut record = match m.attr(alloc, "accc.partition") {
        Some(Attribute::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    let mut entry = BTreeMap::new();
    entry.insert("dim".to_string(), Attribute::index(dim));
    entry.insert("kind".to_string(), Attribute::string(kind));
    entry.insert("factor".to_string(), Attribute::index(banks));
    record.push(Attribute::Dict(entry));
    m.set_attr(alloc, "accc.partition", Attribute::Array(record));
    Ok(StepReport {
        summary: format!(
            "partitioned dimension {d} of `{tname}` ({kind}) into {banks} bank(s) of {size}: now {new_ty}; {rewritten} access(es) re-indexed"
        ),
        names: Vec::new(),
    })
}

//! The `affine` dialect: `affine.for`, `affine.if`, `affine.load`,
//! `affine.store`, `affine.apply`, `affine.min`, `affine.max`, `affine.yield`.
//!
//! Layouts (as MLIR's generic form):
//! - `affine.for`: operands = lower-bound map operands then upper-bound map
//!   operands; attributes `lowerBoundMap`, `upperBoundMap` (affine maps; the
//!   lower bound is the max of the lower map's results, the upper bound the
//!   min of the upper map's results), `step` (index); one region whose single
//!   block has one `index` argument (the induction variable) and ends in
//!   `affine.yield`. accc adds `loop_name` (and `op_name` on the outermost
//!   loop of a nest). Loop-carried values (`iter_args`) are not used by accc.
//! - `affine.if`: attribute `condition` (an integer set) over the operands;
//!   two regions, the second (else) may be empty.
//! - `affine.load`: operands `[memref, map operands...]`, attribute `map`.
//! - `affine.store`: operands `[value, memref, map operands...]`, attribute `map`.
//! - `affine.apply`/`min`/`max`: attribute `map` over the operands, one
//!   `index` result.

use super::expect_counts;
use crate::affine::{AffineExpr, AffineMap, IntegerSet};
use crate::attrs::Attribute;
use crate::builder::Builder;
use crate::entity::{Block, Op, Value};
use crate::module::{Module, OpSpec};
use crate::types::Type;

/// A loop bound: an affine map over operands (dims first, then symbols).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bound {
    pub map: AffineMap,
    pub operands: Vec<Value>,
}

impl Bound {
    pub fn constant(c: i64) -> Bound {
        Bound {
            map: AffineMap::constant(c),
            operands: vec![],
        }
    }
}

/// Creates an `affine.for` whose body holds only the `affine.yield`; returns
/// the loop, its induction variable and its body block.
pub fn build_for(b: &mut Builder, lower: Bound, upper: Bound, step: i64) -> (Op, Value, Block) {
    let op = b.insert(
        OpSpec::new("affine.for")
            .operands(lower.operands.iter().chain(&upper.operands).copied())
            .attr("lowerBoundMap", Attribute::AffineMap(lower.map))
            .attr("upperBoundMap", Attribute::AffineMap(upper.map))
            .attr("step", Attribute::index(step))
            .regions(1),
    );
    let region = b.module.op_regions(op)[0];
    let body = b.module.append_block(region, &[Type::Index]);
    let iv = b.module.block_args(body)[0];
    let loc = b.loc().clone();
    Builder::at_end(b.module, body).insert(OpSpec::new("affine.yield").loc(loc));
    (op, iv, body)
}

/// Creates an `affine.if` with an (empty-but-terminated) then block and,
/// if asked, an else block.
pub fn build_if(
    b: &mut Builder,
    condition: IntegerSet,
    operands: &[Value],
    with_else: bool,
) -> (Op, Block, Option<Block>) {
    let op = b.insert(
        OpSpec::new("affine.if")
            .operands(operands.iter().copied())
            .attr("condition", Attribute::IntegerSet(condition))
            .regions(2),
    );
    let regions = b.module.op_regions(op).to_vec();
    let then_block = b.module.append_block(regions[0], &[]);
    Builder::at_end(b.module, then_block).insert(OpSpec::new("affine.yield"));
    let else_block = with_else.then(|| {
        let blk = b.module.append_block(regions[1], &[]);
        Builder::at_end(b.module, blk).insert(OpSpec::new("affine.yield"));
        blk
    });
    (op, then_block, else_block)
}

pub fn build_load(b: &mut Builder, memref: Value, map: AffineMap, indices: &[Value]) -> Value {
    let elem = match b.module.value_type(memref) {
        Type::MemRef(mt) => (*mt.elem).clone(),
        other => other.clone(),
    };
    b.insert_value(
        OpSpec::new("affine.load")
            .operands(std::iter::once(memref).chain(indices.iter().copied()))
            .attr("map", Attribute::AffineMap(map))
            .results([elem]),
    )
}

pub fn build_store(
    b: &mut Builder,
    value: Value,
    memref: Value,
    map: AffineMap,
    indices: &[Value],
) -> Op {
    b.insert(
        OpSpec::new("affine.store")
            .operands([value, memref].into_iter().chain(indices.iter().copied()))
            .attr("map", Attribute::AffineMap(map)),
    )
}

pub fn build_apply(b: &mut Builder, map: AffineMap, operands: &[Value]) -> Value {
    b.insert_value(
        OpSpec::new("affine.apply")
            .operands(operands.iter().copied())
            .attr("map", Attribute::AffineMap(map))
            .results([Type::Index]),
    )
}

/// The lower and upper bounds of an `affine.for`.
pub fn for_bounds(m: &Module, op: Op) -> Option<(Bound, Bound)> {
    let lb = m.attr(op, "lowerBoundMap")?.as_affine_map()?.clone();
    let ub = m.attr(op, "upperBoundMap")?.as_affine_map()?.clone();
    let operands = m.operands(op);
    let n = lb.num_inputs().min(operands.len());
    let lower = Bound {
        map: lb,
        operands: operands[..n].to_vec(),
    };
    let upper = Bound {
        map: ub,
        operands: operands[n..].to_vec(),
    };
    Some((lower, upper))
}

pub fn for_step(m: &Module, op: Op) -> Option<i64> {
    m.attr(op, "step")?.as_int()
}

/// Constant `(lower, upper, step)` of an `affine.for`, when its bounds are constants.
pub fn constant_bounds(m: &Module, op: Op) -> Option<(i64, i64, i64)> {
    let (lb, ub) = for_bounds(m, op)?;
    Some((
        lb.map.single_constant()?,
        ub.map.single_constant()?,
        for_step(m, op)?,
    ))
}

/// The induction variable of an `affine.for`.
pub fn induction_var(m: &Module, op: Op) -> Option<Value> {
    m.entry_block(op, 0)
        .and_then(|b| m.block_args(b).first().copied())
}

/// The stage an op belongs to: the `op_name` of the outermost
/// `affine.for` enclosing it (itself included), as lowering names a
/// statement's loop nest.
pub fn stage_of(m: &Module, op: Op) -> Option<&str> {
    let mut outermost = op;
    let mut cur = m.parent_op(op);
    while let Some(p) = cur {
        if m.op_name(p) == "affine.for" {
            outermost = p;
        }
        cur = m.parent_op(p);
    }
    m.attr(outermost, "op_name").and_then(|a| a.as_str())
}

/// The map and its operands of an access op (`affine.load`/`affine.store`).
pub fn access_map(m: &Module, op: Op) -> Option<(&AffineMap, &[Value])> {
    let map = m.attr(op, "map")?.as_affine_map()?;
    let first = first_map_operand(m.op_name(op)).filter(|f| *f > 0)?;
    Some((map, m.operands(op).get(first..)?))
}

/// Where the map operands start among the operands of an op with a `map`
/// attribute: after the memref of a load, after the value and memref of a
/// store, at once for `affine.apply`/`min`/`max`.
fn first_map_operand(op_name: &str) -> Option<usize> {
    match op_name {
        "affine.load" => Some(1),
        "affine.store" => Some(2),
        "affine.apply" | "affine.min" | "affine.max" => Some(0),
        _ => None,
    }
}

/// Gives an op with a `map` attribute (`affine.load`, `affine.store`,
/// `affine.apply`/`min`/`max`) a new map and map operands, keeping the
/// operands before them (the stored value, the memref). Returns `false`,
/// changing nothing, for any other op.
pub fn set_map(m: &mut Module, op: Op, map: AffineMap, map_operands: &[Value]) -> bool {
    let Some(first) = first_map_operand(m.op_name(op)) else {
        return false;
    };
    let mut all = m.operands(op)[..first.min(m.operands(op).len())].to_vec();
    all.extend_from_slice(map_operands);
    m.set_operands(op, all);
    m.set_attr(op, "map", Attribute::AffineMap(map));
    true
}

/// The memref an access op reads or writes.
pub fn access_memref(m: &Module, op: Op) -> Option<Value> {
    match m.op_name(op) {
        "affine.load" => m.operands(op).first().copied(),
        "affine.store" => m.operands(op).get(1).copied(),
        _ => None,
    }
}

/// `map` over `operands` with every dimension operand equal to `old`
/// replaced by `expr`, an affine expression whose dimensions `d0, d1, ...`
/// stand for `new`. `new` values become dimension operands (reused when
/// already one); `old` no longer appears among the returned operands
/// unless it was also a symbol operand.
fn substitute_in_map(
    results: &[AffineExpr],
    num_dims: u32,
    num_syms: u32,
    operands: &[Value],
    old: Value,
    new: &[Value],
    expr: &AffineExpr,
) -> (Vec<AffineExpr>, u32, Vec<Value>) {
    let d = (num_dims as usize).min(operands.len());
    let mut dims: Vec<Value> = operands[..d]
        .iter()
        .filter(|v| **v != old)
        .copied()
        .collect();
    let position = |dims: &mut Vec<Value>, v: Value| -> u32 {
        match dims.iter().position(|x| *x == v) {
            Some(p) => p as u32,
            None => {
                dims.push(v);
                (dims.len() - 1) as u32
            }
        }
    };
    let new_dims: Vec<AffineExpr> = new
        .iter()
        .map(|v| AffineExpr::Dim(position(&mut dims, *v)))
        .collect();
    let replacement = expr.substitute(&new_dims, &[]);
    let dim_subst: Vec<AffineExpr> = operands[..d]
        .iter()
        .map(|v| {
            if *v == old {
                replacement.clone()
            } else {
                AffineExpr::Dim(position(&mut dims, *v))
            }
        })
        .collect();
    let syms: Vec<AffineExpr> = (0..num_syms).map(AffineExpr::Sym).collect();
    let results: Vec<AffineExpr> = results
        .iter()
        .map(|e| e.substitute(&dim_subst, &syms).simplify())
        .collect();
    compact_dims(results, &dims, num_syms, &operands[d..])
}

/// Renumbers the dims of `results` (over the operands `dims`, then
/// `num_syms` symbols bound to `syms`) in order of first use and drops the
/// unused ones, so the op prints in its pretty form; returns the results,
/// the new dim count and the operands (dims, then `syms`).
pub fn compact_dims(
    results: Vec<AffineExpr>,
    dims: &[Value],
    num_syms: u32,
    syms: &[Value],
) -> (Vec<AffineExpr>, u32, Vec<Value>) {
    let sym_exprs: Vec<AffineExpr> = (0..num_syms).map(AffineExpr::Sym).collect();
    let mut order: Vec<u32> = Vec::new();
    for e in &results {
        e.walk(&mut |x| {
            if let AffineExpr::Dim(i) = x {
                if !order.contains(i) {
                    order.push(*i);
                }
            }
        });
    }
    let renumber: Vec<AffineExpr> = (0..dims.len() as u32)
        .map(|i| {
            let at = order.iter().position(|o| *o == i).unwrap_or(0);
            AffineExpr::Dim(at as u32)
        })
        .collect();
    let results = results
        .iter()
        .map(|e| e.substitute(&renumber, &sym_exprs))
        .collect();
    let mut operands_out: Vec<Value> = order.iter().map(|i| dims[*i as usize]).collect();
    let num_dims = operands_out.len() as u32;
    operands_out.extend_from_slice(syms);
    (results, num_dims, operands_out)
}

/// Replaces the uses of `old` as a dimension operand of `op` (an
/// `affine.load`, `affine.store`, `affine.apply`/`min`/`max`, `affine.for`
/// bound or `affine.if` condition) by `expr`, whose dimensions `d0, d1,
/// ...` are the values `new`: the op's map is rewritten and `new` become
/// its operands. Returns `false`, changing nothing, for any other op; the
/// caller then materializes `expr` with an `affine.apply`.
pub fn substitute_dim(
    m: &mut Module,
    op: Op,
    old: Value,
    new: &[Value],
    expr: &AffineExpr,
) -> bool {
    let name = m.op_name(op).to_string();
    let operands = m.operands(op).to_vec();
    if let Some(first) = first_map_operand(&name) {
        let Some(map) = m
            .attr(op, "map")
            .and_then(Attribute::as_affine_map)
            .cloned()
        else {
            return false;
        };
        if operands.len() < first {
            return false;
        }
        let (results, num_dims, map_operands) = substitute_in_map(
            &map.results,
            map.num_dims,
            map.num_syms,
            &operands[first..],
            old,
            new,
            expr,
        );
        set_map(
            m,
            op,
            AffineMap::new(num_dims, map.num_syms, results),
            &map_operands,
        );
        return true;
    }
    match name.as_str() {
        "affine.for" => {
            let Some((lower, upper)) = for_bounds(m, op) else {
                return false;
            };
            let mut all = Vec::new();
            for (bound, attr) in [(lower, "lowerBoundMap"), (upper, "upperBoundMap")] {
                let (results, num_dims, ops) = substitute_in_map(
                    &bound.map.results,
                    bound.map.num_dims,
                    bound.map.num_syms,
                    &bound.operands,
                    old,
                    new,
                    expr,
                );
                let map = AffineMap::new(num_dims, bound.map.num_syms, results);
                m.set_attr(op, attr, Attribute::AffineMap(map));
                all.extend(ops);
            }
            m.set_operands(op, all);
            true
        }
        "affine.if" => {
            let Some(set) = m
                .attr(op, "condition")
                .and_then(Attribute::as_integer_set)
                .cloned()
            else {
                return false;
            };
            let exprs: Vec<AffineExpr> = set.constraints.iter().map(|(e, _)| e.clone()).collect();
            let (results, num_dims, ops) = substitute_in_map(
                &exprs,
                set.num_dims,
                set.num_syms,
                &operands,
                old,
                new,
                expr,
            );
            let constraints = results
                .into_iter()
                .zip(set.constraints.iter().map(|(_, eq)| *eq))
                .collect();
            let set = IntegerSet {
                num_dims,
                num_syms: set.num_syms,
                constraints,
            };
            m.set_attr(op, "condition", Attribute::IntegerSet(set));
            m.set_operands(op, ops);
            true
        }
        _ => false,
    }
}

fn check_map_operands(m: &Module, map: &AffineMap, operands: &[Value]) -> Result<(), String> {
    map.check()?;
    if map.num_inputs() != operands.len() {
        return Err(format!(
            "map `{map}` takes {} operand(s), has {}",
            map.num_inputs(),
            operands.len()
        ));
    }
    if let Some(v) = operands.iter().find(|v| *m.value_type(**v) != Type::Index) {
        return Err(format!(
            "map operands must be `index`, found `{}`",
            m.value_type(*v)
        ));
    }
    Ok(())
}

fn map_attr<'m>(m: &'m Module, op: Op, name: &str) -> Result<&'m AffineMap, String> {
    m.attr(op, name)
        .and_then(Attribute::as_affine_map)
        .ok_or_else(|| format!("requires an affine map attribute `{name}`"))
}

fn check_access(m: &Module, op: Op, memref: Value, indices: &[Value]) -> Result<Type, String> {
    let map = map_attr(m, op, "map")?;
    check_map_operands(m, map, indices)?;
    let Type::MemRef(mt) = m.value_type(memref) else {
        return Err(format!(
            "expects a memref, found `{}`",
            m.value_type(memref)
        ));
    };
    if map.results.len() != mt.rank() {
        return Err(format!(
            "map has {} result(s) but the memref has rank {}",
            map.results.len(),
            mt.rank()
        ));
    }
    Ok((*mt.elem).clone())
}

pub(crate) fn verify(m: &Module, op: Op) -> Result<(), String> {
    match m.op_name(op) {
        "affine.for" => {
            if !m.results(op).is_empty() {
                return Err("loop-carried values (iter_args) are not supported".into());
            }
            let lb = map_attr(m, op, "lowerBoundMap")?;
            let ub = map_attr(m, op, "upperBoundMap")?;
            if lb.results.is_empty() || ub.results.is_empty() {
                return Err("bound maps need at least one result".into());
            }
            let n = lb.num_inputs() + ub.num_inputs();
            if n != m.operands(op).len() {
                return Err(format!(
                    "bound maps take {n} operand(s), the loop has {}",
                    m.operands(op).len()
                ));
            }
            let (lower, upper) = for_bounds(m, op).ok_or("malformed bounds")?;
            check_map_operands(m, &lower.map, &lower.operands)?;
            check_map_operands(m, &upper.map, &upper.operands)?;
            match for_step(m, op) {
                Some(s) if s > 0 => {}
                _ => return Err("requires a positive `step`".into()),
            }
            let regions = m.op_regions(op);
            if regions.len() != 1 || m.region_blocks(regions[0]).len() != 1 {
                return Err("expects one region with one block".into());
            }
            let body = m.region_blocks(regions[0])[0];
            if m.block_args(body).len() != 1 || *m.value_type(m.block_args(body)[0]) != Type::Index
            {
                return Err("the body block needs exactly one `index` argument".into());
            }
            Ok(())
        }
        "affine.if" => {
            let set = m
                .attr(op, "condition")
                .and_then(Attribute::as_integer_set)
                .ok_or("requires an integer set `condition`")?;
            if set.num_inputs() != m.operands(op).len() {
                return Err(format!(
                    "condition takes {} operand(s), has {}",
                    set.num_inputs(),
                    m.operands(op).len()
                ));
            }
            if m.op_regions(op).len() != 2 {
                return Err("expects a then and an else region".into());
            }
            if m.region_blocks(m.op_regions(op)[0]).len() != 1 {
                return Err("the then region needs one block".into());
            }
            Ok(())
        }
        "affine.load" => {
            expect_counts(m, op, m.operands(op).len().max(1), 1)?;
            let operands = m.operands(op);
            let elem = check_access(m, op, operands[0], &operands[1..])?;
            if *m.value_type(m.result(op, 0)) != elem {
                return Err(format!(
                    "result type `{}` differs from the element type `{elem}`",
                    m.value_type(m.result(op, 0))
                ));
            }
            Ok(())
        }
        "affine.store" => {
            if m.operands(op).len() < 2 {
                return Err("expects a value and a memref".into());
            }
            expect_counts(m, op, m.operands(op).len(), 0)?;
            let operands = m.operands(op);
            let elem = check_access(m, op, operands[1], &operands[2..])?;
            if *m.value_type(operands[0]) != elem {
                return Err(format!(
                    "stores `{}` into a memref of `{elem}`",
                    m.value_type(operands[0])
                ));
            }
            Ok(())
        }
        "affine.apply" | "affine.min" | "affine.max" => {
            expect_counts(m, op, m.operands(op).len(), 1)?;
            let map = map_attr(m, op, "map")?;
            check_map_operands(m, map, m.operands(op))?;
            if m.op_name(op) == "affine.apply" && map.results.len() != 1 {
                return Err("the map must have one result".into());
            }
            if *m.value_type(m.result(op, 0)) != Type::Index {
                return Err("the result must be `index`".into());
            }
            Ok(())
        }
        "affine.yield" => {
            if !m.operands(op).is_empty() {
                return Err("yields no values in accc (no iter_args)".into());
            }
            match m.parent_op(op).map(|p| m.op_name(p)) {
                Some("affine.for" | "affine.if" | "affine.parallel") => Ok(()),
                _ => Err("must terminate an `affine.for` or `affine.if` body".into()),
            }
        }
        _ => Ok(()),
    }
}

// ---- Meaning -------------------------------------------------------------
//
// Affine expressions evaluate over `index` (64-bit, wrap-around): `+`, `*`,
// `floordiv`, `ceildiv` and `mod` (the divisor's sign). Loads, stores and
// loops are modelled by each engine; what they share is this evaluation.

use crate::semantics::{derived, Domain, Fault, IntCompare, IntOp};

/// The value of `expr` with `operands` bound to its dims, then symbols.
pub fn eval_expr<D: Domain>(
    d: &mut D,
    expr: &AffineExpr,
    num_dims: u32,
    operands: &[D::Value],
) -> Result<D::Value, Fault> {
    let rec = |d: &mut D, e: &AffineExpr| eval_expr(d, e, num_dims, operands);
    Ok(match expr {
        AffineExpr::Dim(i) => operands[*i as usize].clone(),
        AffineExpr::Sym(i) => operands[(num_dims + i) as usize].clone(),
        AffineExpr::Const(c) => d.int_const(64, *c as u64),
        AffineExpr::Add(a, b) | AffineExpr::Mul(a, b) => {
            let (x, y) = (rec(d, a)?, rec(d, b)?);
            let op = if matches!(expr, AffineExpr::Add(..)) {
                IntOp::Add
            } else {
                IntOp::Mul
            };
            d.int_op(op, 64, &x, &y)?
        }
        AffineExpr::FloorDiv(a, b) => {
            let (x, y) = (rec(d, a)?, rec(d, b)?);
            derived::floor_div(d, 64, &x, &y)?
        }
        AffineExpr::CeilDiv(a, b) => {
            let (x, y) = (rec(d, a)?, rec(d, b)?);
            derived::ceil_div(d, 64, &x, &y)?
        }
        AffineExpr::Mod(a, b) => {
            let (x, y) = (rec(d, a)?, rec(d, b)?);
            derived::floor_mod(d, 64, &x, &y)?
        }
    })
}

/// The results of `map` applied to `operands` (dims, then symbols).
pub fn eval_map<D: Domain>(
    d: &mut D,
    map: &AffineMap,
    operands: &[D::Value],
) -> Result<Vec<D::Value>, Fault> {
    map.results
        .iter()
        .map(|e| eval_expr(d, e, map.num_dims, operands))
        .collect()
}

/// Whether every constraint of `set` holds (an `i1`): `e >= 0` or `e == 0`.
pub fn eval_set<D: Domain>(
    d: &mut D,
    set: &IntegerSet,
    operands: &[D::Value],
) -> Result<D::Value, Fault> {
    let mut all = d.int_const(1, 1);
    let zero = d.int_const(64, 0);
    for (expr, is_equality) in &set.constraints {
        let v = eval_expr(d, expr, set.num_dims, operands)?;
        let holds = if *is_equality {
            d.int_compare(IntCompare::Eq, 64, &v, &zero)
        } else {
            d.int_compare(IntCompare::Sle, 64, &zero, &v)
        };
        all = d.int_op(IntOp::And, 1, &all, &holds)?;
    }
    Ok(all)
}

/// The greatest (`max`) or least result of `map`: the lower and upper bound
/// of an `affine.for`, and `affine.max`/`affine.min`.
pub fn eval_extremum<D: Domain>(
    d: &mut D,
    map: &AffineMap,
    operands: &[D::Value],
    max: bool,
) -> Result<D::Value, Fault> {
    let mut values = eval_map(d, map, operands)?.into_iter();
    let Some(mut best) = values.next() else {
        return Err(Fault::EmptyMap);
    };
    for v in values {
        best = derived::int_extremum(d, 64, max, true, &best, &v);
    }
    Ok(best)
}

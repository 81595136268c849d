//! `buf = buffer_at(tensor, loop, mem = space)`.
//!
//! Stages the box of `tensor` that one iteration of `loop` touches in a
//! new local buffer (`memref.alloc` at the kernel's entry, in memory space
//! `space`): at the start of each iteration a copy-in nest fills it from
//! the tensor, at the end a copy-out nest writes it back, and every access
//! of `tensor` inside the loop is rewritten to the buffer's local index
//! `index - base`. The box comes from the accesses' index expressions and
//! the ranges of the loops inside `loop` ([`super::access::footprint`]);
//! copies are clamped to the tensor's bounds where the box can reach past
//! them (guarded tails, halos).
//!
//! The copy-out exists when the loop writes the tensor. The copy-in is left
//! out when the first access is a store that covers the whole box and every
//! later access reads what that store wrote in the same iteration (GEMM's
//! `C[i, j] = 0` before its reduction), because the buffer's old contents
//! are then never observed.

use accc_ir::attrs::Attribute;
use accc_ir::dialects::{affine, memref};
use accc_ir::types::MemorySpace;
use accc_ir::{Builder, Module, Op, Type, Value};

use super::access::{
    accesses, copy_bounds, elem_type, find_tensor, footprint, iv_range, lin_range, memref_type,
    tensors, Access, Footprint, Lin,
};
use super::loops::{find_loop, internal, value_hint, LoopRef};
use super::{Args, ScheduleError, StepReport};

pub(crate) fn apply(m: &mut Module, func: Op, args: &Args) -> Result<StepReport, ScheduleError> {
    let s = StagingArgs::parse(m, func, args, "buffer", |mem| mem.unwrap_or("buf"))?;
    buffer_at(m, func, s.tensor, s.tname, &s.at, s.mem, &s.name).map_err(|e| e.at(args.span(1)))
}

/// The arguments of a step that stages a tensor in a new buffer at a loop,
/// `name = primitive(tensor, loop, mem = ...)`: `buffer_at` and `reuse_at`.
pub(crate) struct StagingArgs<'a> {
    pub tname: &'a str,
    pub tensor: Value,
    pub at: LoopRef,
    pub mem: Option<&'a str>,
    /// The bound name of the new buffer, or `<tensor>_<suffix>`.
    pub name: String,
}

impl<'a> StagingArgs<'a> {
    /// Parses and resolves the arguments; `what` is the verb in messages
    /// (`the tensor to buffer`), `suffix` names the buffer from `mem`.
    pub(crate) fn parse(
        m: &Module,
        func: Op,
        args: &'a Args,
        what: &str,
        suffix: impl Fn(Option<&str>) -> &str,
    ) -> Result<Self, ScheduleError> {
        args.expect(2, 2, &["mem"])?;
        let tname = args.name(0, &format!("the tensor to {what}"))?;
        let tensor = find_tensor(m, func, tname).map_err(|e| e.at(args.span(0)))?;
        let at = find_loop(m, func, args.name(1, &format!("the loop to {what} at"))?)
            .map_err(|e| e.at(args.span(1)))?;
        if let Some(alloc) = m
            .defining_op(tensor)
            .filter(|a| m.is_proper_ancestor(at.op, *a))
        {
            return Err(ScheduleError::new(format!(
                "`{tname}` is allocated inside loop `{}` (at {}): each iteration has its own, so there is nothing to stage across it",
                at.name,
                m.op(alloc).loc
            ))
            .at(args.span(1))
            .with_hint(format!("{what} it at a loop nested inside its allocation")));
        }
        let mem = args.keyword_name("mem")?;
        let name = new_buffer_name(m, func, args, &format!("{tname}_{}", suffix(mem)))?;
        Ok(StagingArgs {
            tname,
            tensor,
            at,
            mem,
            name,
        })
    }
}

/// The name a step binds for its new buffer, or a fresh one from `base`;
/// an error if the bound name is already a tensor's.
fn new_buffer_name(m: &Module, func: Op, args: &Args, base: &str) -> Result<String, ScheduleError> {
    let name = args.binds(vec![fresh_name(m, func, base)])?.remove(0);
    if tensors(m, func).iter().any(|(n, _)| *n == name) {
        return Err(ScheduleError::new(format!(
            "the name `{name}` is already a tensor or buffer of this kernel"
        )));
    }
    Ok(name)
}

/// `base`, `base_1`, `base_2`, ...: the first not yet naming a tensor.
pub(crate) fn fresh_name(m: &Module, func: Op, base: &str) -> String {
    let taken: Vec<String> = tensors(m, func).into_iter().map(|(n, _)| n).collect();
    super::loops::fresh(base, &taken)
}

/// Which way a copy nest moves data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    In,
    Out,
}

impl Direction {
    pub fn attr(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

pub(crate) fn buffer_at(
    m: &mut Module,
    func: Op,
    tensor: Value,
    tname: &str,
    l: &LoopRef,
    mem: Option<&str>,
    name: &str,
) -> Result<StepReport, ScheduleError> {
    let acc = accesses(m, tensor, tname, l.op)?;
    if acc.is_empty() {
        return Err(ScheduleError::new(format!(
            "`{tname}` is not accessed inside loop `{}`",
            l.name
        )));
    }
    let fp = footprint(m, &acc, l.op, tname)?;
    let tt = memref_type(m, tensor)?;
    if let Some(d) = fp.extent.iter().position(|e| *e <= 0 || *e > 1 << 40) {
        return Err(ScheduleError::new(format!(
            "the box of `{tname}` in loop `{}` has extent {} in dimension {d}",
            l.name, fp.extent[d]
        )));
    }
    let needs_in = !init_covers(m, &acc, &fp, &tt.shape, l.op);
    let (local, local_ty) = stage_box(m, func, &acc, &fp, &tt, mem, name, tname, l.op)?;
    let writes = acc.iter().any(|a| a.is_write);

    let body = m
        .entry_block(l.op, 0)
        .ok_or_else(|| internal("a loop without a body"))?;
    let loc = m.op(l.op).loc.clone();
    if needs_in {
        let first = m.block_ops(body)[0];
        let mut b = Builder::before(m, first).ok_or_else(|| internal("detached op"))?;
        b.set_loc(loc.clone());
        build_copy(b, tensor, local, &fp, &[], &tt.shape, Direction::In, name);
    }
    if writes {
        let mut b = Builder::before_terminator(m, body);
        b.set_loc(loc.clone());
        build_copy(b, tensor, local, &fp, &[], &tt.shape, Direction::Out, name);
    }
    let copies = match (needs_in, writes) {
        (true, true) => "copy-in and copy-out",
        (true, false) => "copy-in",
        (false, true) => "copy-out (the first store covers the box, so no copy-in)",
        (false, false) => "no copies",
    };
    Ok(StepReport {
        summary: format!(
            "staged the {} box of `{tname}` touched by one iteration of `{}` in `{name}` ({local_ty}) with a {copies}; {} access(es) rewritten",
            box_text(&fp.extent),
            l.name,
            acc.len()
        ),
        names: vec![name.to_string()],
    })
}

/// A box's extents as `4x2x3`, for step reports.
pub(crate) fn box_text(extent: &[i64]) -> String {
    extent
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("x")
}

/// Allocates a buffer of the footprint's shape (in `mem`) named `name` and
/// points the accesses `acc` (inside `scope`) at it, at `index - base`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn stage_box(
    m: &mut Module,
    func: Op,
    acc: &[Access],
    fp: &Footprint,
    tt: &accc_ir::types::MemRefType,
    mem: Option<&str>,
    name: &str,
    tname: &str,
    scope: Op,
) -> Result<(Value, Type), ScheduleError> {
    let ty = Type::memref(
        fp.extent.clone(),
        elem_type(tt),
        mem.map(|s| MemorySpace::Name(s.to_string())),
    );
    let local = alloc_buffer(m, func, ty.clone(), name, tname)?;
    for a in acc {
        let index: Vec<Lin> = a
            .index
            .iter()
            .zip(&fp.base)
            .map(|(i, b)| i.sub(b))
            .collect();
        redirect(m, a.op, local, &index);
    }
    remove_dead_applies(m, scope);
    Ok((local, ty))
}

/// A `memref.alloc` of `ty` at the start of `func` (and its dealloc before
/// the return), named `name`, recorded as a buffer of `of`.
pub(crate) fn alloc_buffer(
    m: &mut Module,
    func: Op,
    ty: Type,
    name: &str,
    of: &str,
) -> Result<Value, ScheduleError> {
    let entry = m
        .entry_block(func, 0)
        .ok_or_else(|| internal("a kernel without a body"))?;
    let mut b = Builder::at_start(m, entry);
    let local = memref::build_alloc(&mut b, ty, false);
    let alloc = m.defining_op(local).ok_or_else(|| internal("no alloc"))?;
    m.set_attr(alloc, "accc.buffer", Attribute::string(name));
    m.set_attr(alloc, "accc.buffer_of", Attribute::string(of));
    m.set_name_hint(local, value_hint(name));
    let mut b = Builder::before_terminator(m, entry);
    memref::build_dealloc(&mut b, local);
    Ok(local)
}

/// Points access `op` at `memref` with the given index.
pub(crate) fn redirect(m: &mut Module, op: Op, memref: Value, index: &[Lin]) {
    let (map, operands) = index_map(index);
    let memref_at = usize::from(m.op_name(op) == "affine.store");
    m.set_operand(op, memref_at, memref);
    affine::set_map(m, op, map, &operands);
}

/// Erases `affine.apply` ops nested in `scope` that nothing uses any more.
pub(crate) fn remove_dead_applies(m: &mut Module, scope: Op) {
    loop {
        let dead: Vec<Op> = m
            .walk_ops(scope)
            .into_iter()
            .filter(|&o| m.op_name(o) == "affine.apply" && m.uses(m.result(o, 0)).is_empty())
            .collect();
        if dead.is_empty() {
            return;
        }
        for o in dead {
            let _ = m.erase_op(o);
        }
    }
}

/// Builds, at `b`, the nest copying the footprint's box between `tensor`
/// (of shape `shape`) and `local` (at offset `local_at` per dimension;
/// empty for the origin); marks its outermost op(s) with `accc.copy` and
/// `accc.buffer`. Returns the marked ops.
#[allow(clippy::too_many_arguments)]
pub(crate) fn build_copy(
    mut b: Builder,
    tensor: Value,
    local: Value,
    fp: &Footprint,
    local_at: &[i64],
    shape: &[i64],
    dir: Direction,
    name: &str,
) -> Vec<Op> {
    let mut ivs = Vec::new();
    let mut outermost = None;
    for (d, (base, extent)) in fp.base.iter().zip(&fp.extent).enumerate() {
        let (lower, upper) = copy_bounds(b.module, base, *extent, shape[d]);
        let (op, iv, body) = affine::build_for(&mut b, lower, upper, 1);
        outermost.get_or_insert(op);
        b.module
            .set_name_hint(iv, format!("{}_{d}", value_hint(name)));
        ivs.push(iv);
        let loc = b.loc().clone();
        b = Builder::before_terminator(b.module, body);
        b.set_loc(loc);
    }
    let global: Vec<Lin> = fp
        .base
        .iter()
        .zip(&ivs)
        .map(|(base, t)| {
            let mut l = base.clone();
            l.add_scaled(&Lin::var(*t), 1);
            l
        })
        .collect();
    let local_index: Vec<Lin> = ivs
        .iter()
        .enumerate()
        .map(|(d, t)| {
            let mut l = Lin::var(*t);
            l.constant = local_at.get(d).copied().unwrap_or(0);
            l
        })
        .collect();
    let (src, src_index, dst, dst_index) = match dir {
        Direction::In => (tensor, &global, local, &local_index),
        Direction::Out => (local, &local_index, tensor, &global),
    };
    let (load_map, load_operands) = index_map(src_index);
    let v = affine::build_load(&mut b, src, load_map, &load_operands);
    let (store_map, store_operands) = index_map(dst_index);
    let store = affine::build_store(&mut b, v, dst, store_map, &store_operands);
    let marked = match outermost {
        Some(op) => vec![op],
        // A rank-0 box: the load and the store are the copy.
        None => b.module.defining_op(v).into_iter().chain([store]).collect(),
    };
    for &op in &marked {
        b.module
            .set_attr(op, "accc.copy", Attribute::string(dir.attr()));
        b.module
            .set_attr(op, "accc.buffer", Attribute::string(name));
    }
    marked
}

/// An access map and operands for an index given as linear forms.
pub(crate) fn index_map(index: &[Lin]) -> (accc_ir::AffineMap, Vec<Value>) {
    let mut dims = Vec::new();
    let exprs: Vec<_> = index.iter().map(|l| l.to_expr(&mut dims)).collect();
    let (exprs, num_dims, operands) = affine::compact_dims(exprs, &dims, 0, &[]);
    (accc_ir::AffineMap::new(num_dims, 0, exprs), operands)
}

/// Does the first access, a store, write the whole box in every iteration
/// before any other access observes it? Then the buffer needs no copy-in.
fn init_covers(m: &Module, acc: &[Access], fp: &Footprint, shape: &[i64], scope: Op) -> bool {
    let Some(w) = acc.first().filter(|a| a.is_write) else {
        return false;
    };
    // The store's enclosing ops up to the scope: loops only, one per
    // dimension, each running 0..extent over exactly the local index.
    let mut loops = Vec::new();
    let mut cur = m.parent_op(w.op);
    while let Some(p) = cur.filter(|p| *p != scope) {
        if m.op_name(p) != "affine.for" {
            return false;
        }
        loops.push(p);
        cur = m.parent_op(p);
    }
    if cur != Some(scope) {
        return false;
    }
    let mut ivs = std::collections::BTreeSet::new();
    for (d, (index, base)) in w.index.iter().zip(&fp.base).enumerate() {
        let local = index.sub(base);
        // A dimension of extent 1 at local index 0 (an outer loop's
        // element, `Y[n, p, ..]` in a scope inside `p`) needs no loop.
        if fp.extent[d] == 1 && local.terms.is_empty() && local.constant == 0 {
            match lin_range(m, base) {
                Some((lo, hi)) if lo >= 0 && hi < shape[d] => continue,
                _ => return false,
            }
        }
        let Some((&iv, &1)) = local.terms.iter().next() else {
            return false;
        };
        if local.terms.len() != 1 || local.constant != 0 {
            return false;
        }
        if !ivs.insert(iv) {
            return false;
        }
        let owner = loops
            .iter()
            .copied()
            .find(|l| affine::induction_var(m, *l) == Some(iv));
        let Some(owner) = owner else { return false };
        if affine::constant_bounds(m, owner) != Some((0, fp.extent[d], 1))
            || iv_range(m, iv) != Some((0, fp.extent[d] - 1))
        {
            return false;
        }
        // The copy-out is not clamped, so it writes back exactly the box.
        match lin_range(m, base) {
            Some((lo, hi)) if lo >= 0 && hi.saturating_add(fp.extent[d]) <= shape[d] => {}
            _ => return false,
        }
    }
    // Every loop around the store runs over one dimension of the box.
    if ivs.len() != loops.len() {
        return false;
    }
    // Either the store's nest fills the whole box before any later op of
    // the loop body accesses it, or every later access touches the element
    // this iteration's store wrote, after the store in the store's block.
    let Some(&nest) = loops.last() else {
        return false;
    };
    let after = |a: &Access, anchor: Op| -> bool {
        let Some((block, at)) = m.op_position(anchor) else {
            return false;
        };
        let mut cur = a.op;
        loop {
            match m.op_position(cur) {
                Some((b, i)) if b == block => return i > at,
                _ => match m.parent_op(cur) {
                    Some(p) => cur = p,
                    None => return false,
                },
            }
        }
    };
    acc[1..].iter().all(|a| after(a, nest))
        || acc[1..]
            .iter()
            .all(|a| a.index == w.index && after(a, w.op))
}

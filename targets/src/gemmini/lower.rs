//! Lowering scheduled tensor IR to the Gemmini dialect: every loop nest
//! that moves data between global memory and the scratchpad or
//! accumulator (the copies `buffer_at` made, the zeroing of an
//! accumulator tile, an epilogue that scales an accumulator tile to int8)
//! becomes Gemmini instructions, and what cannot is an error naming the
//! nest.
//!
//! A nest is cut into chunks an instruction can move (at most DIM rows, at
//! most `MAX_BLOCK_LEN x DIM` scratchpad or DIM accumulator columns; a
//! remainder becomes its own chunk), and each chunk is tensorized onto the
//! intrinsic it matches (`intrinsics.acc`), so every instruction op means
//! exactly the code it replaced. Global temporaries that are written but
//! never read (an accumulator tile's write-back to a buffer only the
//! epilogue used) are dropped. The result holds only loops, index
//! arithmetic, local buffers and `gemmini.*` ops — what the emitter
//! prints; the driver verifies it against the scheduled IR with the ops
//! expanded.

use accc_ir::affine::AffineExpr;
use accc_ir::dialects::affine::{self, Bound};
use accc_ir::types::Type;
use accc_ir::{Builder, Module, Op, Value, ValueMap};
use accc_passes::schedule::tensorize::{
    match_ignoring_extents, memory_space, tensorize_nest, IntrinsicSet,
};

use super::GemminiError;

/// The two-dimensional data-movement intrinsics, in the order they are
/// tried.
const MOVES: &[&str] = &[
    "gemmini.mvin",
    "gemmini.mvin_acc",
    "gemmini.zero_acc",
    "gemmini.mvout",
    "gemmini.mvout_acc",
    "gemmini.mvout_scale",
    "gemmini.mvout_scale_relu",
];

/// Ops the Gemmini dialect IR may hold besides the instructions.
const STRUCTURE: &[&str] = &[
    "affine.for",
    "affine.yield",
    "affine.apply",
    "arith.constant",
    "memref.alloc",
    "memref.dealloc",
    "func.return",
];

/// Lowers `kernel` in place; returns how many instruction ops it holds.
/// On error the module is partly lowered; the caller discards it.
pub fn lower(
    m: &mut Module,
    kernel: &str,
    intrinsics: &IntrinsicSet,
) -> Result<usize, GemminiError> {
    let func = m
        .lookup_symbol(kernel)
        .ok_or_else(|| GemminiError::Internal(format!("no kernel `{kernel}`")))?;
    drop_dead_temporaries(m, func)?;
    for nest in data_nests(m, func) {
        if !m.is_erased(nest) {
            lower_nest(m, nest, intrinsics)?;
        }
    }
    check_lowered(m, func)?;
    Ok(m.walk_ops(func)
        .into_iter()
        .filter(|o| m.op_name(*o).starts_with("gemmini."))
        .count())
}

/// Is `v` a `memref.alloc` in global memory (a kernel temporary)?
fn global_temporary(m: &Module, v: Value) -> bool {
    m.defining_op(v)
        .is_some_and(|d| m.op_name(d) == "memref.alloc")
        && memory_space(m, v).is_none()
}

/// Removes global temporaries only ever stored to: the stores (with the
/// loop nests that do nothing else), the allocation and its dealloc.
fn drop_dead_temporaries(m: &mut Module, func: Op) -> Result<(), GemminiError> {
    let allocs: Vec<Op> = m
        .walk_ops(func)
        .into_iter()
        .filter(|o| m.op_name(*o) == "memref.alloc" && global_temporary(m, m.result(*o, 0)))
        .collect();
    for alloc in allocs {
        let v = m.result(alloc, 0);
        let users: Vec<Op> = m.uses(v).iter().map(|u| u.op).collect();
        let read = users.iter().any(|u| {
            let name = m.op_name(*u);
            name != "affine.store" && name != "memref.dealloc"
        });
        if read {
            continue;
        }
        let stores: Vec<Op> = users
            .iter()
            .copied()
            .filter(|u| m.op_name(*u) == "affine.store")
            .collect();
        for store in &stores {
            if m.is_erased(*store) {
                continue;
            }
            // The outermost loop whose every store goes to `v` and that
            // does nothing else observable goes with it.
            let mut victim = *store;
            while let Some(parent) = m.parent_op(victim) {
                if m.op_name(parent) != "affine.for" || !only_stores_to(m, parent, v) {
                    break;
                }
                victim = parent;
            }
            if victim == *store {
                // A lone store: its operand computations stay (dead code).
                m.erase_op(*store).map_err(internal)?;
            } else {
                m.erase_op(victim).map_err(internal)?;
            }
        }
        for dealloc in m.uses(v).iter().map(|u| u.op).collect::<Vec<_>>() {
            m.erase_op(dealloc).map_err(internal)?;
        }
        m.erase_op(alloc).map_err(internal)?;
    }
    Ok(())
}

/// Does the loop `l` only load, compute and store to `v`?
fn only_stores_to(m: &Module, l: Op, v: Value) -> bool {
    m.walk_ops(l).into_iter().all(|o| match m.op_name(o) {
        "affine.store" => affine::access_memref(m, o) == Some(v),
        "func.call" => false,
        name => !name.starts_with("gemmini."),
    })
}

fn internal(e: impl std::fmt::Display) -> GemminiError {
    GemminiError::Internal(e.to_string())
}

/// The innermost two loops of every perfect nest whose innermost body is
/// straight-line code touching a local memory, in program order: the
/// candidates for one instruction each (outer loops of a deeper nest, such
/// as the rows of a staged image, stay loops around it). A nest no
/// data-movement instruction matches is left for [`check_lowered`] to
/// report (an untensorized compute nest).
fn data_nests(m: &Module, func: Op) -> Vec<Op> {
    let mut out = Vec::new();
    for l in m.walk_ops(func) {
        if m.op_name(l) != "affine.for" {
            continue;
        }
        let inner_body = body(m, l);
        if inner_body.iter().any(|o| !m.op_regions(*o).is_empty()) {
            continue;
        }
        let Some(parent) = m.parent_op(l).filter(|p| m.op_name(*p) == "affine.for") else {
            continue;
        };
        if body(m, parent) != [l] {
            continue;
        }
        let local = inner_body
            .iter()
            .any(|o| affine::access_memref(m, *o).is_some_and(|v| memory_space(m, v).is_some()));
        if local {
            out.push(parent);
        }
    }
    out
}

fn body(m: &Module, l: Op) -> Vec<Op> {
    let Some(b) = m.entry_block(l, 0) else {
        return Vec::new();
    };
    let ops = m.block_ops(b);
    ops[..ops.len().saturating_sub(1)].to_vec()
}

/// Chunks of one loop of `trips` iterations for an instruction of at most
/// `size`: `(count, size, offset)`.
fn segments(trips: i64, size: i64) -> Vec<(i64, i64, i64)> {
    if trips <= size {
        return vec![(1, trips, 0)];
    }
    let mut s = vec![(trips / size, size, 0)];
    if trips % size > 0 {
        s.push((1, trips % size, trips - trips % size));
    }
    s
}

/// Lowers one data nest.
fn lower_nest(m: &mut Module, nest: Op, intrinsics: &IntrinsicSet) -> Result<(), GemminiError> {
    let loc = m.op(nest).loc.clone();
    let inner = body(m, nest)[0];
    let (Some((0, rows, 1)), Some((0, cols, 1))) = (
        affine::constant_bounds(m, nest),
        affine::constant_bounds(m, inner),
    ) else {
        return Err(not_lowered(
            m,
            nest,
            "its loops must run from 0 with step 1 to constants".into(),
        ));
    };
    let mut reasons = Vec::new();
    for name in MOVES {
        let Some(intr) = intrinsics.get(name) else {
            continue;
        };
        // Does the code match, whatever the sizes?
        if let Err(e) = match_ignoring_extents(m, nest, intr) {
            reasons.push(format!("not `{name}`: {e}"));
            continue;
        }
        let (max_rows, max_cols) = (intr.extents[0], intr.extents[1]);
        for c in chunk(m, nest, rows, cols, max_rows, max_cols)? {
            tensorize_nest(m, c, intr).map_err(|e| GemminiError::Unsupported {
                loc: loc.clone(),
                what: format!("a chunk of this nest does not match `{name}`: {e}"),
            })?;
        }
        return Ok(());
    }
    // Inside a deeper nest: a compute nest left untensorized, reported by
    // `check_lowered` at the nest's head with the hint to tensorize it.
    if m.parent_op(nest)
        .is_some_and(|p| m.op_name(p) == "affine.for" && body(m, p) == [nest])
    {
        return Ok(());
    }
    Err(not_lowered(m, nest, reasons.join("; ")))
}

fn not_lowered(m: &Module, nest: Op, reason: String) -> GemminiError {
    let accesses: Vec<String> = m
        .walk_ops(nest)
        .into_iter()
        .filter_map(|o| affine::access_memref(m, o))
        .filter_map(|v| m.name_hint(v).map(str::to_string))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    GemminiError::Unsupported {
        loc: m.op(nest).loc.clone(),
        what: format!(
            "the loop nest over {} is no Gemmini instruction ({reason})",
            if accesses.is_empty() {
                "no memory".to_string()
            } else {
                accesses.join(", ")
            }
        ),
    }
}

/// Cuts the nest into chunks of at most `max_rows x max_cols` iterations:
/// loops over the chunks around copies of the nest's body. Returns the
/// chunks' inner nests (each ready to tensorize).
fn chunk(
    m: &mut Module,
    nest: Op,
    rows: i64,
    cols: i64,
    max_rows: i64,
    max_cols: i64,
) -> Result<Vec<Op>, GemminiError> {
    if rows <= max_rows && cols <= max_cols {
        return Ok(vec![nest]);
    }
    let inner = body(m, nest)[0];
    let r_iv = affine::induction_var(m, nest).ok_or_else(|| internal("a loop without an iv"))?;
    let c_iv = affine::induction_var(m, inner).ok_or_else(|| internal("a loop without an iv"))?;
    let ops = body(m, inner);
    let mut chunks = Vec::new();
    for (rc, rs, ro) in segments(rows, max_rows) {
        for (cc, cs, co) in segments(cols, max_cols) {
            // A loop over the chunks of a dimension only when there are
            // several; one chunk is index 0.
            let mut at = nest;
            let chunk_loop =
                |m: &mut Module, at: &mut Op, count: i64| -> Result<Option<Value>, GemminiError> {
                    if count == 1 {
                        return Ok(None);
                    }
                    let mut b = Builder::before(m, *at).ok_or_else(|| internal("detached nest"))?;
                    let (_, iv, body) =
                        affine::build_for(&mut b, Bound::constant(0), Bound::constant(count), 1);
                    let y = m
                        .block_terminator(body)
                        .ok_or_else(|| internal("a loop without a yield"))?;
                    *at = y;
                    Ok(Some(iv))
                };
            let rq = chunk_loop(m, &mut at, rc)?;
            let cq = chunk_loop(m, &mut at, cc)?;
            let mut b = Builder::before(m, at).ok_or_else(|| internal("detached nest"))?;
            let (r_loop, ri, rib) =
                affine::build_for(&mut b, Bound::constant(0), Bound::constant(rs), 1);
            let mut b = Builder::before_terminator(m, rib);
            let (_, ci, cib) =
                affine::build_for(&mut b, Bound::constant(0), Bound::constant(cs), 1);
            let mut map = ValueMap::new();
            let yield_op = m
                .block_terminator(cib)
                .ok_or_else(|| internal("a loop without a yield"))?;
            let mut clones = Vec::new();
            for &o in &ops {
                let c = m.clone_op(o, &mut map);
                let (blk, at) = m
                    .op_position(yield_op)
                    .ok_or_else(|| internal("detached yield"))?;
                m.insert_op(blk, at, c).map_err(internal)?;
                clones.push(c);
            }
            // r = ro + rq * rs + ri, c = co + cq * cs + ci.
            let expr = |off: i64, size: i64, chunked: bool| {
                let inner = if chunked {
                    AffineExpr::dim(1)
                } else {
                    AffineExpr::dim(0)
                };
                let base = AffineExpr::constant(off).add(inner);
                if chunked {
                    base.add(AffineExpr::dim(0).mul(AffineExpr::constant(size)))
                } else {
                    base
                }
            };
            let dims = |q: Option<Value>, i: Value| match q {
                Some(q) => vec![q, i],
                None => vec![i],
            };
            for &c in &clones {
                for (iv, new, e) in [
                    (r_iv, dims(rq, ri), expr(ro, rs, rq.is_some())),
                    (c_iv, dims(cq, ci), expr(co, cs, cq.is_some())),
                ] {
                    if m.operands(c).contains(&iv) && !affine::substitute_dim(m, c, iv, &new, &e) {
                        return Err(GemminiError::Unsupported {
                            loc: m.op(c).loc.clone(),
                            what: "a copy that uses its loop variable outside an index".into(),
                        });
                    }
                }
            }
            chunks.push(r_loop);
        }
    }
    m.erase_op(nest).map_err(internal)?;
    Ok(chunks)
}

/// Everything left must be structure or an instruction.
fn check_lowered(m: &Module, func: Op) -> Result<(), GemminiError> {
    for o in m.walk_ops(func) {
        if o == func {
            continue;
        }
        let name = m.op_name(o);
        if name.starts_with("gemmini.") {
            continue;
        }
        if name == "arith.constant" && !matches!(m.value_type(m.result(o, 0)), Type::Index) {
            // Constants of data types are only legal inside instructions.
            if m.uses(m.result(o, 0)).is_empty() {
                continue;
            }
        } else if STRUCTURE.contains(&name) {
            if name == "memref.alloc" && global_temporary(m, m.result(o, 0)) {
                return Err(GemminiError::Unsupported {
                    loc: m.op(o).loc.clone(),
                    what: format!(
                        "`{}` is a temporary in global memory that the kernel reads: keep it in the scratchpad or accumulator (buffer_at)",
                        m.name_hint(m.result(o, 0)).unwrap_or("?")
                    ),
                });
            }
            continue;
        }
        let outer = nest_head(m, o);
        let hint = match outer
            .and_then(|l| m.attr(l, "loop_name"))
            .and_then(|a| a.as_str())
        {
            Some(l) => format!(" in the nest at loop `{l}`"),
            None => String::new(),
        };
        return Err(GemminiError::Unsupported {
            loc: m.op(o).loc.clone(),
            what: format!(
                "`{name}`{hint} runs on the CPU, not on Gemmini: tensorize compute nests (`tensorize(loop, gemmini.matmul)`) and stage every tensor the accelerator touches with buffer_at"
            ),
        });
    }
    Ok(())
}

/// The outermost loop of the perfect nest around `op` (what a
/// `tensorize` would name).
fn nest_head(m: &Module, op: Op) -> Option<Op> {
    let mut head = m.parent_op(op).filter(|p| m.op_name(*p) == "affine.for")?;
    while let Some(p) = m.parent_op(head).filter(|p| m.op_name(*p) == "affine.for") {
        if body(m, p) != [head] {
            break;
        }
        head = p;
    }
    Some(head)
}

#[cfg(test)]
mod tests {
    use super::segments;

    #[test]
    fn chunk_segments() {
        assert_eq!(segments(64, 16), vec![(4, 16, 0)]);
        assert_eq!(segments(8, 16), vec![(1, 8, 0)]);
        assert_eq!(segments(40, 16), vec![(2, 16, 0), (1, 8, 32)]);
        assert_eq!(segments(16, 16), vec![(1, 16, 0)]);
    }
}

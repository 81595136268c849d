//! `tensorize(loop, intrinsic)`: replaces the loop nest at `loop` by one
//! target instruction.
//!
//! An [`Intrinsic`] is a small kernel (written in the DSL, compiled to IR)
//! whose body is a perfect nest of constant loops `0..E` with straight-line
//! code inside: Gemmini's `matmul` is `C[i, j] += i32(A[i, k]) * i32(B[k,
//! j])` over `16 x 16 x 16`. A nest *matches* it when it has the same depth,
//! trip counts of at most `E` (Gemmini computes partial blocks), and the
//! same ops in the same order, where every access of an intrinsic
//! parameter `P[e(ivs)]` is an access `M[origin + e(ivs)]` of one memory
//! `M` with an origin that does not depend on the nest's loops (extra
//! leading dimensions of `M`, such as a double buffer's copy index, belong
//! to the origin), and every scalar parameter is one value from outside.
//! The nest is then replaced by the op `"<intrinsic>"(M, origin..., ...,
//! scalar...) {extents = [...]}`, the origins computed by `affine.apply`
//! before it.
//!
//! The op means its intrinsic: [`expand`] rebuilds the nest from the
//! intrinsic's body, the op's operands and extents. The verifier compares
//! programs with their intrinsic ops expanded, so a tensorize step is
//! *proved*, not trusted, and so is every target lowering built from
//! intrinsics.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use accc_ir::affine::{AffineExpr, AffineMap};
use accc_ir::attrs::Attribute;
use accc_ir::dialects::affine::{self, Bound};
use accc_ir::types::{MemorySpace, Type};
use accc_ir::{Builder, Location, Module, Op, OpSpec, Value, ValueMap};

use super::loops::{body_ops, find_loop, internal};
use super::{Args, ScheduleError, StepReport};

/// Attributes that do not take part in matching: names, locations and the
/// maps of accesses (compared through windows).
const UNMATCHED_ATTRS: &[&str] = &["map", "loop_name", "op_name", "name"];

/// A parameter of an intrinsic kernel.
#[derive(Clone, Debug, PartialEq)]
pub enum Param {
    /// A window into a memory: `rank` trailing dimensions, in `space`
    /// (`None`: global memory, a kernel argument or DRAM buffer).
    Memref {
        name: String,
        rank: usize,
        space: Option<String>,
    },
    Scalar {
        name: String,
        ty: Type,
    },
}

/// A target instruction defined by a kernel.
#[derive(Debug)]
pub struct Intrinsic {
    /// The op name, `gemmini.matmul`.
    pub name: String,
    module: Module,
    func: Op,
    pub params: Vec<Param>,
    /// The nest's loops, outermost first.
    loops: Vec<Op>,
    /// The largest trip count of each loop.
    pub extents: Vec<i64>,
}

/// The intrinsics schedules may tensorize onto, by name.
#[derive(Clone, Debug, Default)]
pub struct IntrinsicSet {
    by_name: BTreeMap<String, Arc<Intrinsic>>,
}

/// Two sets are equal when they hold the same intrinsics (the same `Arc`s).
impl PartialEq for IntrinsicSet {
    fn eq(&self, other: &Self) -> bool {
        self.by_name.len() == other.by_name.len()
            && self
                .by_name
                .iter()
                .zip(&other.by_name)
                .all(|((a, x), (b, y))| a == b && Arc::ptr_eq(x, y))
    }
}

impl IntrinsicSet {
    pub fn insert(&mut self, intrinsic: Intrinsic) {
        self.by_name
            .insert(intrinsic.name.clone(), Arc::new(intrinsic));
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Intrinsic>> {
        self.by_name.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

impl Intrinsic {
    /// The intrinsic `name` defined by the kernel `func` of `module`;
    /// `spaces` gives the memory space of memref parameters by name
    /// (absent: global memory). Errors say what the kernel lacks.
    pub fn new(
        name: &str,
        module: Module,
        func: &str,
        spaces: &[(&str, &str)],
    ) -> Result<Intrinsic, String> {
        let f = module
            .lookup_symbol(func)
            .ok_or_else(|| format!("intrinsic `{name}`: no kernel `{func}`"))?;
        let entry = module
            .entry_block(f, 0)
            .ok_or_else(|| format!("intrinsic `{name}`: kernel `{func}` has no body"))?;
        let mut params = Vec::new();
        for &arg in module.block_args(entry) {
            let pname = module.name_hint(arg).unwrap_or("?").to_string();
            match module.value_type(arg) {
                Type::MemRef(mt) => params.push(Param::Memref {
                    space: spaces
                        .iter()
                        .find(|(p, _)| *p == pname)
                        .map(|(_, s)| s.to_string()),
                    rank: mt.shape.len(),
                    name: pname,
                }),
                ty => params.push(Param::Scalar {
                    name: pname,
                    ty: ty.clone(),
                }),
            }
        }
        let ops = module.block_ops(entry);
        let [nest, _ret] = ops else {
            return Err(format!(
                "intrinsic `{name}`: the kernel must be one loop nest"
            ));
        };
        let mut loops = vec![*nest];
        let mut extents = Vec::new();
        loop {
            let l = *loops.last().expect("loops starts with the nest");
            match affine::constant_bounds(&module, l) {
                Some((0, ub, 1)) if ub > 0 => extents.push(ub),
                _ => {
                    return Err(format!(
                        "intrinsic `{name}`: loops must run from 0 with step 1 to a constant"
                    ))
                }
            }
            match body_ops(&module, l).as_slice() {
                [inner] if module.op_name(*inner) == "affine.for" => loops.push(*inner),
                body if body.iter().all(|o| module.op_regions(*o).is_empty()) => break,
                _ => {
                    return Err(format!(
                    "intrinsic `{name}`: the nest must be perfect, with straight-line code inside"
                ))
                }
            }
        }
        Ok(Intrinsic {
            name: name.to_string(),
            func: f,
            module,
            params,
            loops,
            extents,
        })
    }

    fn ivs(&self) -> Vec<Value> {
        self.loops
            .iter()
            .map(|l| affine::induction_var(&self.module, *l).expect("an affine.for has an iv"))
            .collect()
    }

    fn body(&self) -> Vec<Op> {
        body_ops(&self.module, *self.loops.last().expect("a nest has a loop"))
    }

    fn param_values(&self) -> Vec<Value> {
        let entry = self
            .module
            .entry_block(self.func, 0)
            .expect("checked in new");
        self.module.block_args(entry).to_vec()
    }
}

/// What an intrinsic parameter is bound to in a matched nest.
#[derive(Clone, Debug, PartialEq)]
enum Binding {
    /// `memref[origin(operands)...]`: one origin per dimension of `memref`.
    Window {
        memref: Value,
        origin: AffineMap,
        operands: Vec<Value>,
    },
    Scalar(Value),
}

/// `tensorize(loop, intrinsic)`.
pub(crate) fn apply(
    m: &mut Module,
    func: Op,
    args: &Args,
    intrinsics: &IntrinsicSet,
) -> Result<StepReport, ScheduleError> {
    args.expect(2, 2, &[])?;
    let l = find_loop(m, func, args.name(0, "the loop to tensorize")?)
        .map_err(|e| e.at(args.span(0)))?;
    let name = args.name(1, "the intrinsic")?;
    let intrinsic = intrinsics.get(name).ok_or_else(|| {
        let known: Vec<&str> = intrinsics.names().collect();
        ScheduleError::new(format!("unknown intrinsic `{name}`"))
            .with_hint(if known.is_empty() {
                "no intrinsics are registered".to_string()
            } else {
                format!("intrinsics are: {}", known.join(", "))
            })
            .at(args.span(1))
    })?;
    let op = tensorize_nest(m, l.op, intrinsic).map_err(|e| {
        ScheduleError::new(format!("loop `{}` does not match `{name}`: {e}", l.name))
            .at(args.span(0))
    })?;
    let extents = extents_of(m, op).unwrap_or_default();
    Ok(StepReport {
        summary: format!(
            "the nest at `{}` is now `{name}` over {}",
            l.name,
            extents
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(" x ")
        ),
        names: vec![],
    })
}

/// Replaces the nest at `loop_op` by the intrinsic op; returns it.
pub fn tensorize_nest(m: &mut Module, loop_op: Op, intrinsic: &Intrinsic) -> Result<Op, String> {
    let Matched {
        trips: extents,
        bindings,
        body,
    } = match_nest(m, loop_op, intrinsic, true)?;
    let loc = m.op(loop_op).loc.clone();
    let mut operands = Vec::new();
    // Equal origins (the same constant, the same expression) are one value.
    let mut constants: HashMap<i64, Value> = HashMap::new();
    let mut applies: HashMap<(AffineMap, Vec<Value>), Value> = HashMap::new();
    {
        let mut b = Builder::before(m, loop_op).ok_or("the loop is detached")?;
        for binding in &bindings {
            match binding {
                Binding::Window {
                    memref,
                    origin,
                    operands: map_operands,
                } => {
                    operands.push(*memref);
                    for e in &origin.results {
                        // A constant origin is an index constant, made once.
                        if let Some(c) = e.as_const() {
                            let v = match constants.get(&c) {
                                Some(v) => *v,
                                None => {
                                    let v = accc_ir::dialects::arith::build_constant(
                                        &mut b,
                                        Attribute::index(c),
                                    );
                                    constants.insert(c, v);
                                    v
                                }
                            };
                            operands.push(v);
                            continue;
                        }
                        let (results, dims, ops) =
                            affine::compact_dims(vec![e.clone()], map_operands, 0, &[]);
                        let map = AffineMap::new(dims, 0, results);
                        let v = match applies.get(&(map.clone(), ops.clone())) {
                            Some(v) => *v,
                            None => {
                                let v = affine::build_apply(&mut b, map.clone(), &ops);
                                applies.insert((map, ops), v);
                                v
                            }
                        };
                        operands.push(v);
                    }
                }
                Binding::Scalar(v) => operands.push(*v),
            }
        }
    }
    // The source locations of the matched operations: the expanded nest
    // keeps them, so its statements are the nest's own to the verifier and
    // in messages.
    let body_locs: Vec<Attribute> = body
        .iter()
        .map(|o| match &m.op(*o).loc {
            Location::FileLineCol { file, line, col } => Attribute::Array(vec![
                Attribute::string(file.clone()),
                Attribute::i64(i64::from(*line)),
                Attribute::i64(i64::from(*col)),
            ]),
            Location::Unknown => Attribute::Unit,
        })
        .collect();
    let spec = OpSpec::new(intrinsic.name.clone())
        .operands(operands)
        .attr(
            "extents",
            Attribute::Array(extents.iter().map(|e| Attribute::i64(*e)).collect()),
        )
        .attr("body_locs", Attribute::Array(body_locs))
        .loc(loc);
    let op = m.create_op(spec);
    let (block, at) = m.op_position(loop_op).ok_or("the loop is detached")?;
    m.insert_op(block, at, op).map_err(|e| e.to_string())?;
    m.erase_op(loop_op).map_err(|e| e.to_string())?;
    Ok(op)
}

/// The `extents` of an intrinsic op.
pub fn extents_of(m: &Module, op: Op) -> Option<Vec<i64>> {
    m.attr(op, "extents")?
        .as_array()?
        .iter()
        .map(Attribute::as_int)
        .collect()
}

/// The perfect nest of `depth` loops at `op`, with its trip counts.
fn nest(m: &Module, op: Op, depth: usize) -> Result<(Vec<Op>, Vec<i64>), String> {
    let mut loops = vec![op];
    let mut trips = Vec::new();
    for level in 0..depth {
        let l = loops[level];
        if m.op_name(l) != "affine.for" {
            return Err(format!(
                "it has {level} loops where the intrinsic has {depth}"
            ));
        }
        match affine::constant_bounds(m, l) {
            Some((0, ub, 1)) if ub > 0 => trips.push(ub),
            _ => return Err("its loops must run from 0 with step 1 to a constant".into()),
        }
        if level + 1 < depth {
            match body_ops(m, l).as_slice() {
                [inner] => loops.push(*inner),
                _ => {
                    return Err(format!(
                        "loop {} is not the only op of its parent",
                        level + 1
                    ))
                }
            }
        }
    }
    Ok((loops, trips))
}

/// The value and type an `arith.constant` defines, for matching constants
/// wherever they are defined.
fn constant_of(m: &Module, v: Value) -> Option<(&Attribute, &Type)> {
    let def = m.defining_op(v)?;
    if m.op_name(def) != "arith.constant" {
        return None;
    }
    Some((m.attr(def, "value")?, m.value_type(v)))
}

/// Does the nest at `op` compute what `intr` does, at any trip counts
/// (a lowering then cuts it into chunks the intrinsic covers)?
pub fn match_ignoring_extents(m: &Module, op: Op, intr: &Intrinsic) -> Result<(), String> {
    match_nest(m, op, intr, false).map(|_| ())
}

/// Matches the nest at `op` against `intr`: trip counts and what each
/// parameter is bound to. With `bounded`, the trip counts must fit the
/// intrinsic's.
fn match_nest(m: &Module, op: Op, intr: &Intrinsic, bounded: bool) -> Result<Matched, String> {
    let im = &intr.module;
    let (loops, trips) = nest(m, op, intr.loops.len())?;
    for (t, e) in trips.iter().zip(&intr.extents) {
        if bounded && t > e {
            return Err(format!("a loop runs {t} times, the intrinsic at most {e}"));
        }
    }
    let ivs: Vec<Value> = loops
        .iter()
        .map(|l| affine::induction_var(m, *l).ok_or("a loop without an induction variable"))
        .collect::<Result<_, _>>()?;
    let iivs = intr.ivs();
    let params = intr.param_values();
    let inside = |v: Value| {
        m.defining_op(v)
            .map(|d| m.is_proper_ancestor(op, d))
            .unwrap_or_else(|| ivs.contains(&v))
    };

    // Ops other than constants, pairwise.
    let not_const = |m: &Module, o: &Op| m.op_name(*o) != "arith.constant";
    let body: Vec<Op> = body_ops(m, *loops.last().expect("depth >= 1"))
        .into_iter()
        .filter(|o| not_const(m, o))
        .collect();
    let ibody: Vec<Op> = intr
        .body()
        .into_iter()
        .filter(|o| not_const(im, o))
        .collect();
    if body.len() != ibody.len() {
        return Err(format!(
            "its body has {} operations, the intrinsic's {}",
            body.len(),
            ibody.len()
        ));
    }
    let mut values: HashMap<Value, Value> = iivs.iter().copied().zip(ivs.iter().copied()).collect();
    let mut bindings: Vec<Option<Binding>> = vec![None; params.len()];
    for (&o, &io) in body.iter().zip(&ibody) {
        let name = im.op_name(io);
        if m.op_name(o) != name {
            return Err(format!(
                "`{}` where the intrinsic has `{name}`",
                m.op_name(o)
            ));
        }
        let attrs = |mm: &Module, x: Op| -> BTreeMap<String, Attribute> {
            mm.op(x)
                .attrs
                .iter()
                .filter(|(k, _)| !UNMATCHED_ATTRS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        if attrs(m, o) != attrs(im, io)
            || m.results(o).len() != im.results(io).len()
            || !m.op_regions(o).is_empty()
        {
            return Err(format!("`{name}` differs from the intrinsic's"));
        }
        for (r, ir) in m.results(o).iter().zip(im.results(io)) {
            if m.value_type(*r) != im.value_type(*ir) {
                return Err(format!("`{name}` has another result type"));
            }
            values.insert(*ir, *r);
        }
        let access = affine::access_memref(im, io);
        let n_plain = match name {
            "affine.load" => 1,
            "affine.store" => 2,
            _ => im.operands(io).len(),
        };
        if access.is_none() && m.operands(o).len() != im.operands(io).len() {
            return Err(format!("`{name}` has another number of operands"));
        }
        for (i, (&v, &iv)) in m.operands(o)[..n_plain]
            .iter()
            .zip(&im.operands(io)[..n_plain])
            .enumerate()
        {
            if Some(iv) == access {
                continue; // the memref: bound below with its window
            }
            if let Some(&mapped) = values.get(&iv) {
                if mapped != v {
                    return Err(format!(
                        "operand {i} of `{name}` differs from the intrinsic's"
                    ));
                }
                continue;
            }
            if let Some(p) = params.iter().position(|p| *p == iv) {
                if inside(v) {
                    return Err(format!(
                        "scalar `{}` is computed inside the nest",
                        param_name(&intr.params[p])
                    ));
                }
                bind(&mut bindings, p, Binding::Scalar(v), &intr.params[p])?;
                values.insert(iv, v);
                continue;
            }
            match (constant_of(im, iv), constant_of(m, v)) {
                (Some(a), Some(b)) if a == b => {}
                _ => {
                    return Err(format!(
                        "operand {i} of `{name}` differs from the intrinsic's"
                    ))
                }
            }
        }
        if let Some(imem) = access {
            let mem = affine::access_memref(m, o).ok_or("an access without a memref")?;
            let (imap, iops) =
                affine::access_map(im, io).ok_or("an intrinsic access without a map")?;
            let (map, ops) = affine::access_map(m, o).ok_or("an access without a map")?;
            if let Some(p) = params.iter().position(|p| *p == imem) {
                let window = window(m, mem, map, ops, imap, iops, &iivs, &ivs, &inside)?;
                check_space(m, mem, &intr.params[p])?;
                bind(&mut bindings, p, window, &intr.params[p])?;
            } else {
                // A memory of the intrinsic's own (a scalar `let`).
                if values.get(&imem) != Some(&mem) || map != imap {
                    return Err(format!(
                        "`{name}` accesses another memory than the intrinsic's"
                    ));
                }
                let same = ops.len() == iops.len()
                    && ops.iter().zip(iops).all(|(a, b)| values.get(b) == Some(a));
                if !same {
                    return Err(format!(
                        "`{name}` accesses another element than the intrinsic's"
                    ));
                }
            }
        }
    }
    let bindings = bindings
        .into_iter()
        .zip(&intr.params)
        .map(|(b, p)| b.ok_or_else(|| format!("nothing in the nest binds `{}`", param_name(p))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Matched {
        trips,
        bindings,
        body,
    })
}

/// A nest matched against an intrinsic: its trip counts, what each
/// parameter is bound to, and its innermost operations other than
/// constants (paired in order with the intrinsic's).
struct Matched {
    trips: Vec<i64>,
    bindings: Vec<Binding>,
    body: Vec<Op>,
}

fn param_name(p: &Param) -> &str {
    match p {
        Param::Memref { name, .. } | Param::Scalar { name, .. } => name,
    }
}

fn bind(
    bindings: &mut [Option<Binding>],
    p: usize,
    b: Binding,
    param: &Param,
) -> Result<(), String> {
    match &bindings[p] {
        None => {
            bindings[p] = Some(b);
            Ok(())
        }
        Some(old) if *old == b => Ok(()),
        Some(_) => Err(format!(
            "`{}` is bound to two different windows or values",
            param_name(param)
        )),
    }
}

/// The memory space of a memref value by name (`scratchpad`, or a
/// number); `None` for global memory and for values that are no memory.
pub fn memory_space(m: &Module, v: Value) -> Option<String> {
    match m.value_type(v) {
        Type::MemRef(mt) => match &mt.memory_space {
            Some(MemorySpace::Name(s)) => Some(s.clone()),
            Some(MemorySpace::Int(n)) => Some(n.to_string()),
            None => None,
        },
        _ => None,
    }
}

fn check_space(m: &Module, mem: Value, param: &Param) -> Result<(), String> {
    let Param::Memref { name, space, .. } = param else {
        return Ok(());
    };
    if !matches!(m.value_type(mem), Type::MemRef(_)) {
        return Err(format!("`{name}` is bound to a value that is not a memory"));
    }
    let actual = memory_space(m, mem);
    if actual != *space {
        let show = |s: &Option<String>| s.clone().unwrap_or_else(|| "global memory".to_string());
        return Err(format!(
            "`{name}` must be in {}, the nest's is in {}",
            show(space),
            show(&actual)
        ));
    }
    Ok(())
}

/// The window of an access `mem[map(ops)]` matched against the intrinsic's
/// `P[imap(iops)]`: per dimension, the origin (the access with the nest's
/// loops at 0) must leave exactly the intrinsic's index.
#[allow(clippy::too_many_arguments)]
fn window(
    m: &Module,
    mem: Value,
    map: &AffineMap,
    ops: &[Value],
    imap: &AffineMap,
    iops: &[Value],
    iivs: &[Value],
    ivs: &[Value],
    inside: &dyn Fn(Value) -> bool,
) -> Result<Binding, String> {
    let rank = match m.value_type(mem) {
        Type::MemRef(mt) => mt.shape.len(),
        _ => return Err("an access of a value that is not a memory".into()),
    };
    let irank = imap.results.len();
    if rank < irank || map.results.len() != rank || map.num_syms > 0 || imap.num_syms > 0 {
        return Err(format!(
            "an access of rank {rank} where the intrinsic's has rank {irank}"
        ));
    }
    let n = ops.len() as u32;
    // The nest's dims: each operand that is a nest loop variable becomes
    // dim n + level; others keep their place.
    let level_dim = |v: Value| {
        ivs.iter()
            .position(|x| *x == v)
            .map(|k| AffineExpr::dim(n + k as u32))
    };
    let own: Vec<AffineExpr> = ops
        .iter()
        .enumerate()
        .map(|(j, v)| level_dim(*v).unwrap_or(AffineExpr::dim(j as u32)))
        .collect();
    for (j, v) in ops.iter().enumerate() {
        if level_dim(*v).is_none() && inside(*v) {
            return Err(format!("index operand {j} is computed inside the nest"));
        }
    }
    let theirs: Vec<AffineExpr> = iops
        .iter()
        .map(|v| {
            iivs.iter()
                .position(|x| x == v)
                .map(|k| AffineExpr::dim(n + k as u32))
                .ok_or("the intrinsic indexes a memory by something other than its loops")
        })
        .collect::<Result<_, _>>()?;
    let zero_levels: Vec<AffineExpr> = (0..n as usize + ivs.len())
        .map(|d| {
            if d >= n as usize {
                AffineExpr::constant(0)
            } else {
                AffineExpr::dim(d as u32)
            }
        })
        .collect();
    let lead = rank - irank;
    let mut origin = Vec::with_capacity(rank);
    for (t, e) in map.results.iter().enumerate() {
        let e = e.substitute(&own, &[]);
        let o = e.substitute(&zero_levels, &[]).simplify();
        let rest = if t < lead {
            AffineExpr::constant(0)
        } else {
            imap.results[t - lead].substitute(&theirs, &[])
        };
        if e.sub(o.clone()).sub(rest).simplify() != AffineExpr::constant(0) {
            return Err(format!(
                "index {t} of an access is not an origin plus the intrinsic's index"
            ));
        }
        origin.push(o);
    }
    // Canonical operands: sorted, so windows compare by value.
    let mut used: Vec<Value> = Vec::new();
    for e in &origin {
        e.walk(&mut |x| {
            if let AffineExpr::Dim(d) = x {
                used.push(ops[*d as usize]);
            }
        });
    }
    used.sort();
    used.dedup();
    let renumber: Vec<AffineExpr> = ops
        .iter()
        .map(|v| AffineExpr::dim(used.iter().position(|u| u == v).unwrap_or(0) as u32))
        .collect();
    let results = origin
        .iter()
        .map(|e| e.substitute(&renumber, &[]).simplify())
        .collect();
    Ok(Binding::Window {
        memref: mem,
        origin: AffineMap::new(used.len() as u32, 0, results),
        operands: used,
    })
}

/// Replaces every op of `func` (or of every function) that names an
/// intrinsic of `set` by the nest it means. Returns how many it expanded.
pub fn expand(m: &mut Module, set: &IntrinsicSet) -> Result<usize, ScheduleError> {
    if set.is_empty() {
        return Ok(0);
    }
    let mut found = Vec::new();
    m.walk(m.top(), &mut |op| {
        if set.get(m.op_name(op)).is_some() {
            found.push(op);
        }
    });
    for &op in &found {
        let intr = set.get(m.op_name(op)).expect("found by name").clone();
        expand_op(m, op, &intr).map_err(|e| internal(format!("expanding `{}`: {e}", intr.name)))?;
    }
    Ok(found.len())
}

/// The nest an intrinsic op means, in place of the op.
fn expand_op(m: &mut Module, op: Op, intr: &Intrinsic) -> Result<(), String> {
    let im = &intr.module;
    let extents = extents_of(m, op).ok_or("no extents")?;
    if extents.len() != intr.loops.len() {
        return Err("extents do not match the intrinsic's loops".into());
    }
    // Operands per parameter.
    let operands = m.operands(op).to_vec();
    let mut at = 0;
    let mut scalars: HashMap<Value, Value> = HashMap::new();
    let mut windows: HashMap<Value, (Value, Vec<Value>)> = HashMap::new();
    for (param, &pv) in intr.params.iter().zip(&intr.param_values()) {
        let v = *operands.get(at).ok_or("too few operands")?;
        at += 1;
        match param {
            Param::Scalar { .. } => {
                scalars.insert(pv, v);
            }
            Param::Memref { .. } => {
                let rank = match m.value_type(v) {
                    Type::MemRef(mt) => mt.shape.len(),
                    _ => return Err("a window operand that is not a memory".into()),
                };
                let origin = operands
                    .get(at..at + rank)
                    .ok_or("too few origin operands")?
                    .to_vec();
                at += rank;
                windows.insert(pv, (v, origin));
            }
        }
    }
    // The loops.
    let mut ivs = Vec::new();
    let mut b = Builder::before(m, op).ok_or("the op is detached")?;
    let (_, iv, mut body) =
        affine::build_for(&mut b, Bound::constant(0), Bound::constant(extents[0]), 1);
    ivs.push(iv);
    for &e in &extents[1..] {
        let mut bb = Builder::before_terminator(m, body);
        let (_, iv, inner) = affine::build_for(&mut bb, Bound::constant(0), Bound::constant(e), 1);
        ivs.push(iv);
        body = inner;
    }
    // The body, with accesses of windows rebased.
    let mut map = ValueMap::new();
    for (i, v) in intr.ivs().iter().zip(&ivs) {
        map.insert(*i, *v);
    }
    for (p, v) in &scalars {
        map.insert(*p, *v);
    }
    // Every operand of a cloned op must be a value of this module: a
    // parameter's memory is its window's (the access map is rebased below).
    for (p, (mem, _)) in &windows {
        map.insert(*p, *mem);
    }
    let terminator = m.block_terminator(body);
    let mut locs = m
        .attr(op, "body_locs")
        .and_then(Attribute::as_array)
        .map(|a| a.to_vec())
        .unwrap_or_default()
        .into_iter();
    for io in intr.body() {
        let c = clone_foreign(m, im, io, &mut map)?;
        if im.op_name(io) != "arith.constant" {
            if let Some(Attribute::Array(parts)) = locs.next() {
                if let [file, line, col] = parts.as_slice() {
                    if let (Some(file), Some(line), Some(col)) =
                        (file.as_str(), line.as_int(), col.as_int())
                    {
                        m.op_mut(c).loc = Location::FileLineCol {
                            file: file.to_string(),
                            line: line as u32,
                            col: col as u32,
                        };
                    }
                }
            }
        }
        match terminator {
            Some(t) => {
                let (blk, pos) = m.op_position(t).ok_or("no terminator position")?;
                m.insert_op(blk, pos, c).map_err(|e| e.to_string())?;
            }
            None => m.append_op(body, c).map_err(|e| e.to_string())?,
        }
        if let Some(imem) = affine::access_memref(im, io) {
            if let Some((mem, origin)) = windows.get(&imem) {
                let (imap, iops) = affine::access_map(im, io).ok_or("an access without a map")?;
                let new_ops: Vec<Value> = iops.iter().map(|v| map.lookup(*v)).collect();
                let k = new_ops.len() as u32;
                let lead = origin.len() - imap.results.len();
                let results: Vec<AffineExpr> = (0..origin.len())
                    .map(|t| {
                        let o = AffineExpr::dim(k + t as u32);
                        if t < lead {
                            o
                        } else {
                            o.add(imap.results[t - lead].clone()).simplify()
                        }
                    })
                    .collect();
                let mut all = new_ops;
                all.extend_from_slice(origin);
                let (results, dims, all) = affine::compact_dims(results, &all, 0, &[]);
                let memref_at = usize::from(m.op_name(c) == "affine.store");
                m.set_operand(c, memref_at, *mem);
                affine::set_map(m, c, AffineMap::new(dims, 0, results), &all);
            }
        }
    }
    m.erase_op(op).map_err(|e| e.to_string())?;
    Ok(())
}

/// Clones op `io` of module `from` into `m` (no regions), with operands
/// through `map`; results are added to `map`.
fn clone_foreign(m: &mut Module, from: &Module, io: Op, map: &mut ValueMap) -> Result<Op, String> {
    let data = from.op(io);
    let mut spec = OpSpec::new(from.op_name(io).to_string())
        .operands(from.operands(io).iter().map(|v| map.lookup(*v)))
        .results(from.results(io).iter().map(|r| from.value_type(*r).clone()))
        .loc(data.loc.clone());
    for (k, v) in &data.attrs {
        spec = spec.attr(k.clone(), v.clone());
    }
    let c = m.create_op(spec);
    for (r, nr) in from.results(io).iter().zip(m.results(c).to_vec()) {
        map.insert(*r, nr);
        if let Some(h) = from.name_hint(*r) {
            m.set_name_hint(nr, h.to_string());
        }
    }
    Ok(c)
}

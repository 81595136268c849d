//! Parametric obligations: facts about a program at its real size, proved
//! with z3 over the loop domains instead of by running every iteration.
//!
//! A program's iteration space is affine: every `affine.for` has bounds
//! that are affine maps (with `min`/`max`) of enclosing induction
//! variables, every `affine.if` an integer set, and every access an affine
//! map of them. [`Space`] turns the loops around an op into z3 integer
//! variables and constraints, one variable per loop, named after the loop,
//! so that two programs (the IR before and after a step) speak about the
//! same iteration with the same variables. An obligation asks z3 for an
//! iteration that breaks it; *unsat* proves it for every iteration, *sat*
//! gives the violating iteration (or pair of iterations) from the model.
//!
//! The obligations:
//! - [`bounds`]: no access leaves its memref, on any iteration;
//! - [`split_coverage`]: a split (or a tile's splits) visits every
//!   iteration of the original loop exactly once, and every access inside
//!   the new loops addresses what the original addressed in that iteration;
//! - [`dependences`]: a reorder (or a tile's) keeps the order of every two
//!   accesses to one element, at least one a store, except the updates of
//!   one reduction whose operator may be reassociated;
//!   [`instance_dependences`] does the same for steps that move instances
//!   between loop nests, tying instances by their accesses;
//! - [`staging`]: staged buffers are filled wherever they are read and
//!   drained wherever they are written;
//! - [`layouts_injective`]: a buffer whose layout changed keeps distinct
//!   elements apart;
//! - [`instances_covered`]: every statement instance of the original runs
//!   after the step, once.
//!
//! A context the encoding does not model exactly (a loop bound or index
//! computed from data, an `scf` construct) makes a violation *undecided*
//! rather than a counterexample: the reported iteration might never run.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use accc_ir::affine::{AffineExpr, AffineMap, IntegerSet};
use accc_ir::dialects::affine;
use accc_ir::{Attribute, Module, Op, Value};
use z3::ast::{Ast, Bool, Int};
use z3::{Params, SatResult, Solver};

/// Copies of one statement compared pairwise for duplicates.
const MAX_COPIES: usize = 16;

/// Milliseconds z3 may spend on one query before it is *undecided*.
const QUERY_TIMEOUT_MS: u32 = 5_000;

/// Why an obligation does not hold, or could not be decided.
#[derive(Clone, Debug, PartialEq)]
pub enum Failure {
    /// A concrete iteration (or pair) that breaks it.
    Violated(String),
    /// The encoding or z3 could not decide it.
    Undecided(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Violated(s) | Failure::Undecided(s) => f.write_str(s),
        }
    }
}

/// Queries whose formulas were already proved unsat, by their text: a
/// schedule's steps share most of their loops and accesses, so each is
/// proved once per schedule.
#[derive(Default)]
pub struct Cache {
    proved: HashSet<String>,
    /// Queries sent to z3 (not answered from the cache).
    pub queries: usize,
}

impl Cache {
    /// Asserts `facts` and asks for a model: `None` when unsat (proved),
    /// otherwise the model (`Err` for unknown).
    fn solve(&mut self, facts: &[Bool]) -> Result<Option<z3::Model>, String> {
        let mut key = String::new();
        for f in facts {
            let _ = writeln!(key, "{f}");
        }
        if self.proved.contains(&key) {
            return Ok(None);
        }
        self.queries += 1;
        // Linear integer arithmetic (affine maps multiply by constants and
        // divide by positive constants); quantifiers only in `staging`.
        let quantified = key.contains("forall");
        let solver =
            Solver::new_for_logic(if quantified { "LIA" } else { "QF_LIA" }).unwrap_or_default();
        let mut params = Params::new();
        params.set_u32("timeout", QUERY_TIMEOUT_MS);
        solver.set_params(&params);
        for f in facts {
            solver.assert(f);
        }
        match solver.check() {
            SatResult::Unsat => {
                self.proved.insert(key);
                Ok(None)
            }
            SatResult::Sat => Ok(solver.get_model()),
            SatResult::Unknown => Err(solver
                .get_reason_unknown()
                .unwrap_or_else(|| "z3 gave up".to_string())),
        }
    }
}

/// `stage.loop` for a loop inside a named stage, else `loop`; `None` for
/// an unnamed loop (a copy nest).
pub fn qualified_loop_name(m: &Module, op: Op) -> Option<String> {
    let name = m.attr(op, "loop_name").and_then(Attribute::as_str)?;
    Some(match affine::stage_of(m, op) {
        Some(stage) => format!("{stage}.{name}"),
        None => name.to_string(),
    })
}

/// Does the written loop reference `wanted` (`i`, `i.o` or `stage.i`)
/// name loop `op`?
fn names_loop(m: &Module, op: Op, wanted: &str) -> bool {
    m.attr(op, "loop_name").and_then(Attribute::as_str) == Some(wanted)
        || qualified_loop_name(m, op).as_deref() == Some(wanted)
}

/// The loops, branches and variables around ops of one program, as z3
/// terms. Variables are named after their loops (`prefix` + qualified
/// name), so the same loop in two programs is the same variable.
struct Space<'m> {
    m: &'m Module,
    /// Variable name prefix: two copies of one iteration space (for a pair
    /// of iterations) use two prefixes.
    prefix: String,
    /// Loops whose variable is given rather than made: by qualified name
    /// (the loop a split replaced is an expression of the new ones).
    bound: HashMap<String, Int>,
    /// Induction variables seen so far and their terms.
    ivs: HashMap<Value, Int>,
    /// Constraints of the loops and branches entered, with the loop's
    /// qualified name (`None` for branches and unnamed loops).
    facts: Vec<(Option<String>, Bool)>,
    /// Variables with a display name, for models.
    shown: Vec<(String, Int)>,
    /// Each shown variable's constant range (lower, upper, step), when
    /// its loop has constant bounds.
    ranges: Vec<Option<(i64, i64, i64)>>,
    /// Something around an op is not modelled exactly (data-dependent
    /// bounds or branches): a model may be an iteration that never runs.
    inexact: bool,
    /// Quotient and remainder variables, by dividend and divisor.
    divisions: HashMap<String, (Int, Int)>,
    /// The constraints defining the quotient and remainder variables
    /// (functions of the other variables, not limits of the space).
    defs: Vec<Bool>,
    /// The qualified name of the innermost named loop entered so far.
    last_loop: Option<String>,
    aux: Vec<Int>,
}

impl<'m> Space<'m> {
    fn new(m: &'m Module, prefix: &str) -> Space<'m> {
        Space {
            m,
            prefix: prefix.to_string(),
            bound: HashMap::new(),
            ivs: HashMap::new(),
            facts: Vec::new(),
            shown: Vec::new(),
            ranges: Vec::new(),
            inexact: false,
            divisions: HashMap::new(),
            defs: Vec::new(),
            last_loop: None,
            aux: Vec::new(),
        }
    }

    /// Enters every loop and branch around `op`, outermost first; `false`
    /// if one cannot be modelled at all.
    fn enter_around(&mut self, op: Op) -> bool {
        let mut chain = Vec::new();
        let mut cur = self.m.parent_op(op);
        while let Some(p) = cur {
            if self.m.op_name(p) == "func.func" {
                break;
            }
            chain.push(p);
            cur = self.m.parent_op(p);
        }
        chain.reverse();
        // Which region of each enclosing op holds `op` (for `affine.if`).
        let mut inner = op;
        let mut regions = HashMap::new();
        while let Some(p) = self.m.parent_op(inner) {
            let block = self.m.op_parent_block(inner);
            let idx = self
                .m
                .op_regions(p)
                .iter()
                .position(|r| block.is_some_and(|b| self.m.region_blocks(*r).contains(&b)));
            regions.insert(p, idx.unwrap_or(0));
            inner = p;
        }
        let mut depth = 0;
        for p in chain {
            match self.m.op_name(p) {
                "affine.for" => {
                    if !self.enter_for(p, depth) {
                        return false;
                    }
                    depth += 1;
                }
                "affine.if" => self.enter_if(p, regions.get(&p).copied().unwrap_or(0)),
                // Any other region (`scf.for`, `scf.if`): the op runs on
                // some subset of the iterations modelled so far.
                _ => self.inexact = true,
            }
        }
        true
    }

    /// Enters loop `op`, the `depth`-th loop from the outside. A named
    /// loop's variable is named after the loop (so one loop in two
    /// programs is one variable), an unnamed one's (a copy nest) after its
    /// induction variable and depth.
    fn enter_for(&mut self, op: Op, depth: usize) -> bool {
        let m = self.m;
        let Some(iv) = affine::induction_var(m, op) else {
            return false;
        };
        if self.ivs.contains_key(&iv) {
            return true;
        }
        let qname = qualified_loop_name(m, op);
        let display = qname
            .clone()
            .unwrap_or_else(|| format!("{}#{depth}", m.name_hint(iv).unwrap_or("loop")));
        let (Some((lb, ub)), Some(step)) = (affine::for_bounds(m, op), affine::for_step(m, op))
        else {
            return false;
        };
        let lower = self.extremum(&lb.map, &lb.operands, true);
        let upper = self.extremum(&ub.map, &ub.operands, false);
        let given = qname.as_ref().and_then(|q| self.bound.get(q)).cloned();
        let made = given.is_none();
        let var = given.unwrap_or_else(|| {
            let v = Int::new_const(format!("{}{display}", self.prefix));
            self.shown.push((display.clone(), v.clone()));
            v
        });
        if made {
            let constant = |t: &Option<Int>| t.as_ref().and_then(|t| t.simplify().as_i64());
            self.ranges.push(
                constant(&lower)
                    .zip(constant(&upper))
                    .map(|(lo, hi)| (lo, hi, step)),
            );
        }
        match (lower, upper) {
            (Some(lo), Some(hi)) => {
                let mut c = vec![var.ge(&lo), var.lt(&hi)];
                if step > 1 {
                    let (_, r) = self.divide(&var - &lo, step);
                    c.push(r.eq(Int::from_i64(0)));
                }
                self.facts.push((qname.clone(), Bool::and(&c)));
            }
            _ => self.inexact = true,
        }
        self.ivs.insert(iv, var);
        if qname.is_some() {
            self.last_loop = qname;
        }
        true
    }

    fn enter_if(&mut self, op: Op, region: usize) {
        let m = self.m;
        let Some(set) = m
            .attr(op, "condition")
            .and_then(Attribute::as_integer_set)
            .cloned()
        else {
            self.inexact = true;
            return;
        };
        let operands: Vec<Value> = m.operands(op).to_vec();
        // A branch's fact is tagged with the loop it sits in, so that an
        // obligation about that loop's iterations counts it as theirs.
        let tag = self.last_loop.as_ref().map(|l| format!("if in {l}"));
        match self.set(&set, &operands) {
            Some(c) if region == 0 => self.facts.push((tag, c)),
            Some(c) => self.facts.push((tag, c.not())),
            None => self.inexact = true,
        }
    }

    fn set(&mut self, set: &IntegerSet, operands: &[Value]) -> Option<Bool> {
        let args = self.values(operands)?;
        let nd = set.num_dims as usize;
        let mut out = Vec::new();
        for (e, is_eq) in &set.constraints {
            let v = self.expr(e, &args[..nd.min(args.len())], &args[nd.min(args.len())..])?;
            out.push(if *is_eq {
                v.eq(Int::from_i64(0))
            } else {
                v.ge(Int::from_i64(0))
            });
        }
        Some(Bool::and(&out))
    }

    /// The max (`lower`) or min of a bound map's results.
    fn extremum(&mut self, map: &AffineMap, operands: &[Value], lower: bool) -> Option<Int> {
        let results = self.map(map, operands)?;
        results.into_iter().reduce(|a, b| {
            let take_a = if lower { a.ge(&b) } else { a.le(&b) };
            take_a.ite(&a, &b)
        })
    }

    fn map(&mut self, map: &AffineMap, operands: &[Value]) -> Option<Vec<Int>> {
        let args = self.values(operands)?;
        let nd = (map.num_dims as usize).min(args.len());
        map.results
            .iter()
            .map(|e| self.expr(e, &args[..nd], &args[nd..]))
            .collect()
    }

    /// An affine expression over dims and symbols as a z3 term; `None`
    /// for a division or modulus by something other than a positive
    /// constant. `a floordiv c` and `a mod c` are new variables `q`, `r`
    /// with `a = c * q + r` and `0 <= r < c` (MLIR's floor semantics for
    /// a positive divisor), so that every term stays linear without
    /// `div`, which z3 handles poorly under quantifiers.
    fn expr(&mut self, e: &AffineExpr, dims: &[Int], syms: &[Int]) -> Option<Int> {
        let divisor = |b: &AffineExpr| b.as_const().filter(|c| *c > 0);
        Some(match e {
            AffineExpr::Dim(d) => dims.get(*d as usize)?.clone(),
            AffineExpr::Sym(s) => syms.get(*s as usize)?.clone(),
            AffineExpr::Const(c) => Int::from_i64(*c),
            AffineExpr::Add(a, b) => self.expr(a, dims, syms)? + self.expr(b, dims, syms)?,
            AffineExpr::Mul(a, b) => self.expr(a, dims, syms)? * self.expr(b, dims, syms)?,
            AffineExpr::FloorDiv(a, b) => {
                let a = self.expr(a, dims, syms)?;
                self.divide(a, divisor(b)?).0
            }
            AffineExpr::CeilDiv(a, b) => {
                let a = self.expr(a, dims, syms)?;
                -(self.divide(-a, divisor(b)?).0)
            }
            AffineExpr::Mod(a, b) => {
                let a = self.expr(a, dims, syms)?;
                self.divide(a, divisor(b)?).1
            }
        })
    }

    /// Quotient and remainder of `a` by positive `c`, as constrained new
    /// variables (one pair per dividend and divisor).
    fn divide(&mut self, a: Int, c: i64) -> (Int, Int) {
        let key = format!("{a} / {c}");
        if let Some((q, r)) = self.divisions.get(&key) {
            return (q.clone(), r.clone());
        }
        // Unique names: two spaces with one prefix (the programs before
        // and after a step) must not share division variables.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let q = Int::new_const(format!("{}q#{n}", self.prefix));
        let r = Int::new_const(format!("{}r#{n}", self.prefix));
        let c = Int::from_i64(c);
        self.defs.push(Bool::and(&[
            a.eq(&(&(&c * &q) + &r)),
            r.ge(Int::from_i64(0)),
            r.lt(&c),
        ]));
        self.aux.push(q.clone());
        self.aux.push(r.clone());
        self.divisions.insert(key, (q.clone(), r.clone()));
        (q, r)
    }

    /// Every variable this space made (induction variables and division
    /// results), to quantify over.
    fn variables(&self) -> Vec<&dyn z3::ast::Ast> {
        self.shown
            .iter()
            .map(|(_, v)| v)
            .chain(&self.aux)
            .map(|v| v as &dyn z3::ast::Ast)
            .collect()
    }

    fn values(&mut self, vs: &[Value]) -> Option<Vec<Int>> {
        vs.iter().map(|v| self.value(*v)).collect()
    }

    /// The term of an index value: an induction variable entered, a
    /// constant, or affine/index arithmetic of those.
    fn value(&mut self, v: Value) -> Option<Int> {
        if let Some(t) = self.ivs.get(&v) {
            return Some(t.clone());
        }
        let m = self.m;
        let op = m.defining_op(v)?;
        let ops: Vec<Value> = m.operands(op).to_vec();
        match m.op_name(op) {
            "arith.constant" => m.attr(op, "value")?.as_int().map(Int::from_i64),
            "affine.apply" => {
                let map = m.attr(op, "map")?.as_affine_map()?.clone();
                self.map(&map, &ops)?.into_iter().next()
            }
            "affine.min" | "affine.max" => {
                let map = m.attr(op, "map")?.as_affine_map()?.clone();
                self.extremum(&map, &ops, m.op_name(op) == "affine.max")
            }
            "arith.addi" | "arith.subi" | "arith.muli"
                if *m.value_type(v) == accc_ir::Type::Index =>
            {
                let (a, b) = (self.value(ops[0])?, self.value(ops[1])?);
                Some(match m.op_name(op) {
                    "arith.addi" => &a + &b,
                    "arith.subi" => &a - &b,
                    _ => &a * &b,
                })
            }
            _ => None,
        }
    }

    /// The memref and index terms of an access, `None` for an op that is
    /// not one or an index the encoding cannot follow.
    fn access(&mut self, op: Op) -> Option<(Value, Vec<Int>)> {
        let m = self.m;
        match m.op_name(op) {
            "affine.load" | "affine.store" => {
                let (map, operands) = affine::access_map(m, op)?;
                let (map, operands) = (map.clone(), operands.to_vec());
                Some((affine::access_memref(m, op)?, self.map(&map, &operands)?))
            }
            "memref.load" | "memref.store" => {
                let first = usize::from(m.op_name(op) == "memref.store");
                let ops = m.operands(op).to_vec();
                let memref = *ops.get(first)?;
                Some((memref, self.values(&ops[first + 1..])?))
            }
            _ => None,
        }
    }

    fn all_facts(&self) -> Vec<Bool> {
        self.facts
            .iter()
            .map(|(_, f)| f.clone())
            .chain(self.defs.iter().cloned())
            .collect()
    }

    /// The limits of the space alone (loops and branches), without the
    /// definitions of division results.
    fn limits(&self) -> Vec<Bool> {
        self.facts.iter().map(|(_, f)| f.clone()).collect()
    }

    /// Are all of this space's loop variables also variables of `other`
    /// (the same loops, by name)?
    fn tied_to(&self, other: &Space) -> bool {
        self.shown
            .iter()
            .all(|(name, _)| other.shown.iter().any(|(n, _)| n == name))
    }

    /// An iteration of this space whose signature `sig` would equal
    /// `target`, each loop variable as a term of `target`: the signature's
    /// components are read as mixed-radix numbers over the loops' constant
    /// ranges (`io * 32 + ii` gives `io = t div 32`, `ii = t mod 32`).
    /// Components that are not linear in the loop variables are skipped;
    /// `None` when a loop has non-constant bounds or a coefficient is
    /// negative. The
    /// witness is only a candidate: a query still has to show that it is
    /// an iteration with that signature.
    fn witness(&self, sig: &[Int], target: &[Int]) -> Option<Vec<(Int, Int)>> {
        let n = self.shown.len();
        let ranges: Vec<(i64, i64, i64)> = self.ranges.iter().copied().collect::<Option<_>>()?;
        if ranges.len() != n || sig.len() != target.len() {
            return None;
        }
        let at = |t: &Int, point: &[i64]| -> Option<i64> {
            let pairs: Vec<(Int, Int)> = self
                .shown
                .iter()
                .zip(point)
                .map(|((_, v), x)| (v.clone(), Int::from_i64(*x)))
                .collect();
            let refs: Vec<(&Int, &Int)> = pairs.iter().map(|(a, b)| (a, b)).collect();
            t.substitute(&refs).simplify().as_i64()
        };
        // A component's constant and nonzero coefficients, `None` when it
        // is not linear in the loop variables (a double buffer's `io mod
        // 2`): such a component determines none of them.
        let linear = |component: &Int| -> Option<(i64, Vec<(usize, i64)>)> {
            let origin = at(component, &vec![0; n])?;
            let mut coefficients = Vec::new();
            for k in 0..n {
                let mut unit = vec![0; n];
                unit[k] = 1;
                let c = at(component, &unit)? - origin;
                if c != 0 {
                    coefficients.push((k, c));
                }
            }
            Some((origin, coefficients))
        };
        let mut value: Vec<Option<Int>> = vec![None; n];
        for (component, t) in sig.iter().zip(target) {
            let Some((origin, coefficients)) = linear(component) else {
                continue;
            };
            // What the unassigned variables must add up to.
            let mut rest = t - Int::from_i64(origin);
            let mut open = Vec::new();
            for (k, c) in coefficients {
                match &value[k] {
                    Some(w) => rest -= w * Int::from_i64(c),
                    None if c > 0 => {
                        let (lo, _, step) = ranges[k];
                        rest -= Int::from_i64(c * lo);
                        open.push((k, c * step));
                    }
                    None => return None,
                }
            }
            open.sort_by_key(|(_, c)| std::cmp::Reverse(*c));
            for (k, c) in open {
                let c_term = Int::from_i64(c);
                let digit = rest.div(&c_term);
                rest = rest.modulo(&c_term);
                let (lo, _, step) = ranges[k];
                value[k] = Some(Int::from_i64(lo) + &digit * Int::from_i64(step));
            }
        }
        Some(
            self.shown
                .iter()
                .zip(value)
                .zip(&ranges)
                .map(|(((_, v), w), (lo, _, _))| {
                    (v.clone(), w.unwrap_or_else(|| Int::from_i64(*lo)))
                })
                .collect(),
        )
    }

    /// Facts saying "no iteration of this space has signature `sig` equal
    /// to `target`": quantified over the space's variables, or, with
    /// `witness` and when [`Space::witness`] finds a candidate, only that
    /// the candidate is not such an iteration (the division results at
    /// the candidate are facts). The second is quantifier-free and
    /// weaker: unsat still proves that some iteration reaches `target`,
    /// but a model is no counterexample.
    fn unreached(&self, sig: &[Int], target: &[Int], witness: bool) -> Vec<Bool> {
        let same: Vec<Bool> = sig.iter().zip(target).map(|(a, b)| a.eq(b)).collect();
        match witness.then(|| self.witness(sig, target)).flatten() {
            Some(pairs) => {
                let refs: Vec<(&Int, &Int)> = pairs.iter().map(|(a, b)| (a, b)).collect();
                let at = |b: &Bool| b.substitute(&refs);
                let claim = Bool::and(&[Bool::and(&self.limits()), Bool::and(&same)]);
                let mut out: Vec<Bool> = self.defs.iter().map(at).collect();
                out.push(at(&claim).not());
                out
            }
            None => {
                let body = Bool::and(&[Bool::and(&self.all_facts()), Bool::and(&same)]).not();
                vec![z3::ast::forall_const(&self.variables(), &[], &body)]
            }
        }
    }

    /// `(i = 3, k = 0)` from a model.
    fn show(&self, model: &z3::Model) -> String {
        let parts: Vec<String> = self
            .shown
            .iter()
            .filter_map(|(name, v)| {
                let val = model.eval(v, true)?.as_i64()?;
                Some(format!("{name} = {val}"))
            })
            .collect();
        format!("({})", parts.join(", "))
    }
}

/// The memref an access op reads or writes.
fn accessed_memref(m: &Module, op: Op) -> Option<Value> {
    match m.op_name(op) {
        "affine.load" | "memref.load" => m.operands(op).first().copied(),
        "affine.store" | "memref.store" => m.operands(op).get(1).copied(),
        _ => None,
    }
}

/// Is the memory `op` accesses allocated inside a loop (a `let` scalar's
/// `memref.alloca` in a loop body)? Each iteration then has its own, so
/// accesses in different iterations never meet: no dependence between
/// iterations runs through it.
fn iteration_private(m: &Module, op: Op) -> bool {
    accessed_memref(m, op)
        .and_then(|v| m.defining_op(v))
        .is_some_and(|def| {
            matches!(m.op_name(def), "memref.alloca" | "memref.alloc")
                && std::iter::successors(m.parent_op(def), |p| m.parent_op(*p))
                    .any(|p| m.op_name(p) == "affine.for")
        })
}

fn is_access(m: &Module, op: Op) -> bool {
    matches!(
        m.op_name(op),
        "affine.load" | "affine.store" | "memref.load" | "memref.store"
    )
}

fn is_store(m: &Module, op: Op) -> bool {
    m.op_name(op).ends_with(".store")
}

/// The kernel function's accesses in program order.
fn accesses(m: &Module, kernel: &str) -> Result<Vec<Op>, Failure> {
    let f = m
        .lookup_symbol(kernel)
        .ok_or_else(|| Failure::Undecided(format!("no function `{kernel}`")))?;
    let mut out = Vec::new();
    let mut call = None;
    m.walk(f, &mut |op| {
        if is_access(m, op) {
            out.push(op);
        } else if m.op_name(op) == "func.call" {
            call = call.or(Some(op));
        }
    });
    // The accesses of a callee run too; the obligations look at one
    // function only.
    if let Some(op) = call {
        return Err(Failure::Undecided(format!(
            "the kernel calls `{}` at {}; the obligations do not follow calls",
            m.attr(op, "callee")
                .and_then(|a| a.as_symbol())
                .unwrap_or("a function"),
            m.op(op).loc
        )));
    }
    Ok(out)
}

/// A memref's name for messages: `%A`, `%abuf`.
fn memref_name(m: &Module, v: Value) -> String {
    m.name_hint(v)
        .map(|n| format!("`%{n}`"))
        .unwrap_or_else(|| "a memref".to_string())
}

/// A memref's identity across two programs: a kernel argument by its
/// position, a buffer by its name.
fn memref_key(m: &Module, v: Value) -> String {
    match m.value(v).def {
        accc_ir::ValueDef::BlockArg { index, .. } => format!("arg{index}"),
        accc_ir::ValueDef::OpResult { op, .. } => m
            .attr(op, "accc.buffer")
            .and_then(Attribute::as_str)
            .map(|b| format!("buffer {b}"))
            .or_else(|| m.name_hint(v).map(|n| format!("value {n}")))
            .unwrap_or_else(|| format!("op {}", op.index())),
    }
}

fn describe(m: &Module, op: Op) -> String {
    format!(
        "`{}` of {} at {}",
        m.op_name(op),
        access_target(m, op),
        m.op(op).loc
    )
}

fn access_target(m: &Module, op: Op) -> String {
    accessed_memref(m, op).map_or_else(|| "a memref".to_string(), |v| memref_name(m, v))
}

fn model_values(model: &z3::Model, ts: &[Int]) -> String {
    ts.iter()
        .map(|t| {
            model
                .eval(t, true)
                .and_then(|v| v.as_i64())
                .map_or_else(|| "?".to_string(), |v| v.to_string())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The space around access `op` (variables named with `prefix`), its
/// memref and its index terms; undecided when the loops or the index are
/// not affine.
fn encode_access<'m>(
    m: &'m Module,
    op: Op,
    prefix: &str,
) -> Result<(Space<'m>, Value, Vec<Int>), Failure> {
    let mut s = Space::new(m, prefix);
    if !s.enter_around(op) {
        return Err(Failure::Undecided(format!(
            "the loops around {} are not affine",
            describe(m, op)
        )));
    }
    let Some((memref, index)) = s.access(op) else {
        return Err(Failure::Undecided(format!(
            "the index of {} is not affine in the loops",
            describe(m, op)
        )));
    };
    Ok((s, memref, index))
}

/// No access of `kernel` leaves its memref, on any iteration.
pub fn bounds(m: &Module, kernel: &str, cache: &mut Cache) -> Result<(), Failure> {
    for op in accesses(m, kernel)? {
        let (s, memref, index) = encode_access(m, op, "")?;
        let Some(shape) = m.value_type(memref).as_memref().map(|t| t.shape.clone()) else {
            continue;
        };
        let outside: Vec<Bool> = index
            .iter()
            .zip(&shape)
            .map(|(i, n)| Bool::or(&[i.lt(Int::from_i64(0)), i.ge(Int::from_i64(*n))]))
            .collect();
        let mut facts = s.all_facts();
        facts.push(Bool::or(&outside));
        match cache.solve(&facts) {
            Ok(None) => {}
            Ok(Some(model)) => {
                let text = format!(
                    "{} accesses [{}], outside its shape {}, in iteration {}",
                    describe(m, op),
                    model_values(&model, &index),
                    shape
                        .iter()
                        .map(i64::to_string)
                        .collect::<Vec<_>>()
                        .join("x"),
                    s.show(&model)
                );
                return Err(if s.inexact {
                    Failure::Undecided(format!("possibly: {text}"))
                } else {
                    Failure::Violated(text)
                });
            }
            Err(why) => return Err(Failure::Undecided(format!("{}: {why}", describe(m, op)))),
        }
    }
    Ok(())
}

/// One split a step claims to have made: loop `original` (as written,
/// `i` or `stage.i`) of `before` became `outer` and `inner` in `after`,
/// with `i = lb + step * (factor * outer + inner)`.
#[derive(Clone, Debug)]
pub struct Split {
    pub original: String,
    pub factor: i64,
    pub outer: String,
    pub inner: String,
}

/// The loops of one split: the original `q` (constant bounds) in
/// `before`, `oq` and `iq` in `after`.
struct SplitLoops {
    q: String,
    lb: i64,
    step: i64,
    trips: i64,
    outer: Op,
    oq: String,
    inner: Op,
    iq: String,
}

fn split_loops(
    before: &Module,
    after: &Module,
    kernel: &str,
    sp: &Split,
) -> Result<SplitLoops, Failure> {
    let (op, q) = unique_loop(before, kernel, &sp.original)?;
    let Some((lb, ub, step)) = affine::constant_bounds(before, op) else {
        return Err(Failure::Undecided(format!(
            "loop `{q}` does not have constant bounds"
        )));
    };
    let trips = trip_count(lb, ub, step);
    let (outer, oq) = unique_loop(after, kernel, &sp.outer)?;
    let (inner, iq) = unique_loop(after, kernel, &sp.inner)?;
    Ok(SplitLoops {
        q,
        lb,
        step,
        trips,
        outer,
        oq,
        inner,
        iq,
    })
}

/// The original loop's variable in terms of the split loops' variables
/// (named with `prefix`): `lb + step * (factor * outer + inner)`.
fn original_index(l: &SplitLoops, factor: i64, prefix: &str) -> Int {
    let o = Int::new_const(format!("{prefix}{}", l.oq));
    let i = Int::new_const(format!("{prefix}{}", l.iq));
    &Int::from_i64(l.lb) + &(&(&(&o * factor) + &i) * l.step)
}

/// The one loop of `kernel` in `m` that `name` names.
fn unique_loop(m: &Module, kernel: &str, name: &str) -> Result<(Op, String), Failure> {
    let f = m
        .lookup_symbol(kernel)
        .ok_or_else(|| Failure::Undecided(format!("no function `{kernel}`")))?;
    let mut found = Vec::new();
    m.walk(f, &mut |op| {
        if m.op_name(op) == "affine.for" && names_loop(m, op, name) {
            found.extend(qualified_loop_name(m, op).map(|q| (op, q)));
        }
    });
    match found.len() {
        1 => Ok(found.pop().expect("one loop")),
        0 => Err(Failure::Undecided(format!("no loop named `{name}`"))),
        n => Err(Failure::Undecided(format!("{n} loops are named `{name}`"))),
    }
}

/// The split visits every iteration of the original loop once, and every
/// access inside the new loops that the original program also has (same
/// op, same place in the source, same memref) addresses in each iteration
/// what the original addressed in the corresponding one.
pub fn split_coverage(
    before: &Module,
    after: &Module,
    kernel: &str,
    splits: &[Split],
    cache: &mut Cache,
) -> Result<(), Failure> {
    // The after-program's variables for the new loops, and the original
    // loops' variables as expressions of them.
    let mut originals = HashMap::new();
    for sp in splits {
        let loops = split_loops(before, after, kernel, sp)?;
        let SplitLoops {
            q,
            lb,
            step,
            trips,
            outer,
            oq,
            inner,
            iq,
        } = &loops;
        let (lb, step, trips) = (*lb, *step, *trips);
        let body = after
            .entry_block(*inner, 0)
            .and_then(|b| after.block_ops(b).first().copied());
        let Some(probe) = body else {
            return Err(Failure::Undecided(format!("loop `{iq}` is empty")));
        };
        // Injective and into [0, trips): over two copies of the new loops
        // (the loops around them shared).
        let mut a = Space::new(after, "");
        let mut b = Space::new(after, "'");
        if !a.enter_around(probe) {
            return Err(Failure::Undecided(format!(
                "the loops around `{iq}` are not affine"
            )));
        }
        for (name, v) in &a.shown {
            if name != oq && name != iq {
                b.bound.insert(name.clone(), v.clone());
            }
        }
        b.enter_around(probe);
        let (Some(outer_iv), Some(inner_iv)) = (
            affine::induction_var(after, *outer),
            affine::induction_var(after, *inner),
        ) else {
            return Err(Failure::Undecided(format!(
                "loop `{iq}` or `{oq}` has no body"
            )));
        };
        let (Some(o), Some(i), Some(o2), Some(i2)) = (
            a.value(outer_iv),
            a.value(inner_iv),
            b.value(outer_iv),
            b.value(inner_iv),
        ) else {
            return Err(Failure::Undecided(format!(
                "`{iq}` is not nested in `{oq}`"
            )));
        };
        let n = &(&o * sp.factor) + &i;
        let n2 = &(&o2 * sp.factor) + &i2;
        let mut facts = a.all_facts();
        facts.extend(b.all_facts());
        facts.push(n.eq(&n2));
        facts.push(Bool::or(&[o.eq(&o2).not(), i.eq(&i2).not()]));
        let exact = !a.inexact && !b.inexact;
        check(cache, &facts, exact, |model| {
            format!(
                "iterations {} and {} of the split of `{q}` are the same original iteration {}",
                a.show(model),
                b.show(model),
                model_values(model, std::slice::from_ref(&n))
            )
        })?;
        let mut facts = a.all_facts();
        facts.push(Bool::or(&[
            n.lt(Int::from_i64(0)),
            n.ge(Int::from_i64(trips)),
        ]));
        check(cache, &facts, exact, |model| {
            format!(
                "iteration {} of the split of `{q}` is original iteration {}, outside its {trips} iterations",
                a.show(model),
                model_values(model, std::slice::from_ref(&n))
            )
        })?;
        // Onto: iteration `k` of the original loop is (k div f, k mod f)
        // of the new ones; those must be inside their bounds.
        let k = Int::new_const(format!("{q}#original"));
        let mut c = Space::new(after, "");
        c.bound.insert(oq.clone(), k.div(Int::from_i64(sp.factor)));
        c.bound
            .insert(iq.clone(), k.modulo(Int::from_i64(sp.factor)));
        c.enter_around(probe);
        let (inside, around): (Vec<_>, Vec<_>) = c.facts.iter().cloned().partition(|(name, _)| {
            let name = name.as_deref().map(|n| n.trim_start_matches("if in "));
            name == Some(oq.as_str()) || name == Some(iq.as_str())
        });
        let mut facts: Vec<Bool> = around.into_iter().map(|(_, f)| f).collect();
        facts.extend(c.defs.iter().cloned());
        facts.push(k.ge(Int::from_i64(0)));
        facts.push(k.lt(Int::from_i64(trips)));
        facts.push(Bool::and(&inside.into_iter().map(|(_, f)| f).collect::<Vec<_>>()).not());
        check(cache, &facts, exact && !c.inexact, |model| {
            let k = model.eval(&k, true).and_then(|v| v.as_i64()).unwrap_or(0);
            let mut around = c.show(model);
            if around == "()" {
                around.clear();
            } else {
                around = format!(" (around it: {around})");
            }
            format!(
                "original iteration {q} = {} is not visited: iteration ({oq} = {}, {iq} = {}) of the split is outside its loops{around}",
                lb + step * k,
                k.div_euclid(sp.factor),
                k.rem_euclid(sp.factor),
            )
        })?;
        originals.insert(q.clone(), original_index(&loops, sp.factor, ""));
    }
    accesses_agree(before, after, kernel, &originals, cache)
}

/// Every access of `after` addresses, in each iteration, what its
/// counterpart in `before` addressed in the same iteration: the loops of
/// both programs are one set of variables by name, except the loops of
/// `before` in `originals`, which are expressions of `after`'s (a split
/// loop). This ties the two programs' iterations together for the other
/// obligations, so it is checked rather than assumed.
fn accesses_agree(
    before: &Module,
    after: &Module,
    kernel: &str,
    originals: &HashMap<String, Int>,
    cache: &mut Cache,
) -> Result<(), Failure> {
    let twins = Twins::new(before, after, kernel)?;
    for op in accesses(after, kernel)? {
        let old = twins.require(after, op)?;
        let (a, _, new_index) = encode_access(after, op, "")?;
        let mut b = Space::new(before, "");
        b.bound = originals.clone();
        let old_index = b
            .enter_around(old)
            .then(|| b.access(old))
            .flatten()
            .map(|(_, index)| index)
            .ok_or_else(|| {
                Failure::Undecided(format!(
                    "the index of {} is not affine in the loops",
                    describe(before, old)
                ))
            })?;
        let mut facts = a.all_facts();
        facts.extend(b.all_facts());
        let differs: Vec<Bool> = new_index
            .iter()
            .zip(&old_index)
            .map(|(x, y)| x.eq(y).not())
            .collect();
        facts.push(Bool::or(&differs));
        check(cache, &facts, !a.inexact && !b.inexact, |model| {
            format!(
                "{} accesses [{}] in iteration {}, where the original accessed [{}]",
                describe(after, op),
                model_values(model, &new_index),
                a.show(model),
                model_values(model, &old_index)
            )
        })?;
    }
    Ok(())
}

/// Sends a query whose model is a violation; `what` renders it.
fn check(
    cache: &mut Cache,
    facts: &[Bool],
    exact: bool,
    what: impl FnOnce(&z3::Model) -> String,
) -> Result<(), Failure> {
    match cache.solve(facts) {
        Ok(None) => Ok(()),
        Ok(Some(model)) if exact => Err(Failure::Violated(what(&model))),
        Ok(Some(model)) => Err(Failure::Undecided(format!("possibly: {}", what(&model)))),
        Err(why) => Err(Failure::Undecided(format!("z3: {why}"))),
    }
}

/// Accesses of the rewritten program matched to the original's: the same
/// op kind at the same source location on the same memref, when each
/// program has exactly one such access.
struct Twins {
    pairs: HashMap<Op, Op>,
}

impl Twins {
    fn new(before: &Module, after: &Module, kernel: &str) -> Result<Twins, Failure> {
        let group = |m: &Module| -> Result<HashMap<String, Vec<Op>>, Failure> {
            let mut out: HashMap<String, Vec<Op>> = HashMap::new();
            for op in accesses(m, kernel)? {
                out.entry(access_key(m, op)).or_default().push(op);
            }
            Ok(out)
        };
        let (old, new) = (group(before)?, group(after)?);
        // Only a single access per key pairs up: several alike (unrolled
        // copies) could pair wrongly after a later reorder or fission.
        let mut pairs = HashMap::new();
        for (k, ops) in new {
            if let (Some([original]), [op]) = (old.get(&k).map(Vec::as_slice), ops.as_slice()) {
                pairs.insert(*op, *original);
            }
        }
        Ok(Twins { pairs })
    }

    fn of(&self, op: Op) -> Option<Op> {
        self.pairs.get(&op).copied()
    }

    /// The original of `op`, or why there is none.
    fn require(&self, after: &Module, op: Op) -> Result<Op, Failure> {
        self.of(op).ok_or_else(|| {
            Failure::Undecided(format!(
                "{} has no single counterpart in the program before the step",
                describe(after, op)
            ))
        })
    }
}

/// Is `store` the update of a reduction whose operator may be applied in
/// any order: it stores `x op y` where `x` loads the element it stores to,
/// and `op` is exact-associative and commutative (integer `+`, `*`, min,
/// max, bitwise; float min/max; float `+`/`*` only with `fp_reassoc`)?
/// Returns the load.
fn reduction_load(m: &Module, store: Op, fp_reassoc: bool) -> Option<(Op, String)> {
    if m.op_name(store) != "affine.store" {
        return None;
    }
    let value = *m.operands(store).first()?;
    let update = m.defining_op(value)?;
    let name = m.op_name(update);
    let exact = matches!(
        name,
        "arith.addi"
            | "arith.muli"
            | "arith.maxsi"
            | "arith.minsi"
            | "arith.maxui"
            | "arith.minui"
            | "arith.andi"
            | "arith.ori"
            | "arith.xori"
            | "arith.maximumf"
            | "arith.minimumf"
            | "arith.maxnumf"
            | "arith.minnumf"
    ) || (fp_reassoc && matches!(name, "arith.addf" | "arith.mulf"));
    if !exact {
        return None;
    }
    let (smap, sops) = affine::access_map(m, store)?;
    m.operands(update).iter().find_map(|v| {
        let load = m.defining_op(*v)?;
        if m.op_name(load) != "affine.load"
            || affine::access_memref(m, load) != affine::access_memref(m, store)
        {
            return None;
        }
        let (lmap, lops) = affine::access_map(m, load)?;
        (lmap == smap && lops == sops).then(|| (load, name.to_string()))
    })
}

/// The pre-order position of every op of `kernel`, for textual order.
fn positions(m: &Module, kernel: &str) -> HashMap<Op, usize> {
    let mut out = HashMap::new();
    if let Some(f) = m.lookup_symbol(kernel) {
        m.walk(f, &mut |op| {
            let n = out.len();
            out.insert(op, n);
        });
    }
    out
}

/// The loops around `op`, outermost first.
fn loops_around(m: &Module, op: Op) -> Vec<Op> {
    let mut out = Vec::new();
    let mut cur = m.parent_op(op);
    while let Some(p) = cur {
        if m.op_name(p) == "affine.for" {
            out.push(p);
        }
        cur = m.parent_op(p);
    }
    out.reverse();
    out
}

/// "`x` runs before `y`" in program `m` for instances of accesses `a` (in
/// space `sa`) and `b` (in `sb`): lexicographic over their common loops,
/// then textual order.
fn runs_before(
    m: &Module,
    pos: &HashMap<Op, usize>,
    a: Op,
    sa: &mut Space,
    b: Op,
    sb: &mut Space,
) -> Option<Bool> {
    let (la, lb) = (loops_around(m, a), loops_around(m, b));
    let mut alternatives = Vec::new();
    let mut equal = Vec::new();
    for (x, y) in la.iter().zip(&lb).take_while(|(x, y)| x == y) {
        let iv = affine::induction_var(m, *x)?;
        debug_assert_eq!(x, y);
        let (vx, vy) = (sa.value(iv)?, sb.value(iv)?);
        let step_up = affine::for_step(m, *x).unwrap_or(1) > 0;
        let earlier = if step_up { vx.lt(&vy) } else { vx.gt(&vy) };
        let mut alt = equal.clone();
        alt.push(earlier);
        alternatives.push(Bool::and(&alt));
        equal.push(vx.eq(&vy));
    }
    if pos.get(&a)? < pos.get(&b)? {
        alternatives.push(Bool::and(&equal));
    }
    Some(Bool::or(&alternatives))
}

/// One access instance in both programs: the access after the step in
/// its space, and its original in the original's space.
struct Instance<'a, 'm> {
    op: Op,
    after: &'a mut Space<'m>,
    original: Op,
    before: &'a mut Space<'m>,
}

impl<'a, 'm> Instance<'a, 'm> {
    fn new(op: Op, after: &'a mut Space<'m>, original: Op, before: &'a mut Space<'m>) -> Self {
        Instance {
            op,
            after,
            original,
            before,
        }
    }
}

/// Two instances `x` and `y` that touch one element keep their order:
/// the one that ran first before the step does not run second after it.
/// `tied` holds the constraints that make each the same instance in both
/// programs beyond the variables they share. Accesses whose index is not
/// affine are left alone.
fn order_kept(
    (before, pos_before): (&Module, &HashMap<Op, usize>),
    (after, pos_after): (&Module, &HashMap<Op, usize>),
    x: Instance,
    y: Instance,
    mut tied: Vec<Bool>,
    cache: &mut Cache,
) -> Result<(), Failure> {
    let (Some((_, element)), Some((_, other))) = (x.after.access(x.op), y.after.access(y.op))
    else {
        return Ok(());
    };
    tied.extend(element.iter().zip(&other).map(|(p, q)| p.eq(q)));
    let element = &element;
    let exact = !(x.after.inexact || y.after.inexact || x.before.inexact || y.before.inexact);
    for x_first in [true, false] {
        let (first_before, first_after) = if x_first {
            (
                runs_before(
                    before, pos_before, x.original, x.before, y.original, y.before,
                ),
                runs_before(after, pos_after, y.op, y.after, x.op, x.after),
            )
        } else {
            (
                runs_before(
                    before, pos_before, y.original, y.before, x.original, x.before,
                ),
                runs_before(after, pos_after, x.op, x.after, y.op, y.after),
            )
        };
        let (Some(first_before), Some(first_after)) = (first_before, first_after) else {
            continue;
        };
        let mut facts: Vec<Bool> = [&*x.after, &*y.after, &*x.before, &*y.before]
            .iter()
            .flat_map(|s| s.all_facts())
            .collect();
        facts.extend(tied.iter().cloned());
        facts.push(first_before);
        facts.push(first_after);
        let (earlier, later) = if x_first {
            ("first", "second")
        } else {
            ("second", "first")
        };
        check(cache, &facts, exact, |model| {
            format!(
                "{} in iteration {} and {} in iteration {} touch element [{}]; the {earlier} ran first before the step, the {later} runs first after it",
                describe(after, x.op),
                x.after.show(model),
                describe(after, y.op),
                y.after.show(model),
                model_values(model, element)
            )
        })?;
    }
    Ok(())
}

/// A reorder keeps every dependence: for two accesses to one element (at
/// least one a store, not both updates of one reassociable reduction),
/// the instance that ran first in `before` still runs first in `after`.
/// The loops keep their names across the step, so one variable per loop
/// name (per instance) describes both programs.
pub fn dependences(
    before: &Module,
    after: &Module,
    kernel: &str,
    splits: &[Split],
    fp_reassoc: bool,
    cache: &mut Cache,
) -> Result<(), Failure> {
    let twins = Twins::new(before, after, kernel)?;
    let split_loops: Vec<(SplitLoops, i64)> = splits
        .iter()
        .map(|sp| split_loops(before, after, kernel, sp).map(|l| (l, sp.factor)))
        .collect::<Result<_, _>>()?;
    let originals: HashMap<String, Int> = split_loops
        .iter()
        .map(|(l, factor)| (l.q.clone(), original_index(l, *factor, "")))
        .collect();
    accesses_agree(before, after, kernel, &originals, cache)?;
    // The original program's space for instance `prefix`: a split loop's
    // variable is the expression of the new loops' variables.
    let before_space = |prefix: &str| {
        let mut s = Space::new(before, prefix);
        for (l, factor) in &split_loops {
            s.bound
                .insert(l.q.clone(), original_index(l, *factor, prefix));
        }
        s
    };
    let ops = accesses(after, kernel)?;
    let (pos_before, pos_after) = (positions(before, kernel), positions(after, kernel));
    let memref_of = accessed_memref;
    let reductions: HashMap<Op, (Op, String)> = ops
        .iter()
        .filter_map(|s| reduction_load(after, *s, fp_reassoc).map(|r| (*s, r)))
        .collect();
    let reduction_op = |op: Op| {
        reductions
            .iter()
            .find_map(|(s, (l, name))| (*s == op || *l == op).then_some(name))
    };
    for (n, &x) in ops.iter().enumerate() {
        for &y in &ops[n..] {
            if !(is_store(after, x) || is_store(after, y))
                || memref_of(after, x) != memref_of(after, y)
                || iteration_private(after, x)
            {
                continue;
            }
            if let (Some(rx), Some(ry)) = (reduction_op(x), reduction_op(y)) {
                if rx == ry {
                    continue;
                }
            }
            let (ox, oy) = (twins.require(after, x)?, twins.require(after, y)?);
            // Two instances: `x` in iteration a, `y` in iteration b (the
            // same op twice is two of its iterations), each in both
            // programs over the same variables.
            let mut ax = Space::new(after, "a.");
            let mut by = Space::new(after, "b.");
            let mut bx = before_space("a.");
            let mut byb = before_space("b.");
            if !(ax.enter_around(x)
                && by.enter_around(y)
                && bx.enter_around(ox)
                && byb.enter_around(oy))
            {
                continue;
            }
            order_kept(
                (before, &pos_before),
                (after, &pos_after),
                Instance::new(x, &mut ax, ox, &mut bx),
                Instance::new(y, &mut by, oy, &mut byb),
                Vec::new(),
                cache,
            )?;
        }
    }
    Ok(())
}

/// The copy nest (`accc.copy` = `in` or `out`) around `op`, if any: its
/// direction.
fn copy_direction(m: &Module, op: Op) -> Option<String> {
    let mut cur = m.parent_op(op);
    while let Some(p) = cur {
        if let Some(d) = m.attr(p, "accc.copy").and_then(Attribute::as_str) {
            return Some(d.to_string());
        }
        cur = m.parent_op(p);
    }
    None
}

/// Footprint and write-back of staged buffers (`buffer_at`,
/// `double_buffer`, `hoist`, `pipeline`, `reuse_at` leave them): every
/// element of a buffer that the computation reads is written by one of
/// the buffer's copy-in nests on some iteration, and every element the
/// computation writes is read by one of its copy-out nests on some
/// iteration. (When each happens is what the symbolic run of the
/// shrunken kernel checks; this makes sure no row or column of the real
/// footprint is left out.)
pub fn staging(m: &Module, kernel: &str, cache: &mut Cache) -> Result<(), Failure> {
    let ops = accesses(m, kernel)?;
    let memref_of = |op: Op| accessed_memref(m, op);
    let staged: Vec<Value> = {
        let mut seen = Vec::new();
        for &op in &ops {
            if let Some(v) = memref_of(op) {
                let is_buffer = m
                    .defining_op(v)
                    .is_some_and(|d| m.attr(d, "accc.buffer").is_some());
                if is_buffer && !seen.contains(&v) {
                    seen.push(v);
                }
            }
        }
        seen
    };
    for buf in staged {
        let of_buf: Vec<Op> = ops
            .iter()
            .copied()
            .filter(|o| memref_of(*o) == Some(buf))
            .collect();
        let copies = |dir: &str, store: bool| -> Vec<Op> {
            of_buf
                .iter()
                .copied()
                .filter(|o| {
                    is_store(m, *o) == store && copy_direction(m, *o).as_deref() == Some(dir)
                })
                .collect()
        };
        let (fills, drains) = (copies("in", true), copies("out", false));
        let computing = |store: bool| -> Vec<Op> {
            of_buf
                .iter()
                .copied()
                .filter(|o| is_store(m, *o) == store && copy_direction(m, *o).is_none())
                .collect()
        };
        if !fills.is_empty() {
            for read in computing(false) {
                covered_by(m, read, &fills, "no copy-in writes it", cache)?;
            }
        }
        if !drains.is_empty() {
            for write in computing(true) {
                covered_by(m, write, &drains, "no copy-out reads it", cache)?;
            }
        }
    }
    Ok(())
}

/// Is the element `access` touches, on every iteration, also touched by
/// one of `copies` on some iteration?
fn covered_by(
    m: &Module,
    access: Op,
    copies: &[Op],
    missing: &str,
    cache: &mut Cache,
) -> Result<(), Failure> {
    let (s, _, index) = encode_access(m, access, "")?;
    let mut facts = s.all_facts();
    let exact = !s.inexact;
    for (n, &c) in copies.iter().enumerate() {
        let mut cs = Space::new(m, &format!("copy{n}."));
        let Some((_, cindex)) = cs.enter_around(c).then(|| cs.access(c)).flatten() else {
            return Err(Failure::Undecided(format!(
                "the index of {} is not affine in the loops",
                describe(m, c)
            )));
        };
        if cs.inexact {
            // An over-approximated copy could cover what it never writes.
            return Err(Failure::Undecided(format!(
                "the loops around {} are not modelled exactly",
                describe(m, c)
            )));
        }
        let same: Vec<Bool> = index.iter().zip(&cindex).map(|(a, b)| a.eq(b)).collect();
        let body = Bool::and(&[Bool::and(&cs.all_facts()), Bool::and(&same)]).not();
        facts.push(z3::ast::forall_const(&cs.variables(), &[], &body));
    }
    check(cache, &facts, exact, |model| {
        format!(
            "{} touches element [{}] in iteration {}, and {missing} on any iteration",
            describe(m, access),
            model_values(model, &index),
            s.show(model)
        )
    })
}

/// A statement: a store and the loads its stored value is computed from
/// (through the ops of its block), each with its key.
struct Statement {
    store: Op,
    loads: Vec<Op>,
    /// The store's key, then the loads' keys in order.
    keys: Vec<String>,
}

/// The key of an access across programs: its kind, source location and
/// memref.
fn access_key(m: &Module, op: Op) -> String {
    format!(
        "{} {} {}",
        m.op_name(op).rsplit('.').next().unwrap_or(""),
        m.op(op).loc,
        accessed_memref(m, op).map_or(String::new(), |v| memref_key(m, v))
    )
}

fn statements(m: &Module, kernel: &str) -> Result<Vec<Statement>, Failure> {
    let mut out = Vec::new();
    for store in accesses(m, kernel)?.into_iter().filter(|o| is_store(m, *o)) {
        let block = m.op_parent_block(store);
        let mut loads = Vec::new();
        let mut open: Vec<Value> = m.operands(store).first().copied().into_iter().collect();
        let mut seen = HashSet::new();
        while let Some(v) = open.pop() {
            let Some(def) = m.defining_op(v) else {
                continue;
            };
            if m.op_parent_block(def) != block || !seen.insert(def) {
                continue;
            }
            if is_access(m, def) {
                loads.push(def);
            } else if m.op_regions(def).is_empty() {
                open.extend(m.operands(def).iter().copied());
            }
        }
        loads.sort_by_key(|l| access_key(m, *l));
        let keys = std::iter::once(store)
            .chain(loads.iter().copied())
            .map(|o| access_key(m, o))
            .collect();
        out.push(Statement { store, loads, keys });
    }
    Ok(out)
}

/// Memrefs whose layout a step changed, by [`memref_key`]: `Some(r)`
/// when only a leading dimension was added (a double buffer's copy index)
/// and the trailing `r` indices still address the element as before,
/// `None` when the layout is new (a partition's banks) or the memref is
/// in one program only.
type Relaid = HashMap<String, Option<usize>>;

/// The indices of the accesses of `st`, in its key order, in space `s`:
/// of a memref in `relaid`, only the trailing indices that still mean
/// what they meant (none for a new layout).
fn signature(s: &mut Space, st: &Statement, relaid: &Relaid) -> Option<Vec<Int>> {
    let mut out = Vec::new();
    for op in std::iter::once(st.store).chain(st.loads.iter().copied()) {
        let memref = accessed_memref(s.m, op)?;
        match relaid.get(&memref_key(s.m, memref)) {
            None => out.extend(s.access(op)?.1),
            Some(Some(rank)) => {
                let index = s.access(op)?.1;
                out.extend(index[index.len().saturating_sub(*rank)..].iter().cloned());
            }
            // Not even encoded: its index terms would only add variables
            // to quantify.
            Some(None) => {}
        }
    }
    Some(out)
}

/// The memrefs whose type a step changed, or that only one of the two
/// programs has (see [`Relaid`]).
fn relaid_memrefs(before: &Module, after: &Module, kernel: &str) -> Result<Relaid, Failure> {
    let types = |m: &Module| -> Result<HashMap<String, accc_ir::Type>, Failure> {
        let mut out = HashMap::new();
        for op in accesses(m, kernel)? {
            if let Some(v) = accessed_memref(m, op) {
                out.insert(memref_key(m, v), m.value_type(v).clone());
            }
        }
        Ok(out)
    };
    let (a, b) = (types(before)?, types(after)?);
    let shape = |t: &accc_ir::Type| t.as_memref().map(|m| m.shape.clone());
    let mut out: Relaid = HashMap::new();
    for (k, t) in &a {
        match b.get(k) {
            Some(u) if u == t => {}
            Some(u) => {
                let kept = match (shape(t), shape(u)) {
                    (Some(old), Some(new)) if new.len() == old.len() + 1 && new[1..] == old[..] => {
                        Some(old.len())
                    }
                    _ => None,
                };
                out.insert(k.clone(), kept);
            }
            None => {
                out.insert(k.clone(), None);
            }
        }
    }
    for k in b.keys().filter(|k| !a.contains_key(*k)) {
        out.insert(k.clone(), None);
    }
    Ok(out)
}

/// Every instance of every statement of `before` runs in `after`, once: a
/// statement's instance is what it stores to and loads from (the indices
/// of all its accesses), and its copies in `after` (the same accesses at
/// the same source locations: unrolled or peeled copies, pipeline
/// stages) must together have each instance of the original, on some
/// iteration, and no instance twice when the original has none twice.
/// Statements whose accesses changed memref (a staged buffer) are left to
/// [`staging`].
pub fn instances_covered(
    before: &Module,
    after: &Module,
    kernel: &str,
    cache: &mut Cache,
) -> Result<(), Failure> {
    let copies_of = statements(after, kernel)?;
    let relaid = relaid_memrefs(before, after, kernel)?;
    let originals_all = statements(before, kernel)?;
    // Statements with the same accesses at the same places (a pipeline's
    // prologue and steady state, the chunks of a copy, two uses of one
    // intrinsic) form one group: the copies of a group must together run
    // the instances of all its originals.
    let mut groups: Vec<(&Vec<String>, Vec<&Statement>)> = Vec::new();
    for st in &originals_all {
        match groups.iter_mut().find(|(k, _)| **k == st.keys) {
            Some((_, g)) => g.push(st),
            None => groups.push((&st.keys, vec![st])),
        }
    }
    for (keys, originals) in groups {
        let copies: Vec<&Statement> = copies_of.iter().filter(|c| c.keys == *keys).collect();
        if copies.is_empty() || keys.is_empty() {
            continue;
        }
        // The originals' spaces and signatures (each entered once per use).
        let original_space = |st: &Statement, prefix: &str| -> Result<(Space, Vec<Int>), Failure> {
            let mut o = Space::new(before, prefix);
            if !o.enter_around(st.store) {
                return Err(Failure::Undecided(format!(
                    "the loops around {} are not affine",
                    describe(before, st.store)
                )));
            }
            let sig = signature(&mut o, st, &relaid).ok_or_else(|| {
                Failure::Undecided(format!(
                    "an index of the statement of {} is not affine",
                    describe(before, st.store)
                ))
            })?;
            if o.inexact {
                return Err(Failure::Undecided(format!(
                    "the loops around {} are not modelled exactly",
                    describe(before, st.store)
                )));
            }
            Ok((o, sig))
        };
        let mut spaces = Vec::new();
        for (n, c) in copies.iter().enumerate() {
            let mut s = Space::new(after, &format!("c{n}."));
            let csig = s
                .enter_around(c.store)
                .then(|| signature(&mut s, c, &relaid))
                .flatten()
                .ok_or_else(|| {
                    Failure::Undecided(format!(
                        "an index of the statement of {} is not affine",
                        describe(after, c.store)
                    ))
                })?;
            if s.inexact {
                return Err(Failure::Undecided(format!(
                    "the loops around {} are not modelled exactly",
                    describe(after, c.store)
                )));
            }
            spaces.push((s, csig));
        }
        // Coverage: an instance of an original that no copy runs. First
        // the copy that keeps the original's loops (the same names): one
        // quantifier-free query; else every copy, quantified.
        'originals: for st in &originals {
            let (o, sig) = original_space(st, "o.")?;
            for c in &copies {
                let mut tied = Space::new(after, "o.");
                if !tied.enter_around(c.store) || tied.inexact {
                    continue;
                }
                let Some(tsig) = signature(&mut tied, c, &relaid) else {
                    continue;
                };
                if !tied.tied_to(&o) {
                    continue;
                }
                let same: Vec<Bool> = sig.iter().zip(&tsig).map(|(a, b)| a.eq(b)).collect();
                let mut facts = o.all_facts();
                facts.extend(tied.defs.iter().cloned());
                facts.push(Bool::and(&[Bool::and(&tied.limits()), Bool::and(&same)]).not());
                if let Ok(None) = cache.solve(&facts) {
                    continue 'originals;
                }
            }
            // Each copy's candidate iteration for the instance, without a
            // quantifier; then every iteration of every copy.
            let unreached = |witness: bool| {
                let mut facts = o.all_facts();
                for (s, csig) in &spaces {
                    facts.extend(s.unreached(csig, &sig, witness));
                }
                facts
            };
            if let Ok(None) = cache.solve(&unreached(true)) {
                continue 'originals;
            }
            let facts = unreached(false);
            check(cache, &facts, true, |model| {
                format!(
                    "{} in iteration {} (accessing [{}]) does not run in any copy of it after the step",
                    describe(before, st.store),
                    o.show(model),
                    model_values(model, &sig)
                )
            })?;
        }
        // The converse: an instance of a copy that is an instance of no
        // original (a loop running too long inside a larger buffer).
        'copies: for (n_copy, (c, (s, csig))) in copies.iter().zip(&spaces).enumerate() {
            for st in &originals {
                let mut tied = Space::new(before, &format!("c{n_copy}."));
                if !tied.enter_around(st.store) || tied.inexact {
                    continue;
                }
                let Some(tsig) = signature(&mut tied, st, &relaid) else {
                    continue;
                };
                if !tied.tied_to(s) {
                    continue;
                }
                let same: Vec<Bool> = tsig.iter().zip(csig).map(|(a, b)| a.eq(b)).collect();
                let mut facts = s.all_facts();
                facts.extend(tied.defs.iter().cloned());
                facts.push(Bool::and(&[Bool::and(&tied.limits()), Bool::and(&same)]).not());
                if let Ok(None) = cache.solve(&facts) {
                    continue 'copies;
                }
            }
            let mut spaces_before = Vec::new();
            for (n, st) in originals.iter().enumerate() {
                spaces_before.push(original_space(st, &format!("r{n}."))?);
            }
            let unreached = |witness: bool| {
                let mut facts = s.all_facts();
                for (r, rsig) in &spaces_before {
                    facts.extend(r.unreached(rsig, csig, witness));
                }
                facts
            };
            if let Ok(None) = cache.solve(&unreached(true)) {
                continue 'copies;
            }
            let facts = unreached(false);
            check(cache, &facts, true, |model| {
                format!(
                    "{} in iteration {} (accessing [{}]) is no instance of the statement before the step",
                    describe(after, c.store),
                    s.show(model),
                    model_values(model, csig)
                )
            })?;
        }
        // Duplicates, when the originals run no instance twice (each pair
        // of statements is a query).
        if copies.len() > MAX_COPIES || originals.len() > MAX_COPIES {
            return Err(Failure::Undecided(format!(
                "{} has {} copies; at most {MAX_COPIES} are compared pairwise",
                describe(before, originals[0].store),
                copies.len().max(originals.len())
            )));
        }
        let mut originals_twice = false;
        'pairs: for i in 0..originals.len() {
            for j in i..originals.len() {
                let (o1, sig1) = original_space(originals[i], "o1.")?;
                let (o2, sig2) = original_space(originals[j], "o2.")?;
                let mut facts = o1.all_facts();
                facts.extend(o2.all_facts());
                facts.extend(sig1.iter().zip(&sig2).map(|(a, b)| a.eq(b)));
                if i == j {
                    facts.push(distinct(&o1, &o2));
                }
                match cache.solve(&facts) {
                    Ok(None) => {}
                    Ok(Some(_)) => {
                        originals_twice = true;
                        break 'pairs;
                    }
                    Err(why) => return Err(Failure::Undecided(format!("z3: {why}"))),
                }
            }
        }
        if originals_twice {
            continue;
        }
        for i in 0..spaces.len() {
            for j in i..spaces.len() {
                let mut second = Space::new(after, &format!("d{j}."));
                second.enter_around(copies[j].store);
                let Some(sig_j) = signature(&mut second, copies[j], &relaid) else {
                    continue;
                };
                let (first, sig_i) = &spaces[i];
                let mut facts = first.all_facts();
                facts.extend(second.all_facts());
                facts.extend(sig_i.iter().zip(&sig_j).map(|(a, b)| a.eq(b)));
                if i == j {
                    facts.push(distinct(first, &second));
                }
                check(cache, &facts, !second.inexact, |model| {
                    format!(
                        "{} runs the same instance (accessing [{}]) twice after the step: in iteration {} and in iteration {}",
                        describe(after, copies[i].store),
                        model_values(model, sig_i),
                        first.show(model),
                        second.show(model)
                    )
                })?;
            }
        }
    }
    Ok(())
}

/// Two iterations of one op's loops (entered in `a` and `b`) differ.
fn distinct(a: &Space, b: &Space) -> Bool {
    let differ: Vec<Bool> = a
        .shown
        .iter()
        .zip(&b.shown)
        .map(|((_, x), (_, y))| x.eq(y).not())
        .collect();
    Bool::or(&differ)
}

/// The trip count of the loop of `kernel` that `name` (`i`, `i.o`,
/// `stage.i`) names, when it is the only one and has constant bounds.
pub fn loop_trips(m: &Module, kernel: &str, name: &str) -> Option<i64> {
    let (op, _) = unique_loop(m, kernel, name).ok()?;
    let (lb, ub, step) = affine::constant_bounds(m, op)?;
    (step > 0).then(|| trip_count(lb, ub, step))
}

/// Iterations of `for i = lb to ub step step` (0 for a non-positive step).
fn trip_count(lb: i64, ub: i64, step: i64) -> i64 {
    if ub > lb && step > 0 {
        (ub - lb + step - 1) / step
    } else {
        0
    }
}

/// The extent of dimension `dim` of the local buffer named `buffer`.
pub fn buffer_extent(m: &Module, kernel: &str, buffer: &str, dim: usize) -> Option<i64> {
    let f = m.lookup_symbol(kernel)?;
    let mut out = None;
    m.walk(f, &mut |op| {
        if m.attr(op, "accc.buffer").and_then(Attribute::as_str) == Some(buffer)
            && m.op_name(op) == "memref.alloc"
        {
            out = m
                .results(op)
                .first()
                .and_then(|v| m.value_type(*v).as_memref())
                .and_then(|t| t.shape.get(dim).copied());
        }
    });
    out
}

/// A buffer whose layout the step changed (`partition`'s banks,
/// `double_buffer`'s copies) keeps distinct elements apart: no two
/// accesses (in any iterations) that addressed different elements before
/// the step address the same place after it. Accesses without a single
/// counterpart before the step are not compared.
pub fn layouts_injective(
    before: &Module,
    after: &Module,
    kernel: &str,
    cache: &mut Cache,
) -> Result<(), Failure> {
    let twins = Twins::new(before, after, kernel)?;
    let keys_before: HashSet<String> = accesses(before, kernel)?
        .into_iter()
        .filter_map(|op| accessed_memref(before, op).map(|v| memref_key(before, v)))
        .collect();
    let relaid: Vec<String> = relaid_memrefs(before, after, kernel)?
        .into_keys()
        .filter(|k| keys_before.contains(k))
        .collect();
    let ops = accesses(after, kernel)?;
    for key in relaid {
        let of_buffer: Vec<(Op, Op)> = ops
            .iter()
            .filter(|op| accessed_memref(after, **op).is_some_and(|v| memref_key(after, v) == key))
            .filter_map(|op| twins.of(*op).map(|old| (*op, old)))
            .collect();
        for (n, &(x, ox)) in of_buffer.iter().enumerate() {
            for &(y, oy) in &of_buffer[n..] {
                let mut spaces = [
                    Space::new(after, "a."),
                    Space::new(before, "a."),
                    Space::new(after, "b."),
                    Space::new(before, "b."),
                ];
                let entered = [x, ox, y, oy]
                    .iter()
                    .zip(spaces.iter_mut())
                    .all(|(op, s)| s.enter_around(*op));
                if !entered {
                    continue;
                }
                let [ax, bx, ay, by] = &mut spaces;
                let (Some((_, px)), Some((_, lx)), Some((_, py)), Some((_, ly))) =
                    (ax.access(x), bx.access(ox), ay.access(y), by.access(oy))
                else {
                    return Err(Failure::Undecided(format!(
                        "an index of {} is not affine in the loops",
                        describe(after, x)
                    )));
                };
                let mut facts: Vec<Bool> = spaces.iter().flat_map(|s| s.all_facts()).collect();
                facts.push(Bool::or(
                    &lx.iter()
                        .zip(&ly)
                        .map(|(a, b)| a.eq(b).not())
                        .collect::<Vec<_>>(),
                ));
                facts.extend(px.iter().zip(&py).map(|(a, b)| a.eq(b)));
                let exact = spaces.iter().all(|s| !s.inexact);
                check(cache, &facts, exact, |model| {
                    format!(
                        "{} in iteration {} and {} in iteration {} address elements [{}] and [{}], which the new layout puts in one place [{}]",
                        describe(after, x),
                        spaces[0].show(model),
                        describe(after, y),
                        spaces[2].show(model),
                        model_values(model, &lx),
                        model_values(model, &ly),
                        model_values(model, &px)
                    )
                })?;
            }
        }
    }
    Ok(())
}

/// Dependences kept across a step that moves statement instances between
/// loop nests (`fuse`, `fission`, `pipeline`, `compute_at`), where loops
/// do not keep their names: an instance of a statement after the step is
/// tied to the instance before it with the same accesses (the indices of
/// its store and loads, buffers whose layout changed left out), and for
/// two accesses to one element, at least one a store, the instance that
/// ran first before the step must run first after it (two updates of one
/// reassociable reduction excepted). Statements whose accesses do not
/// tell their instances apart before the step are not tied, and their
/// pairs are left to the shrunken kernel.
pub fn instance_dependences(
    before: &Module,
    after: &Module,
    kernel: &str,
    fp_reassoc: bool,
    cache: &mut Cache,
) -> Result<(), Failure> {
    let relaid = relaid_memrefs(before, after, kernel)?;
    let (old, new) = (statements(before, kernel)?, statements(after, kernel)?);
    let (pos_before, pos_after) = (positions(before, kernel), positions(after, kernel));
    // Each access of `after` with its statement, its position in it, and
    // the one statement of `before` with the same accesses.
    let mut sites: Vec<(Op, usize, usize, usize)> = Vec::new();
    let mut injective: HashMap<usize, bool> = HashMap::new();
    for (ni, st) in new.iter().enumerate() {
        let originals: Vec<usize> = (0..old.len()).filter(|o| old[*o].keys == st.keys).collect();
        let [oi] = originals.as_slice() else { continue };
        let tied = match injective.get(oi) {
            Some(t) => *t,
            None => {
                let t = signature_injective(before, &old[*oi], &relaid, cache)?;
                injective.insert(*oi, t);
                t
            }
        };
        if !tied {
            continue;
        }
        for (k, op) in std::iter::once(st.store)
            .chain(st.loads.iter().copied())
            .enumerate()
        {
            sites.push((op, ni, *oi, k));
        }
    }
    let access_at = |st: &Statement, k: usize| {
        if k == 0 {
            st.store
        } else {
            st.loads[k - 1]
        }
    };
    let reduction =
        |m: &Module, st: &Statement| reduction_load(m, st.store, fp_reassoc).map(|(_, op)| op);
    for (n, &(x, nx, ox_st, kx)) in sites.iter().enumerate() {
        for &(y, ny, oy_st, ky) in &sites[n..] {
            if !(is_store(after, x) || is_store(after, y))
                || accessed_memref(after, x) != accessed_memref(after, y)
                || iteration_private(after, x)
            {
                continue;
            }
            let (rx, ry) = (reduction(after, &new[nx]), reduction(after, &new[ny]));
            if rx.is_some() && rx == ry && ox_st == oy_st {
                continue;
            }
            let (ox, oy) = (access_at(&old[ox_st], kx), access_at(&old[oy_st], ky));
            let mut ax = Space::new(after, "xa.");
            let mut ay = Space::new(after, "ya.");
            let mut bx = Space::new(before, "xb.");
            let mut by = Space::new(before, "yb.");
            if !(ax.enter_around(new[nx].store)
                && ay.enter_around(new[ny].store)
                && bx.enter_around(old[ox_st].store)
                && by.enter_around(old[oy_st].store))
            {
                continue;
            }
            let tie = |s: &mut Space, st: &Statement, t: &mut Space, ot: &Statement| {
                Some(
                    signature(s, st, &relaid)?
                        .iter()
                        .zip(&signature(t, ot, &relaid)?)
                        .map(|(a, b)| a.eq(b))
                        .collect::<Vec<_>>(),
                )
            };
            let (Some(tx), Some(ty)) = (
                tie(&mut ax, &new[nx], &mut bx, &old[ox_st]),
                tie(&mut ay, &new[ny], &mut by, &old[oy_st]),
            ) else {
                continue;
            };
            order_kept(
                (before, &pos_before),
                (after, &pos_after),
                Instance::new(x, &mut ax, ox, &mut bx),
                Instance::new(y, &mut ay, oy, &mut by),
                tx.into_iter().chain(ty).collect(),
                cache,
            )?;
        }
    }
    Ok(())
}

/// Do the accesses of `st` (buffers in `relaid` left out) tell its
/// instances apart: no two iterations with the same indices?
fn signature_injective(
    m: &Module,
    st: &Statement,
    relaid: &Relaid,
    cache: &mut Cache,
) -> Result<bool, Failure> {
    let (mut a, mut b) = (Space::new(m, "i1."), Space::new(m, "i2."));
    if !(a.enter_around(st.store) && b.enter_around(st.store)) || a.inexact {
        return Ok(false);
    }
    let (Some(sa), Some(sb)) = (signature(&mut a, st, relaid), signature(&mut b, st, relaid))
    else {
        return Ok(false);
    };
    let mut facts = a.all_facts();
    facts.extend(b.all_facts());
    facts.extend(sa.iter().zip(&sb).map(|(x, y)| x.eq(y)));
    facts.push(distinct(&a, &b));
    match cache.solve(&facts) {
        Ok(found) => Ok(found.is_none()),
        Err(why) => Err(Failure::Undecided(format!("z3: {why}"))),
    }
}

/// The copies a `buffer_at` step made are faithful at full size: every
/// read of a new buffer gets, from the copy-in of the same iteration of
/// the loops around the copy, the element of the tensor that its
/// original (the access at the same source location before the step)
/// read; and every write to it reaches, through the copy-out of the same
/// iteration, the element its original wrote. A copy with a wrong stride,
/// offset or order of indices, or one that leaves part of the box to
/// another iteration, is refuted with the iteration.
pub fn copies_faithful(
    before: &Module,
    after: &Module,
    kernel: &str,
    cache: &mut Cache,
) -> Result<(), Failure> {
    let old_keys: HashSet<String> = accesses(before, kernel)?
        .into_iter()
        .filter_map(|op| accessed_memref(before, op).map(|v| memref_key(before, v)))
        .collect();
    // Originals by kind and location, whatever memref they access.
    let mut originals: HashMap<String, Vec<Op>> = HashMap::new();
    for op in accesses(before, kernel)? {
        let key = format!("{} {}", is_store(before, op), before.op(op).loc);
        originals.entry(key).or_default().push(op);
    }
    let ops = accesses(after, kernel)?;
    for &access in &ops {
        let Some(buffer) = accessed_memref(after, access) else {
            continue;
        };
        let key = memref_key(after, buffer);
        if old_keys.contains(&key)
            || !key.starts_with("buffer ")
            || copy_direction(after, access).is_some()
        {
            continue;
        }
        let store = is_store(after, access);
        let Some([original]) = originals
            .get(&format!("{store} {}", after.op(access).loc))
            .map(Vec::as_slice)
        else {
            return Err(Failure::Undecided(format!(
                "{} has no single original before the step",
                describe(after, access)
            )));
        };
        // The copy-in stores (for a read) or copy-out loads (for a write)
        // of this buffer.
        let copies: Vec<Op> = ops
            .iter()
            .copied()
            .filter(|o| {
                accessed_memref(after, *o) == Some(buffer)
                    && is_store(after, *o) != store
                    && copy_direction(after, *o).as_deref()
                        == Some(if store { "out" } else { "in" })
            })
            .collect();
        if copies.is_empty() {
            // An accumulator initialized in place, or a buffer read only
            // through another: `staging` and the shrunken kernel cover it.
            continue;
        }
        let (s, _, index) = encode_access(after, access, "")?;
        let mut o = Space::new(before, "");
        if !o.enter_around(*original) {
            return Err(Failure::Undecided(format!(
                "the loops around {} are not affine",
                describe(before, *original)
            )));
        }
        let Some((_, expected)) = o.access(*original) else {
            return Err(Failure::Undecided(format!(
                "the index of {} is not affine",
                describe(before, *original)
            )));
        };
        for &copy in &copies {
            // The other side of the copy: the tensor access that feeds
            // the copy-in store, or that the copy-out load feeds.
            let Some(tensor_side) = copy_partner(after, copy) else {
                return Err(Failure::Undecided(format!(
                    "{} is not a plain copy",
                    describe(after, copy)
                )));
            };
            let mut c = Space::new(after, "");
            if !c.enter_around(copy) || c.inexact {
                return Err(Failure::Undecided(format!(
                    "the loops around {} are not modelled exactly",
                    describe(after, copy)
                )));
            }
            let (Some((_, slot)), Some((_, source))) = (c.access(copy), c.access(tensor_side))
            else {
                return Err(Failure::Undecided(format!(
                    "an index of the copy {} is not affine",
                    describe(after, copy)
                )));
            };
            // The copy's own loops: the ones the access does not share.
            let shared: HashSet<&String> = s.shown.iter().map(|(n, _)| n).collect();
            let own: Vec<&dyn z3::ast::Ast> = c
                .shown
                .iter()
                .filter(|(n, _)| !shared.contains(n))
                .map(|(_, v)| v as &dyn z3::ast::Ast)
                .chain(c.aux.iter().map(|v| v as &dyn z3::ast::Ast))
                .collect();
            let mut base = s.all_facts();
            base.extend(o.all_facts());
            let exact = !(s.inexact || o.inexact);
            // The element comes from the right place...
            let mut facts = base.clone();
            facts.extend(c.all_facts());
            facts.extend(slot.iter().zip(&index).map(|(a, b)| a.eq(b)));
            facts.push(Bool::or(
                &source
                    .iter()
                    .zip(&expected)
                    .map(|(a, b)| a.eq(b).not())
                    .collect::<Vec<_>>(),
            ));
            check(cache, &facts, exact, |model| {
                format!(
                    "{} touches element [{}] in iteration {}, which {} copies {} [{}] in iteration {}; the access before the step touched [{}]",
                    describe(after, access),
                    model_values(model, &index),
                    s.show(model),
                    describe(after, copy),
                    if store { "to" } else { "from" },
                    model_values(model, &source),
                    c.show(model),
                    model_values(model, &expected)
                )
            })?;
            // ... and in the same iteration (not left to another one).
            let body = Bool::and(&[
                Bool::and(&c.all_facts()),
                Bool::and(
                    &slot
                        .iter()
                        .zip(&index)
                        .map(|(a, b)| a.eq(b))
                        .collect::<Vec<_>>(),
                ),
            ])
            .not();
            let mut facts = base;
            facts.push(z3::ast::forall_const(&own, &[], &body));
            check(cache, &facts, exact, |model| {
                format!(
                    "{} touches element [{}] in iteration {}, which {} does not copy in that iteration",
                    describe(after, access),
                    model_values(model, &index),
                    s.show(model),
                    describe(after, copy)
                )
            })?;
        }
    }
    Ok(())
}

/// The tensor side of a copy: for a copy-in store, the load whose value
/// it stores; for a copy-out load, the store of its value.
fn copy_partner(m: &Module, op: Op) -> Option<Op> {
    if is_store(m, op) {
        let load = m.defining_op(*m.operands(op).first()?)?;
        is_access(m, load).then_some(load)
    } else {
        let value = *m.results(op).first()?;
        m.uses(value).iter().map(|u| u.op).find(|u| is_store(m, *u))
    }
}

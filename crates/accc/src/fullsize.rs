//! Verifying a schedule whose kernel is too large to execute symbolically.
//!
//! Under the budget, every step is verified by symbolic execution at the
//! real shapes ([`verify::verify_sequence`]). Over it, each step is proved
//! by two checks that together cover what one full run would:
//!
//! 1. **The same schedule on a shrunken kernel.** The kernel's constants
//!    and literal extents and the schedule's factors (split, tile, unroll,
//!    partition) are mapped to small numbers that keep, for every
//!    (extent, factor) pair, the quotient and remainder up to a cap and
//!    the quotient modulo the buffer copies and pipeline stages
//!    (`size_map`); the file is checked, lowered and scheduled again,
//!    and every step of that trace must have *the same code as the real
//!    step except for its numbers* (the printed IRs with numeric literals
//!    masked are equal), and must be proved equivalent by symbolic
//!    execution. This proves what each element is computed from:
//!    initializations, operators, operand order, which buffer and copy
//!    hold what.
//! 2. **Parametric obligations at the real size** (z3,
//!    [`verify::obligation`], chosen per primitive by
//!    [`step_obligations`]): bounds, split coverage, dependences, copies,
//!    staging, layouts and statement instances. These are the facts the
//!    numbers decide, which (1) saw only for small numbers.
//!
//! A step passes when both hold (method `shrunk+z3`). A counterexample on
//! the shrunken kernel, or a violated obligation, is *not equivalent*;
//! anything undecided is *unknown*.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Instant;

use accc_ir::Module;

use crate::{dsl, passes, verify, CompileOptions, SourceFile};
use verify::obligation::{self, Cache, Failure, Split};
use verify::{Counterexample, Outcome, Verdict};

/// Trip counts (size ratios) above this are all alike to the shrunken
/// kernel (a first, a middle and a last iteration); raised for pipelines
/// and buffer copies.
const BASE_CAP: i64 = 3;
/// Sizes up to this are kept as they are.
const KEEP_BELOW: i64 = 4;
/// Candidates tried for one size's stand-in.
const MAX_SEARCH: i64 = 100_000;

/// Verifies every step of `trace` (the schedule `options` names, applied
/// to `file`): symbolically at the real size when the kernel is within
/// the budget, otherwise by the shrunken kernel and the full-size
/// obligations. One outcome per step.
pub fn verify_schedule(
    file: &SourceFile,
    options: &CompileOptions,
    trace: &passes::schedule::Trace,
    kernel: &str,
    vopts: &verify::Options,
) -> Vec<Outcome> {
    let expanded = match crate::expand_trace(trace) {
        Ok(t) => t,
        Err(reason) => {
            return trace
                .steps
                .iter()
                .map(|_| Outcome::unknown(reason.clone()))
                .collect()
        }
    };
    let trace = &expanded;
    let Some(first) = trace.steps.first() else {
        return Vec::new();
    };
    let largest = std::iter::once(&*first.before)
        .chain(trace.steps.iter().map(|s| &*s.after))
        .filter_map(|m| {
            m.lookup_symbol(kernel)
                .map(|f| verify::exec::estimate_ops(m, f))
        })
        .max()
        .unwrap_or(0);
    if largest <= vopts.budget {
        // The estimate can fall short of the run; a run over the budget
        // falls back to the full-size strategy.
        let outcomes = crate::verify_trace(trace, kernel, vopts);
        let over = |o: &Outcome| {
            matches!(
                o.verdict,
                Verdict::Unknown {
                    over_budget: true,
                    ..
                }
            )
        };
        if !outcomes.iter().any(over) {
            return outcomes;
        }
    }
    let start = Instant::now();
    let small = shrunken_trace(file, options, trace);
    let shrink_ms = start.elapsed().as_secs_f64() * 1e3;
    // The shrunken kernel's symbolic runs and the full-size obligations
    // are independent: one thread each (z3 keeps a context per thread).
    let (small_outcomes, proofs) = std::thread::scope(|scope| {
        let symbolic = small.as_ref().ok().map(|(small_trace, _)| {
            scope.spawn(move || crate::verify_trace(small_trace, kernel, vopts))
        });
        let mut cache = Cache::default();
        let proofs: Vec<_> = trace
            .steps
            .iter()
            .map(|entry| {
                let t = Instant::now();
                let queries = cache.queries;
                let proved = step_obligations(
                    &entry.step,
                    &entry.report.names,
                    &entry.before,
                    &entry.after,
                    kernel,
                    vopts.fp_reassoc,
                    &mut cache,
                );
                (
                    proved,
                    cache.queries - queries,
                    t.elapsed().as_secs_f64() * 1e3,
                )
            })
            .collect();
        // A run that panicked (a bug) leaves the steps unknown.
        let small_outcomes = symbolic.and_then(|h| h.join().ok());
        (small_outcomes, proofs)
    });
    let shape = small.as_ref().map(|(_, s)| s.clone()).unwrap_or_default();
    let mut outcomes = Vec::new();
    for (i, (entry, (proved, queries, z3_ms))) in trace.steps.iter().zip(proofs).enumerate() {
        let small_outcome = small_outcomes.as_ref().map(|o| &o[i]);
        let structure = match &small {
            Ok((small_trace, _)) => same_code(&entry.after, &small_trace.steps[i].after),
            Err(why) => Err(why.clone()),
        };
        let verdict = match (&proved, small_outcome, &structure) {
            (Err((name, Failure::Violated(how))), _, _) => Verdict::NotEquivalent {
                counterexample: Box::new(Counterexample::obligation(name.clone(), how.clone())),
            },
            (_, Some(o), Ok(())) if matches!(o.verdict, Verdict::NotEquivalent { .. }) => {
                let mut v = o.verdict.clone();
                if let Verdict::NotEquivalent { counterexample } = &mut v {
                    counterexample.output =
                        format!("{} (of the kernel {shape})", counterexample.output);
                }
                v
            }
            (_, _, Err(why)) => Verdict::Unknown {
                reason: format!(
                    "the kernel is over the budget of {} symbolic operations (about {largest}) and {why}",
                    vopts.budget
                ),
                over_budget: true,
            },
            (Err((name, Failure::Undecided(why))), _, _) => Verdict::Unknown {
                reason: format!("obligation `{name}` is undecided: {why}"),
                over_budget: false,
            },
            (_, Some(o), _) if !o.verdict.is_equivalent() => match &o.verdict {
                Verdict::Unknown {
                    reason,
                    over_budget,
                } => Verdict::Unknown {
                    reason: format!("on the kernel {shape}: {reason}"),
                    over_budget: *over_budget,
                },
                other => other.clone(),
            },
            (Ok(_), Some(_), Ok(())) => Verdict::Equivalent,
            (Ok(_), None, _) => Verdict::Unknown {
                reason: "the shrunken kernel was not verified".to_string(),
                over_budget: false,
            },
        };
        let (ops, ops_after, terms, small_ms) =
            small_outcome.map_or((0, 0, 0, 0.0), |o| (o.ops, o.ops_after, o.terms, o.millis));
        let proved = proved.unwrap_or_default();
        let names = proved.join(", ");
        outcomes.push(Outcome {
            verdict,
            method: "shrunk+z3",
            fp_reassoc: vopts.fp_reassoc,
            ops,
            ops_after,
            terms,
            millis: small_ms + z3_ms + if i == 0 { shrink_ms } else { 0.0 },
            detail: format!(
                "{}; z3: {} ({queries} queries, {z3_ms:.1} ms)",
                if shape.is_empty() {
                    "not shrunk"
                } else {
                    &shape
                },
                if names.is_empty() {
                    "no obligation proved"
                } else {
                    &names
                }
            ),
            obligations: proved,
        });
    }
    outcomes
}

/// The name of the pseudo-step a target lowering is verified as.
pub const LOWERING: &str = "lower";

/// Verifies a target lowering that cut loop nests into chunks and
/// replaced them by instructions: `before` (the scheduled kernel) against
/// `after` (the lowered one with its instructions expanded). Symbolic
/// execution when the kernel is under the budget; otherwise, at full size,
/// the obligations that pin such a rewrite (bounds, every statement
/// instance exactly once in both directions, dependences between
/// instances kept, staging, layouts), method `z3`: the statements'
/// operations are the intrinsics' own, so equal instances compute equal
/// values.
pub fn verify_lowering(
    before: &Module,
    after: &Module,
    kernel: &str,
    vopts: &verify::Options,
) -> Outcome {
    let estimate = [before, after]
        .iter()
        .filter_map(|m| {
            m.lookup_symbol(kernel)
                .map(|f| verify::exec::estimate_ops(m, f))
        })
        .max()
        .unwrap_or(0);
    if estimate <= vopts.budget {
        let o = verify::verify(before, after, kernel, vopts);
        if !matches!(
            o.verdict,
            Verdict::Unknown {
                over_budget: true,
                ..
            }
        ) {
            return o;
        }
    }
    let start = Instant::now();
    let mut cache = Cache::default();
    let step = passes::schedule::Step {
        primitive: LOWERING.to_string(),
        binds: Vec::new(),
        args: Vec::new(),
        span: None,
    };
    let proved = step_obligations(
        &step,
        &[],
        before,
        after,
        kernel,
        vopts.fp_reassoc,
        &mut cache,
    );
    let z3_ms = start.elapsed().as_secs_f64() * 1e3;
    let mut outcome = Outcome::unknown(String::new());
    outcome.method = "z3";
    outcome.fp_reassoc = vopts.fp_reassoc;
    outcome.millis = z3_ms;
    match proved {
        Ok(names) => {
            outcome.verdict = Verdict::Equivalent;
            outcome.detail = format!(
                "z3: {} ({} queries, {z3_ms:.1} ms)",
                names.join(", "),
                cache.queries
            );
            outcome.obligations = names;
        }
        Err((name, Failure::Violated(how))) => {
            outcome.verdict = Verdict::NotEquivalent {
                counterexample: Box::new(Counterexample::obligation(name, how)),
            };
        }
        Err((name, Failure::Undecided(why))) => {
            outcome.verdict = Verdict::Unknown {
                reason: format!("obligation `{name}` is undecided: {why}"),
                over_budget: false,
            };
        }
    }
    outcome
}

/// The obligations of one schedule step (`step`, which bound `names`)
/// that took `before` to `after`, at full size: the names of those
/// proved, or the first that failed and how.
pub fn step_obligations(
    step: &passes::schedule::Step,
    names: &[String],
    before: &Module,
    after: &Module,
    kernel: &str,
    fp_reassoc: bool,
    cache: &mut Cache,
) -> Result<Vec<String>, (String, Failure)> {
    let mut proved = Vec::new();
    let mut run = |name: String, r: Result<(), Failure>| match r {
        Ok(()) => {
            proved.push(name);
            Ok(())
        }
        Err(f) => Err((name, f)),
    };
    run("bounds".into(), obligation::bounds(after, kernel, cache))?;
    let splits = claimed_splits(step, names);
    if !splits.is_empty() {
        let loops: Vec<&str> = splits.iter().map(|s| s.original.as_str()).collect();
        run(
            format!("coverage of the split of {}", loops.join(", ")),
            obligation::split_coverage(before, after, kernel, &splits, cache),
        )?;
    }
    if matches!(step.primitive.as_str(), "reorder" | "tile") {
        run(
            "dependences".into(),
            obligation::dependences(before, after, kernel, &splits, fp_reassoc, cache),
        )?;
    }
    if matches!(
        step.primitive.as_str(),
        "fuse" | "fission" | "pipeline" | "compute_at" | LOWERING
    ) {
        run(
            "dependences".into(),
            obligation::instance_dependences(before, after, kernel, fp_reassoc, cache),
        )?;
    }
    if step.primitive == "buffer_at" {
        run(
            "copies".into(),
            obligation::copies_faithful(before, after, kernel, cache),
        )?;
    }
    run("staging".into(), obligation::staging(after, kernel, cache))?;
    run(
        "layouts".into(),
        obligation::layouts_injective(before, after, kernel, cache),
    )?;
    // Steps that keep every statement where it was and only re-index its
    // loops have their instances pinned by the obligations above: a
    // split's coverage (each original iteration once, the same accesses),
    // a reorder's agreeing accesses over the same loops. A tensorize step
    // replaces a nest by an instruction whose expansion the matcher proved
    // index by index to be the nest; a lowering cuts copies into chunks
    // that partition each range by construction. The quantified instance
    // queries, costly on deep nests, are kept for the steps that move,
    // clone or merge statements.
    if !matches!(
        step.primitive.as_str(),
        "split" | "tile" | "reorder" | "tensorize" | LOWERING
    ) {
        run(
            "instances".into(),
            obligation::instances_covered(before, after, kernel, cache),
        )?;
    }
    Ok(proved)
}

/// The splits a `split` or `tile` step made: the loop as written, the
/// factor, and the loops it created (from the step's report).
fn claimed_splits(step: &passes::schedule::Step, names: &[String]) -> Vec<Split> {
    let positional = step.positional();
    let split = |l: usize, f: usize, o: usize, i: usize| {
        Some(Split {
            original: positional.get(l)?.as_name()?.to_string(),
            factor: positional.get(f)?.as_int()?,
            outer: names.get(o)?.clone(),
            inner: names.get(i)?.clone(),
        })
    };
    match step.primitive.as_str() {
        "split" => split(0, 1, 0, 1).into_iter().collect(),
        "tile" => [split(0, 2, 0, 2), split(1, 3, 1, 3)]
            .into_iter()
            .flatten()
            .collect(),
        _ => Vec::new(),
    }
}

/// Do two programs have the same code except for the numbers? (The
/// printed IRs compared with their numeric literals masked.)
fn same_code(real: &Module, small: &Module) -> Result<(), String> {
    let mask = |m: &Module| mask_numbers(&accc_ir::text::print_module(m));
    let (a, b) = (mask(real), mask(small));
    if a == b {
        return Ok(());
    }
    let line = a
        .lines()
        .zip(b.lines())
        .position(|(x, y)| x != y)
        .unwrap_or(a.lines().count().min(b.lines().count()));
    Err(format!(
        "the shrunken kernel's code differs from the real one's beyond its numbers (IR line {}), so it does not stand for it",
        line + 1
    ))
}

/// `text` with every numeric literal replaced by `#`: a run of digits not
/// part of a name (`%abuf_0`, `d1`, `i32`, `%12` keep theirs), including
/// the extents of a shape (`2x64x64xi8` becomes `#x#x#xi8`).
pub fn mask_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut prev: Option<char> = None;
    // Inside a run of digits: whether it is a masked literal.
    let mut run: Option<bool> = None;
    for c in text.chars() {
        if !c.is_ascii_digit() {
            run = None;
            out.push(c);
        } else {
            let literal = *run.get_or_insert_with(|| match prev {
                // `64x64`: an extent after an extent.
                Some('x') => out.ends_with("#x"),
                Some(p) => !(p.is_ascii_alphanumeric() || "_%$.#@".contains(p)),
                None => true,
            });
            match (literal, prev.is_some_and(|p| p.is_ascii_digit())) {
                (true, true) => {}
                (true, false) => out.push('#'),
                (false, _) => out.push(c),
            }
        }
        prev = Some(c);
    }
    out
}

/// Re-applies the schedule to a shrunken copy of the kernel; the trace
/// and a description of the shrunken sizes (`with M = 12, K = 12`).
fn shrunken_trace(
    file: &SourceFile,
    options: &CompileOptions,
    real: &passes::schedule::Trace,
) -> Result<(passes::schedule::Trace, String), String> {
    let fail = |what: &str| format!("the kernel could not be shrunk ({what})");
    let mut ast = dsl::parse(file).map_err(|_| fail("the file does not parse"))?;
    let program = dsl::check(file, &ast).map_err(|_| fail("the file does not check"))?;
    let schedule_name = options
        .schedule
        .as_deref()
        .ok_or_else(|| fail("no schedule"))?;
    let schedule = program
        .schedules
        .iter()
        .find(|s| s.name == schedule_name)
        .ok_or_else(|| fail("no such schedule"))?;
    let kernel = &program.kernels[schedule.kernel.index()].name;
    // The kernels involved: the scheduled one and those it names (calls).
    let (kernel_names, kernel_texts) = related_kernels(file, &ast, kernel);
    let relevant: HashSet<&str> = program
        .consts
        .iter()
        .filter(|c| kernel_texts.iter().any(|t| mentions(t, &c.name)))
        .map(|c| c.name.as_str())
        .collect();
    let schedule_names = related_schedules(&ast, schedule_name);
    let mut sizes = BTreeSet::new();
    let mut factors = BTreeSet::new();
    for c in &program.consts {
        if relevant.contains(c.name.as_str()) && c.value > 0 {
            sizes.insert(c.value);
        }
    }
    for_each_kernel_size(&mut ast, &kernel_names, &mut |v| {
        sizes.insert(*v);
    });
    for_each_schedule_size(&mut ast, &schedule_names, &mut |v| {
        sizes.insert(*v);
        factors.insert(*v);
    });
    let relations = relations(real, kernel, &sizes, &factors).map_err(|why| fail(&why))?;
    let map = size_map(&sizes, &relations).ok_or_else(|| {
        fail(&format!(
            "no small sizes keep the relations of {}",
            sizes
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    let mut shown = Vec::new();
    for item in &mut ast.items {
        if let dsl::ast::Item::Const(c) = item {
            let Some(value) = program.consts.iter().find(|k| k.name == c.name.name) else {
                continue;
            };
            if let Some(&small) = map
                .get(&value.value)
                .filter(|_| relevant.contains(c.name.name.as_str()))
            {
                if small != value.value {
                    shown.push(format!("{} = {small}", c.name.name));
                }
                c.value = dsl::ast::Expr {
                    kind: dsl::ast::ExprKind::Int(small),
                    span: c.value.span,
                };
            }
        }
    }
    let mut literals = BTreeSet::new();
    for_each_kernel_size(&mut ast, &kernel_names, &mut |v| {
        if let Some(&small) = map.get(v).filter(|s| **s != *v) {
            literals.insert(format!("{v} -> {small}"));
            *v = small;
        }
    });
    shown.extend(literals);
    for_each_schedule_size(&mut ast, &schedule_names, &mut |v| {
        if let Some(&small) = map.get(v) {
            *v = small;
        }
    });
    if shown.is_empty() {
        return Err(fail(
            "its sizes are already as small as its schedule allows",
        ));
    }
    let program = dsl::check(file, &ast).map_err(|_| fail("the shrunken file does not check"))?;
    let (_, trace) = crate::compile_checked(file, &program, options).map_err(|d| {
        fail(&format!(
            "the schedule does not apply to it: {}",
            d.first().map_or("", |d| d.message.as_str())
        ))
    })?;
    if trace.steps.len() != real.steps.len() {
        return Err(fail("the schedule has another number of steps on it"));
    }
    let trace = crate::expand_trace(&trace).map_err(|e| fail(&e))?;
    let shape = format!("shrunk to {}", shown.join(", "));
    Ok((trace, shape))
}

/// The kernel `name` and every kernel its text names, transitively: their
/// names and source texts.
fn related_kernels(
    file: &SourceFile,
    ast: &dsl::ast::Program,
    name: &str,
) -> (HashSet<String>, Vec<String>) {
    let kernels: Vec<&dsl::ast::KernelDecl> = ast
        .items
        .iter()
        .filter_map(|i| match i {
            dsl::ast::Item::Kernel(k) => Some(k),
            _ => None,
        })
        .collect();
    let mut open = vec![name.to_string()];
    let mut names = HashSet::new();
    let mut texts = Vec::new();
    while let Some(n) = open.pop() {
        if names.contains(&n) {
            continue;
        }
        let Some(k) = kernels.iter().find(|k| k.name.name == n) else {
            continue;
        };
        let text = file.snippet(k.span).to_string();
        for other in &kernels {
            if mentions(&text, &other.name.name) {
                open.push(other.name.name.clone());
            }
        }
        names.insert(n);
        texts.push(text);
    }
    (names, texts)
}

/// Does `text` use `name` as a whole identifier?
fn mentions(text: &str, name: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].chars().next();
        !before.is_some_and(ident) && !after.is_some_and(ident)
    })
}

/// Calls `f` on every integer literal above [`KEEP_BELOW`] written where
/// the kernels of `kernels` give a size: a tensor's dimensions and a
/// loop's extents (not in index expressions, where literals are offsets).
fn for_each_kernel_size(
    ast: &mut dsl::ast::Program,
    kernels: &HashSet<String>,
    f: &mut impl FnMut(&mut i64),
) {
    use dsl::ast::{Block, Expr, ExprKind, LoopIter, StmtKind, TypeExpr};
    fn literals(e: &mut Expr, f: &mut impl FnMut(&mut i64)) {
        match &mut e.kind {
            ExprKind::Int(v) if *v > KEEP_BELOW => f(v),
            ExprKind::Access { indices: es, .. } | ExprKind::Call { args: es, .. } => {
                es.iter_mut().for_each(|e| literals(e, f))
            }
            ExprKind::Unary { operand, .. } => literals(operand, f),
            ExprKind::Binary { lhs, rhs, .. } => {
                literals(lhs, f);
                literals(rhs, f);
            }
            ExprKind::Paren(e) => literals(e, f),
            _ => {}
        }
    }
    fn dims(t: &mut TypeExpr, f: &mut impl FnMut(&mut i64)) {
        for e in t.dims.iter_mut().flatten() {
            literals(e, f);
        }
    }
    fn block(b: &mut Block, f: &mut impl FnMut(&mut i64)) {
        for s in &mut b.stmts {
            match &mut s.kind {
                StmtKind::For { iter, body, .. } => {
                    match iter {
                        LoopIter::Grid { extents, .. } => {
                            extents.iter_mut().for_each(|e| literals(e, f))
                        }
                        LoopIter::Range { lo, hi, .. } => {
                            literals(lo, f);
                            literals(hi, f);
                        }
                    }
                    block(body, f);
                }
                StmtKind::Let { ty, .. } => dims(ty, f),
                _ => {}
            }
        }
    }
    for item in &mut ast.items {
        let dsl::ast::Item::Kernel(k) = item else {
            continue;
        };
        if !kernels.contains(&k.name.name) {
            continue;
        }
        for p in k.params.iter_mut().chain(k.outputs.iter_mut()) {
            dims(&mut p.ty, f);
        }
        block(&mut k.body, f);
    }
}

/// The schedule `name` and those its `compose` steps name, transitively.
fn related_schedules(ast: &dsl::ast::Program, name: &str) -> HashSet<String> {
    use dsl::ast::ScheduleValueKind;
    let mut open = vec![name.to_string()];
    let mut seen = HashSet::new();
    while let Some(n) = open.pop() {
        if !seen.insert(n.clone()) {
            continue;
        }
        for item in &ast.items {
            let dsl::ast::Item::Schedule(s) = item else {
                continue;
            };
            if s.name.name != n {
                continue;
            }
            for step in s.steps.iter().filter(|st| st.primitive.name == "compose") {
                for arg in &step.args {
                    if let ScheduleValueKind::Path(parts) = &arg.value.kind {
                        let path: Vec<&str> = parts.iter().map(|p| p.name.as_str()).collect();
                        open.push(path.join("."));
                    }
                }
            }
        }
    }
    seen
}

/// Calls `f` on every integer argument of the schedules named in
/// `schedules` that is a size: a split, tile, unroll or partition factor
/// (the one a step divides an extent by).
fn for_each_schedule_size(
    ast: &mut dsl::ast::Program,
    schedules: &HashSet<String>,
    f: &mut impl FnMut(&mut i64),
) {
    use dsl::ast::ScheduleValueKind;
    for item in &mut ast.items {
        let dsl::ast::Item::Schedule(s) = item else {
            continue;
        };
        if !schedules.contains(&s.name.name) {
            continue;
        }
        for step in &mut s.steps {
            let primitive = step.primitive.name.clone();
            let mut position = 0;
            for arg in &mut step.args {
                let key = arg.key.as_ref().map(|k| k.name.clone());
                let size = matches!(
                    (primitive.as_str(), key.as_deref(), position),
                    ("split", None, 1)
                        | ("tile", None, 2 | 3)
                        | ("unroll", None, 1)
                        | ("partition", Some("factor"), _)
                );
                if key.is_none() {
                    position += 1;
                }
                if let (true, ScheduleValueKind::Int(v)) = (size, &mut arg.value.kind) {
                    // `unroll(l, 0)` unrolls fully: 0 is not a size.
                    if *v > 0 {
                        f(v);
                    }
                }
            }
        }
    }
}

/// What the shrink must keep, read from the real schedule: each split,
/// tile, unroll or partition factor with the extent it divides (from the
/// IR before the step; factors not in `factors`, which the shrink does
/// not change, are left out), and the loops a pipeline or double buffer
/// cycles its copies over.
fn relations(
    real: &passes::schedule::Trace,
    kernel: &str,
    sizes: &BTreeSet<i64>,
    factors: &BTreeSet<i64>,
) -> Result<Relations, String> {
    let mut pairs = BTreeSet::new();
    let mut cycled = Vec::new();
    let (mut cap, mut period) = (BASE_CAP, 1);
    for entry in &real.steps {
        let step = &entry.step;
        let positional = step.positional();
        let trips =
            |n: usize| obligation::loop_trips(&entry.before, kernel, positional.get(n)?.as_name()?);
        let int = |n: usize| positional.get(n)?.as_int();
        let found: Vec<(Option<i64>, Option<i64>)> = match step.primitive.as_str() {
            "split" | "unroll" => vec![(trips(0), int(1))],
            "tile" => vec![(trips(0), int(2)), (trips(1), int(3))],
            "partition" => {
                let extent = match (positional.first().and_then(|v| v.as_name()), int(1)) {
                    (Some(b), Some(d)) if d >= 0 => {
                        obligation::buffer_extent(&entry.before, kernel, b, d as usize)
                    }
                    _ => None,
                };
                vec![(extent, step.keyword("factor").and_then(|v| v.as_int()))]
            }
            _ => vec![],
        };
        for (t, f) in found {
            if let (Some(t), Some(f)) = (t, f) {
                if !factors.contains(&f) {
                    continue;
                }
                // A trip count the shrink does not set (an extent computed
                // from a size, a loop split twice) cannot be related.
                if !sizes.contains(&t) {
                    return Err(format!(
                        "`{step}` divides {t} iterations, which are no size of the kernel"
                    ));
                }
                pairs.insert((t, f));
            }
        }
        // Buffer copies and pipeline stages (2 when not written): the
        // loop they cycle over must run more iterations than that, and
        // keep its residue modulo them (an epilogue reads the copy the
        // last iteration filled).
        let (depth, cycled_loop) = match step.primitive.as_str() {
            "pipeline" => ("stages", trips(0)),
            "double_buffer" => ("copies", trips(1)),
            _ => continue,
        };
        let d = step
            .keyword(depth)
            .and_then(|v| v.as_int())
            .unwrap_or(2)
            .max(1);
        cap = cap.max(d.saturating_add(2));
        period = lcm(period, d)
            .ok_or_else(|| "its buffer copies and pipeline stages are too many".to_string())?;
        if let Some(t) = cycled_loop {
            cycled.push((t, step.to_string()));
        }
    }
    // A cycled loop's trip count is a size itself or the quotient of a
    // pair (an outer loop of a split); anything else cannot be related.
    let mut periodic = BTreeSet::new();
    for (t, step) in cycled {
        if sizes.contains(&t) {
            periodic.insert(t);
        } else if !pairs.iter().any(|&(e, f)| e % f == 0 && e / f == t) {
            return Err(format!(
                "`{step}` cycles over {t} iterations, which are no size of the kernel"
            ));
        }
    }
    Ok(Relations {
        pairs,
        periodic,
        cap,
        period,
    })
}

/// What the shrink must keep: the (extent, factor) pairs of the schedule;
/// the sizes that are trip counts of loops a pipeline or double buffer
/// cycles over; the cap up to which quotients and remainders must match
/// (raised for deep pipelines and many copies); and the period (the
/// copies and stages) modulo which quotients must match.
struct Relations {
    pairs: BTreeSet<(i64, i64)>,
    periodic: BTreeSet<i64>,
    cap: i64,
    period: i64,
}

/// Small stand-ins for `sizes`: distinct sizes stay distinct if they can
/// (so the shrunken code reuses a constant where the real code does),
/// every size up to [`KEEP_BELOW`] kept, and the [`Relations`] kept: for
/// every (extent, factor) pair the same quotient and remainder, each up
/// to the cap (an unrolled loop peels its remainder; a pipeline needs its
/// trip count), and the same quotient modulo the period; for every cycled
/// trip count the same residue modulo the period. Sizes that no pair
/// relates shrink freely; where the kernel relates them otherwise (an
/// extent computed from another), the shrunken code differs and the
/// comparison of the code says so. `None` when no stand-in within the
/// search bound fits.
fn size_map(sizes: &BTreeSet<i64>, relations: &Relations) -> Option<BTreeMap<i64, i64>> {
    // Distinct stand-ins when they exist; otherwise two sizes may share
    // one (the comparison of the code catches where that matters).
    size_map_with(sizes, relations, true).or_else(|| size_map_with(sizes, relations, false))
}

/// The least common multiple; `None` on overflow.
fn lcm(a: i64, b: i64) -> Option<i64> {
    fn gcd(a: i64, b: i64) -> i64 {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    (a / gcd(a, b)).checked_mul(b)
}

fn size_map_with(
    sizes: &BTreeSet<i64>,
    relations: &Relations,
    distinct: bool,
) -> Option<BTreeMap<i64, i64>> {
    let Relations {
        pairs,
        periodic,
        cap,
        period,
    } = relations;
    let (cap, period) = (*cap, *period);
    let mut map: BTreeMap<i64, i64> = BTreeMap::new();
    let related = |x: i64, cx: i64, y: i64, cy: i64| {
        let (q, r) = (x / y, (x % y).min(cap));
        let qc = cx / cy;
        q.min(cap) == qc.min(cap) && q % period == qc % period && r == (cx % cy).min(cap)
    };
    for &v in sizes {
        let fits = |c: i64| {
            let cycles_alike =
                !periodic.contains(&v) || (c % period == v % period && c.min(cap) == v.min(cap));
            cycles_alike
                && pairs.iter().all(|&(e, f)| {
                    let image = |x: i64| {
                        if x == v {
                            Some(c)
                        } else {
                            map.get(&x).copied()
                        }
                    };
                    match (image(e), image(f)) {
                        (Some(ce), Some(cf)) if e == v || f == v => related(e, ce, f, cf),
                        _ => true,
                    }
                })
        };
        let free = |c: i64| !distinct || !map.values().any(|&u| u == c);
        let chosen = if v <= KEEP_BELOW {
            Some(v).filter(|&c| free(c) && fits(c))
        } else {
            // Above `cap`, so that a remainder up to `cap` fits under it;
            // a bounded search (a stand-in is small or not worth having).
            let lowest = cap.saturating_add(1).min(v);
            (lowest..=v.min(lowest.saturating_add(MAX_SEARCH))).find(|&c| free(c) && fits(c))
        }?;
        map.insert(v, chosen);
    }
    Some(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(sizes: &[i64], cap: i64) -> Option<Vec<(i64, i64)>> {
        // Every size paired with every smaller one.
        let all = sizes.iter().copied().collect();
        let relations = Relations {
            pairs: sizes
                .iter()
                .flat_map(|&a| sizes.iter().filter(move |&&b| b < a).map(move |&b| (a, b)))
                .collect(),
            periodic: BTreeSet::new(),
            cap,
            period: 1,
        };
        size_map(&all, &relations).map(|m| m.into_iter().collect())
    }

    #[test]
    fn sizes_shrink_keeping_divisibility_quotients_and_tails() {
        // The 512^3 GEMM tiled by 64.
        assert_eq!(map(&[64, 512], 4), Some(vec![(64, 5), (512, 20)]));
        // A tail: 100 = 6 * 16 + 4, the tail divisible by 4.
        let m = map(&[4, 16, 100], 4).unwrap();
        let (f, n) = (m[1].1, m[2].1);
        assert_eq!(m[0], (4, 4));
        assert!(n % f != 0 && (n % f) % 4 == 0 && n / f >= 4);
        // Small sizes stay.
        assert_eq!(map(&[2, 3], 4), Some(vec![(2, 2), (3, 3)]));
    }

    #[test]
    fn numbers_are_masked_but_not_names_or_types() {
        assert_eq!(
            mask_numbers("%abuf_0 = affine.load %A[%io * 64 + %d1, 3] : memref<2x64x64xi8>"),
            "%abuf_0 = affine.load %A[%io * # + %d1, #] : memref<#x#x#xi8>"
        );
        assert_eq!(
            mask_numbers("affine.for %ko = 0 to 7 {"),
            "affine.for %ko = # to # {"
        );
        assert_eq!(
            mask_numbers("(d0) -> (d0 * -100 + 512)"),
            "(d0) -> (d0 * -# + #)"
        );
        assert_ne!(mask_numbers("i8"), mask_numbers("i32"));
        assert_ne!(
            mask_numbers("%abuf_0, %abuf_1"),
            mask_numbers("%abuf_1, %abuf_0")
        );
    }

    #[test]
    fn mentions_whole_identifiers_only() {
        assert!(mentions("A: i8[M0, K0]", "M0"));
        assert!(!mentions("A: i8[M01, K0]", "M0"));
        assert!(!mentions("XM0", "M0"));
    }
}

//! accc-verify: is a rewritten kernel equivalent to the original?
//!
//! [`verify`] answers for two modules holding a kernel of the same name
//! and signature, by translation validation: both kernels run on the same
//! symbolic inputs with concrete loop bounds ([`exec`]), every value is a
//! hash-consed term in normal form ([`term`]), and the kernels are
//! equivalent when every element of every output holds the same term. The
//! normal forms identify what the element types allow: integer sums and
//! products in any order (wrap-around arithmetic is a commutative ring),
//! float sums and products with their operands swapped, and, only when
//! [`Options::fp_reassoc`] is set, float sums and products in any order.
//!
//! The verdict is [`Verdict::Equivalent`], [`Verdict::NotEquivalent`] with
//! a [`Counterexample`] (the output element, the two terms, the iteration
//! that wrote it), or [`Verdict::Unknown`] with the reason: the budget of
//! symbolic operations ran out, the kernel branches or indexes on data, or
//! the original kernel itself cannot run. `docs/verifier.md` describes the
//! method and its limits.

pub mod domain;
pub mod exec;
pub mod obligation;
pub mod term;
pub mod witness;

use std::time::Instant;

use accc_ir::dialects::func;
use accc_ir::semantics::ScalarType;
use accc_ir::{Module, Op};
use serde::Serialize;

use exec::{Buffer, ExecError, Machine, Write};
use term::{unflatten, InputInfo, TermId, TermStore};

/// How to verify.
#[derive(Clone, Debug)]
pub struct Options {
    /// Treat float `+` and `*` as associative (a reordered float reduction
    /// is then accepted; the report says so).
    pub fp_reassoc: bool,
    /// Symbolic operations allowed per kernel run.
    pub budget: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            fp_reassoc: false,
            budget: 40_000_000,
        }
    }
}

/// An output element on which the two kernels differ.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Counterexample {
    pub output: String,
    /// The element's index, `i, j, ...`.
    pub index: String,
    /// Its term in the original and in the rewritten kernel.
    pub before: String,
    pub after: String,
    /// Which store wrote it, in which iteration, in each kernel.
    pub written_before: Option<String>,
    pub written_after: Option<String>,
    /// Concrete inputs on which the two differ: `seed N: X before, Y
    /// after` (inputs as `witness::evaluate` draws them).
    pub witness: Option<String>,
    /// Where the two terms differ (the innermost differing subterms, or
    /// the summands only one side has).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// A parametric obligation z3 refuted at full size (its name), in
    /// place of an output element: `after` says how it fails (the
    /// violating iteration or pair of iterations).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub obligation: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    Equivalent,
    NotEquivalent {
        counterexample: Box<Counterexample>,
    },
    Unknown {
        reason: String,
        /// The kernel needs more symbolic operations than the budget
        /// allows: a larger budget (or, for a schedule, the full-size
        /// strategy) may decide it.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        over_budget: bool,
    },
}

impl Verdict {
    pub fn is_equivalent(&self) -> bool {
        matches!(self, Verdict::Equivalent)
    }

    /// `equivalent`, `not equivalent` or `unknown`.
    pub fn word(&self) -> &'static str {
        match self {
            Verdict::Equivalent => "equivalent",
            Verdict::NotEquivalent { .. } => "not equivalent",
            Verdict::Unknown { .. } => "unknown",
        }
    }
}

/// A verdict and what it took.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub verdict: Verdict,
    /// How it was decided (`symbolic`).
    pub method: &'static str,
    /// Whether float reassociation was allowed.
    pub fp_reassoc: bool,
    /// Symbolic operations executed over both kernels.
    pub ops: u64,
    /// Those of the rewritten kernel's run alone (in a sequence, the
    /// original's run is the previous comparison's rewritten one).
    pub ops_after: u64,
    /// Distinct terms built.
    pub terms: usize,
    pub millis: f64,
    /// What the method covered, when more than one run: the shrunken
    /// shapes and the obligations proved at full size.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// The parametric obligations proved at full size (method
    /// `shrunk+z3`), by name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub obligations: Vec<String>,
}

impl Outcome {
    /// A verdict of *unknown* reached before any run, with its reason.
    pub fn unknown(reason: String) -> Outcome {
        Outcome {
            verdict: Verdict::Unknown {
                reason,
                over_budget: false,
            },
            method: "symbolic",
            fp_reassoc: false,
            ops: 0,
            ops_after: 0,
            terms: 0,
            millis: 0.0,
            detail: String::new(),
            obligations: Vec::new(),
        }
    }
}

/// Is `kernel` in `after` equivalent to `kernel` in `before`?
pub fn verify(before: &Module, after: &Module, kernel: &str, options: &Options) -> Outcome {
    verify_sequence(&[before, after], kernel, options)
        .pop()
        .expect("two programs give one comparison")
}

/// Is each program equivalent to the one before it? One outcome per
/// neighbouring pair (`programs[i]` against `programs[i + 1]`), as for the
/// steps of a schedule. Each program runs once, all on one term store, so
/// verifying `n` steps costs `n + 1` runs, not `2n`.
pub fn verify_sequence(programs: &[&Module], kernel: &str, options: &Options) -> Vec<Outcome> {
    let mut store = TermStore::new(options.fp_reassoc);
    let mut outcomes = Vec::new();
    let Some(first) = programs.first() else {
        return outcomes;
    };
    let start = Instant::now();
    let mut previous = run_program(first, kernel, options, &mut store);
    let mut carried = start.elapsed().as_secs_f64() * 1e3;
    for (i, program) in programs.iter().enumerate().skip(1) {
        let (mut outcome, current) = step(
            &mut store,
            (programs[i - 1], &previous),
            program,
            kernel,
            options,
        );
        outcome.millis += carried;
        carried = 0.0;
        outcomes.push(outcome);
        // An identical program's run is its predecessor's.
        if let Some(current) = current {
            previous = current;
        }
    }
    outcomes
}

/// A kernel run once, against which any number of rewrites are verified:
/// the candidates of a search, each compared with the program they came
/// from, without running that program again.
pub struct Reference<'m> {
    module: &'m Module,
    kernel: String,
    options: Options,
    store: TermStore,
    run: Result<Run, RunFailure>,
}

impl<'m> Reference<'m> {
    /// Runs `kernel` of `module` symbolically.
    pub fn new(module: &'m Module, kernel: &str, options: &Options) -> Reference<'m> {
        let mut store = TermStore::new(options.fp_reassoc);
        let run = run_program(module, kernel, options, &mut store);
        Reference {
            module,
            kernel: kernel.to_string(),
            options: options.clone(),
            store,
            run,
        }
    }

    /// Is `after` equivalent to the reference program?
    pub fn verify(&mut self, after: &Module) -> Outcome {
        step(
            &mut self.store,
            (self.module, &self.run),
            after,
            &self.kernel,
            &self.options,
        )
        .0
    }
}

/// Compares `after` with `before` (whose run is given): the outcome, and
/// `after`'s run unless it was not needed.
fn step(
    store: &mut TermStore,
    (before, previous): (&Module, &Result<Run, RunFailure>),
    after: &Module,
    kernel: &str,
    options: &Options,
) -> (Outcome, Option<Result<Run, RunFailure>>) {
    let start = Instant::now();
    let outcome = |verdict, method, ops, ops_after, store: &TermStore| Outcome {
        verdict,
        method,
        fp_reassoc: options.fp_reassoc,
        ops,
        ops_after,
        terms: store.len(),
        millis: start.elapsed().as_secs_f64() * 1e3,
        detail: String::new(),
        obligations: Vec::new(),
    };
    // The same program (a step that changed nothing the verifier can see,
    // or two copies of one file) is equivalent without a run, whatever its
    // control flow.
    if accc_ir::structurally_equal(before, after).is_ok() {
        return (outcome(Verdict::Equivalent, "identical", 0, 0, store), None);
    }
    if let Some(reason) = signature_mismatch(before, after, kernel) {
        return (outcome(unknown(reason), "symbolic", 0, 0, store), None);
    }
    let current = run_program(after, kernel, options, store);
    let (verdict, ops) = match (previous, &current) {
        (Err(e), _) => (not_run("", e), current.as_ref().map_or(0, |r| r.ops)),
        (Ok(p), Err(RunFailure::Fault(e))) => (
            Verdict::NotEquivalent {
                counterexample: Box::new(Counterexample {
                    output: String::new(),
                    index: String::new(),
                    before: "runs to completion".into(),
                    after: e.clone(),
                    written_before: None,
                    written_after: None,
                    witness: None,
                    diff: None,
                    obligation: None,
                }),
            },
            p.ops,
        ),
        (Ok(p), Err(e)) => (not_run("the rewritten program: ", e), p.ops),
        (Ok(p), Ok(c)) => (compare(before, after, p, c, store), p.ops + c.ops),
    };
    let ops_after = current.as_ref().map_or(0, |r| r.ops);
    (
        outcome(verdict, "symbolic", ops, ops_after, store),
        Some(current),
    )
}

fn unknown(reason: impl Into<String>) -> Verdict {
    Verdict::Unknown {
        reason: reason.into(),
        over_budget: false,
    }
}

/// *Unknown* because a program could not be run (`which`: whose run).
fn not_run(which: &str, failure: &RunFailure) -> Verdict {
    Verdict::Unknown {
        reason: format!("{which}{failure}"),
        over_budget: matches!(failure, RunFailure::OverBudget(_)),
    }
}

/// What one symbolic run left: the kernel's parameters, the buffer of
/// each (`None` for scalars), every buffer, and the ops it took.
struct Run {
    params: Vec<func::KernelParam>,
    args: Vec<Option<usize>>,
    buffers: Vec<Buffer>,
    ops: u64,
    /// The divisors that are not constants.
    divisors: std::collections::HashSet<TermId, term::FxBuild>,
}

/// Why a program could not be run symbolically, as text.
#[derive(Debug)]
enum RunFailure {
    /// It faults: a wrong rewrite when the program before it did not.
    Fault(String),
    /// It needs more symbolic operations than the budget.
    OverBudget(String),
    Other(String),
}

impl std::fmt::Display for RunFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunFailure::Fault(s) | RunFailure::OverBudget(s) | RunFailure::Other(s) => {
                f.write_str(s)
            }
        }
    }
}

fn run_program(
    m: &Module,
    kernel: &str,
    options: &Options,
    store: &mut TermStore,
) -> Result<Run, RunFailure> {
    let Some(f) = m.lookup_symbol(kernel) else {
        return Err(RunFailure::Other(format!("it has no kernel `{kernel}`")));
    };
    let params = func::kernel_params(m, f);
    if store.inputs.is_empty() {
        store.inputs = params
            .iter()
            .map(|p| InputInfo {
                name: p.name.clone(),
                shape: p.memref().map(|t| t.shape.clone()).unwrap_or_default(),
                ty: elem_type(p),
            })
            .collect();
    }
    let estimate = exec::estimate_ops(m, f);
    if estimate > options.budget {
        return Err(RunFailure::OverBudget(format!(
            "about {estimate} symbolic operations, over the budget of {}",
            options.budget
        )));
    }
    let mut machine = Machine::new(m, store, options.budget);
    let result = machine.run_kernel(f);
    let ops = machine.ops();
    let buffers = std::mem::take(&mut machine.buffers);
    let divisors = machine.take_divisors();
    match result {
        Ok(args) => Ok(Run {
            params,
            args,
            buffers,
            ops,
            divisors,
        }),
        Err(e @ ExecError::Fault { .. }) => Err(RunFailure::Fault(e.describe(m))),
        Err(e @ ExecError::OverBudget { .. }) => Err(RunFailure::OverBudget(e.describe(m))),
        Err(e) => Err(RunFailure::Other(e.describe(m))),
    }
}

/// Why the kernels of two programs cannot be compared, if they cannot:
/// the first parameter that differs in name, type or direction.
fn signature_mismatch(before: &Module, after: &Module, kernel: &str) -> Option<String> {
    let (Some(f0), Some(f1)) = (before.lookup_symbol(kernel), after.lookup_symbol(kernel)) else {
        return None;
    };
    let describe = |p: &func::KernelParam| {
        format!(
            "{} `{}: {}`",
            if p.is_output { "output" } else { "input" },
            p.name,
            p.ty
        )
    };
    let (p0, p1) = (
        func::kernel_params(before, f0),
        func::kernel_params(after, f1),
    );
    for k in 0..p0.len().max(p1.len()) {
        let (a, b) = (p0.get(k), p1.get(k));
        let same = match (a, b) {
            (Some(a), Some(b)) => a.name == b.name && a.ty == b.ty && a.is_output == b.is_output,
            _ => false,
        };
        if !same {
            let show = |p: Option<&func::KernelParam>| p.map_or("nothing".to_string(), describe);
            return Some(format!(
                "the kernels' signatures differ at parameter {}: {} against {}, so their outputs cannot be compared",
                k + 1,
                show(a),
                show(b)
            ));
        }
    }
    None
}

/// Compares the outputs of two runs element by element.
fn compare(before: &Module, after: &Module, b: &Run, a: &Run, store: &mut TermStore) -> Verdict {
    // A division the original does not make may fault where it does not.
    if let Some(d) = a.divisors.iter().find(|d| !b.divisors.contains(d)) {
        return unknown(format!(
            "the rewritten kernel divides by `{}`, which the original never divides by, so it may fault where the original does not",
            store.show(*d, 200)
        ));
    }
    for (k, p) in b.params.iter().enumerate() {
        if !p.is_output {
            continue;
        }
        let (Some(b0), Some(b1)) = (b.args[k], a.args[k]) else {
            continue;
        };
        let (x, y) = (&b.buffers[b0], &a.buffers[b1]);
        // The first element that differs; the witness may come from a
        // later one (some differences show only on some inputs).
        let mut first: Option<(usize, TermId, TermId)> = None;
        let mut tried = 0;
        let ty = elem_type(p);
        for (offset, (t0, t1)) in x.data.iter().zip(&y.data).enumerate() {
            let (a, b) = (store.canonical(*t0), store.canonical(*t1));
            if a == b {
                continue;
            }
            first.get_or_insert((offset, a, b));
            tried += 1;
            // Reassociated float sums round differently: with fp_reassoc
            // only a difference beyond rounding counts.
            let tolerance = if store.fp_reassoc { 1e-3 } else { 0.0 };
            if let Some((seed, va, vb)) = witness::find(store, a, b, ty, tolerance, WITNESS_SEEDS) {
                let written = |m: &Module, w: &Option<Vec<Option<Write>>>| {
                    w.as_ref()
                        .and_then(|w| w[offset].as_ref())
                        .map(|w| describe_write(m, w))
                };
                return Verdict::NotEquivalent {
                    counterexample: Box::new(Counterexample {
                        output: p.name.clone(),
                        index: unflatten(offset as i64, &x.shape),
                        before: store.show(a, 400),
                        after: store.show(b, 400),
                        written_before: written(before, &x.writes),
                        written_after: written(after, &y.writes),
                        witness: Some(format!(
                            "on the inputs of seed {seed}: {} before, {} after",
                            witness::show_value(ty, va),
                            witness::show_value(ty, vb)
                        )),
                        diff: Some(store.diff(a, b, 400)),
                        obligation: None,
                    }),
                };
            }
            if tried >= WITNESS_ELEMENTS {
                break;
            }
        }
        if let Some((offset, a, b)) = first {
            return unknown(format!(
                "`{}[{}]` is computed by two different expressions that agree on every input tried ({WITNESS_SEEDS} input sets on each of {tried} differing elements): {} and {}",
                p.name,
                unflatten(offset as i64, &x.shape),
                store.show(a, 200),
                store.show(b, 200)
            ));
        }
    }
    Verdict::Equivalent
}

/// Input sets tried on a differing element before looking at the next.
const WITNESS_SEEDS: u64 = 16;
/// Differing elements tried before the verdict is *unknown*.
const WITNESS_ELEMENTS: usize = 64;

/// The element type of a kernel parameter (the type of a scalar one).
fn elem_type(p: &func::KernelParam) -> ScalarType {
    p.memref()
        .and_then(|t| ScalarType::of(&t.elem))
        .or_else(|| ScalarType::of(&p.ty))
        .unwrap_or(ScalarType::Int(64))
}

/// `` `affine.store` at file:3:5 in iteration (i = 2, k = 0) ``.
fn describe_write(m: &Module, w: &Write) -> String {
    let loop_name = |op: Op| {
        m.attr(op, "loop_name")
            .and_then(accc_ir::Attribute::as_str)
            .unwrap_or("?")
            .to_string()
    };
    let iteration: Vec<String> = w
        .iteration
        .iter()
        .map(|(l, v)| format!("{} = {v}", loop_name(*l)))
        .collect();
    format!(
        "`{}` at {}{}",
        m.op_name(w.op),
        m.op(w.op).loc,
        if iteration.is_empty() {
            String::new()
        } else {
            format!(" in iteration ({})", iteration.join(", "))
        }
    )
}

impl Counterexample {
    /// Obligation `name` fails at full size: `how` (z3's violating
    /// iteration).
    pub fn obligation(name: impl Into<String>, how: impl Into<String>) -> Counterexample {
        Counterexample {
            output: String::new(),
            index: String::new(),
            before: String::new(),
            after: how.into(),
            written_before: None,
            written_after: None,
            witness: None,
            diff: None,
            obligation: Some(name.into()),
        }
    }

    /// The counterexample as indented lines.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Some(name) = &self.obligation {
            out.push_str(&format!(
                "  obligation `{name}` fails (z3):
    {}
",
                self.after
            ));
            return out;
        }
        if self.output.is_empty() {
            out.push_str(&format!(
                "  the original {}; the rewritten kernel: {}\n",
                self.before, self.after
            ));
            return out;
        }
        out.push_str(&format!(
            "  output `{}[{}]` differs\n",
            self.output, self.index
        ));
        out.push_str(&format!("    before: {}\n", self.before));
        if let Some(w) = &self.written_before {
            out.push_str(&format!("            written by {w}\n"));
        }
        out.push_str(&format!("    after:  {}\n", self.after));
        if let Some(w) = &self.written_after {
            out.push_str(&format!("            written by {w}\n"));
        }
        if let Some(d) = self.diff.as_ref().filter(|d| !d.is_empty()) {
            out.push_str(&format!("    diff:   {d}\n"));
        }
        if let Some(w) = &self.witness {
            out.push_str(&format!("    differs {w}\n"));
        }
        out
    }
}

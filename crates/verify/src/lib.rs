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
pub mod term;

use std::time::Instant;

use accc_ir::dialects::func;
use accc_ir::{Module, Op};
use serde::Serialize;

use exec::{ExecError, Machine, Write};
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
            budget: 20_000_000,
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
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    Equivalent,
    NotEquivalent { counterexample: Box<Counterexample> },
    Unknown { reason: String },
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
    /// Distinct terms built.
    pub terms: usize,
    pub millis: f64,
}

/// Is `kernel` in `after` equivalent to `kernel` in `before`?
pub fn verify(before: &Module, after: &Module, kernel: &str, options: &Options) -> Outcome {
    let start = Instant::now();
    let mut store = TermStore::new(options.fp_reassoc);
    let (verdict, ops) = decide(before, after, kernel, options, &mut store);
    Outcome {
        verdict,
        method: "symbolic",
        fp_reassoc: options.fp_reassoc,
        ops,
        terms: store.len(),
        millis: start.elapsed().as_secs_f64() * 1e3,
    }
}

fn unknown(reason: impl Into<String>) -> Verdict {
    Verdict::Unknown {
        reason: reason.into(),
    }
}

fn decide(
    before: &Module,
    after: &Module,
    kernel: &str,
    options: &Options,
    store: &mut TermStore,
) -> (Verdict, u64) {
    let (Some(f0), Some(f1)) = (before.lookup_symbol(kernel), after.lookup_symbol(kernel)) else {
        return (unknown(format!("no kernel `{kernel}` in both programs")), 0);
    };
    let (p0, p1) = (
        func::kernel_params(before, f0),
        func::kernel_params(after, f1),
    );
    let signature = |ps: &[func::KernelParam]| -> Vec<(String, String, bool)> {
        ps.iter()
            .map(|p| (p.name.clone(), p.ty.to_string(), p.is_output))
            .collect()
    };
    if signature(&p0) != signature(&p1) {
        return (
            unknown(format!(
                "the two kernels `{kernel}` have different signatures, so their outputs cannot be compared"
            )),
            0,
        );
    }
    store.inputs = p0
        .iter()
        .map(|p| InputInfo {
            name: p.name.clone(),
            shape: p.memref().map(|t| t.shape.clone()).unwrap_or_default(),
        })
        .collect();

    let mut run0 = Machine::new(before, store, 0, options.budget);
    let bufs0 = match run0.run_kernel(f0) {
        Ok(b) => b,
        Err(e) => {
            let ops = run0.ops();
            return (
                unknown(format!("the original kernel: {}", e.describe(before))),
                ops,
            );
        }
    };
    let ops0 = run0.ops();
    let buffers0 = std::mem::take(&mut run0.buffers);
    drop(run0);

    let mut run1 = Machine::new(after, store, 1, options.budget);
    let result1 = run1.run_kernel(f1);
    let ops = ops0 + run1.ops();
    let buffers1 = std::mem::take(&mut run1.buffers);
    drop(run1);
    let bufs1 = match result1 {
        Ok(b) => b,
        // A fault the original does not have is a wrong rewrite.
        Err(e @ ExecError::Fault { .. }) => {
            return (
                Verdict::NotEquivalent {
                    counterexample: Box::new(Counterexample {
                        output: String::new(),
                        index: String::new(),
                        before: "runs to completion".into(),
                        after: e.describe(after),
                        written_before: None,
                        written_after: None,
                    }),
                },
                ops,
            )
        }
        Err(e) => {
            return (
                unknown(format!("the rewritten kernel: {}", e.describe(after))),
                ops,
            )
        }
    };

    for (k, p) in p0.iter().enumerate() {
        if !p.is_output {
            continue;
        }
        let (Some(b0), Some(b1)) = (bufs0[k], bufs1[k]) else {
            continue;
        };
        let (x, y) = (&buffers0[b0], &buffers1[b1]);
        for (offset, (t0, t1)) in x.data.iter().zip(&y.data).enumerate() {
            let mut canonical = |t: &Option<TermId>| t.map(|t| store.canonical(t));
            let (t0, t1) = (&canonical(t0), &canonical(t1));
            if t0 == t1 {
                continue;
            }
            let show = |t: &Option<TermId>| match t {
                Some(t) => store.show(*t, 400),
                None => "never written".into(),
            };
            let written = |m: &Module, w: &Option<Vec<Option<Write>>>| {
                w.as_ref()
                    .and_then(|w| w[offset].as_ref())
                    .map(|w| describe_write(m, w))
            };
            let counterexample = Counterexample {
                output: p.name.clone(),
                index: unflatten(offset as i64, &x.shape),
                before: show(t0),
                after: show(t1),
                written_before: written(before, &x.writes),
                written_after: written(after, &y.writes),
            };
            return (
                Verdict::NotEquivalent {
                    counterexample: Box::new(counterexample),
                },
                ops,
            );
        }
    }
    (Verdict::Equivalent, ops)
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
    /// The counterexample as indented lines.
    pub fn render(&self) -> String {
        let mut out = String::new();
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
        out
    }
}

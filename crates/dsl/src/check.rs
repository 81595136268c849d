//! Name resolution, shape evaluation and typing: [`ast::Program`] to
//! [`checked::Program`].
//!
//! Guarantees: never panics; returns a checked program only when there is
//! nothing to report, and otherwise every problem it can find, each with a
//! primary span. A construct that failed to check is not used to check
//! anything else (an undefined name yields one error, not one per operator
//! around it): failed sub-results are `None` and their consumers stay quiet.
//!
//! The typing rules implemented here are written down in
//! `docs/language.md`, section "Typing rules".

use crate::ast::{
    self, BinOp, ElemType, ExprKind as AstExprKind, Ident, LoopIter, StmtKind, UnaryOp,
};
use crate::checked::*;
use accc_ir::diag::{Diagnostic, SourceFile, Span};
use std::collections::HashMap;

/// Checks a parsed program.
pub fn check(file: &SourceFile, program: &ast::Program) -> Result<Program, Vec<Diagnostic>> {
    let mut checker = Checker::new(file);
    let checked = checker.program(program);
    if checker.diags.is_empty() {
        Ok(checked)
    } else {
        let mut diags = checker.diags;
        diags.sort_by_key(|d| d.primary_span().map(|s| s.start).unwrap_or(0));
        Err(diags)
    }
}

// ------------------------------------------------------------------ helpers

/// Levenshtein distance on chars; small inputs only (names).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The candidate closest to `name`, if it is close enough to be a typo.
fn closest<'n>(name: &str, candidates: impl IntoIterator<Item = &'n str>) -> Option<&'n str> {
    let len = name.chars().count();
    let limit = (len / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != name)
        // Any one-letter name is one edit from any other: only suggest a
        // change of case there.
        .filter(|c| len > 1 || c.eq_ignore_ascii_case(name))
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, c.to_string()))
        .map(|(_, c)| c)
}

fn strip_parens(mut e: &ast::Expr) -> &ast::Expr {
    while let AstExprKind::Paren(inner) = &e.kind {
        e = inner;
    }
    e
}

fn int_ty_range_text(t: ElemType) -> String {
    match t.int_range() {
        Some((lo, hi)) => format!("{lo}..={hi}"),
        None => String::new(),
    }
}

fn fmt_shape(elem: ElemType, shape: &Shape) -> String {
    match shape {
        Shape::Scalar => elem.to_string(),
        Shape::Tensor(_) => format!("{elem}{shape}"),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ItemKind {
    Const,
    Kernel,
    Schedule,
}

impl ItemKind {
    fn word(self) -> &'static str {
        match self {
            ItemKind::Const => "constant",
            ItemKind::Kernel => "kernel",
            ItemKind::Schedule => "schedule",
        }
    }
}

/// A kernel's parameter as seen by callers and by its own body. `shape` is
/// `None` when its dimensions failed to evaluate (then nothing about its
/// shape is checked, to avoid cascades).
#[derive(Clone)]
struct SigParam {
    name: String,
    span: Span,
    elem: ElemType,
    shape: Option<Shape>,
    is_output: bool,
}

struct Signature {
    name: String,
    signature_span: Span,
    params: Vec<SigParam>,
}

/// What a name means at a point of a kernel body.
#[derive(Clone, Copy)]
enum Sym {
    Param(ParamId),
    Local(LocalId),
    LoopVar(LoopVarId),
}

enum Resolved {
    Sym(Sym),
    Const(i64),
    Kernel,
    Undefined,
}

/// The state of the kernel body being checked.
struct Body {
    params: Vec<SigParam>,
    locals: Vec<Local>,
    /// Parallel to `locals`: false when the declaration failed to check.
    local_ok: Vec<bool>,
    loop_vars: Vec<LoopVar>,
    /// Parallel to `loop_vars`: `(lo, hi)` when both bounds are affine.
    loop_bounds: Vec<Option<(Affine, Affine)>>,
    /// Parallel to `loop_vars`: true when the loop provably runs at least once
    /// for every iteration of the loops around it.
    loop_nonempty: Vec<bool>,
    scopes: Vec<Vec<(String, Sym, Span)>>,
    /// Loop variables whose loop has ended, with where they were declared:
    /// a later use gets "used outside its loop" instead of "undefined".
    dead_loop_vars: Vec<(String, Span)>,
    calls: Vec<(KernelId, Span)>,
}

impl Body {
    fn lookup(&self, name: &str) -> Option<(Sym, Span)> {
        for scope in self.scopes.iter().rev() {
            if let Some((_, sym, span)) = scope.iter().rev().find(|(n, _, _)| n == name) {
                return Some((*sym, *span));
            }
        }
        self.params
            .iter()
            .position(|p| p.name == name)
            .map(|i| (Sym::Param(ParamId(i as u32)), self.params[i].span))
    }

    fn visible_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.params.iter().map(|p| p.name.as_str()).collect();
        for scope in &self.scopes {
            names.extend(scope.iter().map(|(n, _, _)| n.as_str()));
        }
        names
    }

    /// Element type and shape of a tensor-or-scalar symbol; `None` shape when
    /// it failed to check.
    fn value_info(&self, sym: Sym) -> Option<(String, Span, ElemType, Option<Shape>)> {
        match sym {
            Sym::Param(p) => self
                .params
                .get(p.index())
                .map(|p| (p.name.clone(), p.span, p.elem, p.shape.clone())),
            Sym::Local(l) => self.locals.get(l.index()).map(|loc| {
                let ok = self.local_ok.get(l.index()).copied().unwrap_or(false);
                (
                    loc.name.clone(),
                    loc.span,
                    loc.elem,
                    ok.then(|| loc.shape.clone()),
                )
            }),
            Sym::LoopVar(_) => None,
        }
    }

    /// The least (`maximize = false`) or greatest value of `a` over the
    /// iteration space of the loops it mentions, or `None` when unknown.
    ///
    /// Eliminates the innermost variable first: for fixed outer variables
    /// `a` is linear in it, so its extreme is at the lower bound or at
    /// `hi - 1`, both affine in the outer variables. Exact when every loop
    /// involved is non-empty, which is required.
    fn extreme(&self, a: &Affine, maximize: bool) -> Option<i128> {
        let mut constant = i128::from(a.constant);
        let mut terms: Vec<(LoopVarId, i128)> =
            a.terms.iter().map(|&(v, c)| (v, i128::from(c))).collect();
        while let Some(&(var, coeff)) = terms.iter().max_by_key(|(v, _)| *v) {
            terms.retain(|(v, _)| *v != var);
            let (lo, hi) = self.loop_bounds.get(var.index())?.as_ref()?;
            if !self
                .loop_nonempty
                .get(var.index())
                .copied()
                .unwrap_or(false)
            {
                return None;
            }
            let take_hi = (coeff > 0) == maximize;
            let (sub, offset) = if take_hi { (hi, -1i128) } else { (lo, 0) };
            constant = constant
                .checked_add(coeff.checked_mul(i128::from(sub.constant).checked_add(offset)?)?)?;
            for &(v, c) in &sub.terms {
                let add = coeff.checked_mul(i128::from(c))?;
                match terms.iter_mut().find(|(tv, _)| *tv == v) {
                    Some((_, tc)) => *tc = tc.checked_add(add)?,
                    None => terms.push((v, add)),
                }
            }
            terms.retain(|(_, c)| *c != 0);
        }
        Some(constant)
    }
}

struct Checker<'a> {
    file: &'a SourceFile,
    diags: Vec<Diagnostic>,
    items: HashMap<String, (ItemKind, Span)>,
    consts: Vec<Const>,
    const_by_name: HashMap<String, usize>,
    /// Every constant declaration (also later ones), for "used before its
    /// definition".
    const_decls: HashMap<String, Span>,
    sigs: Vec<Signature>,
    kernel_by_name: HashMap<String, KernelId>,
}

type Checked<T> = Option<T>;

impl<'a> Checker<'a> {
    fn new(file: &'a SourceFile) -> Checker<'a> {
        Checker {
            file,
            diags: Vec::new(),
            items: HashMap::new(),
            consts: Vec::new(),
            const_by_name: HashMap::new(),
            const_decls: HashMap::new(),
            sigs: Vec::new(),
            kernel_by_name: HashMap::new(),
        }
    }

    fn error(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// A short quote of the source of a span, for hints; `None` if long.
    fn quote(&self, span: Span) -> Option<String> {
        let text = self.file.snippet(span);
        (text.len() <= 40 && !text.contains('\n')).then(|| text.to_string())
    }

    // -------------------------------------------------------------- program

    fn program(&mut self, program: &ast::Program) -> Program {
        // Item names share one namespace; the first definition wins.
        for item in &program.items {
            let (kind, name) = match item {
                ast::Item::Const(c) => (ItemKind::Const, &c.name),
                ast::Item::Kernel(k) => (ItemKind::Kernel, &k.name),
                ast::Item::Schedule(s) => (ItemKind::Schedule, &s.name),
            };
            if let Some((first_kind, first_span)) = self.items.get(&name.name).copied() {
                self.error(
                    Diagnostic::error(format!("`{}` is defined more than once", name.name))
                        .with_primary(name.span, format!("{} `{}` redefined here", kind.word(), name.name))
                        .with_secondary(first_span, format!("first defined here as a {}", first_kind.word()))
                        .with_hint("constants, kernels and schedules share one namespace; rename one of them"),
                );
            } else {
                self.items.insert(name.name.clone(), (kind, name.span));
            }
            if kind == ItemKind::Const {
                self.const_decls
                    .entry(name.name.clone())
                    .or_insert(name.span);
            }
        }

        for item in &program.items {
            if let ast::Item::Const(c) = item {
                if let Some(value) = self.const_eval(&c.value, None) {
                    if !self.const_by_name.contains_key(&c.name.name) {
                        self.const_by_name
                            .insert(c.name.name.clone(), self.consts.len());
                        self.consts.push(Const {
                            name: c.name.name.clone(),
                            value,
                            span: c.span,
                        });
                    }
                } else {
                    // Mark it defined so uses do not cascade into "undefined".
                    self.const_by_name
                        .entry(c.name.name.clone())
                        .or_insert(usize::MAX);
                }
            }
        }

        let kernels: Vec<&ast::KernelDecl> = program
            .items
            .iter()
            .filter_map(|i| {
                if let ast::Item::Kernel(k) = i {
                    Some(k)
                } else {
                    None
                }
            })
            .collect();
        for (i, k) in kernels.iter().enumerate() {
            self.kernel_by_name
                .entry(k.name.name.clone())
                .or_insert(KernelId(i as u32));
        }
        for k in &kernels {
            let sig = self.signature(k);
            self.sigs.push(sig);
        }
        let mut checked_kernels = Vec::new();
        let mut call_graph = Vec::new();
        for (i, k) in kernels.iter().enumerate() {
            let (kernel, calls) = self.kernel_body(KernelId(i as u32), k);
            checked_kernels.push(kernel);
            call_graph.push(calls);
        }
        self.check_recursion(&call_graph);

        let mut schedules = Vec::new();
        for item in &program.items {
            if let ast::Item::Schedule(s) = item {
                match self.kernel_by_name.get(&s.kernel.name) {
                    Some(&kernel) => schedules.push(Schedule {
                        name: s.name.name.clone(),
                        kernel,
                        steps: s.steps.clone(),
                        span: s.span,
                    }),
                    None => {
                        let mut d = Diagnostic::error(format!(
                            "schedule `{}` is for an unknown kernel `{}`",
                            s.name.name, s.kernel.name
                        ))
                        .with_primary(s.kernel.span, "no kernel of this name");
                        if let Some(c) = closest(
                            &s.kernel.name,
                            self.kernel_by_name.keys().map(String::as_str),
                        ) {
                            d = d.with_hint(format!("did you mean `{c}`?"));
                        }
                        self.error(d);
                    }
                }
            }
        }

        let consts = self.consts.clone();
        Program {
            consts,
            kernels: checked_kernels,
            schedules,
        }
    }

    // -------------------------------------------------------------- constants

    /// Evaluates an integer constant expression (constants, literals,
    /// `+ - * / %`, parentheses). `body` is the kernel being checked, if
    /// any, only to explain why its names are not constants.
    fn const_eval(&mut self, e: &ast::Expr, body: Option<&Body>) -> Checked<i64> {
        let overflow = |span: Span| {
            Diagnostic::error("constant expression overflows 64-bit integers")
                .with_primary(span, "overflows")
        };
        match &e.kind {
            AstExprKind::Int(v) => Some(*v),
            AstExprKind::Paren(inner) => self.const_eval(inner, body),
            AstExprKind::Unary {
                op: UnaryOp::Neg,
                operand,
            } => {
                let v = self.const_eval(operand, body)?;
                match v.checked_neg() {
                    Some(v) => Some(v),
                    None => {
                        self.error(overflow(e.span));
                        None
                    }
                }
            }
            AstExprKind::Binary { op, lhs, rhs } if !op.is_comparison() => {
                let l = self.const_eval(lhs, body);
                let r = self.const_eval(rhs, body);
                let (l, r) = (l?, r?);
                if matches!(op, BinOp::Div | BinOp::Rem) && r == 0 {
                    self.error(
                        Diagnostic::error("division by zero in a constant expression")
                            .with_primary(rhs.span, "this is zero"),
                    );
                    return None;
                }
                let v = match op {
                    BinOp::Add => l.checked_add(r),
                    BinOp::Sub => l.checked_sub(r),
                    BinOp::Mul => l.checked_mul(r),
                    BinOp::Div => l.checked_div(r),
                    _ => l.checked_rem(r),
                };
                if v.is_none() {
                    self.error(overflow(e.span));
                }
                v
            }
            AstExprKind::Name(id) => {
                if let Some(&i) = self.const_by_name.get(&id.name) {
                    // usize::MAX marks a constant whose own definition failed.
                    return self.consts.get(i).map(|c| c.value);
                }
                if let Some((sym, _)) = body.and_then(|b| b.lookup(&id.name)) {
                    let what = match sym {
                        Sym::LoopVar(_) => "a loop variable",
                        Sym::Param(_) => "a parameter",
                        Sym::Local(_) => "a local variable",
                    };
                    self.error(
                        Diagnostic::error(format!("`{}` is not a constant", id.name))
                            .with_primary(id.span, format!("this is {what}"))
                            .with_hint(
                                "dimensions must be constant expressions over `const` declarations",
                            ),
                    );
                    return None;
                }
                if let Some(&later) = self.const_decls.get(&id.name) {
                    self.error(
                        Diagnostic::error(format!(
                            "constant `{}` is used before its definition",
                            id.name
                        ))
                        .with_primary(id.span, "used here")
                        .with_secondary(later, "defined later here")
                        .with_hint("move the `const` declaration above this one"),
                    );
                    return None;
                }
                let candidates: Vec<String> = self.const_by_name.keys().cloned().collect();
                self.undefined(id, None, candidates.iter().map(String::as_str), "constant");
                None
            }
            AstExprKind::Float(_) | AstExprKind::Inf => {
                self.error(
                    Diagnostic::error("expected an integer constant expression, found a float")
                        .with_primary(e.span, "not an integer"),
                );
                None
            }
            _ => {
                self.error(
                    Diagnostic::error("expected an integer constant expression")
                        .with_primary(e.span, "not a constant expression")
                        .with_hint("constant expressions use integers, constants, `+ - * / %` and parentheses"),
                );
                None
            }
        }
    }

    /// Reports an undefined name, suggesting a close one.
    fn undefined<'n>(
        &mut self,
        id: &Ident,
        body: Option<&Body>,
        candidates: impl IntoIterator<Item = &'n str>,
        what: &str,
    ) {
        if let Some(b) = body {
            if let Some((_, decl)) = b.dead_loop_vars.iter().rev().find(|(n, _)| *n == id.name) {
                let d = Diagnostic::error(format!(
                    "loop variable `{}` is used outside its loop",
                    id.name
                ))
                .with_primary(id.span, "not in scope here")
                .with_secondary(*decl, "declared by this loop; visible only inside its body");
                self.error(d);
                return;
            }
        }
        let mut d = Diagnostic::error(format!("cannot find {what} `{}`", id.name))
            .with_primary(id.span, "not defined");
        if let Some(c) = closest(&id.name, candidates) {
            d = d.with_hint(format!("did you mean `{c}`?"));
        }
        self.error(d);
    }

    /// Evaluates a dimension list; every size must be positive.
    fn dims(&mut self, dims: &[ast::Expr], body: Option<&Body>) -> Checked<Vec<i64>> {
        let mut out = Vec::new();
        let mut ok = true;
        for d in dims {
            match self.const_eval(d, body) {
                Some(v) if v >= 1 => out.push(v),
                Some(v) => {
                    ok = false;
                    self.error(
                        Diagnostic::error(format!("dimension size must be positive, found {v}"))
                            .with_primary(d.span, "not positive"),
                    );
                }
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    // -------------------------------------------------------------- kernels

    fn signature(&mut self, k: &ast::KernelDecl) -> Signature {
        let mut params: Vec<SigParam> = Vec::new();
        let all = k
            .params
            .iter()
            .map(|p| (p, false))
            .chain(k.outputs.iter().map(|p| (p, true)));
        for (p, is_output) in all {
            if let Some(first) = params.iter().find(|q| q.name == p.name.name) {
                let first_span = first.span;
                self.error(
                    Diagnostic::error(format!(
                        "parameter `{}` is declared more than once",
                        p.name.name
                    ))
                    .with_primary(p.name.span, "declared again here")
                    .with_secondary(first_span, "first declared here"),
                );
            } else {
                self.check_shadows_const(&p.name);
            }
            let shape = match &p.ty.dims {
                None => {
                    if is_output {
                        self.error(
                            Diagnostic::error(format!("output `{}` must be a tensor", p.name.name))
                                .with_primary(p.ty.span, "a scalar type")
                                .with_hint(format!(
                                    "give it dimensions, e.g. `{}: {}[1]`",
                                    p.name.name, p.ty.elem
                                )),
                        );
                        None
                    } else {
                        Some(Shape::Scalar)
                    }
                }
                Some(dims) => self.dims(dims, None).map(Shape::Tensor),
            };
            params.push(SigParam {
                name: p.name.name.clone(),
                span: p.name.span,
                elem: p.ty.elem,
                shape,
                is_output,
            });
        }
        if k.outputs.is_empty() {
            self.error(
                Diagnostic::error(format!("kernel `{}` has no outputs", k.name.name))
                    .with_primary(k.signature_span, "no `-> (...)` outputs")
                    .with_hint("declare at least one output tensor after the parameters: `-> (C: i32[M, N])`"),
            );
        }
        Signature {
            name: k.name.name.clone(),
            signature_span: k.signature_span,
            params,
        }
    }

    /// Names inside kernels must not shadow constants (dimensions and
    /// indices would silently change meaning).
    fn check_shadows_const(&mut self, name: &Ident) {
        if let Some(&span) = self.const_decls.get(&name.name) {
            self.error(
                Diagnostic::error(format!("`{}` is already defined as a constant", name.name))
                    .with_primary(name.span, "declared here")
                    .with_secondary(span, "constant defined here")
                    .with_hint("names in kernels cannot shadow constants; rename one of them"),
            );
        }
    }

    fn kernel_body(
        &mut self,
        id: KernelId,
        k: &ast::KernelDecl,
    ) -> (Kernel, Vec<(KernelId, Span)>) {
        let sig_params = self
            .sigs
            .get(id.index())
            .map(|s| s.params.clone())
            .unwrap_or_default();
        let mut body = Body {
            params: sig_params,
            locals: Vec::new(),
            local_ok: Vec::new(),
            loop_vars: Vec::new(),
            loop_bounds: Vec::new(),
            loop_nonempty: Vec::new(),
            scopes: Vec::new(),
            dead_loop_vars: Vec::new(),
            calls: Vec::new(),
        };
        let stmts = self.block(&mut body, id, &k.body.stmts);
        let params = body
            .params
            .iter()
            .map(|p| Param {
                name: p.name.clone(),
                span: p.span,
                elem: p.elem,
                shape: p.shape.clone().unwrap_or(Shape::Scalar),
                is_output: p.is_output,
            })
            .collect();
        let mut callees: Vec<KernelId> = Vec::new();
        for (c, _) in &body.calls {
            if !callees.contains(c) {
                callees.push(*c);
            }
        }
        let kernel = Kernel {
            name: k.name.name.clone(),
            span: k.span,
            params,
            locals: body.locals,
            loop_vars: body.loop_vars,
            body: stmts,
            callees,
        };
        (kernel, body.calls)
    }

    fn check_recursion(&mut self, graph: &[Vec<(KernelId, Span)>]) {
        let mut reported = vec![false; graph.len()];
        for start in 0..graph.len() {
            if reported[start] {
                continue;
            }
            // Depth-first search for a path start -> ... -> start.
            let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
            let mut on_path = vec![false; graph.len()];
            let mut visited = vec![false; graph.len()];
            on_path[start] = true;
            let mut cycle: Option<Vec<usize>> = None;
            while let Some(top) = stack.len().checked_sub(1) {
                let (node, edge) = stack[top];
                let edges = graph.get(node).map(Vec::as_slice).unwrap_or(&[]);
                let Some((target, _)) = edges.get(edge) else {
                    on_path[node] = false;
                    stack.pop();
                    continue;
                };
                stack[top].1 += 1;
                let target = target.index();
                if target == start {
                    cycle = Some(stack.iter().map(|(n, _)| *n).collect());
                    break;
                }
                if target < graph.len() && !visited[target] && !on_path[target] {
                    visited[target] = true;
                    on_path[target] = true;
                    stack.push((target, 0));
                }
            }
            if let Some(path) = cycle {
                for &n in &path {
                    reported[n] = true;
                }
                let names: Vec<String> = path
                    .iter()
                    .chain(std::iter::once(&start))
                    .map(|&n| {
                        format!(
                            "`{}`",
                            self.sigs.get(n).map(|s| s.name.as_str()).unwrap_or("?")
                        )
                    })
                    .collect();
                // Point at the call that leaves `start` along the cycle.
                let next = path.get(1).copied().unwrap_or(start);
                let span = graph[start]
                    .iter()
                    .find(|(k, _)| k.index() == next)
                    .map(|(_, s)| *s)
                    .unwrap_or_default();
                let msg = if path.len() == 1 {
                    format!("kernel {} calls itself", names[0])
                } else {
                    format!("recursive kernel calls: {}", names.join(" calls "))
                };
                self.error(
                    Diagnostic::error(msg)
                        .with_primary(span, "recursive call")
                        .with_hint(
                            "kernels cannot call themselves, directly or through other kernels",
                        ),
                );
            }
        }
    }

    // -------------------------------------------------------------- statements

    fn declare(&mut self, body: &mut Body, name: &Ident, sym: Sym) {
        if let Some((_, first)) = body.lookup(&name.name) {
            self.error(
                Diagnostic::error(format!("`{}` is already defined", name.name))
                    .with_primary(name.span, "defined again here")
                    .with_secondary(first, "first defined here")
                    .with_hint("names in a kernel cannot be shadowed; choose another name"),
            );
        } else {
            self.check_shadows_const(name);
        }
        if let Some(scope) = body.scopes.last_mut() {
            scope.push((name.name.clone(), sym, name.span));
        }
    }

    fn block(&mut self, body: &mut Body, kernel: KernelId, stmts: &[ast::Stmt]) -> Vec<Stmt> {
        body.scopes.push(Vec::new());
        let out = self.stmts(body, kernel, stmts);
        self.pop_scope(body);
        out
    }

    fn stmts(&mut self, body: &mut Body, kernel: KernelId, stmts: &[ast::Stmt]) -> Vec<Stmt> {
        stmts
            .iter()
            .filter_map(|s| self.stmt(body, kernel, s))
            .collect()
    }

    fn pop_scope(&mut self, body: &mut Body) {
        if let Some(scope) = body.scopes.pop() {
            for (name, sym, span) in scope {
                if let Sym::LoopVar(_) = sym {
                    body.dead_loop_vars.push((name, span));
                }
            }
        }
    }

    fn stmt(&mut self, body: &mut Body, kernel: KernelId, stmt: &ast::Stmt) -> Checked<Stmt> {
        match &stmt.kind {
            StmtKind::For {
                vars,
                iter,
                body: block,
            } => self.for_stmt(body, kernel, stmt.span, vars, iter, block),
            StmtKind::Let { name, ty, init } => {
                self.let_stmt(body, stmt.span, name, ty, init.as_ref())
            }
            StmtKind::Assign { target, op, value } => {
                let place = self.place(body, target);
                let value = match &place {
                    Some((_, elem)) => self.value_of(body, value, *elem, "the assigned value"),
                    None => {
                        // Still look for errors in the value, without a type.
                        if !self.is_untyped(body, value) {
                            let _ = self.expr(body, value, None);
                        }
                        None
                    }
                };
                let ((target, _), value) = (place?, value?);
                Some(Stmt::Assign {
                    target,
                    op: *op,
                    value,
                    span: stmt.span,
                })
            }
            StmtKind::Call { callee, args } => {
                self.call_stmt(body, kernel, stmt.span, callee, args)
            }
        }
    }

    fn for_stmt(
        &mut self,
        body: &mut Body,
        kernel: KernelId,
        span: Span,
        vars: &[Ident],
        iter: &LoopIter,
        block: &ast::Block,
    ) -> Checked<Stmt> {
        let vars_span = match (vars.first(), vars.last()) {
            (Some(f), Some(l)) => f.span.to(l.span),
            _ => span,
        };
        // Bounds are checked before the variables enter scope: they may use
        // only the loops around this one.
        let mut bounds: Vec<Option<(Affine, Affine)>> = Vec::new();
        let mut ok = true;
        match iter {
            LoopIter::Grid {
                extents,
                span: iter_span,
            } => {
                if extents.len() != vars.len() {
                    ok = false;
                    self.error(
                        Diagnostic::error(format!(
                            "`grid` has {} loop variable{} but {} extent{}",
                            vars.len(),
                            if vars.len() == 1 { "" } else { "s" },
                            extents.len(),
                            if extents.len() == 1 { "" } else { "s" },
                        ))
                        .with_primary(
                            *iter_span,
                            format!("{} extent{}", extents.len(), plural(extents.len())),
                        )
                        .with_secondary(vars_span, format!("{} variables", vars.len()))
                        .with_hint("give one extent per loop variable"),
                    );
                }
                for e in extents {
                    let hi = self.affine(body, e);
                    bounds.push(hi.map(|hi| (Affine::constant(0), hi)));
                }
            }
            LoopIter::Range {
                lo,
                hi,
                span: iter_span,
            } => {
                if vars.len() != 1 {
                    ok = false;
                    self.error(
                        Diagnostic::error("`range` loops take exactly one loop variable")
                            .with_primary(vars_span, format!("{} variables", vars.len()))
                            .with_secondary(*iter_span, "one range")
                            .with_hint("use `grid(E1, E2, ...)` for several variables"),
                    );
                }
                let lo = self.affine(body, lo);
                let hi = self.affine(body, hi);
                bounds.push(lo.zip(hi));
            }
        }
        body.scopes.push(Vec::new());
        let mut ids = Vec::new();
        for (i, var) in vars.iter().enumerate() {
            let id = LoopVarId(body.loop_vars.len() as u32);
            let b = bounds.get(i).cloned().flatten();
            if b.is_none() {
                ok = false;
            }
            let nonempty = match &b {
                Some((lo, hi)) => hi
                    .add_scaled(lo, -1)
                    .and_then(|d| body.extreme(&d, false))
                    .is_some_and(|m| m >= 1),
                None => false,
            };
            body.loop_vars.push(LoopVar {
                name: var.name.clone(),
                span: var.span,
            });
            body.loop_bounds.push(b.clone());
            body.loop_nonempty.push(nonempty);
            self.declare(body, var, Sym::LoopVar(id));
            ids.push((id, b));
        }
        let inner = self.stmts(body, kernel, &block.stmts);
        self.pop_scope(body);
        if !ok {
            return None;
        }
        let mut stmts = inner;
        for (id, b) in ids.into_iter().rev() {
            let (lo, hi) = b?;
            stmts = vec![Stmt::Loop(Loop {
                var: id,
                lo,
                hi,
                body: stmts,
                span,
            })];
        }
        stmts.pop()
    }

    fn let_stmt(
        &mut self,
        body: &mut Body,
        span: Span,
        name: &Ident,
        ty: &ast::TypeExpr,
        init: Option<&ast::Expr>,
    ) -> Checked<Stmt> {
        let mut ok = true;
        let (shape, init) = match &ty.dims {
            Some(dims) => {
                let dims = self.dims(dims, Some(body));
                if let Some(init) = init {
                    ok = false;
                    self.error(
                        Diagnostic::error(format!("local tensor `{}` cannot have an initial value", name.name))
                            .with_primary(init.span, "initial value")
                            .with_hint("assign its elements in a loop, e.g. `for i in range(0, N) { t[i] = 0; }`"),
                    );
                }
                match dims {
                    Some(d) => (Shape::Tensor(d), None),
                    None => {
                        ok = false;
                        (Shape::Tensor(Vec::new()), None)
                    }
                }
            }
            None => match init {
                Some(init) => {
                    let value = self.value_of(body, init, ty.elem, "the initial value");
                    if value.is_none() {
                        ok = false;
                    }
                    (Shape::Scalar, value)
                }
                None => {
                    ok = false;
                    self.error(
                        Diagnostic::error(format!(
                            "local scalar `{}` needs an initial value",
                            name.name
                        ))
                        .with_primary(name.span, "no initial value")
                        .with_hint(format!("write `let {}: {} = 0;`", name.name, ty.elem)),
                    );
                    (Shape::Scalar, None)
                }
            },
        };
        let id = LocalId(body.locals.len() as u32);
        let shape_ok = !matches!(&shape, Shape::Tensor(d) if d.is_empty());
        body.locals.push(Local {
            name: name.name.clone(),
            span: name.span,
            elem: ty.elem,
            shape,
        });
        body.local_ok.push(shape_ok);
        self.declare(body, name, Sym::Local(id));
        ok.then_some(Stmt::Let {
            local: id,
            init,
            span,
        })
    }

    /// Resolves an assignment target and checks that it may be written.
    fn place(&mut self, body: &mut Body, target: &ast::Target) -> Checked<(Place, ElemType)> {
        let name = &target.name;
        let sym = match self.resolve(body, name) {
            Resolved::Sym(sym) => sym,
            Resolved::Const(_) => {
                self.error(
                    Diagnostic::error(format!("cannot assign to constant `{}`", name.name))
                        .with_primary(name.span, "a constant"),
                );
                return None;
            }
            Resolved::Kernel => {
                self.error(
                    Diagnostic::error(format!("cannot assign to kernel `{}`", name.name))
                        .with_primary(name.span, "a kernel"),
                );
                return None;
            }
            Resolved::Undefined => {
                let candidates: Vec<String> =
                    body.visible_names().into_iter().map(String::from).collect();
                self.undefined(
                    name,
                    Some(body),
                    candidates.iter().map(String::as_str),
                    "variable",
                );
                return None;
            }
        };
        if let Sym::LoopVar(_) = sym {
            self.error(
                Diagnostic::error(format!("cannot assign to loop variable `{}`", name.name))
                    .with_primary(name.span, "a loop variable"),
            );
            return None;
        }
        let (_, decl_span, elem, shape) = body.value_info(sym)?;
        if let Sym::Param(p) = sym {
            let is_output = body.params.get(p.index()).is_some_and(|p| p.is_output);
            if !is_output {
                let scalar = matches!(shape, Some(Shape::Scalar));
                let d =
                    Diagnostic::error(format!("cannot write to input parameter `{}`", name.name))
                        .with_primary(name.span, "written here")
                        .with_secondary(decl_span, "declared as an input here");
                self.error(if scalar {
                    d.with_hint(format!(
                        "parameters are read-only; copy it into a local: `let x: {elem} = {};`",
                        name.name
                    ))
                } else {
                    d.with_hint(
                        "outputs are declared after `->`, e.g. `kernel k(A: i8[N]) -> (B: i8[N])`",
                    )
                });
                return None;
            }
        }
        let tensor_ref = match sym {
            Sym::Param(p) => TensorRef::Param(p),
            Sym::Local(l) => TensorRef::Local(l),
            Sym::LoopVar(_) => return None,
        };
        match (&target.indices, shape) {
            (None, Some(Shape::Scalar)) => match tensor_ref {
                TensorRef::Local(l) => Some((Place::Scalar(l), elem)),
                TensorRef::Param(_) => None,
            },
            (None, Some(Shape::Tensor(dims))) => {
                self.error(
                    Diagnostic::error(format!(
                        "`{}` is a tensor; assign to one element",
                        name.name
                    ))
                    .with_primary(
                        name.span,
                        format!("a tensor of shape {}", Shape::Tensor(dims.clone())),
                    )
                    .with_hint(format!(
                        "index it, e.g. `{}[{}] = ...`",
                        name.name,
                        index_example(dims.len())
                    )),
                );
                None
            }
            (Some(indices), shape) => {
                let indices = self.indices(
                    body,
                    &name.name,
                    decl_span,
                    shape.as_ref(),
                    indices,
                    target.span,
                )?;
                Some((
                    Place::Element {
                        tensor: tensor_ref,
                        indices,
                    },
                    elem,
                ))
            }
            (None, None) => None,
        }
    }

    fn call_stmt(
        &mut self,
        body: &mut Body,
        _kernel: KernelId,
        span: Span,
        callee: &Ident,
        args: &[ast::Expr],
    ) -> Checked<Stmt> {
        let Some(&callee_id) = self.kernel_by_name.get(&callee.name) else {
            let mut d = Diagnostic::error(format!("cannot find kernel `{}`", callee.name))
                .with_primary(callee.span, "not a kernel");
            if Intrinsic::from_name(&callee.name).is_some()
                || ElemType::from_name(&callee.name).is_some()
            {
                d = d.with_hint(format!(
                    "`{}` is a function; use it inside an expression",
                    callee.name
                ));
            } else if let Some(c) =
                closest(&callee.name, self.kernel_by_name.keys().map(String::as_str))
            {
                d = d.with_hint(format!("did you mean `{c}`?"));
            }
            self.error(d);
            for a in args {
                if !self.is_untyped(body, a)
                    && !matches!(strip_parens(a).kind, AstExprKind::Name(_))
                {
                    let _ = self.expr(body, a, None);
                }
            }
            return None;
        };
        let sig = self.sigs.get(callee_id.index())?;
        let sig_params = sig.params.clone();
        let sig_span = sig.signature_span;
        let n_in = sig_params.iter().filter(|p| !p.is_output).count();
        let n_out = sig_params.len() - n_in;
        body.calls.push((callee_id, span));
        if args.len() != sig_params.len() {
            self.error(
                Diagnostic::error(format!(
                    "kernel `{}` takes {} argument{} ({} input{}, then {} output{}) but {} {} given",
                    callee.name,
                    sig_params.len(),
                    plural(sig_params.len()),
                    n_in,
                    plural(n_in),
                    n_out,
                    plural(n_out),
                    args.len(),
                    if args.len() == 1 { "was" } else { "were" },
                ))
                .with_primary(span, format!("{} argument{}", args.len(), plural(args.len())))
                .with_secondary(sig_span, "kernel declared here"),
            );
            return None;
        }
        let mut ok = true;
        let mut checked_args = Vec::new();
        let mut tensors_passed: Vec<(TensorRef, bool, Span)> = Vec::new();
        for (arg, param) in args.iter().zip(&sig_params) {
            match &param.shape {
                Some(Shape::Scalar) => match self.value_of(body, arg, param.elem, "the argument") {
                    Some(e) => checked_args.push(CallArg::Scalar(e)),
                    None => ok = false,
                },
                param_shape => {
                    match self.tensor_arg(body, callee, arg, param, param_shape.as_ref()) {
                        Some(t) => {
                            tensors_passed.push((t, param.is_output, arg.span));
                            checked_args.push(CallArg::Tensor(t));
                        }
                        None => ok = false,
                    }
                }
            }
        }
        // An output must not alias another argument: the callee may read an
        // input after writing the output.
        for (i, (t, is_out, s)) in tensors_passed.iter().enumerate() {
            if !*is_out {
                continue;
            }
            if let Some((_, _, other)) = tensors_passed
                .iter()
                .enumerate()
                .find(|(j, (u, _, _))| *j != i && u == t)
                .map(|(_, x)| x)
            {
                ok = false;
                self.error(
                    Diagnostic::error(
                        "a tensor passed as an output cannot also be passed as another argument",
                    )
                    .with_primary(*s, "passed as an output here")
                    .with_secondary(*other, "also passed here")
                    .with_hint("write the result into a separate local tensor and copy it"),
                );
                break;
            }
        }
        ok.then_some(Stmt::Call {
            callee: callee_id,
            args: checked_args,
            span,
        })
    }

    fn tensor_arg(
        &mut self,
        body: &mut Body,
        callee: &Ident,
        arg: &ast::Expr,
        param: &SigParam,
        param_shape: Option<&Shape>,
    ) -> Checked<TensorRef> {
        let inner = strip_parens(arg);
        let AstExprKind::Name(id) = &inner.kind else {
            self.error(
                Diagnostic::error(format!(
                    "parameter `{}` of `{}` is a tensor; pass a tensor name",
                    param.name, callee.name
                ))
                .with_primary(arg.span, "not a tensor name")
                .with_secondary(param.span, "parameter declared here"),
            );
            return None;
        };
        let sym = match self.resolve(body, id) {
            Resolved::Sym(sym) => sym,
            Resolved::Undefined => {
                let candidates: Vec<String> =
                    body.visible_names().into_iter().map(String::from).collect();
                self.undefined(
                    id,
                    Some(body),
                    candidates.iter().map(String::as_str),
                    "tensor",
                );
                return None;
            }
            _ => {
                self.error(
                    Diagnostic::error(format!("`{}` is not a tensor", id.name))
                        .with_primary(id.span, "expected a tensor")
                        .with_secondary(param.span, "parameter declared here"),
                );
                return None;
            }
        };
        let tensor = match sym {
            Sym::Param(p) => TensorRef::Param(p),
            Sym::Local(l) => TensorRef::Local(l),
            Sym::LoopVar(_) => {
                self.error(
                    Diagnostic::error(format!("`{}` is a loop variable, not a tensor", id.name))
                        .with_primary(id.span, "expected a tensor")
                        .with_secondary(param.span, "parameter declared here"),
                );
                return None;
            }
        };
        let (_, decl_span, elem, shape) = body.value_info(sym)?;
        if let Some(Shape::Scalar) = shape {
            self.error(
                Diagnostic::error(format!(
                    "`{}` is a scalar, but parameter `{}` of `{}` is a tensor",
                    id.name, param.name, callee.name
                ))
                .with_primary(id.span, "a scalar")
                .with_secondary(param.span, "parameter declared here"),
            );
            return None;
        }
        if param.is_output {
            if let TensorRef::Param(p) = tensor {
                if body.params.get(p.index()).is_some_and(|p| !p.is_output) {
                    self.error(
                        Diagnostic::error(format!("cannot write to input parameter `{}`", id.name))
                            .with_primary(
                                id.span,
                                format!("passed as output `{}` of `{}`", param.name, callee.name),
                            )
                            .with_secondary(decl_span, "declared as an input here")
                            .with_hint("outputs are declared after `->`; or pass a local tensor"),
                    );
                    return None;
                }
            }
        }
        let (Some(shape), Some(param_shape)) = (shape, param_shape) else {
            return None;
        };
        if elem != param.elem || &shape != param_shape {
            let what = if elem != param.elem { "type" } else { "shape" };
            self.error(
                Diagnostic::error(format!(
                    "{what} mismatch: argument `{}` is {} but parameter `{}` of `{}` is {}",
                    id.name,
                    fmt_shape(elem, &shape),
                    param.name,
                    callee.name,
                    fmt_shape(param.elem, param_shape),
                ))
                .with_primary(id.span, fmt_shape(elem, &shape))
                .with_secondary(
                    param.span,
                    format!("expects {}", fmt_shape(param.elem, param_shape)),
                ),
            );
            return None;
        }
        Some(tensor)
    }

    // -------------------------------------------------------------- names

    fn resolve(&self, body: &Body, id: &Ident) -> Resolved {
        if let Some((sym, _)) = body.lookup(&id.name) {
            return Resolved::Sym(sym);
        }
        if let Some(&i) = self.const_by_name.get(&id.name) {
            return match self.consts.get(i) {
                Some(c) => Resolved::Const(c.value),
                // A constant whose definition failed: treat as 0, the error
                // is already reported and `check` will fail.
                None => Resolved::Const(0),
            };
        }
        // A loop variable that went out of scope is reported as such even if
        // a kernel shares its name.
        if body.dead_loop_vars.iter().any(|(n, _)| *n == id.name) {
            return Resolved::Undefined;
        }
        if self.kernel_by_name.contains_key(&id.name) {
            return Resolved::Kernel;
        }
        Resolved::Undefined
    }

    /// Reports an undefined value name (`what`: "name", "tensor"), suggesting
    /// a close name among the values visible in `body` and the constants.
    fn undefined_value(&mut self, body: &Body, id: &Ident, what: &str) {
        let mut names: Vec<String> = body.visible_names().into_iter().map(String::from).collect();
        names.extend(self.const_by_name.keys().cloned());
        self.undefined(id, Some(body), names.iter().map(String::as_str), what);
    }

    // -------------------------------------------------------------- indices

    /// Checks an index list against a tensor's shape: rank, affinity, bounds.
    fn indices(
        &mut self,
        body: &mut Body,
        name: &str,
        decl_span: Span,
        shape: Option<&Shape>,
        indices: &[ast::Expr],
        access_span: Span,
    ) -> Checked<Vec<Affine>> {
        let affines: Vec<Option<Affine>> = indices.iter().map(|i| self.affine(body, i)).collect();
        let dims = match shape {
            None => return None,
            Some(Shape::Scalar) => {
                self.error(
                    Diagnostic::error(format!("`{name}` is a scalar and cannot be indexed"))
                        .with_primary(access_span, "indexed here")
                        .with_secondary(decl_span, "declared as a scalar here"),
                );
                return None;
            }
            Some(Shape::Tensor(dims)) => dims.clone(),
        };
        if dims.len() != indices.len() {
            self.error(
                Diagnostic::error(format!(
                    "`{name}` has rank {} but {} ind{} given",
                    dims.len(),
                    indices.len(),
                    if indices.len() == 1 {
                        "ex is"
                    } else {
                        "ices are"
                    }
                ))
                .with_primary(
                    access_span,
                    format!(
                        "{} ind{}",
                        indices.len(),
                        if indices.len() == 1 { "ex" } else { "ices" }
                    ),
                )
                .with_secondary(
                    decl_span,
                    format!("declared with shape {}", Shape::Tensor(dims.clone())),
                ),
            );
            return None;
        }
        let mut out = Vec::new();
        for (d, ((a, e), size)) in affines.into_iter().zip(indices).zip(&dims).enumerate() {
            let a = a?;
            self.bounds_check(body, name, d, *size, &a, e.span);
            out.push(a);
        }
        Some(out)
    }

    fn bounds_check(
        &mut self,
        body: &Body,
        name: &str,
        dim: usize,
        size: i64,
        a: &Affine,
        span: Span,
    ) {
        let hint = format!("valid indices for this dimension are 0..={}", size - 1);
        if let Some(c) = a.as_constant() {
            if c < 0 || c >= size {
                self.error(
                    Diagnostic::error(format!(
                        "index {c} is out of bounds for dimension {dim} of `{name}` with size {size}"
                    ))
                    .with_primary(span, "out of bounds")
                    .with_hint(hint),
                );
            }
            return;
        }
        let (Some(min), Some(max)) = (body.extreme(a, false), body.extreme(a, true)) else {
            return;
        };
        if min < 0 || max >= i128::from(size) {
            let text = self.quote(span).unwrap_or_else(|| "expression".to_string());
            self.error(
                Diagnostic::error(format!(
                    "index `{text}` is out of bounds for dimension {dim} of `{name}` with size {size}"
                ))
                .with_primary(span, format!("takes values {min}..={max} in this loop nest"))
                .with_hint(hint),
            );
        }
    }

    /// Converts an index or loop-bound expression to an affine form over the
    /// loop variables in scope. Reports every problem it finds.
    fn affine(&mut self, body: &mut Body, e: &ast::Expr) -> Checked<Affine> {
        let not_affine = |span: Span, why: &str| {
            Diagnostic::error("index is not affine")
                .with_primary(span, why)
                .with_hint("indices and loop bounds must have the form `c0 + c1*i + c2*j + ...` with constant `c`s and loop variables `i`, `j`")
        };
        match &e.kind {
            AstExprKind::Int(v) => Some(Affine::constant(*v)),
            AstExprKind::Paren(inner) => self.affine(body, inner),
            AstExprKind::Name(id) => match self.resolve(body, id) {
                Resolved::Const(v) => Some(Affine::constant(v)),
                Resolved::Sym(Sym::LoopVar(v)) => Some(Affine::var(v)),
                Resolved::Sym(_) => {
                    self.error(not_affine(
                        id.span,
                        &format!(
                            "`{}` is a runtime value, not a loop variable or constant",
                            id.name
                        ),
                    ));
                    None
                }
                Resolved::Kernel => {
                    self.error(not_affine(id.span, &format!("`{}` is a kernel", id.name)));
                    None
                }
                Resolved::Undefined => {
                    self.undefined_value(body, id, "name");
                    None
                }
            },
            AstExprKind::Unary {
                op: UnaryOp::Neg,
                operand,
            } => {
                let a = self.affine(body, operand)?;
                self.overflow_checked(a.scale(-1), e.span)
            }
            AstExprKind::Binary { op, lhs, rhs } if !op.is_comparison() => {
                let l = self.affine(body, lhs);
                let r = self.affine(body, rhs);
                let (l, r) = (l?, r?);
                match op {
                    BinOp::Add => self.overflow_checked(l.add_scaled(&r, 1), e.span),
                    BinOp::Sub => self.overflow_checked(l.add_scaled(&r, -1), e.span),
                    BinOp::Mul => match (l.as_constant(), r.as_constant()) {
                        (Some(c), _) => self.overflow_checked(r.scale(c), e.span),
                        (_, Some(c)) => self.overflow_checked(l.scale(c), e.span),
                        _ => {
                            self.error(not_affine(e.span, "product of two loop variables"));
                            None
                        }
                    },
                    _ => match (l.as_constant(), r.as_constant()) {
                        (Some(_), Some(0)) => {
                            self.error(
                                Diagnostic::error("division by zero")
                                    .with_primary(rhs.span, "this is zero"),
                            );
                            None
                        }
                        (Some(a), Some(b)) => {
                            let v = if *op == BinOp::Div {
                                a.checked_div(b)
                            } else {
                                a.checked_rem(b)
                            };
                            self.overflow_checked(v.map(Affine::constant), e.span)
                        }
                        _ => {
                            self.error(not_affine(
                                e.span,
                                "division or remainder of a loop variable",
                            ));
                            None
                        }
                    },
                }
            }
            AstExprKind::Float(_) | AstExprKind::Inf => {
                self.error(not_affine(e.span, "a float; indices are integers"));
                None
            }
            AstExprKind::Access { .. } => {
                self.error(not_affine(e.span, "reads a tensor (data-dependent index)"));
                None
            }
            AstExprKind::Call { .. } => {
                self.error(not_affine(e.span, "a function call"));
                None
            }
            AstExprKind::Binary { .. } => {
                self.error(not_affine(e.span, "a comparison"));
                None
            }
        }
    }

    fn overflow_checked(&mut self, a: Option<Affine>, span: Span) -> Checked<Affine> {
        if a.is_none() {
            self.error(
                Diagnostic::error("index expression overflows 64-bit integers")
                    .with_primary(span, "overflows"),
            );
        }
        a
    }

    // -------------------------------------------------------------- expressions

    /// An expression with no type of its own: literals, constants, and
    /// arithmetic on them. It takes the type its context expects.
    fn is_untyped(&self, body: &Body, e: &ast::Expr) -> bool {
        match &e.kind {
            AstExprKind::Int(_) | AstExprKind::Float(_) | AstExprKind::Inf => true,
            AstExprKind::Name(id) => matches!(self.resolve(body, id), Resolved::Const(_)),
            AstExprKind::Paren(inner) => self.is_untyped(body, inner),
            AstExprKind::Unary { operand, .. } => self.is_untyped(body, operand),
            AstExprKind::Binary { op, lhs, rhs } => {
                !op.is_comparison() && self.is_untyped(body, lhs) && self.is_untyped(body, rhs)
            }
            AstExprKind::Access { .. } | AstExprKind::Call { .. } => false,
        }
    }

    /// An expression whose type must be an element type (not index or bool).
    fn value(&mut self, body: &mut Body, e: &ast::Expr, expected: Option<Ty>) -> Checked<Expr> {
        let x = self.expr(body, e, expected)?;
        self.require_elem(x)
    }

    /// A value that must have element type `elem` (assigned values, initial
    /// values, scalar arguments): there are no implicit conversions.
    fn value_of(
        &mut self,
        body: &mut Body,
        e: &ast::Expr,
        elem: ElemType,
        what: &str,
    ) -> Checked<Expr> {
        let x = self.value(body, e, Some(Ty::Elem(elem)))?;
        if x.ty != Ty::Elem(elem) {
            let text = self.quote(x.span).unwrap_or_else(|| "x".to_string());
            self.error(
                Diagnostic::error(format!(
                    "mismatched types: expected `{elem}`, found `{}`",
                    x.ty
                ))
                .with_primary(x.span, format!("{what} has type `{}`", x.ty))
                .with_hint(format!(
                    "there are no implicit conversions; insert a cast such as `{elem}({text})`"
                )),
            );
            return None;
        }
        Some(x)
    }

    fn require_elem(&mut self, x: Expr) -> Checked<Expr> {
        match x.ty {
            Ty::Elem(_) => Some(x),
            Ty::Index => {
                let text = self.quote(x.span).unwrap_or_else(|| "i".to_string());
                self.error(
                    Diagnostic::error("a loop variable cannot be used as a value without a cast")
                        .with_primary(x.span, "has type `index`")
                        .with_hint(format!(
                            "cast it to an element type, e.g. `i32({text})` or `f32({text})`"
                        )),
                );
                None
            }
            Ty::Bool => {
                self.error(self.bool_misuse(x.span));
                None
            }
        }
    }

    fn bool_misuse(&self, span: Span) -> Diagnostic {
        Diagnostic::error("a comparison can only be the condition of `select`")
            .with_primary(span, "a comparison (bool)")
            .with_hint("write `select(a < b, x, y)` to choose between two values")
    }

    /// An operand of arithmetic, a comparison or a cast: an element type or
    /// index, not bool.
    fn operand(&mut self, body: &mut Body, e: &ast::Expr, expected: Option<Ty>) -> Checked<Expr> {
        let x = self.expr(body, e, expected)?;
        if x.ty == Ty::Bool {
            self.error(self.bool_misuse(x.span));
            return None;
        }
        Some(x)
    }

    fn expr(&mut self, body: &mut Body, e: &ast::Expr, expected: Option<Ty>) -> Checked<Expr> {
        let span = e.span;
        match &e.kind {
            AstExprKind::Int(v) => self.int_literal(i128::from(*v), span, expected, None),
            AstExprKind::Float(f) => self.float_literal(*f, span, expected),
            AstExprKind::Inf => self.float_literal(f64::INFINITY, span, expected),
            AstExprKind::Paren(inner) => {
                let mut x = self.expr(body, inner, expected)?;
                x.span = span;
                Some(x)
            }
            AstExprKind::Name(id) => match self.resolve(body, id) {
                Resolved::Const(v) => {
                    self.int_literal(i128::from(v), span, expected, Some(&id.name))
                }
                Resolved::Sym(Sym::LoopVar(v)) => Some(Expr {
                    kind: ExprKind::LoopVar(v),
                    ty: Ty::Index,
                    span,
                }),
                Resolved::Sym(sym) => {
                    let (name, decl_span, elem, shape) = body.value_info(sym)?;
                    match shape? {
                        Shape::Scalar => {
                            let kind = match sym {
                                Sym::Param(p) => ExprKind::ScalarParam(p),
                                Sym::Local(l) => ExprKind::ScalarLocal(l),
                                Sym::LoopVar(v) => ExprKind::LoopVar(v),
                            };
                            Some(Expr {
                                kind,
                                ty: Ty::Elem(elem),
                                span,
                            })
                        }
                        Shape::Tensor(dims) => {
                            self.error(
                                Diagnostic::error(format!(
                                    "tensor `{name}` is used as a scalar value"
                                ))
                                .with_primary(span, "a whole tensor")
                                .with_secondary(decl_span, "declared here")
                                .with_hint(format!(
                                    "index it, e.g. `{name}[{}]`",
                                    index_example(dims.len())
                                )),
                            );
                            None
                        }
                    }
                }
                Resolved::Kernel => {
                    self.error(
                        Diagnostic::error(format!("kernel `{}` is not a value", id.name))
                            .with_primary(span, "a kernel"),
                    );
                    None
                }
                Resolved::Undefined => {
                    self.undefined_value(body, id, "name");
                    None
                }
            },
            AstExprKind::Access { tensor, indices } => self.load(body, tensor, indices, span),
            AstExprKind::Unary {
                op: UnaryOp::Neg,
                operand,
            } => {
                // `-128` is one literal, so that it fits `i8`.
                let inner = strip_parens(operand);
                let literal = match &inner.kind {
                    AstExprKind::Int(v) => Some((i128::from(*v), None)),
                    AstExprKind::Name(id) => match self.resolve(body, id) {
                        Resolved::Const(v) => Some((i128::from(v), Some(id.name.as_str()))),
                        _ => None,
                    },
                    _ => None,
                };
                if let Some((v, name)) = literal {
                    return self.int_literal(-v, span, expected, name);
                }
                if let AstExprKind::Float(f) = inner.kind {
                    return self.float_literal(-f, span, expected);
                }
                if let AstExprKind::Inf = inner.kind {
                    return self.float_literal(f64::NEG_INFINITY, span, expected);
                }
                let x = self.operand(body, operand, expected)?;
                if let Ty::Elem(t) = x.ty {
                    if !t.is_signed() {
                        self.error(
                            Diagnostic::error(format!(
                                "cannot negate a value of unsigned type `{t}`"
                            ))
                            .with_primary(span, "negated here")
                            .with_hint("cast it to a signed type first, e.g. `i32(...)`"),
                        );
                        return None;
                    }
                }
                let ty = x.ty;
                Some(Expr {
                    kind: ExprKind::Neg(Box::new(x)),
                    ty,
                    span,
                })
            }
            AstExprKind::Binary { op, lhs, rhs } => {
                self.binary(body, *op, lhs, rhs, span, expected)
            }
            AstExprKind::Call { callee, args } => {
                self.call_expr(body, callee, args, span, expected)
            }
        }
    }

    fn int_literal(
        &mut self,
        v: i128,
        span: Span,
        expected: Option<Ty>,
        const_name: Option<&str>,
    ) -> Checked<Expr> {
        let what = match const_name {
            Some(n) => format!("constant `{n}` (= {v})"),
            None => format!("integer literal `{v}`"),
        };
        match expected {
            None | Some(Ty::Bool) => {
                self.error(
                    Diagnostic::error(format!("cannot infer the type of {what}"))
                        .with_primary(span, "type unknown")
                        .with_hint(format!(
                            "give it a type with a cast, e.g. `i32({v})` or `f32({v})`"
                        )),
                );
                None
            }
            Some(Ty::Index) => match i64::try_from(v) {
                Ok(v) => Some(Expr {
                    kind: ExprKind::Int(v),
                    ty: Ty::Index,
                    span,
                }),
                Err(_) => {
                    self.error(
                        Diagnostic::error(format!("{what} does not fit in an index"))
                            .with_primary(span, "too large"),
                    );
                    None
                }
            },
            Some(Ty::Elem(t)) => {
                if let Some((lo, hi)) = t.int_range() {
                    if v < lo || v > hi {
                        self.error(
                            Diagnostic::error(format!("{what} does not fit in `{t}`"))
                                .with_primary(span, format!("`{t}` holds {}", int_ty_range_text(t)))
                                .with_hint("use a wider type, with casts where needed"),
                        );
                        return None;
                    }
                    // In range of a type of at most 64 bits, hence of i64.
                    let v = i64::try_from(v).unwrap_or_default();
                    Some(Expr {
                        kind: ExprKind::Int(v),
                        ty: Ty::Elem(t),
                        span,
                    })
                } else {
                    let max = t.float_max().unwrap_or(f64::MAX);
                    let f = v as f64;
                    if f.abs() > max {
                        self.error(
                            Diagnostic::error(format!("{what} does not fit in `{t}`"))
                                .with_primary(span, format!("the largest finite `{t}` is {max}")),
                        );
                        return None;
                    }
                    Some(Expr {
                        kind: ExprKind::Float(f),
                        ty: Ty::Elem(t),
                        span,
                    })
                }
            }
        }
    }

    fn float_literal(&mut self, f: f64, span: Span, expected: Option<Ty>) -> Checked<Expr> {
        let text = self.quote(span).unwrap_or_else(|| f.to_string());
        match expected {
            Some(Ty::Elem(t)) if t.is_float() => {
                let max = t.float_max().unwrap_or(f64::MAX);
                if f.is_finite() && f.abs() > max {
                    self.error(
                        Diagnostic::error(format!("float literal `{text}` does not fit in `{t}`"))
                            .with_primary(span, format!("the largest finite `{t}` is {max}"))
                            .with_hint("write `inf` for infinity"),
                    );
                    return None;
                }
                Some(Expr {
                    kind: ExprKind::Float(f),
                    ty: Ty::Elem(t),
                    span,
                })
            }
            None | Some(Ty::Bool) => {
                self.error(
                    Diagnostic::error(format!("cannot infer the type of float literal `{text}`"))
                        .with_primary(span, "type unknown")
                        .with_hint(format!("give it a type with a cast, e.g. `f32({text})`")),
                );
                None
            }
            Some(other) => {
                self.error(
                    Diagnostic::error(format!("float literal `{text}` used where `{other}` is expected"))
                        .with_primary(span, format!("expected `{other}`"))
                        .with_hint(
                            "float literals need a float type (f16, bf16, f32); use an integer literal, or cast",
                        ),
                );
                None
            }
        }
    }

    /// Checks two operands that must have the same type. An untyped operand
    /// (a literal) takes the type of the other one; if both are untyped they
    /// take `expected`.
    fn unify(
        &mut self,
        body: &mut Body,
        lhs: &ast::Expr,
        rhs: &ast::Expr,
        expected: Option<Ty>,
        what: &str,
        whole: Span,
    ) -> Checked<(Expr, Expr)> {
        let (l, r) = if self.is_untyped(body, lhs) && !self.is_untyped(body, rhs) {
            let r = self.operand(body, rhs, expected)?;
            let l = self.operand(body, lhs, Some(r.ty))?;
            (l, r)
        } else {
            let l = self.operand(body, lhs, expected);
            let r = match &l {
                Some(l) => self.operand(body, rhs, Some(l.ty)),
                None => {
                    if !self.is_untyped(body, rhs) {
                        let _ = self.operand(body, rhs, None);
                    }
                    None
                }
            };
            (l?, r?)
        };
        if l.ty != r.ty {
            let mut d = Diagnostic::error(format!(
                "mismatched types `{}` and `{}` in {what}",
                l.ty, r.ty
            ))
            .with_primary(whole, "operands must have the same type")
            .with_secondary(l.span, format!("`{}`", l.ty))
            .with_secondary(r.span, format!("`{}`", r.ty));
            d = match (l.ty, r.ty) {
                (Ty::Index, Ty::Elem(t)) | (Ty::Elem(t), Ty::Index) => {
                    let idx = if l.ty == Ty::Index { &l } else { &r };
                    let text = self.quote(idx.span).unwrap_or_else(|| "i".to_string());
                    d.with_hint(format!("loop variables have type `index`; cast to use one as a value: `{t}({text})`"))
                }
                (Ty::Elem(lt), _) => {
                    let text = self.quote(r.span).unwrap_or_else(|| "x".to_string());
                    d.with_hint(format!(
                        "there are no implicit conversions; insert a cast such as `{lt}({text})`"
                    ))
                }
                _ => d,
            };
            self.error(d);
            return None;
        }
        Some((l, r))
    }

    fn binary(
        &mut self,
        body: &mut Body,
        op: BinOp,
        lhs: &ast::Expr,
        rhs: &ast::Expr,
        span: Span,
        expected: Option<Ty>,
    ) -> Checked<Expr> {
        let cmp = op.is_comparison();
        let expected = if cmp { None } else { expected };
        let (l, r) = self.unify(
            body,
            lhs,
            rhs,
            expected,
            &format!("`{}`", op.symbol()),
            span,
        )?;
        if matches!(op, BinOp::Div | BinOp::Rem) && matches!(r.kind, ExprKind::Int(0)) {
            self.error(
                Diagnostic::error("division by zero")
                    .with_primary(r.span, "this is zero")
                    .with_hint("integer division by zero has no defined result"),
            );
            return None;
        }
        let ty = if cmp { Ty::Bool } else { l.ty };
        Some(Expr {
            kind: ExprKind::Binary {
                op,
                lhs: Box::new(l),
                rhs: Box::new(r),
            },
            ty,
            span,
        })
    }

    fn call_expr(
        &mut self,
        body: &mut Body,
        callee: &Ident,
        args: &[ast::Expr],
        span: Span,
        expected: Option<Ty>,
    ) -> Checked<Expr> {
        if let Some(to) = ElemType::from_name(&callee.name) {
            let [arg] = args else {
                self.error(
                    Diagnostic::error(format!(
                        "a cast to `{to}` takes exactly one argument, {} given",
                        args.len()
                    ))
                    .with_primary(span, "wrong number of arguments"),
                );
                return None;
            };
            let operand = if self.is_untyped(body, arg) {
                self.operand(body, arg, Some(Ty::Elem(to)))?
            } else {
                self.operand(body, arg, None)?
            };
            return Some(Expr {
                kind: ExprKind::Cast(Box::new(operand)),
                ty: Ty::Elem(to),
                span,
            });
        }
        let Some(func) = Intrinsic::from_name(&callee.name) else {
            let mut d = Diagnostic::error(format!("cannot find function `{}`", callee.name));
            if self.kernel_by_name.contains_key(&callee.name) {
                d = d
                    .with_primary(callee.span, "a kernel, not a function")
                    .with_hint(format!(
                        "kernels are called as statements: `{}(inputs..., outputs...);`",
                        callee.name
                    ));
            } else {
                d = d.with_primary(callee.span, "not defined");
                let names = Intrinsic::ALL
                    .iter()
                    .map(|i| i.name())
                    .chain(ElemType::ALL.iter().map(|t| t.name()));
                if let Some(c) = closest(&callee.name, names) {
                    d = d.with_hint(format!("did you mean `{c}`?"));
                }
            }
            self.error(d);
            return None;
        };
        if args.len() != func.arity() {
            self.error(
                Diagnostic::error(format!(
                    "`{}` takes {} argument{} but {} {} given",
                    func.name(),
                    func.arity(),
                    plural(func.arity()),
                    args.len(),
                    if args.len() == 1 { "was" } else { "were" }
                ))
                .with_primary(span, "wrong number of arguments"),
            );
            return None;
        }
        let what = format!("`{}`", func.name());
        let checked_args = match (func, args) {
            (Intrinsic::Min | Intrinsic::Max, [a, b]) => {
                let (a, b) = self.unify(body, a, b, expected, &what, span)?;
                let a = self.require_elem(a)?;
                vec![a, b]
            }
            (Intrinsic::Select, [c, a, b]) => {
                let cond = self.expr(body, c, None);
                let branches = self.unify(body, a, b, expected, &what, span);
                let cond = cond?;
                if cond.ty != Ty::Bool {
                    self.error(
                        Diagnostic::error("the condition of `select` must be a comparison")
                            .with_primary(cond.span, format!("has type `{}`", cond.ty))
                            .with_hint("write a comparison such as `x > 0.0`"),
                    );
                    return None;
                }
                let (a, b) = branches?;
                let a = self.require_elem(a)?;
                vec![cond, a, b]
            }
            (_, [x]) => {
                let x = self.value(body, x, expected)?;
                if let Ty::Elem(t) = x.ty {
                    if func.needs_float() && !t.is_float() {
                        let text = self.quote(x.span).unwrap_or_else(|| "x".to_string());
                        self.error(
                            Diagnostic::error(format!(
                                "`{}` needs a float argument, found `{t}`",
                                func.name()
                            ))
                            .with_primary(x.span, format!("`{t}`"))
                            .with_hint(format!(
                                "cast it first, e.g. `{}(f32({text}))`",
                                func.name()
                            )),
                        );
                        return None;
                    }
                }
                vec![x]
            }
            _ => return None,
        };
        let ty = checked_args.last().map(|a| a.ty).unwrap_or(Ty::Bool);
        Some(Expr {
            kind: ExprKind::Intrinsic {
                func,
                args: checked_args,
            },
            ty,
            span,
        })
    }

    fn load(
        &mut self,
        body: &mut Body,
        tensor: &Ident,
        indices: &[ast::Expr],
        span: Span,
    ) -> Checked<Expr> {
        let sym = match self.resolve(body, tensor) {
            Resolved::Sym(Sym::LoopVar(_)) => {
                self.error(
                    Diagnostic::error(format!("loop variable `{}` cannot be indexed", tensor.name))
                        .with_primary(span, "indexed here"),
                );
                return None;
            }
            Resolved::Sym(sym) => sym,
            Resolved::Const(_) | Resolved::Kernel => {
                self.error(
                    Diagnostic::error(format!(
                        "`{}` is not a tensor and cannot be indexed",
                        tensor.name
                    ))
                    .with_primary(span, "indexed here"),
                );
                return None;
            }
            Resolved::Undefined => {
                self.undefined_value(body, tensor, "tensor");
                for i in indices {
                    let _ = self.affine(body, i);
                }
                return None;
            }
        };
        let (name, decl_span, elem, shape) = body.value_info(sym)?;
        let indices = self.indices(body, &name, decl_span, shape.as_ref(), indices, span)?;
        let tensor = match sym {
            Sym::Param(p) => TensorRef::Param(p),
            Sym::Local(l) => TensorRef::Local(l),
            Sym::LoopVar(_) => return None,
        };
        Some(Expr {
            kind: ExprKind::Load { tensor, indices },
            ty: Ty::Elem(elem),
            span,
        })
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn index_example(rank: usize) -> String {
    const NAMES: [&str; 6] = ["i", "j", "k", "l", "m", "n"];
    (0..rank.max(1))
        .map(|d| NAMES.get(d).copied().unwrap_or("_"))
        .collect::<Vec<_>>()
        .join(", ")
}

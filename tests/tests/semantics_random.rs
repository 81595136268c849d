//! Random kernels: the reference interpreter and the portable C target agree
//! bit for bit on everything docs/semantics.md defines.
//!
//! A kernel is generated as a plain description ([`KernelDesc`]): loop
//! nests (`affine.for` with constant, max/min and data-dependent bounds,
//! `scf.for` with static or run-time bounds), `affine.if` on random integer
//! sets, `scf.if`, local buffers (`alloc`/`dealloc`, `alloca`, memory
//! spaces, `memref.copy` out), outlined helper functions that receive every
//! buffer by reference, and stores (plain or `+=`-style) of typed
//! expression trees. The expressions cover every integer width (`i1`, the
//! odd `i5` and `i33`, `i8` ... `i64`, `index`) and float format, every
//! `arith` binary op, cast, `cmpi`/`cmpf` predicate, `select`, `negf` and
//! `math` op, scalar parameters, `affine.apply`/`min`/`max` and loads whose
//! indices are affine (`floordiv`, `ceildiv`, `mod`) or computed from data.
//!
//! The description is lowered to IR, and lowering is total: references to
//! loop variables, local buffers and outputs resolve modulo what is in
//! scope, and every index is made to stay inside its dimension from the
//! ranges of the loop variables, so every shrunk description is still a
//! valid, in-bounds kernel. Inputs mix uniform values with the edge cases of
//! each type (NaN, ±0, ±inf, subnormals, huge values; MIN, -1, 0, MAX).
//!
//! The property: both implementations succeed and every output is equal
//! (all NaNs equal), or both stop with the same error at the same op.
//! Division by zero can happen; out-of-bounds accesses cannot, except in the
//! second property, which appends an access that must leave its buffer, and
//! may skew other indices by one or free a buffer before its uses, and
//! requires both sides to report the same first error. Fixed kernels cover
//! the other run-time errors (use after `dealloc`, passing a freed buffer,
//! a non-positive `scf.for` step, recursion).
//!
//! One thing is kept out on purpose: a `bitcast` of a NaN. NaN payloads and
//! signs are unspecified (the two implementations do propagate them
//! differently), and a bitcast to an integer, or between `f16` and `bf16`,
//! would turn that freedom into different non-NaN results; bitcasts of
//! floats see NaNs replaced by 0.
//!
//! On a failure the kernel is printed as IR with locations (each op has its
//! own line, `random.mlir:LINE:1`), with its inputs. `PROPTEST_CASES=N`
//! changes the number of kernels of both properties.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;

use accc_interp::{InterpError, Interpreter};
use accc_ir::affine::AffineExpr;
use accc_ir::dialects::affine::{self, Bound};
use accc_ir::dialects::{arith, func, memref, scf};
use accc_ir::text::{print_module_with, PrintOptions};
use accc_ir::{
    AffineMap, Attribute, Block, Builder, IntegerSet, Location, MemorySpace, Module, OpSpec, Type,
    Value,
};
use accc_targets::c::{self as ctarget, CError};
use accc_tensor::compare::compare;
use accc_tensor::{canonical_bits, npy, DType, Tensor};
use proptest::prelude::*;
use proptest::strategy::Union;
use proptest::test_runner::TestCaseError;

const FILE: &str = "random.mlir";
const KERNEL: &str = "k";

// ---------------------------------------------------------------------------
// Scalar types
// ---------------------------------------------------------------------------

/// The scalar types of the IR a kernel computes with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Ty {
    I1,
    /// Odd widths: computed with, never stored in tensors.
    I5,
    I8,
    I16,
    I32,
    I33,
    I64,
    Index,
    F16,
    BF16,
    F32,
    F64,
}

use Ty::*;

const ALL_TYS: [Ty; 12] = [I1, I5, I8, I16, I32, I33, I64, Index, F16, BF16, F32, F64];
/// The types a tensor parameter can hold (they have a `.npy` form).
const STORAGE_TYS: [Ty; 8] = [I8, I16, I32, I64, F16, BF16, F32, F64];
const INTS: [Ty; 7] = [I1, I5, I8, I16, I32, I33, I64];
const FLOATS: [Ty; 4] = [F16, BF16, F32, F64];

impl Ty {
    fn ir(self) -> Type {
        match self {
            I1 => Type::Int(1),
            I5 => Type::Int(5),
            I33 => Type::Int(33),
            I8 => Type::Int(8),
            I16 => Type::Int(16),
            I32 => Type::Int(32),
            I64 => Type::Int(64),
            Index => Type::Index,
            F16 => Type::F16,
            BF16 => Type::BF16,
            F32 => Type::F32,
            F64 => Type::F64,
        }
    }
    fn is_float(self) -> bool {
        FLOATS.contains(&self)
    }
    /// Bit width (`index` is 64 bits).
    fn bits(self) -> u32 {
        match self {
            I1 => 1,
            I5 => 5,
            I33 => 33,
            I8 => 8,
            I16 | F16 | BF16 => 16,
            I32 | F32 => 32,
            I64 | Index | F64 => 64,
        }
    }
    /// The `.npy` element type of a tensor of this type.
    fn dtype(self, unsigned: bool) -> DType {
        match (self, unsigned) {
            (I8, false) => DType::I8,
            (I8, true) => DType::U8,
            (I16, false) => DType::I16,
            (I16, true) => DType::U16,
            (I32, false) => DType::I32,
            (I32, true) => DType::U32,
            (I64, false) => DType::I64,
            (I64, true) => DType::U64,
            (F16, _) => DType::F16,
            (BF16, _) => DType::BF16,
            (F32, _) => DType::F32,
            (F64, _) => DType::F64,
            (t, _) => unreachable!("{t:?} has no .npy form; only STORAGE_TYS are tensors"),
        }
    }
    fn name(self) -> &'static str {
        match self {
            I1 => "i1",
            I5 => "i5",
            I33 => "i33",
            I8 => "i8",
            I16 => "i16",
            I32 => "i32",
            I64 => "i64",
            Index => "index",
            F16 => "f16",
            BF16 => "bf16",
            F32 => "f32",
            F64 => "f64",
        }
    }
}

fn mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

fn sign_extend(bits: u64, width: u32) -> i64 {
    if width >= 64 {
        bits as i64
    } else {
        ((bits << (64 - width)) as i64) >> (64 - width)
    }
}

fn float_dtype(ty: Ty) -> DType {
    ty.dtype(false)
}

/// `value` rounded to nearest-even in float type `ty`, as bits.
fn float_bits(ty: Ty, value: f64) -> u64 {
    Tensor::from_f64s(float_dtype(ty), vec![], &[value]).data[0]
}

/// The exact value of float bits of type `ty`.
fn float_value(ty: Ty, bits: u64) -> f64 {
    Tensor {
        dtype: float_dtype(ty),
        shape: vec![],
        data: vec![bits],
    }
    .to_f64(0)
}

/// Integer edge values (bits of width `w`).
fn int_specials(w: u32) -> Vec<u64> {
    let m = mask(w);
    if w == 1 {
        return vec![0, 1];
    }
    let min = 1u64 << (w - 1);
    let mut v = vec![
        0,
        1,
        m,       // -1
        min,     // MIN
        min - 1, // MAX
        min + 1, // MIN + 1
        m - 1,   // -2
        2,
        7 & m,
        u64::from(w) & m,     // a shift by the width
        u64::from(w - 1) & m, // the largest real shift
        (u64::from(w) + 1) & m,
    ];
    v.dedup();
    v
}

/// Float edge values (bits of float type `ty`).
fn float_specials(ty: Ty) -> Vec<u64> {
    let values = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -0.5,
        1.5,
        2.5,
        -2.5,
        3.0,
        0.1,
        -7.75,
        100.0,
        65504.0,
        65520.0,
        255.5,
        127.5,
        -128.5,
        2147483648.0,
        -2147483648.0,
        -2147483649.0,
        4294967296.0,
        9.223372036854776e18,
        -9.223372036854776e18,
        1.8446744073709552e19,
        1e30,
        -1e30,
        3.4e38,
        1e300,
        1e-8,
        1e-40,
        5e-324,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
    ];
    let mut v: Vec<u64> = values.iter().map(|x| float_bits(ty, *x)).collect();
    // Format-level extremes: smallest and largest subnormal, smallest
    // normal, largest finite (both signs), a negative NaN.
    let (mant, bits) = match ty {
        F16 => (10, 16),
        BF16 => (7, 16),
        F32 => (23, 32),
        _ => (52, 64),
    };
    let sign = 1u64 << (bits - 1);
    let exp_all = mask(bits - 1 - mant) << mant;
    let max_finite = (exp_all - (1 << mant)) | mask(mant);
    v.extend([
        1,
        mask(mant),
        1 << mant,
        max_finite,
        sign | max_finite,
        sign | 1,
        sign | exp_all | (1 << (mant - 1)),
    ]);
    v
}

fn specials(ty: Ty) -> Vec<u64> {
    if ty.is_float() {
        float_specials(ty)
    } else {
        int_specials(ty.bits())
    }
}

// ---------------------------------------------------------------------------
// Kernel descriptions
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DivKind {
    FloorDiv,
    CeilDiv,
    Mod,
}

/// One term of an affine sum over the loop variables in scope; `slot`
/// picks one of them (modulo how many there are).
#[derive(Clone, Debug)]
enum Term {
    Iv {
        slot: u8,
        coef: i8,
    },
    /// `coef * ((sum of coef_i * iv_i + konst) kind by)`.
    Div {
        kind: DivKind,
        inner: Vec<(u8, i8)>,
        konst: i8,
        by: u8,
        coef: i8,
    },
}

/// An affine expression over the loop variables in scope.
#[derive(Clone, Debug)]
struct Aff {
    terms: Vec<Term>,
    konst: i8,
}

/// One index of an access.
#[derive(Clone, Debug)]
enum Idx {
    /// Affine in the loop variables; lowering shifts it or takes it modulo
    /// the dimension's size when its range leaves `[0, size)`.
    Aff(Aff),
    /// Computed from data: an integer cast to `index`, optionally
    /// `arith.remui` by the size, then `coef * x + konst` in the access map
    /// (made in-bounds the same way).
    Data {
        value: Box<Expr>,
        unsigned_cast: bool,
        remui: bool,
        coef: i8,
        konst: i8,
    },
}

/// A scalar expression; its type is [`Expr::ty`]. Generated well-typed.
#[derive(Clone, Debug)]
enum Expr {
    Const(Ty, u64),
    /// A float constant written as an `f64` the type may not hold exactly
    /// (rounded to nearest-even by the constant's meaning).
    FloatLit(Ty, f64),
    /// A load from a fresh input tensor (one parameter per load), whose
    /// data is drawn from the case's seed and `stream` (so shrinking the
    /// rest of the kernel keeps it).
    Input {
        ty: Ty,
        unsigned: bool,
        stream: u32,
        shape: Vec<usize>,
        idx: Vec<Idx>,
        memref_form: bool,
    },
    /// The kernel's scalar parameter of this type.
    Scalar(Ty),
    /// A load from a local buffer in scope, converted to `ty` (0 if none).
    Local {
        slot: u8,
        idx: Vec<Idx>,
        memref_form: bool,
        ty: Ty,
    },
    /// A loop variable in scope (`index`; 0 if none).
    Iv(u8),
    Apply(Aff),
    MinMax {
        max: bool,
        exprs: Vec<Aff>,
    },
    /// `arith.<op>`; with `guard`, a zero divisor is replaced by 1 first.
    Bin {
        op: &'static str,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
        guard: bool,
    },
    Cmp {
        pred: &'static str,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    Select(Box<Expr>, Box<Expr>, Box<Expr>),
    Cast {
        op: &'static str,
        arg: Box<Expr>,
        to: Ty,
    },
    /// `arith.negf`, `math.*`.
    Unary {
        op: &'static str,
        arg: Box<Expr>,
    },
    /// A call of a function computing `first` (and `second`, a second
    /// result) from the caller's scope; the value is the picked result.
    Call {
        first: Box<Expr>,
        second: Option<Box<Expr>>,
        pick_second: bool,
    },
}

impl Expr {
    fn ty(&self) -> Ty {
        match self {
            Expr::Const(t, _) | Expr::FloatLit(t, _) | Expr::Scalar(t) => *t,
            Expr::Call { first, .. } => first.ty(),
            Expr::Input { ty, .. } | Expr::Local { ty, .. } => *ty,
            Expr::Iv(_) | Expr::Apply(_) | Expr::MinMax { .. } => Index,
            Expr::Bin { lhs, .. } => lhs.ty(),
            Expr::Cmp { .. } => I1,
            Expr::Select(_, a, _) => a.ty(),
            Expr::Cast { to, .. } => *to,
            Expr::Unary { arg, .. } => arg.ty(),
        }
    }
}

#[derive(Clone, Debug)]
enum Stmt {
    /// `affine.for` (or `scf.for`) from `max(lb, lower_extra)` to
    /// `min(lb + trip, upper_extra)`.
    For {
        scf: bool,
        lb: i8,
        trip: u8,
        step: u8,
        lower_extra: Option<Aff>,
        upper_extra: Option<Aff>,
        /// A further lower (upper) bound read from data, as a symbol of the
        /// bound map: it can only shrink the range.
        lower_data: Option<Expr>,
        upper_data: Option<Expr>,
        /// `scf.for` only: the upper bound computed at run time as
        /// `lb + (dynamic_ub as index) remui (trip + 1)`.
        dynamic_ub: Option<Expr>,
        body: Vec<Stmt>,
    },
    /// The statements outlined into a function that is called here with
    /// every buffer, scalar and loop variable in scope.
    Call(Vec<Stmt>),
    /// An expression evaluated for its errors alone (its value unused).
    Eval(Expr),
    /// `affine.if` on a conjunction of `e >= 0` / `e == 0` (`true`).
    If {
        conds: Vec<(Aff, bool)>,
        then: Vec<Stmt>,
        els: Option<Vec<Stmt>>,
    },
    ScfIf {
        cond: Expr,
        then: Vec<Stmt>,
        els: Option<Vec<Stmt>>,
    },
    /// Stores `value` (converted to the element type) into an output, or a
    /// local buffer in scope; with `acc`, combines it with the old element
    /// by a binary op first (`+=`-style).
    Store {
        target: u8,
        to_local: bool,
        idx: Vec<Idx>,
        memref_form: bool,
        value: Expr,
        acc: Option<u8>,
    },
    /// A zero-filled local buffer live for `body`: `memref.alloc` (then
    /// `dealloc`) or `memref.alloca`; with `copy_out` it is copied into an
    /// output of its own at the end (`memref.copy`).
    Local {
        ty: Ty,
        shape: Vec<usize>,
        /// 0: the default memory space, 1: `"scratchpad"`, 2: `3`; they do
        /// not change what the kernel computes.
        space: u8,
        heap: bool,
        copy_out: bool,
        body: Vec<Stmt>,
    },
    /// Only in the out-of-bounds property: a loop nest whose access leaves
    /// its buffer by `overshoot` (past the end if positive, before 0 if
    /// negative) at its last (or first) iteration.
    OobProbe(OobProbe),
}

#[derive(Clone, Debug)]
struct OobProbe {
    /// `(lb, trip, step, is_scf)` of each loop, outermost first.
    loops: Vec<(i8, u8, u8, bool)>,
    /// The index in dimension `dim` is `Σ coefs[k] * iv_k` shifted so that
    /// one end of its range is `overshoot` outside `[0, size)`.
    coefs: Vec<i8>,
    dim: u8,
    overshoot: i8,
    /// 0: an input, 1: the first output, 2: a local `alloc`, 3: a local `alloca`.
    target: u8,
    store: bool,
    memref_form: bool,
    shape: Vec<usize>,
}

#[derive(Clone, Debug)]
struct OutDesc {
    ty: Ty,
    unsigned: bool,
    shape: Vec<usize>,
}

#[derive(Clone)]
struct KernelDesc {
    outputs: Vec<OutDesc>,
    body: Vec<Stmt>,
    seed: u64,
}

/// Shown as the IR it lowers to: that is what a shrunk failure is read as.
impl std::fmt::Debug for KernelDesc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (m, _, _) = lower(self);
        write!(
            f,
            "KernelDesc (input seed {}) lowered to:\n{}",
            self.seed,
            print_with_locations(&m)
        )
    }
}

fn print_with_locations(m: &Module) -> String {
    print_module_with(
        m,
        &PrintOptions {
            print_locations: true,
            generic: false,
        },
    )
}

// ---------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------

fn select_str(items: &'static [&'static str]) -> BoxedStrategy<&'static str> {
    proptest::sample::select(items).boxed()
}

fn const_strategy(ty: Ty) -> BoxedStrategy<Expr> {
    let sp = specials(ty);
    let m = mask(ty.bits());
    let small = if ty.is_float() {
        (-40i32..=40)
            .prop_map(move |q| Expr::Const(ty, float_bits(ty, f64::from(q) / 4.0)))
            .boxed()
    } else {
        (-9i64..=9)
            .prop_map(move |v| Expr::Const(ty, (v as u64) & m))
            .boxed()
    };
    let exact = prop_oneof![
        3 => small,
        3 => proptest::sample::select(sp).prop_map(move |b| Expr::Const(ty, b)),
        1 => any::<u64>().prop_map(move |b| Expr::Const(ty, b & m)),
    ];
    if !ty.is_float() {
        return exact.boxed();
    }
    let literal = prop_oneof![
        any::<u64>().prop_map(f64::from_bits),
        (any::<i32>(), -40i32..=40).prop_map(|(x, e)| f64::from(x) * 2f64.powi(e)),
    ]
    .prop_map(move |v| Expr::FloatLit(ty, if v.is_nan() { 0.0 } else { v }));
    prop_oneof![6 => exact, 1 => literal].boxed()
}

fn coef() -> impl Strategy<Value = i8> {
    prop_oneof![3 => Just(1i8), 2 => -3i8..=3]
}

fn term() -> impl Strategy<Value = Term> {
    let div_kind = prop_oneof![
        Just(DivKind::FloorDiv),
        Just(DivKind::CeilDiv),
        Just(DivKind::Mod)
    ];
    prop_oneof![
        3 => (0u8..4, coef()).prop_map(|(slot, coef)| Term::Iv { slot, coef }),
        1 => (
            div_kind,
            proptest::collection::vec((0u8..4, coef()), 1..=2),
            -4i8..=4,
            1u8..=5,
            -2i8..=2
        )
            .prop_map(|(kind, inner, konst, by, coef)| Term::Div {
                kind,
                inner,
                konst,
                by,
                coef
            }),
    ]
}

fn aff() -> BoxedStrategy<Aff> {
    (proptest::collection::vec(term(), 0..=3), -6i8..=6)
        .prop_map(|(terms, konst)| Aff { terms, konst })
        .boxed()
}

/// Integer expressions usable as a data-dependent index.
fn int_expr(depth: u32) -> BoxedStrategy<Expr> {
    Union::new(INTS.iter().chain([&Index]).map(|&t| expr(t, depth))).boxed()
}

fn idx(depth: u32) -> BoxedStrategy<Idx> {
    let affine = aff().prop_map(Idx::Aff);
    if depth == 0 {
        return affine.boxed();
    }
    let data = (
        int_expr(depth.min(2) - 1),
        any::<bool>(),
        proptest::bool::weighted(0.5),
        coef(),
        -4i8..=4,
    )
        .prop_map(|(value, unsigned_cast, remui, coef, konst)| Idx::Data {
            value: Box::new(value),
            unsigned_cast,
            remui,
            coef,
            konst,
        });
    prop_oneof![4 => affine, 1 => data].boxed()
}

/// Three indices; an access of rank r uses the first r.
fn indices(depth: u32) -> BoxedStrategy<Vec<Idx>> {
    proptest::collection::vec(idx(depth), 3).boxed()
}

fn shape(max_rank: usize) -> BoxedStrategy<Vec<usize>> {
    proptest::collection::vec(1usize..=6, 1..=max_rank).boxed()
}

fn leaves(ty: Ty, depth: u32) -> Vec<(u32, BoxedStrategy<Expr>)> {
    let mut v = vec![(3, const_strategy(ty))];
    if STORAGE_TYS.contains(&ty) {
        let unsigned = if ty.is_float() {
            Just(false).boxed()
        } else {
            any::<bool>().boxed()
        };
        v.push((
            5,
            (
                unsigned,
                any::<u32>(),
                shape(3),
                indices(depth),
                any::<bool>(),
            )
                .prop_map(
                    move |(unsigned, stream, shape, idx, memref_form)| Expr::Input {
                        ty,
                        unsigned,
                        stream,
                        shape,
                        idx,
                        memref_form,
                    },
                )
                .boxed(),
        ));
        v.push((1, Just(Expr::Scalar(ty)).boxed()));
    }
    v.push((
        2,
        (0u8..3, indices(depth), any::<bool>())
            .prop_map(move |(slot, idx, memref_form)| Expr::Local {
                slot,
                idx,
                memref_form,
                ty,
            })
            .boxed(),
    ));
    if ty == Index {
        v.push((4, (0u8..4).prop_map(Expr::Iv).boxed()));
        v.push((2, aff().prop_map(Expr::Apply).boxed()));
        v.push((
            1,
            (any::<bool>(), proptest::collection::vec(aff(), 1..=3))
                .prop_map(|(max, exprs)| Expr::MinMax { max, exprs })
                .boxed(),
        ));
    }
    v
}

/// The casts arith allows into `to`, with their source types.
fn cast_sources(to: Ty) -> Vec<(&'static str, Ty)> {
    let mut v = vec![];
    match to {
        I1 | I5 | I8 | I16 | I32 | I33 | I64 => {
            for from in INTS {
                if from.bits() < to.bits() {
                    v.push(("extsi", from));
                    v.push(("extui", from));
                } else if from.bits() > to.bits() {
                    v.push(("trunci", from));
                }
            }
            for from in FLOATS {
                v.push(("fptosi", from));
                v.push(("fptoui", from));
                if from.bits() == to.bits() {
                    v.push(("bitcast", from));
                }
            }
            v.push(("index_cast", Index));
            v.push(("index_castui", Index));
        }
        Index => {
            for from in INTS {
                v.push(("index_cast", from));
                v.push(("index_castui", from));
            }
        }
        F16 | BF16 | F32 | F64 => {
            for from in INTS {
                v.push(("sitofp", from));
                v.push(("uitofp", from));
                if from.bits() == to.bits() {
                    v.push(("bitcast", from));
                }
            }
            for from in FLOATS {
                if from.bits() < to.bits() {
                    v.push(("extf", from));
                } else if from.bits() > to.bits() {
                    v.push(("truncf", from));
                } else if from != to {
                    v.push(("bitcast", from));
                }
            }
        }
    }
    v
}

const FLOAT_UNARY_OPS: [&str; 11] = [
    "arith.negf",
    "math.exp",
    "math.log",
    "math.sqrt",
    "math.rsqrt",
    "math.tanh",
    "math.absf",
    "math.roundeven",
    "math.floor",
    "math.ceil",
    "math.round",
];

thread_local! {
    static EXPR_CACHE: RefCell<HashMap<(Ty, u32), BoxedStrategy<Expr>>> = RefCell::new(HashMap::new());
}

/// Expressions of type `ty` at most `depth` ops deep (memoized: the
/// strategy graph is shared between types and depths).
fn expr(ty: Ty, depth: u32) -> BoxedStrategy<Expr> {
    if let Some(s) = EXPR_CACHE.with(|c| c.borrow().get(&(ty, depth)).cloned()) {
        return s;
    }
    let s = build_expr(ty, depth);
    EXPR_CACHE.with(|c| c.borrow_mut().insert((ty, depth), s.clone()));
    s
}

fn build_expr(ty: Ty, depth: u32) -> BoxedStrategy<Expr> {
    let mut opts = leaves(ty, depth);
    if depth > 0 {
        let d = depth - 1;
        let sub = expr(ty, d);
        if ty.is_float() {
            opts.push((
                10,
                (select_str(&arith::FLOAT_BINARY), sub.clone(), sub.clone())
                    .prop_map(|(op, a, b)| Expr::Bin {
                        op,
                        lhs: Box::new(a),
                        rhs: Box::new(b),
                        guard: false,
                    })
                    .boxed(),
            ));
            opts.push((
                6,
                (select_str(&FLOAT_UNARY_OPS), sub.clone())
                    .prop_map(|(op, a)| Expr::Unary {
                        op,
                        arg: Box::new(a),
                    })
                    .boxed(),
            ));
        } else {
            opts.push((
                10,
                (
                    select_str(&arith::INT_BINARY),
                    sub.clone(),
                    sub.clone(),
                    proptest::bool::weighted(0.8),
                )
                    .prop_map(|(op, a, b, guard)| Expr::Bin {
                        op,
                        lhs: Box::new(a),
                        rhs: Box::new(b),
                        guard,
                    })
                    .boxed(),
            ));
            if ty != Index {
                opts.push((
                    1,
                    sub.clone()
                        .prop_map(|a| Expr::Unary {
                            op: "math.absi",
                            arg: Box::new(a),
                        })
                        .boxed(),
                ));
            }
        }
        opts.push((
            2,
            (expr(I1, d), sub.clone(), sub.clone())
                .prop_map(|(c, a, b)| Expr::Select(Box::new(c), Box::new(a), Box::new(b)))
                .boxed(),
        ));
        if ty == I1 {
            for t in INTS.into_iter().chain([Index]) {
                opts.push((
                    1,
                    (select_str(&arith::CMPI_PREDICATES), expr(t, d), expr(t, d))
                        .prop_map(|(pred, a, b)| Expr::Cmp {
                            pred,
                            lhs: Box::new(a),
                            rhs: Box::new(b),
                        })
                        .boxed(),
                ));
            }
            for t in FLOATS {
                opts.push((
                    2,
                    (select_str(&arith::CMPF_PREDICATES), expr(t, d), expr(t, d))
                        .prop_map(|(pred, a, b)| Expr::Cmp {
                            pred,
                            lhs: Box::new(a),
                            rhs: Box::new(b),
                        })
                        .boxed(),
                ));
            }
        }
        let casts: Vec<BoxedStrategy<Expr>> = cast_sources(ty)
            .into_iter()
            .map(|(op, from)| {
                expr(from, d)
                    .prop_map(move |a| Expr::Cast {
                        op,
                        arg: Box::new(a),
                        to: ty,
                    })
                    .boxed()
            })
            .collect();
        opts.push((4, Union::new(casts).boxed()));
        opts.push((
            1,
            (
                sub.clone(),
                proptest::option::weighted(0.3, sub.clone()),
                any::<bool>(),
            )
                .prop_map(|(a, b, pick_second)| Expr::Call {
                    first: Box::new(a),
                    pick_second: pick_second && b.is_some(),
                    second: b.map(Box::new),
                })
                .boxed(),
        ));
    }
    Union::new_weighted(opts).boxed()
}

fn any_expr(depth: u32) -> BoxedStrategy<Expr> {
    Union::new_weighted(
        ALL_TYS
            .iter()
            .map(|&t| (if STORAGE_TYS.contains(&t) { 2 } else { 1 }, expr(t, depth)))
            .collect(),
    )
    .boxed()
}

fn store_strategy() -> BoxedStrategy<Stmt> {
    (
        0u8..4,
        proptest::bool::weighted(0.35),
        indices(2),
        any::<bool>(),
        any_expr(4),
        proptest::option::weighted(0.4, 0u8..32),
    )
        .prop_map(
            |(target, to_local, idx, memref_form, value, acc)| Stmt::Store {
                target,
                to_local,
                idx,
                memref_form,
                value,
                acc,
            },
        )
        .boxed()
}

/// Memoized statement-list strategies by `(loops, nest)`.
type StmtCache = HashMap<(u32, u32), BoxedStrategy<Vec<Stmt>>>;

thread_local! {
    static STMT_CACHE: RefCell<StmtCache> = RefCell::new(HashMap::new());
}

/// Statement lists with at most `loops` more nested loops and `nest` more
/// nested regions.
fn stmts(loops: u32, nest: u32) -> BoxedStrategy<Vec<Stmt>> {
    if let Some(s) = STMT_CACHE.with(|c| c.borrow().get(&(loops, nest)).cloned()) {
        return s;
    }
    let store = store_strategy();
    let stmt = if nest == 0 {
        store
    } else {
        let inner = stmts(loops.saturating_sub(1), nest - 1);
        let same_loops = stmts(loops, nest - 1);
        let mut opts = vec![(4, store)];
        if loops > 0 {
            let trip = prop_oneof![1 => Just(0u8), 12 => 1u8..=6];
            opts.push((
                6,
                (
                    proptest::bool::weighted(0.3),
                    -3i8..=4,
                    trip,
                    prop_oneof![3 => Just(1u8), 2 => 2u8..=3],
                    proptest::option::weighted(0.2, aff()),
                    proptest::option::weighted(0.2, aff()),
                    (
                        proptest::option::weighted(0.1, int_expr(1)),
                        proptest::option::weighted(0.1, int_expr(1)),
                        proptest::option::weighted(0.3, int_expr(1)),
                    ),
                    inner,
                )
                    .prop_map(
                        |(scf, lb, trip, step, lower_extra, upper_extra, data, body)| {
                            let (lower_data, upper_data, dynamic_ub) = data;
                            Stmt::For {
                                scf,
                                lb,
                                trip,
                                step,
                                lower_extra,
                                upper_extra,
                                lower_data,
                                upper_data,
                                dynamic_ub: dynamic_ub.filter(|_| scf),
                                body,
                            }
                        },
                    )
                    .boxed(),
            ));
        }
        opts.push((
            1,
            (
                proptest::collection::vec((aff(), proptest::bool::weighted(0.3)), 1..=2),
                same_loops.clone(),
                proptest::option::weighted(0.5, same_loops.clone()),
            )
                .prop_map(|(conds, then, els)| Stmt::If { conds, then, els })
                .boxed(),
        ));
        opts.push((1, same_loops.clone().prop_map(Stmt::Call).boxed()));
        opts.push((1, any_expr(2).prop_map(Stmt::Eval).boxed()));
        opts.push((
            1,
            (
                expr(I1, 2),
                same_loops.clone(),
                proptest::option::weighted(0.5, same_loops.clone()),
            )
                .prop_map(|(cond, then, els)| Stmt::ScfIf { cond, then, els })
                .boxed(),
        ));
        opts.push((
            1,
            (
                proptest::sample::select(&ALL_TYS[..]),
                // Up to 216 elements: some `alloca`s are too large for the
                // C target's stack arrays and take its heap path.
                shape(3),
                0u8..3,
                any::<bool>(),
                any::<bool>(),
                same_loops,
            )
                .prop_map(|(ty, shape, space, heap, copy_out, body)| Stmt::Local {
                    ty,
                    shape,
                    space,
                    heap,
                    copy_out,
                    body,
                })
                .boxed(),
        ));
        Union::new_weighted(opts).boxed()
    };
    let max_len = if nest >= 4 { 3 } else { 2 };
    let s = proptest::collection::vec(stmt, 1..=max_len).boxed();
    STMT_CACHE.with(|c| c.borrow_mut().insert((loops, nest), s.clone()));
    s
}

fn out_desc() -> impl Strategy<Value = OutDesc> {
    (
        proptest::sample::select(&STORAGE_TYS[..]),
        any::<bool>(),
        shape(3),
    )
        .prop_map(|(ty, unsigned, shape)| OutDesc {
            ty,
            unsigned: unsigned && !ty.is_float(),
            shape,
        })
}

fn kernel_desc() -> impl Strategy<Value = KernelDesc> {
    (
        proptest::collection::vec(out_desc(), 1..=3),
        stmts(3, 4),
        any::<u64>(),
    )
        .prop_map(|(outputs, body, seed)| KernelDesc {
            outputs,
            body,
            seed,
        })
}

/// A kernel ending in an [`OobProbe`], lowered with `skew` (see
/// [`lower_skewed`]).
#[derive(Clone)]
struct FaultCase {
    desc: KernelDesc,
    skew: Option<u64>,
}

/// Shown as the IR it lowers to.
impl std::fmt::Debug for FaultCase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (m, _, _) = lower_skewed(&self.desc, self.skew);
        write!(
            f,
            "FaultCase (input seed {}, skew {:?}) lowered to:\n{}",
            self.desc.seed,
            self.skew,
            print_with_locations(&m)
        )
    }
}

fn fault_case() -> impl Strategy<Value = FaultCase> {
    (
        kernel_desc(),
        oob_probe(),
        proptest::option::of(any::<u64>()),
    )
        .prop_map(|(mut desc, probe, skew)| {
            desc.body.push(Stmt::OobProbe(probe));
            FaultCase { desc, skew }
        })
}

fn oob_probe() -> impl Strategy<Value = OobProbe> {
    (
        proptest::collection::vec(
            (-3i8..=4, 1u8..=6, 1u8..=3, proptest::bool::weighted(0.3)),
            1..=2,
        ),
        proptest::collection::vec(-2i8..=2, 2),
        0u8..3,
        prop_oneof![1i8..=3, -3i8..=-1],
        0u8..4,
        any::<bool>(),
        any::<bool>(),
        shape(3),
    )
        .prop_map(
            |(loops, coefs, dim, overshoot, target, store, memref_form, shape)| OobProbe {
                loops,
                coefs,
                dim,
                overshoot,
                target,
                store,
                memref_form,
                shape,
            },
        )
}

// ---------------------------------------------------------------------------
// Lowering to IR
// ---------------------------------------------------------------------------

/// A kernel parameter as the runner sees it.
#[derive(Clone, Debug)]
struct Param {
    name: String,
    /// Which stream of random data an input is drawn from.
    stream: u32,
    ty: Ty,
    dtype: DType,
    /// Empty for a scalar.
    shape: Vec<usize>,
    is_scalar: bool,
    is_output: bool,
}

/// The inputs, scalars and copy-outs a description needs, found before
/// lowering so that the function's parameters are known up front. Leaves
/// are identified by address: the description is not moved while lowering.
#[derive(Default)]
struct ParamPlan {
    /// Each input load with its element type, signedness, shape and stream.
    inputs: Vec<(*const Expr, Ty, bool, Vec<usize>, u32)>,
    scalars: Vec<Ty>,
    /// Each local copied out, with its element type and shape.
    copies: Vec<(*const Stmt, Ty, Vec<usize>)>,
    probe_inputs: Vec<(*const OobProbe, Vec<usize>)>,
}

impl ParamPlan {
    fn expr(&mut self, e: &Expr) {
        match e {
            Expr::Input {
                ty,
                unsigned,
                stream,
                shape,
                idx,
                ..
            } => {
                self.inputs
                    .push((e as *const Expr, *ty, *unsigned, shape.clone(), *stream));
                idx.iter().for_each(|i| self.idx(i));
            }
            Expr::Scalar(t) => {
                if !self.scalars.contains(t) {
                    self.scalars.push(*t);
                }
            }
            Expr::Local { idx, .. } => idx.iter().for_each(|i| self.idx(i)),
            Expr::Const(..)
            | Expr::FloatLit(..)
            | Expr::Iv(_)
            | Expr::Apply(_)
            | Expr::MinMax { .. } => {}
            Expr::Bin { lhs, rhs, .. } | Expr::Cmp { lhs, rhs, .. } => {
                self.expr(lhs);
                self.expr(rhs);
            }
            Expr::Select(c, a, b) => {
                self.expr(c);
                self.expr(a);
                self.expr(b);
            }
            Expr::Cast { arg, .. } | Expr::Unary { arg, .. } => self.expr(arg),
            Expr::Call { first, second, .. } => {
                self.expr(first);
                if let Some(e) = second {
                    self.expr(e);
                }
            }
        }
    }
    fn idx(&mut self, i: &Idx) {
        if let Idx::Data { value, .. } = i {
            self.expr(value);
        }
    }
    fn stmts(&mut self, ss: &[Stmt]) {
        for s in ss {
            match s {
                Stmt::For {
                    lower_data,
                    upper_data,
                    dynamic_ub,
                    body,
                    ..
                } => {
                    for e in [lower_data, upper_data, dynamic_ub].into_iter().flatten() {
                        self.expr(e);
                    }
                    self.stmts(body);
                }
                Stmt::Call(body) => self.stmts(body),
                Stmt::Eval(e) => self.expr(e),
                Stmt::If { then, els, .. } => {
                    self.stmts(then);
                    if let Some(e) = els {
                        self.stmts(e);
                    }
                }
                Stmt::ScfIf { cond, then, els } => {
                    self.expr(cond);
                    self.stmts(then);
                    if let Some(e) = els {
                        self.stmts(e);
                    }
                }
                Stmt::Store { idx, value, .. } => {
                    idx.iter().for_each(|i| self.idx(i));
                    self.expr(value);
                }
                Stmt::Local {
                    ty,
                    shape,
                    copy_out,
                    body,
                    ..
                } => {
                    self.stmts(body);
                    if *copy_out && STORAGE_TYS.contains(ty) {
                        self.copies.push((s as *const Stmt, *ty, shape.clone()));
                    }
                }
                Stmt::OobProbe(p) => {
                    if p.target == 0 {
                        self.probe_inputs
                            .push((p as *const OobProbe, p.shape.clone()));
                    }
                }
            }
        }
    }
}

/// How an access addresses its buffer.
enum Access {
    Affine {
        map: AffineMap,
        operands: Vec<Value>,
    },
    Memref(Vec<Value>),
}

#[derive(Clone, Copy)]
struct Range {
    lo: i64,
    hi: i64,
}

const FULL: Range = Range {
    lo: i64::MIN,
    hi: i64::MAX,
};

fn range_of(lo: i128, hi: i128) -> Range {
    if lo < i128::from(i64::MIN) || hi > i128::from(i64::MAX) {
        FULL
    } else {
        Range {
            lo: lo as i64,
            hi: hi as i64,
        }
    }
}

/// A sound interval of `e` (wrap-around widens to the full range).
fn interval(e: &AffineExpr, ranges: &[Range]) -> Range {
    match e {
        AffineExpr::Dim(d) => ranges[*d as usize],
        AffineExpr::Sym(_) => FULL,
        AffineExpr::Const(c) => Range { lo: *c, hi: *c },
        AffineExpr::Add(a, b) => {
            let (x, y) = (interval(a, ranges), interval(b, ranges));
            range_of(
                i128::from(x.lo) + i128::from(y.lo),
                i128::from(x.hi) + i128::from(y.hi),
            )
        }
        AffineExpr::Mul(a, b) => {
            let (x, c) = match (a.as_const(), b.as_const()) {
                (_, Some(c)) => (interval(a, ranges), c),
                (Some(c), _) => (interval(b, ranges), c),
                _ => return FULL,
            };
            let (p, q) = (
                i128::from(x.lo) * i128::from(c),
                i128::from(x.hi) * i128::from(c),
            );
            range_of(p.min(q), p.max(q))
        }
        AffineExpr::FloorDiv(a, b) | AffineExpr::CeilDiv(a, b) | AffineExpr::Mod(a, b) => {
            let Some(c) = b.as_const().filter(|c| *c > 0) else {
                return FULL;
            };
            let x = interval(a, ranges);
            let (c, lo, hi) = (i128::from(c), i128::from(x.lo), i128::from(x.hi));
            match e {
                AffineExpr::FloorDiv(..) => range_of(lo.div_euclid(c), hi.div_euclid(c)),
                AffineExpr::CeilDiv(..) => range_of(-(-lo).div_euclid(c), -(-hi).div_euclid(c)),
                _ => {
                    if lo.div_euclid(c) == hi.div_euclid(c) {
                        range_of(lo.rem_euclid(c), hi.rem_euclid(c))
                    } else {
                        range_of(0, c - 1)
                    }
                }
            }
        }
    }
}

fn sum(terms: Vec<AffineExpr>) -> AffineExpr {
    terms
        .into_iter()
        .reduce(|a, b| a.add(b))
        .unwrap_or(AffineExpr::Const(0))
}

fn scaled(e: AffineExpr, coef: i64) -> AffineExpr {
    if coef == 1 {
        e
    } else {
        e.mul(AffineExpr::Const(coef))
    }
}

/// Renumbers the dims of `exprs` (indices into `operands`) in order of
/// first appearance, dropping unused operands.
fn compact(exprs: &[AffineExpr], operands: &[Value]) -> (Vec<AffineExpr>, Vec<Value>) {
    let mut order: Vec<u32> = vec![];
    for e in exprs {
        collect_dims(e, &mut order);
    }
    let dims: Vec<AffineExpr> = (0..operands.len() as u32)
        .map(|d| AffineExpr::Dim(order.iter().position(|x| *x == d).unwrap_or(0) as u32))
        .collect();
    let new = exprs.iter().map(|e| e.substitute(&dims, &[])).collect();
    let ops = order.iter().map(|d| operands[*d as usize]).collect();
    (new, ops)
}

fn collect_dims(e: &AffineExpr, order: &mut Vec<u32>) {
    match e {
        AffineExpr::Dim(d) => {
            if !order.contains(d) {
                order.push(*d);
            }
        }
        AffineExpr::Sym(_) | AffineExpr::Const(_) => {}
        AffineExpr::Add(a, b)
        | AffineExpr::Mul(a, b)
        | AffineExpr::FloorDiv(a, b)
        | AffineExpr::CeilDiv(a, b)
        | AffineExpr::Mod(a, b) => {
            collect_dims(a, order);
            collect_dims(b, order);
        }
    }
}

/// The operands of one access or map, with their ranges.
#[derive(Default)]
struct Operands {
    values: Vec<Value>,
    ranges: Vec<Range>,
}

impl Operands {
    fn dim(&mut self, v: Value, r: Range) -> AffineExpr {
        let i = match self.values.iter().position(|x| *x == v) {
            Some(i) => i,
            None => {
                self.values.push(v);
                self.ranges.push(r);
                self.values.len() - 1
            }
        };
        AffineExpr::Dim(i as u32)
    }
}

/// Every value lowering refers to from the outside of the op it builds:
/// what an outlined function (`func.call`) rebinds to its parameters.
#[derive(Clone, Default)]
struct Scope {
    ivs: Vec<(Value, Range)>,
    locals: Vec<(Value, Ty, Vec<usize>)>,
    input_args: HashMap<*const Expr, Value>,
    probe_args: HashMap<*const OobProbe, Value>,
    scalar_args: HashMap<Ty, Value>,
    outputs: Vec<(Value, Ty, Vec<usize>)>,
    copy_args: HashMap<*const Stmt, Value>,
    /// The buffers outlined expressions write their values to.
    results: Vec<Value>,
}

impl Scope {
    /// Every value of the scope, each once, in a fixed order.
    fn values(&self) -> Vec<Value> {
        let mut v: Vec<Value> = self
            .ivs
            .iter()
            .map(|x| x.0)
            .chain(self.locals.iter().map(|x| x.0))
            .chain(self.input_args.values().copied())
            .chain(self.probe_args.values().copied())
            .chain(self.scalar_args.values().copied())
            .chain(self.outputs.iter().map(|x| x.0))
            .chain(self.copy_args.values().copied())
            .chain(self.results.iter().copied())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    fn rebind(&mut self, map: &HashMap<Value, Value>) {
        let f = |v: &mut Value| *v = map[v];
        self.ivs.iter_mut().for_each(|x| f(&mut x.0));
        self.locals.iter_mut().for_each(|x| f(&mut x.0));
        self.input_args.values_mut().for_each(f);
        self.probe_args.values_mut().for_each(f);
        self.scalar_args.values_mut().for_each(f);
        self.outputs.iter_mut().for_each(|x| f(&mut x.0));
        self.copy_args.values_mut().for_each(f);
        self.results.iter_mut().for_each(f);
    }
}

struct Lowerer {
    m: Module,
    line: u32,
    block: Block,
    /// Whether `block` ends in a terminator to insert before.
    terminated: bool,
    scope: Scope,
    /// How many functions have been outlined.
    helpers: usize,
    /// The location of the access each probe must fail at.
    probe_locs: Vec<String>,
    /// Makes some indices leave their range by one (out-of-bounds property).
    skew: Option<SplitMix>,
    /// A buffer the next loop lowered deallocates at the end of its body
    /// (so its second iteration uses a dead buffer).
    pending_dealloc: Option<Value>,
}

impl Lowerer {
    fn loc(&mut self) -> Location {
        self.line += 1;
        Location::FileLineCol {
            file: FILE.to_string(),
            line: self.line,
            col: 1,
        }
    }

    /// A builder at the insertion point, its location a fresh line.
    fn b(&mut self) -> Builder<'_> {
        let loc = self.loc();
        let mut b = if self.terminated {
            Builder::before_terminator(&mut self.m, self.block)
        } else {
            Builder::at_end(&mut self.m, self.block)
        };
        b.set_loc(loc);
        b
    }

    fn in_block<T>(&mut self, block: Block, f: impl FnOnce(&mut Self) -> T) -> T {
        let saved = (self.block, self.terminated);
        self.block = block;
        self.terminated = true;
        let r = f(self);
        (self.block, self.terminated) = saved;
        r
    }

    /// Builds the ops of `body` in a new function, called here with every
    /// value of the scope (so buffers are passed by reference).
    fn outline(&mut self, body: impl FnOnce(&mut Self)) {
        let values = self.scope.values();
        let types: Vec<Type> = values
            .iter()
            .map(|v| self.m.value_type(*v).clone())
            .collect();
        let name = format!("helper{}", self.helpers);
        self.helpers += 1;
        let loc = self.loc();
        let (f, entry) = func::build_func(&mut self.m, &name, types, vec![]);
        self.m.op_mut(f).loc = loc;
        let params = self.m.block_args(entry).to_vec();
        let saved_scope = self.scope.clone();
        let saved_block = (self.block, self.terminated);
        let saved_pending = self.pending_dealloc.take();
        self.scope
            .rebind(&values.iter().copied().zip(params).collect());
        (self.block, self.terminated) = (entry, false);
        body(self);
        func::build_return(&mut self.b(), &[]);
        self.pending_dealloc = saved_pending;
        self.scope = saved_scope;
        (self.block, self.terminated) = saved_block;
        func::build_call(&mut self.b(), &name, &values, vec![]);
    }

    fn constant(&mut self, ty: Ty, bits: u64) -> Value {
        let attr = match ty {
            I1 => Attribute::int((bits & 1) as i64, Type::i1()),
            Index => Attribute::index(bits as i64),
            t if t.is_float() => Attribute::float(float_value(t, bits), t.ir()),
            t => Attribute::int(sign_extend(bits, t.bits()), t.ir()),
        };
        arith::build_constant(&mut self.b(), attr)
    }

    fn index_const(&mut self, v: i64) -> Value {
        arith::build_index_constant(&mut self.b(), v)
    }

    fn cast(&mut self, op: &str, v: Value, to: Ty) -> Value {
        arith::build_cast(&mut self.b(), op, v, to.ir())
    }

    /// Any type to any type, through the casts arith has.
    fn convert(&mut self, v: Value, from: Ty, to: Ty) -> Value {
        if from == to {
            return v;
        }
        match (from.is_float(), to.is_float()) {
            (false, false) => {
                if from == Index || to == Index {
                    self.cast("index_cast", v, to)
                } else if from.bits() < to.bits() {
                    self.cast("extsi", v, to)
                } else {
                    self.cast("trunci", v, to)
                }
            }
            (false, true) => {
                let v = if from == Index {
                    self.cast("index_cast", v, I64)
                } else {
                    v
                };
                self.cast("sitofp", v, to)
            }
            (true, false) => {
                if to == Index {
                    let v = self.cast("fptosi", v, I64);
                    self.cast("index_cast", v, Index)
                } else {
                    self.cast("fptosi", v, to)
                }
            }
            (true, true) => {
                if from.bits() == to.bits() {
                    let v = self.cast("extf", v, F32);
                    self.cast("truncf", v, to)
                } else if from.bits() < to.bits() {
                    self.cast("extf", v, to)
                } else {
                    self.cast("truncf", v, to)
                }
            }
        }
    }

    fn iv(&self, slot: u8) -> Option<(Value, Range)> {
        (!self.scope.ivs.is_empty()).then(|| self.scope.ivs[slot as usize % self.scope.ivs.len()])
    }

    fn aff_expr(&self, a: &Aff, ops: &mut Operands) -> AffineExpr {
        let mut terms = vec![];
        let lin = |list: &[(u8, i8)], ops: &mut Operands| -> Vec<AffineExpr> {
            list.iter()
                .filter(|(_, c)| *c != 0)
                .filter_map(|(slot, c)| {
                    let (v, r) = self.iv(*slot)?;
                    Some(scaled(ops.dim(v, r), i64::from(*c)))
                })
                .collect()
        };
        for t in &a.terms {
            match t {
                Term::Iv { slot, coef } => terms.extend(lin(&[(*slot, *coef)], ops)),
                Term::Div {
                    kind,
                    inner,
                    konst,
                    by,
                    coef,
                } => {
                    if *coef == 0 {
                        continue;
                    }
                    let mut inner = lin(inner, ops);
                    if *konst != 0 || inner.is_empty() {
                        inner.push(AffineExpr::Const(i64::from(*konst)));
                    }
                    let by = AffineExpr::Const(i64::from(*by));
                    let e = match kind {
                        DivKind::FloorDiv => sum(inner).floor_div(by),
                        DivKind::CeilDiv => sum(inner).ceil_div(by),
                        DivKind::Mod => sum(inner).modulo(by),
                    };
                    terms.push(scaled(e, i64::from(*coef)));
                }
            }
        }
        if a.konst != 0 || terms.is_empty() {
            terms.push(AffineExpr::Const(i64::from(a.konst)));
        }
        sum(terms)
    }

    /// `e` made to lie in `[0, size)`: unchanged, shifted, or modulo `size`.
    fn in_bounds(e: AffineExpr, ops: &Operands, size: usize) -> AffineExpr {
        let r = interval(&e, &ops.ranges);
        let size = size as i64;
        if r.lo >= 0 && r.hi < size {
            e
        } else if i128::from(r.hi) - i128::from(r.lo) < i128::from(size) {
            e.add(AffineExpr::Const(-r.lo))
        } else {
            e.modulo(AffineExpr::Const(size))
        }
    }

    /// An integer value as an `index` operand, with its range.
    fn data_index(
        &mut self,
        value: &Expr,
        unsigned_cast: bool,
        remui: Option<usize>,
    ) -> (Value, Range) {
        let ty = value.ty();
        let v = self.expr(value);
        let (v, r) = if ty == Index {
            (v, FULL)
        } else if unsigned_cast {
            let r = if ty.bits() == 64 {
                FULL
            } else {
                Range {
                    lo: 0,
                    hi: mask(ty.bits()) as i64,
                }
            };
            (self.cast("index_castui", v, Index), r)
        } else {
            let half = 1i128 << (ty.bits() - 1);
            (self.cast("index_cast", v, Index), range_of(-half, half - 1))
        };
        match remui {
            Some(size) => {
                let s = self.index_const(size as i64);
                let r = arith::build_binary(&mut self.b(), "remui", v, s);
                (
                    r,
                    Range {
                        lo: 0,
                        hi: size as i64 - 1,
                    },
                )
            }
            None => (v, r),
        }
    }

    /// The access of `idx` (the first `shape.len()` of them) into a buffer
    /// of `shape`, every index in bounds.
    fn access(&mut self, shape: &[usize], idx: &[Idx], memref_form: bool) -> Access {
        let mut ops = Operands::default();
        let mut exprs = vec![];
        for (k, &size) in shape.iter().enumerate() {
            let e = match idx.get(k) {
                None => AffineExpr::Const(0),
                Some(Idx::Aff(a)) => self.aff_expr(a, &mut ops),
                Some(Idx::Data {
                    value,
                    unsigned_cast,
                    remui,
                    coef,
                    konst,
                }) => {
                    let (v, r) = self.data_index(value, *unsigned_cast, remui.then_some(size));
                    let mut e = scaled(ops.dim(v, r), i64::from(*coef));
                    if *konst != 0 {
                        e = e.add(AffineExpr::Const(i64::from(*konst)));
                    }
                    e
                }
            };
            let e = Self::in_bounds(e, &ops, size);
            // Skewed by one (or the size) now and then: the access may
            // leave its buffer at some iterations, and C must not have
            // left the check out.
            let e = match self.skew.as_mut().map(|r| r.next() % 8) {
                Some(0) => e.add(AffineExpr::Const(1)),
                Some(1) => e.add(AffineExpr::Const(-1)),
                Some(2) => e.add(AffineExpr::Const(size as i64)),
                _ => e,
            };
            exprs.push(e);
        }
        self.make_access(exprs, &ops.values, memref_form)
    }

    fn make_access(
        &mut self,
        exprs: Vec<AffineExpr>,
        operands: &[Value],
        memref_form: bool,
    ) -> Access {
        if !memref_form {
            let (exprs, operands) = compact(&exprs, operands);
            return Access::Affine {
                map: AffineMap::new(operands.len() as u32, 0, exprs),
                operands,
            };
        }
        let mut indices = vec![];
        for e in exprs {
            let v = match e {
                AffineExpr::Dim(d) => operands[d as usize],
                AffineExpr::Const(c) => self.index_const(c),
                e => {
                    let (es, ops) = compact(&[e], operands);
                    affine::build_apply(
                        &mut self.b(),
                        AffineMap::new(ops.len() as u32, 0, es),
                        &ops,
                    )
                }
            };
            indices.push(v);
        }
        Access::Memref(indices)
    }

    fn load(&mut self, buffer: Value, access: &Access) -> Value {
        match access {
            Access::Affine { map, operands } => {
                affine::build_load(&mut self.b(), buffer, map.clone(), operands)
            }
            Access::Memref(indices) => memref::build_load(&mut self.b(), buffer, indices),
        }
    }

    fn store(&mut self, v: Value, buffer: Value, access: &Access) {
        match access {
            Access::Affine { map, operands } => {
                affine::build_store(&mut self.b(), v, buffer, map.clone(), operands);
            }
            Access::Memref(indices) => {
                memref::build_store(&mut self.b(), v, buffer, indices);
            }
        }
    }

    /// `op(a, b)`; a guarded division replaces a zero divisor by 1.
    fn binary(&mut self, op: &str, a: Value, b: Value, guard: bool) -> Value {
        let divides = matches!(
            op,
            "divsi" | "divui" | "remsi" | "remui" | "floordivsi" | "ceildivsi"
        );
        let b = if guard && divides {
            let ty = self.m.value_type(b).clone();
            let (zero, one) = (Attribute::int(0, ty.clone()), Attribute::int(1, ty));
            let zero = arith::build_constant(&mut self.b(), zero);
            let one = arith::build_constant(&mut self.b(), one);
            let is_zero = arith::build_cmpi(&mut self.b(), "eq", b, zero);
            arith::build_select(&mut self.b(), is_zero, one, b)
        } else {
            b
        };
        arith::build_binary(&mut self.b(), op, a, b)
    }

    fn expr(&mut self, e: &Expr) -> Value {
        match e {
            Expr::Const(ty, bits) => self.constant(*ty, *bits),
            Expr::FloatLit(ty, v) => {
                arith::build_constant(&mut self.b(), Attribute::float(*v, ty.ir()))
            }
            Expr::Call {
                first,
                second,
                pick_second,
            } => {
                // The interpreter has no calls with results: the callee
                // writes its values into a buffer of the caller's (rank 0
                // for one value).
                let ty = first.ty();
                let shape = if second.is_some() { vec![2] } else { vec![] };
                let buf =
                    memref::build_alloc(&mut self.b(), Type::memref(shape, ty.ir(), None), true);
                self.scope.results.push(buf);
                self.outline(|this| {
                    let buf = *this.scope.results.last().expect("pushed before outlining");
                    let v = this.expr(first);
                    match second {
                        None => {
                            affine::build_store(
                                &mut this.b(),
                                v,
                                buf,
                                AffineMap::new(0, 0, vec![]),
                                &[],
                            );
                        }
                        Some(e) => {
                            let i = this.index_const(0);
                            memref::build_store(&mut this.b(), v, buf, &[i]);
                            let w = this.expr(e);
                            let j = this.index_const(1);
                            memref::build_store(&mut this.b(), w, buf, &[j]);
                        }
                    }
                });
                self.scope.results.pop();
                if second.is_some() {
                    let i = self.index_const(i64::from(*pick_second));
                    memref::build_load(&mut self.b(), buf, &[i])
                } else {
                    affine::build_load(&mut self.b(), buf, AffineMap::new(0, 0, vec![]), &[])
                }
            }
            Expr::Input {
                shape,
                idx,
                memref_form,
                ..
            } => {
                let arg = self.scope.input_args[&(e as *const Expr)];
                let access = self.access(shape, idx, *memref_form);
                self.load(arg, &access)
            }
            Expr::Scalar(t) => self.scope.scalar_args[t],
            Expr::Local {
                slot,
                idx,
                memref_form,
                ty,
            } => {
                if self.scope.locals.is_empty() {
                    return self.constant(*ty, 0);
                }
                let (buf, lty, shape) =
                    self.scope.locals[*slot as usize % self.scope.locals.len()].clone();
                let access = self.access(&shape, idx, *memref_form);
                let v = self.load(buf, &access);
                self.convert(v, lty, *ty)
            }
            Expr::Iv(slot) => match self.iv(*slot) {
                Some((v, _)) => v,
                None => self.index_const(0),
            },
            Expr::Apply(a) => {
                let mut ops = Operands::default();
                let e = self.aff_expr(a, &mut ops);
                let (es, vs) = compact(&[e], &ops.values);
                affine::build_apply(&mut self.b(), AffineMap::new(vs.len() as u32, 0, es), &vs)
            }
            Expr::MinMax { max, exprs } => {
                let mut ops = Operands::default();
                let es: Vec<AffineExpr> =
                    exprs.iter().map(|a| self.aff_expr(a, &mut ops)).collect();
                let (es, vs) = compact(&es, &ops.values);
                let name = if *max { "affine.max" } else { "affine.min" };
                self.b().insert_value(
                    OpSpec::new(name)
                        .operands(vs.iter().copied())
                        .attr(
                            "map",
                            Attribute::AffineMap(AffineMap::new(vs.len() as u32, 0, es)),
                        )
                        .results([Type::Index]),
                )
            }
            Expr::Bin {
                op,
                lhs,
                rhs,
                guard,
            } => {
                let a = self.expr(lhs);
                let b = self.expr(rhs);
                self.binary(op, a, b, *guard)
            }
            Expr::Cmp { pred, lhs, rhs } => {
                let a = self.expr(lhs);
                let b = self.expr(rhs);
                if lhs.ty().is_float() {
                    arith::build_cmpf(&mut self.b(), pred, a, b)
                } else {
                    arith::build_cmpi(&mut self.b(), pred, a, b)
                }
            }
            Expr::Select(c, a, b) => {
                let c = self.expr(c);
                let a = self.expr(a);
                let b = self.expr(b);
                arith::build_select(&mut self.b(), c, a, b)
            }
            Expr::Cast { op, arg, to } => {
                let mut v = self.expr(arg);
                if *op == "bitcast" && arg.ty().is_float() {
                    // NaN payloads and signs are unspecified (semantics.md),
                    // and a bitcast would make them observable: give it 0
                    // instead of a NaN.
                    let is_nan = arith::build_cmpf(&mut self.b(), "uno", v, v);
                    let zero = self.constant(arg.ty(), 0);
                    v = arith::build_select(&mut self.b(), is_nan, zero, v);
                }
                self.cast(op, v, *to)
            }
            Expr::Unary { op, arg } => {
                let v = self.expr(arg);
                let ty = self.m.value_type(v).clone();
                self.b()
                    .insert_value(OpSpec::new(*op).operands([v]).results([ty]))
            }
        }
    }

    fn stmts(&mut self, ss: &[Stmt]) {
        for s in ss {
            self.stmt(s);
        }
    }

    fn stmt(&mut self, s: &Stmt) {
        match s {
            Stmt::For {
                scf,
                lb,
                trip,
                step,
                lower_extra,
                upper_extra,
                lower_data,
                upper_data,
                dynamic_ub,
                body,
            } => {
                let (lb, ub, step) = (
                    i64::from(*lb),
                    i64::from(*lb) + i64::from(*trip),
                    i64::from(*step),
                );
                let last = if lower_extra.is_some() || lower_data.is_some() {
                    ub - 1
                } else {
                    lb + (ub - 1 - lb).max(0) / step * step
                };
                let range = Range {
                    lo: lb,
                    hi: last.max(lb),
                };
                let bound = |this: &mut Self, c: i64, extra: &Option<Aff>, data: &Option<Expr>| {
                    let mut ops = Operands::default();
                    let mut results = vec![AffineExpr::Const(c)];
                    if let Some(a) = extra {
                        results.push(this.aff_expr(a, &mut ops));
                    }
                    let (mut results, mut operands) = compact(&results, &ops.values);
                    let num_dims = operands.len() as u32;
                    let mut num_syms = 0;
                    if let Some(e) = data {
                        let (v, _) = this.data_index(e, false, None);
                        results.push(AffineExpr::Sym(0));
                        operands.push(v);
                        num_syms = 1;
                    }
                    Bound {
                        map: AffineMap::new(num_dims, num_syms, results),
                        operands,
                    }
                };
                let lower = bound(self, lb, lower_extra, lower_data);
                let upper = bound(self, ub, upper_extra, upper_data);
                let body_block = if *scf {
                    let value_of = |this: &mut Self, b: Bound, max: bool| {
                        if b.map.results.len() == 1 {
                            this.index_const(
                                b.map.results[0].as_const().expect("a lone constant bound"),
                            )
                        } else {
                            let name = if max { "affine.max" } else { "affine.min" };
                            this.b().insert_value(
                                OpSpec::new(name)
                                    .operands(b.operands.iter().copied())
                                    .attr("map", Attribute::AffineMap(b.map))
                                    .results([Type::Index]),
                            )
                        }
                    };
                    let l = value_of(self, lower, true);
                    let u = match dynamic_ub {
                        Some(e) => {
                            let (v, _) = self.data_index(e, false, Some(*trip as usize + 1));
                            let base = self.index_const(lb);
                            arith::build_binary(&mut self.b(), "addi", base, v)
                        }
                        None => value_of(self, upper, false),
                    };
                    let st = self.index_const(step);
                    let (_, iv, body) = scf::build_for(&mut self.b(), l, u, st);
                    self.scope.ivs.push((iv, range));
                    body
                } else {
                    let (_, iv, body) = affine::build_for(&mut self.b(), lower, upper, step);
                    self.scope.ivs.push((iv, range));
                    body
                };
                let dealloc = self.pending_dealloc.take();
                self.in_block(body_block, |this| {
                    this.stmts(body);
                    if let Some(buf) = dealloc {
                        memref::build_dealloc(&mut this.b(), buf);
                    }
                });
                self.scope.ivs.pop();
            }
            Stmt::If { conds, then, els } => {
                let mut ops = Operands::default();
                let es: Vec<AffineExpr> = conds
                    .iter()
                    .map(|(a, _)| self.aff_expr(a, &mut ops))
                    .collect();
                let (es, operands) = compact(&es, &ops.values);
                let set = IntegerSet {
                    num_dims: operands.len() as u32,
                    num_syms: 0,
                    constraints: es
                        .into_iter()
                        .zip(conds.iter().map(|(_, eq)| *eq))
                        .collect(),
                };
                let (_, t, e) = affine::build_if(&mut self.b(), set, &operands, els.is_some());
                self.in_block(t, |this| this.stmts(then));
                if let (Some(e), Some(els)) = (e, els) {
                    self.in_block(e, |this| this.stmts(els));
                }
            }
            Stmt::ScfIf { cond, then, els } => {
                let c = self.expr(cond);
                let (_, t, e) = scf::build_if(&mut self.b(), c, els.is_some());
                self.in_block(t, |this| this.stmts(then));
                if let (Some(e), Some(els)) = (e, els) {
                    self.in_block(e, |this| this.stmts(els));
                }
            }
            Stmt::Store {
                target,
                to_local,
                idx,
                memref_form,
                value,
                acc,
            } => {
                let (buf, ty, shape) = if *to_local && !self.scope.locals.is_empty() {
                    self.scope.locals[*target as usize % self.scope.locals.len()].clone()
                } else {
                    self.scope.outputs[*target as usize % self.scope.outputs.len()].clone()
                };
                let access = self.access(&shape, idx, *memref_form);
                let v = self.expr(value);
                let v = self.convert(v, value.ty(), ty);
                let v = match acc {
                    None => v,
                    Some(k) => {
                        let old = self.load(buf, &access);
                        let op = if ty.is_float() {
                            arith::FLOAT_BINARY[*k as usize % arith::FLOAT_BINARY.len()]
                        } else {
                            arith::INT_BINARY[*k as usize % arith::INT_BINARY.len()]
                        };
                        self.binary(op, old, v, true)
                    }
                };
                self.store(v, buf, &access);
            }
            Stmt::Local {
                ty,
                shape,
                space,
                heap,
                body,
                ..
            } => {
                let space = match space {
                    0 => None,
                    1 => Some(MemorySpace::Name("scratchpad".to_string())),
                    _ => Some(MemorySpace::Int(3)),
                };
                let mty = Type::memref(shape.iter().map(|d| *d as i64).collect(), ty.ir(), space);
                let buf = memref::build_alloc(&mut self.b(), mty, !*heap);
                // Out-of-bounds property: now and then the buffer dies
                // before it is used, or at the end of the first iteration
                // of a loop that uses it, and every later use is an error.
                let early = match self.skew.as_mut().map(|r| r.next() % 6) {
                    Some(0) if *heap => Some(true),
                    Some(1) if *heap => Some(false),
                    _ => None,
                };
                if early == Some(true) {
                    memref::build_dealloc(&mut self.b(), buf);
                }
                let outer_pending = self.pending_dealloc.take();
                if early == Some(false) {
                    self.pending_dealloc = Some(buf);
                }
                self.scope.locals.push((buf, *ty, shape.clone()));
                self.stmts(body);
                self.scope.locals.pop();
                // Still pending: no loop took it.
                let freed =
                    early == Some(true) || (early == Some(false) && self.pending_dealloc.is_none());
                self.pending_dealloc = outer_pending;
                if let Some(&out) = self.scope.copy_args.get(&(s as *const Stmt)) {
                    self.b()
                        .insert(OpSpec::new("memref.copy").operands([buf, out]));
                }
                if *heap && !freed {
                    memref::build_dealloc(&mut self.b(), buf);
                }
            }
            Stmt::Eval(e) => {
                self.expr(e);
            }
            Stmt::OobProbe(p) => self.oob_probe(p),
            Stmt::Call(body) => {
                self.outline(|this| this.stmts(body));
            }
        }
    }

    /// A loop nest whose access is in bounds except for `overshoot` at one
    /// end of the range of its index in dimension `dim`.
    fn oob_probe(&mut self, p: &OobProbe) {
        let (buf, ty, shape, local) = match p.target {
            0 => (
                self.scope.probe_args[&(p as *const OobProbe)],
                I32,
                p.shape.clone(),
                None,
            ),
            1 => {
                let (b, t, s) = self.scope.outputs[0].clone();
                (b, t, s, None)
            }
            t => {
                let mty = Type::memref(p.shape.iter().map(|d| *d as i64).collect(), F32.ir(), None);
                let b = memref::build_alloc(&mut self.b(), mty, t == 3);
                (b, F32, p.shape.clone(), Some(t == 2))
            }
        };
        let outer_block = (self.block, self.terminated);
        let mut ivs = vec![];
        for &(lb, trip, step, scf) in &p.loops {
            let (lb, ub, step) = (
                i64::from(lb),
                i64::from(lb) + i64::from(trip),
                i64::from(step),
            );
            let last = lb + (ub - 1 - lb) / step * step;
            let body = if scf {
                let l = self.index_const(lb);
                let u = self.index_const(ub);
                let s = self.index_const(step);
                let (_, iv, body) = scf::build_for(&mut self.b(), l, u, s);
                ivs.push((iv, Range { lo: lb, hi: last }));
                body
            } else {
                let (_, iv, body) = affine::build_for(
                    &mut self.b(),
                    Bound::constant(lb),
                    Bound::constant(ub),
                    step,
                );
                ivs.push((iv, Range { lo: lb, hi: last }));
                body
            };
            self.block = body;
            self.terminated = true;
        }
        let dim = p.dim as usize % shape.len();
        let mut ops = Operands::default();
        let mut exprs = vec![];
        for (k, &size) in shape.iter().enumerate() {
            if k != dim {
                exprs.push(AffineExpr::Const((k as i64 * 7) % size as i64));
                continue;
            }
            // Exactly the ranges' ends are reached: every term is a loop
            // variable (whose last value is exact) times a constant.
            let terms: Vec<AffineExpr> = ivs
                .iter()
                .zip(&p.coefs)
                .filter(|(_, c)| **c != 0)
                .map(|((v, r), c)| scaled(ops.dim(*v, *r), i64::from(*c)))
                .collect();
            let e = sum(terms);
            let r = interval(&e, &ops.ranges);
            let size = size as i64;
            // In range [0, size) shifted so that one end leaves it by `overshoot`.
            let shift = if p.overshoot > 0 {
                (size - 1 + i64::from(p.overshoot)) - r.hi
            } else {
                i64::from(p.overshoot) - r.lo
            };
            exprs.push(e.add(AffineExpr::Const(shift)));
        }
        let access = self.make_access(exprs, &ops.values, p.memref_form);
        let access_line = self.line + 1;
        if p.store {
            let v = self.constant(ty, 1);
            let access_line2 = self.line + 1;
            self.store(v, buf, &access);
            self.probe_locs.push(format!("{FILE}:{access_line2}:1"));
        } else {
            let v = self.load(buf, &access);
            self.probe_locs.push(format!("{FILE}:{access_line}:1"));
            // Keep the loaded value alive: store it into the first output.
            let (out, oty, oshape) = self.scope.outputs[0].clone();
            let v = self.convert(v, ty, oty);
            let zeros = vec![AffineExpr::Const(0); oshape.len()];
            let a = self.make_access(zeros, &[], false);
            self.store(v, out, &a);
        }
        (self.block, self.terminated) = outer_block;
        if local == Some(true) {
            memref::build_dealloc(&mut self.b(), buf);
        }
    }
}

/// The kernel of `desc` as a verified module, with its parameters.
fn lower(desc: &KernelDesc) -> (Module, Vec<Param>, Vec<String>) {
    lower_skewed(desc, None)
}

/// [`lower`], with some indices skewed out of their range when `skew` is a
/// seed.
fn lower_skewed(desc: &KernelDesc, skew: Option<u64>) -> (Module, Vec<Param>, Vec<String>) {
    let mut plan = ParamPlan::default();
    plan.stmts(&desc.body);
    let mut params: Vec<Param> = vec![];
    for (i, (_, ty, unsigned, shape, stream)) in plan.inputs.iter().enumerate() {
        params.push(Param {
            name: format!("in{i}"),
            stream: *stream,
            ty: *ty,
            dtype: ty.dtype(*unsigned),
            shape: shape.clone(),
            is_scalar: false,
            is_output: false,
        });
    }
    for (i, (_, shape)) in plan.probe_inputs.iter().enumerate() {
        params.push(Param {
            name: format!("probe{i}"),
            stream: 1 << 31 | i as u32,
            ty: I32,
            dtype: DType::I32,
            shape: shape.clone(),
            is_scalar: false,
            is_output: false,
        });
    }
    for &t in &plan.scalars {
        params.push(Param {
            name: format!("s_{}", t.name()),
            stream: 1 << 30 | t as u32,
            ty: t,
            dtype: t.dtype(false),
            shape: vec![],
            is_scalar: true,
            is_output: false,
        });
    }
    for (i, o) in desc.outputs.iter().enumerate() {
        params.push(Param {
            name: format!("out{i}"),
            stream: 0,
            ty: o.ty,
            dtype: o.ty.dtype(o.unsigned),
            shape: o.shape.clone(),
            is_scalar: false,
            is_output: true,
        });
    }
    for (i, (_, ty, shape)) in plan.copies.iter().enumerate() {
        params.push(Param {
            name: format!("copy{i}"),
            stream: 0,
            ty: *ty,
            dtype: ty.dtype(false),
            shape: shape.clone(),
            is_scalar: false,
            is_output: true,
        });
    }

    let mut m = Module::new();
    let types: Vec<Type> = params
        .iter()
        .map(|p| {
            if p.is_scalar {
                p.ty.ir()
            } else {
                Type::memref(p.shape.iter().map(|d| *d as i64).collect(), p.ty.ir(), None)
            }
        })
        .collect();
    let (f, entry) = func::build_func(&mut m, KERNEL, types, vec![]);
    for (i, p) in params.iter().enumerate() {
        func::set_arg_attr(&mut m, f, i, "accc.name", Attribute::string(&p.name));
        func::set_arg_attr(
            &mut m,
            f,
            i,
            "accc.dtype",
            Attribute::string(p.dtype.name()),
        );
        if p.is_output {
            func::set_arg_attr(&mut m, f, i, "accc.output", Attribute::Unit);
        }
    }
    m.op_mut(f).loc = Location::FileLineCol {
        file: FILE.to_string(),
        line: 1,
        col: 1,
    };
    let args: Vec<Value> = m.block_args(entry).to_vec();
    let n_in = plan.inputs.len();
    let n_probe = plan.probe_inputs.len();
    let n_sc = plan.scalars.len();
    let n_out = desc.outputs.len();
    let mut l = Lowerer {
        m,
        line: 1,
        block: entry,
        terminated: false,
        helpers: 0,
        scope: Scope {
            ivs: vec![],
            locals: vec![],
            input_args: plan
                .inputs
                .iter()
                .map(|x| x.0)
                .zip(args[..n_in].iter().copied())
                .collect(),
            probe_args: plan
                .probe_inputs
                .iter()
                .map(|x| x.0)
                .zip(args[n_in..n_in + n_probe].iter().copied())
                .collect(),
            scalar_args: plan
                .scalars
                .iter()
                .copied()
                .zip(args[n_in + n_probe..n_in + n_probe + n_sc].iter().copied())
                .collect(),
            outputs: desc
                .outputs
                .iter()
                .zip(&args[n_in + n_probe + n_sc..n_in + n_probe + n_sc + n_out])
                .map(|(o, v)| (*v, o.ty, o.shape.clone()))
                .collect(),
            copy_args: plan
                .copies
                .iter()
                .map(|x| x.0)
                .zip(args[n_in + n_probe + n_sc + n_out..].iter().copied())
                .collect(),
            results: vec![],
        },
        probe_locs: vec![],
        skew: skew.map(SplitMix),
        pending_dealloc: None,
    };
    l.stmts(&desc.body);
    func::build_return(&mut l.b(), &[]);
    let probe_locs = l.probe_locs;
    (l.m, params, probe_locs)
}

// ---------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------

/// SplitMix64: a tiny deterministic generator for input data.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Input data: a third edge values, a third small values, a third random
/// bit patterns (for floats: every exponent, NaNs and infinities included).
fn input_tensor(p: &Param, seed: u64) -> Tensor {
    let mut rng = SplitMix(seed ^ u64::from(p.stream).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let sp = specials(p.ty);
    let len: usize = p.shape.iter().product();
    let data = (0..len)
        .map(|_| {
            let r = rng.next();
            let pick = r >> 8;
            let bits = match r % 6 {
                0 | 1 => sp[(pick % sp.len() as u64) as usize],
                2 | 3 if p.ty.is_float() => float_bits(p.ty, (pick % 4001) as f64 / 200.0 - 10.0),
                2 | 3 => ((pick % 19) as i64 - 9) as u64,
                _ => rng.next(),
            };
            canonical_bits(p.dtype, bits)
        })
        .collect();
    Tensor {
        dtype: p.dtype,
        shape: p.shape.clone(),
        data,
    }
}

// ---------------------------------------------------------------------------
// Running both sides
// ---------------------------------------------------------------------------

/// How a run ended.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// The outputs, in parameter order.
    Finished(Vec<Tensor>),
    /// An error of the semantics: its location and the message after it.
    Fault { loc: String, message: String },
}

fn run_interpreter(m: &Module, params: &[Param], inputs: &[Tensor]) -> Outcome {
    let interp =
        Interpreter::new(m).unwrap_or_else(|e| panic!("the interpreter rejects the module: {e}"));
    let mut args = inputs.to_vec();
    match interp.run(KERNEL, &mut args) {
        Ok(_) => Outcome::Finished(
            params
                .iter()
                .zip(args)
                .filter(|(p, _)| p.is_output)
                .map(|(_, t)| t)
                .collect(),
        ),
        Err(InterpError::Fault {
            fault,
            op,
            location,
        }) => Outcome::Fault {
            loc: location.to_string(),
            message: format!("{fault} in `{op}`"),
        },
        Err(e) => panic!("the interpreter failed: {e}"),
    }
}

fn run_c(m: &Module, params: &[Param], inputs: &[Tensor], work: &Path) -> Outcome {
    let program = ctarget::emit_kernel(m, KERNEL)
        .unwrap_or_else(|e| panic!("the C target rejects the module: {e}"));
    let exe = match ctarget::build(&program, work) {
        Ok(exe) => exe,
        Err(e @ CError::CompilerUnavailable { .. }) => panic!(
            "{e}\nthis test needs a C compiler (`cc`, or `$CC`); scripts/setup.sh installs gcc"
        ),
        Err(e) => panic!("the emitted C does not compile: {e}"),
    };
    let (in_dir, out_dir) = (work.join("in"), work.join("out"));
    std::fs::create_dir_all(&in_dir).expect("a fresh temporary directory is writable");
    for (p, t) in params.iter().zip(inputs) {
        if !p.is_output {
            npy::write(&in_dir.join(format!("{}.npy", p.name)), t).expect("writable input file");
        }
    }
    match ctarget::run(&exe, &in_dir, &out_dir) {
        Ok(_) => Outcome::Finished(
            params
                .iter()
                .filter(|p| p.is_output)
                .map(|p| {
                    npy::read_expect(
                        &out_dir.join(format!("{}.npy", p.name)),
                        &p.name,
                        p.dtype,
                        &p.shape,
                    )
                    .unwrap_or_else(|e| panic!("the C program's output `{}`: {e}", p.name))
                })
                .collect(),
        ),
        Err(CError::Fault(text)) => {
            let first = text.lines().next().unwrap_or_default();
            match first.split_once(": error: ") {
                Some((loc, message)) => Outcome::Fault {
                    loc: loc.to_string(),
                    message: message.to_string(),
                },
                None => Outcome::Fault {
                    loc: String::new(),
                    message: text,
                },
            }
        }
        Err(e) => panic!("the C program failed: {e}"),
    }
}

/// What the failure report shows of a case.
fn describe(m: &Module, params: &[Param], inputs: &[Tensor]) -> String {
    let ir = print_with_locations(m);
    let mut s = format!("kernel:\n{ir}\ninputs:\n");
    for (p, t) in params.iter().zip(inputs) {
        if p.is_output {
            continue;
        }
        let elems: Vec<String> = (0..t.len()).map(|i| t.format_element(i)).collect();
        s.push_str(&format!(
            "  {} ({} {:?}): [{}]\n",
            p.name,
            p.dtype.name(),
            p.shape,
            elems.join(", ")
        ));
    }
    s
}

/// The kind of a fault message (its text up to the details).
fn fault_kind(message: &str) -> &str {
    for kind in [
        "division by zero",
        "out-of-bounds access",
        "use of a deallocated buffer",
        "non-positive step",
    ] {
        if message.starts_with(kind) {
            return kind;
        }
    }
    message
}

/// Runs both sides and compares; `Ok` carries the interpreter's outcome.
fn check_agreement(m: &Module, params: &[Param], inputs: &[Tensor]) -> Result<Outcome, String> {
    let interp = run_interpreter(m, params, inputs);
    let work = tempfile::tempdir().expect("a temporary directory");
    let c = run_c(m, params, inputs, work.path());
    let context = || describe(m, params, inputs);
    match (&interp, &c) {
        (Outcome::Finished(expected), Outcome::Finished(got)) => {
            let mut diffs = vec![];
            for ((p, e), g) in params.iter().filter(|p| p.is_output).zip(expected).zip(got) {
                let cmp = compare(e, g).map_err(|err| format!("{}: {err}", p.name))?;
                if cmp.mismatches > 0 {
                    let first = cmp.first.expect("a mismatch has a first element");
                    diffs.push(format!(
                        "output `{}` ({}): {} of {} elements differ; first at {:?}: interpreter {}, C {}",
                        p.name,
                        p.dtype.name(),
                        cmp.mismatches,
                        cmp.elements,
                        first.index,
                        first.expected,
                        first.got
                    ));
                }
            }
            if diffs.is_empty() {
                Ok(interp)
            } else {
                Err(format!("{}\n{}", diffs.join("\n"), context()))
            }
        }
        (
            Outcome::Fault {
                loc: l1,
                message: m1,
            },
            Outcome::Fault {
                loc: l2,
                message: m2,
            },
        ) => {
            // The same op, and the same details (dimension, index, size).
            if l1 == l2 && m1 == m2 {
                Ok(interp)
            } else {
                Err(format!(
                    "both fail, differently:\n  interpreter: {l1}: {m1}\n  C:           {l2}: {m2}\n{}",
                    context()
                ))
            }
        }
        _ => Err(format!(
            "interpreter: {}\nC: {}\n{}",
            summarize(&interp),
            summarize(&c),
            context()
        )),
    }
}

fn summarize(o: &Outcome) -> String {
    match o {
        Outcome::Finished(_) => "finished".to_string(),
        Outcome::Fault { loc, message } => format!("{loc}: error: {message}"),
    }
}

fn lower_verified(desc: &KernelDesc, skew: Option<u64>) -> (Module, Vec<Param>, Vec<String>) {
    let (m, params, probes) = lower_skewed(desc, skew);
    if let Err(errors) = accc_ir::verify_module(&m) {
        panic!(
            "generator bug: the lowered kernel does not verify: {errors:?}\n{}",
            print_module_with(
                &m,
                &PrintOptions {
                    print_locations: true,
                    generic: true
                }
            )
        );
    }
    (m, params, probes)
}

fn inputs_for(params: &[Param], seed: u64) -> Vec<Tensor> {
    params
        .iter()
        .map(|p| {
            if p.is_output {
                Tensor::zeros(p.dtype, p.shape.clone())
            } else {
                input_tensor(p, seed)
            }
        })
        .collect()
}

fn config(default_cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default_cases);
    ProptestConfig {
        cases,
        // Each step compiles a C program (~0.3 s): bound the time, not
        // just the steps.
        max_shrink_iters: 1000,
        max_shrink_time: 240_000,
        // The failure message is the reproducer (IR and inputs).
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(64))]

    /// Random in-bounds kernels: both sides finish with equal outputs, or
    /// stop with the same error (division by zero) at the same op.
    #[test]
    fn interpreter_and_c_agree_on_random_kernels(desc in kernel_desc()) {
        let (m, params, _) = lower_verified(&desc, None);
        let inputs = inputs_for(&params, desc.seed);
        let outcome = check_agreement(&m, &params, &inputs).map_err(TestCaseError::fail)?;
        if let Outcome::Fault { message, .. } = &outcome {
            prop_assert!(
                fault_kind(message) == "division by zero",
                "an in-bounds kernel failed with `{}`:\n{}", message, describe(&m, &params, &inputs)
            );
        }
    }
}

proptest! {
    #![proptest_config(config(32))]

    /// A random kernel followed by an access that leaves its buffer: both
    /// sides report the same out-of-bounds error at that access, or the same
    /// earlier error. With `skew`, indices of the kernel itself leave their
    /// range by one at some iterations too, so whether and where it fails
    /// is up to the bounds checks the C target keeps.
    #[test]
    fn interpreter_and_c_report_the_same_out_of_bounds_access(case in fault_case()) {
        let FaultCase { desc, skew } = &case;
        let skew = *skew;
        let (m, params, probe_locs) = lower_verified(desc, skew);
        let inputs = inputs_for(&params, desc.seed);
        let outcome = check_agreement(&m, &params, &inputs).map_err(TestCaseError::fail)?;
        match &outcome {
            Outcome::Fault { loc, message } if fault_kind(message) == "out-of-bounds access" => {
                if skew.is_none() {
                    prop_assert_eq!(loc, &probe_locs[0], "the out-of-bounds error is not at the probe");
                }
            }
            Outcome::Fault { message, .. } if fault_kind(message) == "division by zero" => {}
            Outcome::Fault { message, .. }
                if skew.is_some() && fault_kind(message) == "use of a deallocated buffer" => {}
            other => prop_assert!(false, "expected an out-of-bounds error, got {:?}\n{}", summarize(other), describe(&m, &params, &inputs)),
        }
    }
}

// ---------------------------------------------------------------------------
// Fixed kernels for the other run-time errors
// ---------------------------------------------------------------------------

fn parse(text: &str) -> Module {
    accc_ir::parse_module(&accc_ir::diag::SourceFile::new("fixed.mlir", text))
        .unwrap_or_else(|d| panic!("fixed kernel does not parse: {d:?}"))
}

fn params_of(m: &Module) -> Vec<Param> {
    let f = m.lookup_symbol(KERNEL).expect("the fixed kernel is @k");
    func::kernel_params(m, f)
        .into_iter()
        .map(|p| {
            let (elem, shape) = match &p.ty {
                Type::MemRef(mr) => (
                    (*mr.elem).clone(),
                    mr.shape.iter().map(|d| *d as usize).collect(),
                ),
                t => (t.clone(), vec![]),
            };
            let ty = *ALL_TYS
                .iter()
                .find(|t| t.ir() == elem)
                .expect("a known element type");
            Param {
                stream: p.index as u32,
                dtype: DType::from_name(&p.dtype).expect("a .npy dtype"),
                is_scalar: p.memref().is_none(),
                name: p.name,
                ty,
                shape,
                is_output: p.is_output,
            }
        })
        .collect()
}

fn expect_fault(text: &str, inputs: Vec<Tensor>, loc: &str, kind: &str) {
    let m = parse(text);
    let params = params_of(&m);
    let outcome = check_agreement(&m, &params, &inputs).unwrap_or_else(|e| panic!("{e}"));
    match outcome {
        Outcome::Fault { loc: l, message } => {
            assert_eq!(l, loc, "{message}");
            assert_eq!(fault_kind(&message), kind, "{message}");
        }
        Outcome::Finished(_) => panic!("expected `{kind}` at {loc}, both finished"),
    }
}

#[test]
fn use_after_dealloc_is_the_same_error() {
    let text = r#"
func.func @k(%out: memref<4xf32> {accc.name = "out", accc.dtype = "f32", accc.output}) {
  %buf = memref.alloc() : memref<4xf32> loc("d.mlir":2:3)
  affine.for %i = 0 to 4 {
    %c = arith.constant 1.5 : f32 loc("d.mlir":4:5)
    affine.store %c, %buf[%i] : memref<4xf32> loc("d.mlir":5:5)
  } loc("d.mlir":3:3)
  memref.dealloc %buf : memref<4xf32> loc("d.mlir":7:3)
  affine.for %i = 0 to 4 {
    %v = affine.load %buf[%i] : memref<4xf32> loc("d.mlir":9:5)
    affine.store %v, %out[%i] : memref<4xf32> loc("d.mlir":10:5)
  } loc("d.mlir":8:3)
  return loc("d.mlir":12:3)
} loc("d.mlir":1:1)"#;
    expect_fault(
        text,
        vec![Tensor::zeros(DType::F32, vec![4])],
        "d.mlir:9:5",
        "use of a deallocated buffer",
    );
}

/// A non-positive step is an error before the first iteration, also when
/// the range is empty.
#[test]
fn non_positive_scf_step_is_the_same_error() {
    for (step, ub) in [(0i32, 4), (-2, 4), (0, 0), (-1, -3)] {
        let text = r#"
func.func @k(%s: i32 {accc.name = "s", accc.dtype = "i32"}, %out: memref<4xi32> {accc.name = "out", accc.dtype = "i32", accc.output}) {
  %lb = arith.constant 0 : index loc("s.mlir":2:3)
  %ub = arith.constant UB : index loc("s.mlir":3:3)
  %st = arith.index_cast %s : i32 to index loc("s.mlir":4:3)
  scf.for %i = %lb to %ub step %st {
    memref.store %s, %out[%i] : memref<4xi32> loc("s.mlir":6:5)
  } loc("s.mlir":5:3)
  return loc("s.mlir":8:3)
} loc("s.mlir":1:1)"#
            .replace("UB", &ub.to_string());
        let s = Tensor {
            dtype: DType::I32,
            shape: vec![],
            data: vec![canonical_bits(DType::I32, step as i64 as u64)],
        };
        expect_fault(
            &text,
            vec![s, Tensor::zeros(DType::I32, vec![4])],
            "s.mlir:5:3",
            "non-positive step",
        );
    }
}

/// A buffer allocated outside a loop and deallocated inside it is dead in
/// the second iteration, where both its use and the second `dealloc` are
/// errors (the first one reached is reported).
#[test]
fn dealloc_in_a_loop_is_the_same_error() {
    for (first, line) in [("load", "l.mlir:5:5"), ("dealloc", "l.mlir:7:5")] {
        let body = if first == "load" {
            r#"    %v = affine.load %buf[%i] : memref<4xf32> loc("l.mlir":5:5)
    affine.store %v, %out[%i] : memref<4xf32> loc("l.mlir":6:5)
    memref.dealloc %buf : memref<4xf32> loc("l.mlir":7:5)"#
        } else {
            r#"    %c = arith.constant 2.0 : f32 loc("l.mlir":5:5)
    affine.store %c, %out[%i] : memref<4xf32> loc("l.mlir":6:5)
    memref.dealloc %buf : memref<4xf32> loc("l.mlir":7:5)"#
        };
        let text = format!(
            r#"
func.func @k(%out: memref<4xf32> {{accc.name = "out", accc.dtype = "f32", accc.output}}) {{
  %buf = memref.alloc() : memref<4xf32> loc("l.mlir":2:3)
  affine.for %i = 0 to 4 {{
{body}
  }} loc("l.mlir":4:3)
  return loc("l.mlir":9:3)
}} loc("l.mlir":1:1)"#
        );
        expect_fault(
            &text,
            vec![Tensor::zeros(DType::F32, vec![4])],
            line,
            "use of a deallocated buffer",
        );
    }
}

/// Passing a deallocated buffer to a function is a use of it.
#[test]
fn passing_a_deallocated_buffer_is_the_same_error() {
    let text = r#"
func.func @k(%out: memref<2xi32> {accc.name = "out", accc.dtype = "i32", accc.output}) {
  %buf = memref.alloc() : memref<2xi32> loc("p.mlir":2:3)
  memref.dealloc %buf : memref<2xi32> loc("p.mlir":3:3)
  call @helper(%buf, %out) : (memref<2xi32>, memref<2xi32>) -> () loc("p.mlir":4:3)
  return loc("p.mlir":5:3)
} loc("p.mlir":1:1)
func.func @helper(%b: memref<2xi32>, %o: memref<2xi32>) {
  %c = arith.constant 7 : i32 loc("p.mlir":7:3)
  %i = arith.constant 1 : index loc("p.mlir":8:3)
  memref.store %c, %o[%i] : memref<2xi32> loc("p.mlir":9:3)
  return loc("p.mlir":10:3)
} loc("p.mlir":6:1)"#;
    expect_fault(
        text,
        vec![Tensor::zeros(DType::I32, vec![2])],
        "p.mlir:4:3",
        "use of a deallocated buffer",
    );
}

#[test]
fn recursion_is_rejected_by_both() {
    let text = r#"
func.func @k(%out: memref<2xi32> {accc.name = "out", accc.dtype = "i32", accc.output}) {
  call @helper(%out) : (memref<2xi32>) -> () loc("r.mlir":2:3)
  return loc("r.mlir":3:3)
} loc("r.mlir":1:1)
func.func @helper(%b: memref<2xi32>) {
  %c = arith.constant 7 : i32 loc("r.mlir":5:3)
  %i = arith.constant 1 : index loc("r.mlir":6:3)
  memref.store %c, %b[%i] : memref<2xi32> loc("r.mlir":7:3)
  call @k(%b) : (memref<2xi32>) -> () loc("r.mlir":8:3)
  return loc("r.mlir":9:3)
} loc("r.mlir":4:1)"#;
    let m = parse(text);
    let mut args = vec![Tensor::zeros(DType::I32, vec![2])];
    let interp = Interpreter::new(&m).and_then(|i| i.run(KERNEL, &mut args));
    assert!(
        matches!(
            &interp,
            Err(InterpError::Fault { fault: accc_ir::semantics::Fault::Recursion(_), location, .. })
                if location.to_string() == "r.mlir:8:3"
        ),
        "the interpreter should report the recursive call at r.mlir:8:3: {interp:?}"
    );
    let c = ctarget::emit_kernel(&m, KERNEL);
    assert!(
        matches!(&c, Err(CError::Recursion { cycle }) if cycle.len() == 3),
        "the C target should reject the cycle @k -> @helper -> @k: {:?}",
        c.map(|_| "emitted")
    );
}

/// The property's kernels must be able to fail loudly: a missing C compiler
/// is an error, not a skipped test.
#[test]
fn a_c_compiler_is_installed() {
    let cc = ctarget::c_compiler();
    let status = std::process::Command::new(&cc[0]).arg("--version").output();
    assert!(
        status.as_ref().is_ok_and(|o| o.status.success()),
        "the C compiler `{}` cannot run ({:?}); these tests need one: run scripts/setup.sh",
        cc.join(" "),
        status.err()
    );
}

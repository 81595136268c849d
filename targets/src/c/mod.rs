//! The portable C target: a kernel as one C99 program that computes exactly
//! what docs/semantics.md defines, bit for bit, on any host with a C99
//! compiler, IEEE floats without excess precision and a little-endian
//! memory (x86-64, AArch64).
//!
//! [`emit_kernel`] turns a module's kernel into a [`CProgram`]; [`build`]
//! compiles it with `$CC` (flags in [`C_FLAGS`]); [`run`] runs it on a
//! directory of `.npy` inputs and reports the kernel's time.
//!
//! What the emitted C guarantees, and how:
//!
//! - **No undefined behaviour.** Integers are raw bit patterns in `uintN_t`
//!   (`i1` in a `uint8_t`, `index` in a `uint64_t`); arithmetic is unsigned,
//!   in at least `unsigned int`, masked to odd widths. Signed reads convert
//!   to `intN_t` (modulo 2^N in GCC and Clang). Division checks for zero
//!   and handles `MIN / -1`; shifts by the width or more are answered
//!   without shifting; float-to-integer conversions compare before they
//!   convert, so an out-of-range float is never converted. The tests build
//!   the examples with `-fsanitize=undefined,address` and run them.
//! - **The float rules.** `f32`/`f64` are C's `float`/`double` with
//!   `-ffp-contract=off -fno-fast-math` and `FLT_EVAL_METHOD == 0` (checked
//!   by the preprocessor). `f16`/`bf16` are bit patterns converted exactly to
//!   `float`, computed there and rounded back once by the prelude's own
//!   round-to-nearest-even (subnormals, overflow to infinity, NaN stays
//!   NaN). `sitofp` from wide integers to `f16`/`bf16` rounds to odd in
//!   `double` first; `maximumf`, `minnumf` and friends order `-0 < +0`.
//!   Transcendentals are glibc's `expf`/`logf`/`tanhf`, never folded by the
//!   compiler.
//! - **Every error of the semantics is reported** at the op's source
//!   location, on stderr, with exit status 3: division by zero,
//!   out-of-bounds access, use of a deallocated buffer, a non-positive
//!   `scf.for` step (recursion is rejected when emitting). Bounds checks
//!   are left out only where an interval analysis (`bounds.rs`) proves the
//!   index in range, as for a GEMM's loops.
//! - **Readable and deterministic.** One statement per op; values are
//!   `v<N>` as the IR printer numbers them, parameters, buffers and loop
//!   variables keep their source names; each statement nest carries its
//!   source location in a comment. The same module gives the same text.
//!
//! The harness `main` reads inputs from `INPUT_DIR/<name>.npy` (exit status
//! 2 and a message naming the file when one is missing or does not match
//! its parameter), zero-fills outputs, times the kernel call and writes
//! outputs as NumPy's `np.save` does, then prints `kernel_ns <N>`.
//!
//! Not supported (reported as [`CError::Unsupported`]): ops outside the
//! dialects of docs/ir.md, loop-carried values, functions returning
//! buffers, deallocating a parameter, affine divisions by anything but a
//! positive constant, integers wider than 64 bits.

mod bounds;
mod emit;
mod error;
mod harness;
pub(crate) mod names;
mod run;

pub use emit::{emit_kernel, emit_reference, CProgram};
pub use error::CError;
pub use run::{build, build_with_flags, c_compiler, run, run_with_env, CExecutable, CRun, C_FLAGS};

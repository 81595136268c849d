//! Dense tensors for accc: the values a kernel reads and writes, how they are
//! stored in `.npy` files, how random inputs are generated, and how outputs
//! are compared.
//!
//! This crate implements the "Values" and "Kernels, inputs and outputs"
//! sections of `docs/semantics.md`:
//!
//! - [`DType`] is the element type of a kernel parameter (`i8` … `f64`,
//!   including the unsigned and `bf16` types that only matter at the `.npy`
//!   boundary).
//! - [`Tensor`] is a dense row-major array whose elements are stored as raw
//!   bits in canonical form (see [`canonical_bits`]), so every element type
//!   shares one representation and equality is bit equality.
//! - [`npy`] reads and writes NumPy's `.npy` format, byte-for-byte as NumPy
//!   writes it, and rejects every malformed file with a message naming it.
//! - [`random`] generates the seeded inputs (`--seed`, `--dist`).
//! - [`compare`] compares outputs bit for bit, treating all NaNs as equal.
//!
//! It depends on no other accc crate.

#![warn(missing_docs)]

pub mod compare;
mod dtype;
mod float;
pub mod npy;
pub mod random;
mod tensor;

pub use dtype::DType;
pub use tensor::{canonical_bits, Tensor};

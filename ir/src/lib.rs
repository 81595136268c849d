//! accc-ir: the IR core every other crate stands on.
//!
//! MLIR's concepts implemented natively in Rust: a [`Module`] owns ops,
//! regions, blocks and values in arenas named by typed ids; ops carry a
//! `dialect.op` name, operands, results, attributes and regions. The text
//! form is MLIR's (see `docs/ir.md`).
//!
//! Map of the crate:
//! - [`entity`]: the typed ids; [`module`]: the arenas, use lists, rewriting
//!   (replace, erase, move, clone with a value map);
//! - [`types`], [`attrs`], [`affine`]: types, attributes, affine maps/sets;
//! - [`builder`]: an insertion point plus constructors for the dialects'
//!   ops; [`dialects`]: per-dialect op knowledge (names, verification);
//! - [`verify`]: the structural verifier; [`diag`]: located diagnostics;
//! - [`text`]: MLIR's textual form (printer, parser, structural equality).

pub mod affine;
pub mod attrs;
pub mod builder;
pub mod diag;
pub mod dialects;
pub mod entity;
pub mod module;
pub mod semantics;
pub mod text;
pub mod types;
pub mod verify;

pub use affine::{AffineExpr, AffineMap, IntegerSet};
pub use attrs::Attribute;
pub use builder::Builder;
pub use entity::{Block, Op, Region, Value};
pub use module::{IrError, Location, Module, OpData, OpSpec, Use, ValueDef, ValueMap};
pub use text::{parse_module, print_module, structurally_equal};
pub use types::{FunctionType, MemRefType, MemorySpace, Type};
pub use verify::{verify_module, VerifyError};

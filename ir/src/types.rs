//! IR types: signless integers, index, floats, memrefs with a memory space,
//! function types, and opaque dialect types (`!nvws.aref<...>`).
//!
//! Integers are signless as in MLIR: signedness lives in the ops
//! (`arith.divsi` vs `arith.divui`), and the source type of a kernel argument
//! is kept as an `accc.dtype` argument attribute.

use std::fmt;

/// A memory space of a memref: MLIR allows any attribute; accc uses integers
/// or names (`"scratchpad"`, `"accumulator"`, `"sbuf"`, `"shared"`).
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum MemorySpace {
    Int(u64),
    Name(String),
}

impl fmt::Display for MemorySpace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemorySpace::Int(n) => write!(f, "{n}"),
            MemorySpace::Name(s) => write!(f, "{}", crate::attrs::quote_string(s)),
        }
    }
}

#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct MemRefType {
    /// Static extents; accc has no dynamic shapes.
    pub shape: Vec<i64>,
    pub elem: Box<Type>,
    pub memory_space: Option<MemorySpace>,
}

impl MemRefType {
    pub fn num_elements(&self) -> i64 {
        self.shape.iter().product()
    }
    pub fn rank(&self) -> usize {
        self.shape.len()
    }
}

#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct FunctionType {
    pub inputs: Vec<Type>,
    pub results: Vec<Type>,
}

#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Type {
    /// Signless integer of the given width (`i1`, `i8`, ..., `i64`).
    Int(u32),
    Index,
    F16,
    BF16,
    F32,
    F64,
    MemRef(MemRefType),
    Function(FunctionType),
    /// A type of a dialect accc does not model structurally: `!dialect.body`.
    Opaque {
        dialect: String,
        body: String,
    },
}

impl Type {
    pub fn i1() -> Type {
        Type::Int(1)
    }
    pub fn memref(shape: Vec<i64>, elem: Type, memory_space: Option<MemorySpace>) -> Type {
        Type::MemRef(MemRefType {
            shape,
            elem: Box::new(elem),
            memory_space,
        })
    }
    pub fn is_int(&self) -> bool {
        matches!(self, Type::Int(_))
    }
    pub fn is_float(&self) -> bool {
        matches!(self, Type::F16 | Type::BF16 | Type::F32 | Type::F64)
    }
    pub fn is_int_or_index(&self) -> bool {
        matches!(self, Type::Int(_) | Type::Index)
    }
    /// Integers, index and floats: what arith and math compute on.
    pub fn is_scalar(&self) -> bool {
        self.is_int_or_index() || self.is_float()
    }
    pub fn int_width(&self) -> Option<u32> {
        match self {
            Type::Int(w) => Some(*w),
            _ => None,
        }
    }
    /// Bit width of a float type.
    pub fn float_width(&self) -> Option<u32> {
        match self {
            Type::F16 | Type::BF16 => Some(16),
            Type::F32 => Some(32),
            Type::F64 => Some(64),
            _ => None,
        }
    }
    pub fn as_memref(&self) -> Option<&MemRefType> {
        match self {
            Type::MemRef(m) => Some(m),
            _ => None,
        }
    }
    pub fn as_function(&self) -> Option<&FunctionType> {
        match self {
            Type::Function(f) => Some(f),
            _ => None,
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Int(w) => write!(f, "i{w}"),
            Type::Index => write!(f, "index"),
            Type::F16 => write!(f, "f16"),
            Type::BF16 => write!(f, "bf16"),
            Type::F32 => write!(f, "f32"),
            Type::F64 => write!(f, "f64"),
            Type::MemRef(m) => {
                write!(f, "memref<")?;
                for d in &m.shape {
                    write!(f, "{d}x")?;
                }
                write!(f, "{}", m.elem)?;
                if let Some(space) = &m.memory_space {
                    write!(f, ", {space}")?;
                }
                write!(f, ">")
            }
            Type::Function(ft) => {
                write!(f, "(")?;
                for (i, t) in ft.inputs.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{t}")?;
                }
                write!(f, ") -> ")?;
                if ft.results.len() == 1 && !matches!(ft.results[0], Type::Function(_)) {
                    write!(f, "{}", ft.results[0])
                } else {
                    write!(f, "(")?;
                    for (i, t) in ft.results.iter().enumerate() {
                        if i > 0 {
                            write!(f, ", ")?;
                        }
                        write!(f, "{t}")?;
                    }
                    write!(f, ")")
                }
            }
            Type::Opaque { dialect, body } => write!(f, "!{dialect}.{body}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_mlir() {
        let t = Type::memref(
            vec![16, 16],
            Type::Int(8),
            Some(MemorySpace::Name("scratchpad".into())),
        );
        assert_eq!(t.to_string(), "memref<16x16xi8, \"scratchpad\">");
        assert_eq!(
            Type::memref(vec![], Type::F32, None).to_string(),
            "memref<f32>"
        );
        let f = Type::Function(FunctionType {
            inputs: vec![Type::Int(32), Type::Index],
            results: vec![],
        });
        assert_eq!(f.to_string(), "(i32, index) -> ()");
    }
}

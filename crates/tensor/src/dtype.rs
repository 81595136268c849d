//! Element types of kernel parameters.
//!
//! A [`DType`] is the *source* type of a parameter: the IR itself only has
//! signless integers, so `i8` and `u8` are the same IR type and differ only
//! in how their values are read, printed and stored in `.npy` files.

use std::fmt;

/// The element type of a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// 8-bit two's-complement integer.
    I8,
    /// 16-bit two's-complement integer.
    I16,
    /// 32-bit two's-complement integer.
    I32,
    /// 64-bit two's-complement integer.
    I64,
    /// 8-bit unsigned integer.
    U8,
    /// 16-bit unsigned integer.
    U16,
    /// 32-bit unsigned integer.
    U32,
    /// 64-bit unsigned integer.
    U64,
    /// IEEE 754 binary16.
    F16,
    /// bfloat16: binary32 with the low 16 significand bits dropped.
    BF16,
    /// IEEE 754 binary32.
    F32,
    /// IEEE 754 binary64.
    F64,
}

impl DType {
    /// Every element type, in declaration order.
    pub const ALL: [DType; 12] = [
        DType::I8,
        DType::I16,
        DType::I32,
        DType::I64,
        DType::U8,
        DType::U16,
        DType::U32,
        DType::U64,
        DType::F16,
        DType::BF16,
        DType::F32,
        DType::F64,
    ];

    /// The type named `s` (`"i8"`, `"u16"`, `"bf16"`, `"f32"`, …), the
    /// inverse of [`DType::name`]. Names are case-sensitive.
    pub fn from_name(s: &str) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.name() == s)
    }

    /// The type's name as written in accc source and messages.
    pub fn name(self) -> &'static str {
        match self {
            DType::I8 => "i8",
            DType::I16 => "i16",
            DType::I32 => "i32",
            DType::I64 => "i64",
            DType::U8 => "u8",
            DType::U16 => "u16",
            DType::U32 => "u32",
            DType::U64 => "u64",
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            DType::F32 => "f32",
            DType::F64 => "f64",
        }
    }

    /// The width of one element in bits.
    pub fn bits(self) -> u32 {
        match self {
            DType::I8 | DType::U8 => 8,
            DType::I16 | DType::U16 | DType::F16 | DType::BF16 => 16,
            DType::I32 | DType::U32 | DType::F32 => 32,
            DType::I64 | DType::U64 | DType::F64 => 64,
        }
    }

    /// The width of one element in bytes.
    pub fn bytes(self) -> usize {
        self.bits() as usize / 8
    }

    /// Whether this is a floating-point type (`f16`, `bf16`, `f32`, `f64`).
    pub fn is_float(self) -> bool {
        matches!(self, DType::F16 | DType::BF16 | DType::F32 | DType::F64)
    }

    /// Whether values of this type can be negative: signed integers and
    /// floats.
    pub fn is_signed(self) -> bool {
        !matches!(self, DType::U8 | DType::U16 | DType::U32 | DType::U64)
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for d in DType::ALL {
            assert_eq!(DType::from_name(d.name()), Some(d));
            assert_eq!(d.to_string(), d.name());
        }
        assert_eq!(DType::from_name("F32"), None);
        assert_eq!(DType::from_name("i1"), None);
        assert_eq!(DType::from_name(""), None);
    }

    #[test]
    fn properties() {
        assert_eq!(DType::BF16.bits(), 16);
        assert_eq!(DType::U64.bytes(), 8);
        assert!(DType::BF16.is_float() && DType::BF16.is_signed());
        assert!(DType::I8.is_signed() && !DType::I8.is_float());
        assert!(!DType::U32.is_signed());
    }
}

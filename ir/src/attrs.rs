//! Attributes: compile-time constants attached to ops (MLIR's builtin
//! attributes that accc uses).
//!
//! Floats are stored as the bits of an `f64` so attributes can be compared
//! and hashed exactly; the attribute's type says at which precision the value
//! is meant.

use crate::affine::{AffineMap, IntegerSet};
use crate::types::Type;
use std::collections::BTreeMap;
use std::fmt;

#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Attribute {
    Unit,
    Bool(bool),
    /// An integer of an integer or index type (`16 : i64`, `3 : index`).
    Int {
        value: i64,
        ty: Type,
    },
    /// A float of a float type, as `f64` bits.
    Float {
        bits: u64,
        ty: Type,
    },
    String(String),
    Type(Type),
    AffineMap(AffineMap),
    IntegerSet(IntegerSet),
    Array(Vec<Attribute>),
    /// `array<i32: 1, 2>` (MLIR's DenseArrayAttr), used for operandSegmentSizes.
    DenseArray {
        elem: Type,
        values: Vec<i64>,
    },
    Dict(BTreeMap<String, Attribute>),
    /// `@name`.
    SymbolRef(String),
}

impl Attribute {
    pub fn int(value: i64, ty: Type) -> Attribute {
        Attribute::Int { value, ty }
    }
    pub fn index(value: i64) -> Attribute {
        Attribute::Int {
            value,
            ty: Type::Index,
        }
    }
    pub fn i64(value: i64) -> Attribute {
        Attribute::Int {
            value,
            ty: Type::Int(64),
        }
    }
    pub fn float(value: f64, ty: Type) -> Attribute {
        Attribute::Float {
            bits: value.to_bits(),
            ty,
        }
    }
    pub fn string(s: impl Into<String>) -> Attribute {
        Attribute::String(s.into())
    }
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Attribute::Int { value, .. } => Some(*value),
            _ => None,
        }
    }
    pub fn as_float(&self) -> Option<f64> {
        match self {
            Attribute::Float { bits, .. } => Some(f64::from_bits(*bits)),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Attribute::String(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_type(&self) -> Option<&Type> {
        match self {
            Attribute::Type(t) => Some(t),
            _ => None,
        }
    }
    pub fn as_affine_map(&self) -> Option<&AffineMap> {
        match self {
            Attribute::AffineMap(m) => Some(m),
            _ => None,
        }
    }
    pub fn as_integer_set(&self) -> Option<&IntegerSet> {
        match self {
            Attribute::IntegerSet(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_symbol(&self) -> Option<&str> {
        match self {
            Attribute::SymbolRef(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_array(&self) -> Option<&[Attribute]> {
        match self {
            Attribute::Array(a) => Some(a),
            _ => None,
        }
    }
    pub fn as_dict(&self) -> Option<&BTreeMap<String, Attribute>> {
        match self {
            Attribute::Dict(d) => Some(d),
            _ => None,
        }
    }
}

/// Quotes a string the way MLIR prints string attributes.
pub fn quote_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for b in s.bytes() {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\{b:02X}")),
        }
    }
    out.push('"');
    out
}

/// Prints a float so that parsing the text gives back the same bits: MLIR
/// accepts decimal literals with a dot or an exponent, and hexadecimal bit
/// patterns (`0x7F800000 : f32`) for infinities and NaNs.
pub fn format_float(value: f64, ty: &Type) -> String {
    if value.is_finite() {
        // MLIR's float literals need a dot before any exponent.
        let s = format!("{value:?}");
        match (s.find('.'), s.find('e')) {
            (Some(_), _) => s,
            (None, Some(e)) => format!("{}.0{}", &s[..e], &s[e..]),
            (None, None) => format!("{s}.0"),
        }
    } else {
        let bits: u64 = match ty {
            Type::F32 => u64::from((value as f32).to_bits()),
            Type::F16 => u64::from(f16_bits_of_nonfinite(value)),
            Type::BF16 => u64::from(((value as f32).to_bits() >> 16) as u16),
            _ => value.to_bits(),
        };
        let width = ty.float_width().unwrap_or(64) as usize / 4;
        format!("0x{bits:0width$X}")
    }
}

fn f16_bits_of_nonfinite(value: f64) -> u16 {
    if value.is_nan() {
        // Keep the sign so that `-nan` prints back to itself.
        if value.is_sign_negative() {
            0xFE00
        } else {
            0x7E00
        }
    } else if value > 0.0 {
        0x7C00
    } else {
        0xFC00
    }
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Attribute::Unit => write!(f, "unit"),
            Attribute::Bool(b) => write!(f, "{b}"),
            Attribute::Int { value, ty } => {
                if *ty == Type::Int(1) {
                    write!(f, "{}", *value != 0)
                } else {
                    write!(f, "{value} : {ty}")
                }
            }
            Attribute::Float { bits, ty } => {
                write!(f, "{} : {ty}", format_float(f64::from_bits(*bits), ty))
            }
            Attribute::String(s) => write!(f, "{}", quote_string(s)),
            Attribute::Type(t) => write!(f, "{t}"),
            Attribute::AffineMap(m) => write!(f, "affine_map<{m}>"),
            Attribute::IntegerSet(s) => write!(f, "affine_set<{s}>"),
            Attribute::Array(items) => {
                write!(f, "[")?;
                for (i, a) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{a}")?;
                }
                write!(f, "]")
            }
            Attribute::DenseArray { elem, values } => {
                write!(f, "array<{elem}")?;
                for (i, v) in values.iter().enumerate() {
                    write!(f, "{}{v}", if i == 0 { ": " } else { ", " })?;
                }
                write!(f, ">")
            }
            Attribute::Dict(d) => {
                write!(f, "{{")?;
                for (i, (k, v)) in d.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write_attr_entry(f, k, v)?;
                }
                write!(f, "}}")
            }
            Attribute::SymbolRef(s) => write!(f, "@{}", print_symbol(s)),
        }
    }
}

/// `name = value`, or `name` alone for a unit attribute, as in MLIR dictionaries.
pub fn write_attr_entry(f: &mut impl fmt::Write, name: &str, value: &Attribute) -> fmt::Result {
    let key = if is_bare_identifier(name) {
        name.to_string()
    } else {
        quote_string(name)
    };
    match value {
        Attribute::Unit => write!(f, "{key}"),
        _ => write!(f, "{key} = {value}"),
    }
}

/// MLIR's bare identifiers: `[a-zA-Z_][a-zA-Z0-9_$.]*`.
pub fn is_bare_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '.'))
}

/// Symbol names print bare when they are identifiers, quoted otherwise.
pub fn print_symbol(s: &str) -> String {
    if is_bare_identifier(s) {
        s.to_string()
    } else {
        quote_string(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_exactly() {
        assert_eq!(format_float(1.0, &Type::F32), "1.0");
        assert_eq!(format_float(1e-5, &Type::F32), "1.0e-5");
        assert_eq!(format_float(f64::INFINITY, &Type::F32), "0x7F800000");
        assert_eq!(format_float(f64::NEG_INFINITY, &Type::F16), "0xFC00");
    }

    #[test]
    fn dictionaries_print_like_mlir() {
        let mut d = BTreeMap::new();
        d.insert("loop_name".to_string(), Attribute::string("i"));
        d.insert("accc.output".to_string(), Attribute::Unit);
        assert_eq!(
            Attribute::Dict(d).to_string(),
            "{accc.output, loop_name = \"i\"}"
        );
    }
}

//! Comparing a kernel's output with the expected one.
//!
//! Guarantees: two tensors match exactly when every element has the same
//! bits, except that any two NaNs match (NaN payloads and signs are not
//! specified, `docs/semantics.md`). `-0.0` and `+0.0` do not match.

use thiserror::Error;

use crate::float::is_nan;
use crate::{DType, Tensor};

/// The first element that differs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// Its multi-index.
    pub index: Vec<usize>,
    /// The expected element, as [`Tensor::format_element`] prints it.
    pub expected: String,
    /// The element found.
    pub got: String,
}

/// The result of comparing two tensors of the same type and shape.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// How many elements were compared.
    pub elements: usize,
    /// How many differ.
    pub mismatches: usize,
    /// The first differing element in row-major order, if any.
    pub first: Option<Mismatch>,
    /// The largest `|expected - got|` over the numeric values: 0 when all
    /// match, infinite where a NaN meets a non-NaN or infinities differ.
    /// Pairs of NaNs are ignored. Exact for integers up to 2^53.
    pub max_abs_err: f64,
}

impl Comparison {
    /// Whether the tensors match.
    pub fn is_match(&self) -> bool {
        self.mismatches == 0
    }
}

/// The tensors cannot be compared element by element.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[allow(missing_docs)] // The fields are what their names say.
pub enum CompareError {
    /// The element types differ.
    #[error("cannot compare: expected element type {expected}, got {got}")]
    Dtype { expected: DType, got: DType },
    /// The shapes differ.
    #[error("cannot compare: expected shape {expected:?}, got {got:?}")]
    Shape {
        expected: Vec<usize>,
        got: Vec<usize>,
    },
}

/// Compares `got` against `expected` element by element.
///
/// # Errors
/// [`CompareError`] if the element types or shapes differ.
pub fn compare(expected: &Tensor, got: &Tensor) -> Result<Comparison, CompareError> {
    if expected.dtype != got.dtype {
        return Err(CompareError::Dtype {
            expected: expected.dtype,
            got: got.dtype,
        });
    }
    if expected.shape != got.shape {
        return Err(CompareError::Shape {
            expected: expected.shape.clone(),
            got: got.shape.clone(),
        });
    }
    let dtype = expected.dtype;
    let mut comparison = Comparison {
        elements: expected.len(),
        mismatches: 0,
        first: None,
        max_abs_err: 0.0,
    };
    for (flat, (&e, &g)) in expected.data.iter().zip(&got.data).enumerate() {
        let (e_nan, g_nan) = (is_nan(dtype, e), is_nan(dtype, g));
        if e == g || (e_nan && g_nan) {
            continue;
        }
        comparison.mismatches += 1;
        if comparison.first.is_none() {
            comparison.first = Some(Mismatch {
                index: expected.unravel(flat),
                expected: expected.format_element(flat),
                got: got.format_element(flat),
            });
        }
        let err = if e_nan || g_nan {
            f64::INFINITY
        } else {
            abs_diff(expected, got, flat)
        };
        comparison.max_abs_err = comparison.max_abs_err.max(err);
    }
    Ok(comparison)
}

/// `|expected - got|` at `flat`; integers are subtracted exactly first, so
/// large 64-bit values that differ never show an error of 0. Infinities of
/// the same sign have equal bits and never get here.
fn abs_diff(expected: &Tensor, got: &Tensor, flat: usize) -> f64 {
    if expected.dtype.is_float() {
        return (expected.to_f64(flat) - got.to_f64(flat)).abs();
    }
    let as_i128 = |t: &Tensor| -> i128 {
        let bits = t.data[flat];
        match t.dtype {
            DType::I8 => i128::from(bits as u8 as i8),
            DType::I16 => i128::from(bits as u16 as i16),
            DType::I32 => i128::from(bits as u32 as i32),
            DType::I64 => i128::from(bits as i64),
            _ => i128::from(bits),
        }
    };
    (as_i128(expected) - as_i128(got)).unsigned_abs() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32s(values: &[f64]) -> Tensor {
        Tensor::from_f64s(DType::F32, vec![values.len()], values)
    }

    fn comparison(expected: &Tensor, got: &Tensor) -> Comparison {
        compare(expected, got).expect("the tests compare tensors of one type and shape")
    }

    #[test]
    fn equal_tensors_match() {
        let a = f32s(&[1.0, -2.5, f64::INFINITY]);
        assert_eq!(
            comparison(&a, &a.clone()),
            Comparison {
                elements: 3,
                mismatches: 0,
                first: None,
                max_abs_err: 0.0
            }
        );
    }

    #[test]
    fn nans_match_any_nan() {
        let mut a = f32s(&[f64::NAN, 1.0]);
        let b = a.clone();
        a.data[0] = 0xffc0_0001; // another NaN payload, negative sign
        let c = comparison(&a, &b);
        assert_eq!((c.mismatches, c.max_abs_err), (0, 0.0));
        assert!(c.is_match());
    }

    #[test]
    fn signed_zeros_differ() {
        let c = comparison(&f32s(&[0.0]), &f32s(&[-0.0]));
        assert_eq!(c.mismatches, 1);
        assert_eq!(c.max_abs_err, 0.0);
        assert_eq!(
            c.first,
            Some(Mismatch {
                index: vec![0],
                expected: "0.0".into(),
                got: "-0.0".into()
            })
        );
    }

    #[test]
    fn nan_against_number_is_infinite_error() {
        let c = comparison(&f32s(&[1.0, 2.0]), &f32s(&[1.5, f64::NAN]));
        assert_eq!((c.mismatches, c.max_abs_err), (2, f64::INFINITY));
        let c = comparison(&f32s(&[f64::INFINITY]), &f32s(&[f64::NEG_INFINITY]));
        assert_eq!((c.mismatches, c.max_abs_err), (1, f64::INFINITY));
    }

    #[test]
    fn first_mismatch_has_multi_index() {
        let e = Tensor::from_f64s(DType::I8, vec![2, 2], &[1.0, 2.0, 3.0, 4.0]);
        let g = Tensor::from_f64s(DType::I8, vec![2, 2], &[1.0, 2.0, -3.0, 5.0]);
        let c = comparison(&e, &g);
        assert_eq!(c.mismatches, 2);
        assert_eq!(c.max_abs_err, 6.0);
        assert_eq!(
            c.first,
            Some(Mismatch {
                index: vec![1, 0],
                expected: "3".into(),
                got: "-3".into()
            })
        );
        assert!(!c.is_match());
    }

    #[test]
    fn large_u64_difference_is_exact() {
        let e = Tensor {
            dtype: DType::U64,
            shape: vec![1],
            data: vec![u64::MAX],
        };
        let g = Tensor {
            dtype: DType::U64,
            shape: vec![1],
            data: vec![u64::MAX - 1],
        };
        assert_eq!(comparison(&e, &g).max_abs_err, 1.0);
    }

    #[test]
    fn type_and_shape_must_agree() {
        let a = Tensor::zeros(DType::I8, vec![2, 3]);
        let b = Tensor::zeros(DType::F32, vec![2, 3]);
        let c = Tensor::zeros(DType::I8, vec![3, 2]);
        assert_eq!(
            compare(&a, &b).map_err(|e| e.to_string()),
            Err("cannot compare: expected element type i8, got f32".to_string())
        );
        assert_eq!(
            compare(&a, &c).map_err(|e| e.to_string()),
            Err("cannot compare: expected shape [2, 3], got [3, 2]".to_string())
        );
    }
}

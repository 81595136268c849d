//! The dense tensor type.
//!
//! Every element is stored as its raw bits in canonical form (see
//! [`canonical_bits`]), whatever its type, so equality of tensors is bit
//! equality and no conversion ever happens by accident.

use crate::float;
use crate::DType;

/// A dense row-major tensor.
///
/// `data` holds each element's bits in canonical form: the low
/// `dtype.bits()` bits, all higher bits zero (an `i8` -1 is `0xff`, an `f32`
/// is its `to_bits()` as `u64`, `f16`/`bf16` their 16 raw bits). A scalar is
/// a rank-0 tensor (shape `[]`) with one element.
///
/// The fields are public for the interpreter's sake; code that builds a
/// tensor by hand must keep `data.len()` equal to the product of `shape` and
/// every element canonical.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// The element type.
    pub dtype: DType,
    /// The size of each dimension, outermost first; empty for a scalar.
    pub shape: Vec<usize>,
    /// The elements' canonical bits in row-major order.
    pub data: Vec<u64>,
}

/// `raw` masked to the width of `dtype`: its canonical form.
pub fn canonical_bits(dtype: DType, raw: u64) -> u64 {
    match dtype.bits() {
        64 => raw,
        bits => raw & ((1u64 << bits) - 1),
    }
}

/// The number of elements of `shape`, or `None` if it overflows `usize`.
pub(crate) fn element_count(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
}

impl Tensor {
    /// A tensor of `shape` with every element's bits zero (`+0.0` for
    /// floats), as outputs start.
    ///
    /// # Panics
    /// If the element count of `shape` overflows `usize` (no such tensor
    /// could exist in memory).
    pub fn zeros(dtype: DType, shape: Vec<usize>) -> Tensor {
        let len = element_count(&shape)
            .unwrap_or_else(|| panic!("shape {shape:?} has more elements than fit in memory"));
        Tensor {
            dtype,
            shape,
            data: vec![0; len],
        }
    }

    /// A tensor of `shape` holding `values` converted to `dtype`.
    ///
    /// Floats round to nearest-even (out-of-range values become infinite).
    /// Integers are rounded toward zero and **saturated** to the type's
    /// range, NaN giving 0, as `fptosi`/`fptoui` do: `-1.9` becomes `-1` for
    /// `i8`, `300.0` becomes `127`, and `-5.0` becomes `0` for `u8`.
    ///
    /// # Panics
    /// If `values.len()` is not the element count of `shape`; this is meant
    /// for tests and constants, whose sizes are known.
    pub fn from_f64s(dtype: DType, shape: Vec<usize>, values: &[f64]) -> Tensor {
        let len = element_count(&shape);
        assert_eq!(
            len,
            Some(values.len()),
            "Tensor::from_f64s: shape {shape:?} does not hold {} values",
            values.len()
        );
        let data = values
            .iter()
            .map(|&x| float::bits_from_f64(dtype, x))
            .collect();
        Tensor { dtype, shape, data }
    }

    /// The number of elements (1 for a scalar).
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the tensor has no elements (some dimension is 0).
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The numeric value of the element at flat index `flat`: signed
    /// integers are sign-extended, unsigned ones zero-extended; 64-bit
    /// integers beyond 2^53 round to the nearest `f64`.
    ///
    /// # Panics
    /// If `flat >= self.len()`.
    pub fn to_f64(&self, flat: usize) -> f64 {
        float::f64_from_bits(self.dtype, self.data[flat])
    }

    /// The text of the element at flat index `flat`: integers in decimal
    /// (`-3`, `255`), floats as the shortest text that reads back to the same
    /// value in their type, laid out like Python's `repr` (`0.5`, `-0.0`,
    /// `1e-05`, `nan`, `-inf`).
    ///
    /// # Panics
    /// If `flat >= self.len()`.
    pub fn format_element(&self, flat: usize) -> String {
        let bits = self.data[flat];
        if self.dtype.is_float() {
            return float::format_float(self.dtype, bits);
        }
        match self.dtype {
            DType::I8 => (bits as u8 as i8).to_string(),
            DType::I16 => (bits as u16 as i16).to_string(),
            DType::I32 => (bits as u32 as i32).to_string(),
            DType::I64 => (bits as i64).to_string(),
            _ => bits.to_string(),
        }
    }

    /// The multi-index (one entry per dimension) of flat index `flat` in
    /// row-major order; `[]` for a scalar.
    ///
    /// # Panics
    /// If `flat >= self.len()`.
    pub fn unravel(&self, flat: usize) -> Vec<usize> {
        assert!(
            flat < self.len(),
            "Tensor::unravel: flat index {flat} out of range for shape {:?}",
            self.shape
        );
        let mut index = vec![0; self.shape.len()];
        let mut rest = flat;
        for (slot, &dim) in index.iter_mut().zip(&self.shape).rev() {
            *slot = rest % dim;
            rest /= dim;
        }
        index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_masks_to_width() {
        assert_eq!(canonical_bits(DType::I8, u64::MAX), 0xff);
        assert_eq!(canonical_bits(DType::BF16, 0x1_2345), 0x2345);
        assert_eq!(canonical_bits(DType::U32, u64::MAX), 0xffff_ffff);
        assert_eq!(canonical_bits(DType::F64, u64::MAX), u64::MAX);
    }

    #[test]
    fn zeros_and_scalars() {
        let t = Tensor::zeros(DType::F32, vec![2, 3]);
        assert_eq!(t.len(), 6);
        assert!(!t.is_empty());
        assert!(t.data.iter().all(|&b| b == 0));
        let s = Tensor::zeros(DType::I8, vec![]);
        assert_eq!(s.len(), 1);
        assert_eq!(s.unravel(0), Vec::<usize>::new());
        assert!(Tensor::zeros(DType::I8, vec![3, 0]).is_empty());
    }

    #[test]
    #[should_panic(expected = "more elements than fit in memory")]
    fn zeros_of_impossible_shape_panics() {
        Tensor::zeros(DType::I8, vec![usize::MAX, 2]);
    }

    #[test]
    fn values_and_text() {
        let t = Tensor::from_f64s(DType::I8, vec![4], &[-3.0, 127.0, -128.0, 0.0]);
        assert_eq!(t.data, vec![0xfd, 0x7f, 0x80, 0]);
        assert_eq!(t.to_f64(0), -3.0);
        assert_eq!(t.format_element(0), "-3");
        assert_eq!(t.format_element(2), "-128");
        let u = Tensor::from_f64s(DType::U64, vec![1], &[1e30]);
        assert_eq!(u.format_element(0), u64::MAX.to_string());
        let f = Tensor::from_f64s(DType::F32, vec![2], &[0.5, f64::NEG_INFINITY]);
        assert_eq!(f.format_element(0), "0.5");
        assert_eq!(f.format_element(1), "-inf");
        let h = Tensor::from_f64s(DType::F16, vec![1], &[-2.0]);
        assert_eq!(h.data, vec![0xc000]);
        assert_eq!(h.to_f64(0), -2.0);
        let b = Tensor::from_f64s(DType::BF16, vec![1], &[1.0]);
        assert_eq!(b.data, vec![0x3f80]);
    }

    #[test]
    #[should_panic(expected = "does not hold 3 values")]
    fn from_f64s_checks_length() {
        Tensor::from_f64s(DType::F32, vec![2, 2], &[1.0, 2.0, 3.0]);
    }

    #[test]
    fn unravel_is_row_major() {
        let t = Tensor::zeros(DType::I32, vec![2, 3, 4]);
        assert_eq!(t.unravel(0), vec![0, 0, 0]);
        assert_eq!(t.unravel(5), vec![0, 1, 1]);
        assert_eq!(t.unravel(23), vec![1, 2, 3]);
    }
}

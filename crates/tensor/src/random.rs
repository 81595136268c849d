//! Seeded random inputs (`accc run --seed N --dist D`).
//!
//! Guarantees: [`generate`] depends only on its arguments, on every platform
//! and in every build. Each parameter draws from its own ChaCha8 stream,
//! keyed by a hash (FNV-1a, written here because std's hasher is not stable
//! across releases) of the seed and the parameter's name, so adding or
//! reordering parameters does not change any other parameter's values.
//! Values are built from the generator's raw 64-bit outputs rather than
//! through `rand`'s distributions, whose algorithms may change between
//! versions; a golden test pins the stream.

use std::fmt;
use std::str::FromStr;

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use thiserror::Error;

use crate::float::bits_from_f64;
use crate::tensor::element_count;
use crate::{canonical_bits, DType, Tensor};

/// How random inputs are distributed (`docs/semantics.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Distribution {
    /// Integers uniform over their type's full range; floats uniform in
    /// `[-1, 1)`, rounded to nearest-even in their type (so a narrow type
    /// can, rarely, round up to exactly 1.0).
    #[default]
    Uniform,
    /// Each element 1 with probability 1/8 and 0 otherwise, for every type:
    /// the inputs Autocomp's Gemmini harness uses.
    Sparse,
}

impl Distribution {
    /// Every distribution, in the order help text lists them.
    pub const ALL: [Distribution; 2] = [Distribution::Uniform, Distribution::Sparse];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Distribution::Uniform => "uniform",
            Distribution::Sparse => "sparse",
        }
    }
}

impl fmt::Display for Distribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A distribution name that is not one of [`Distribution::ALL`].
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("unknown distribution `{0}`; expected one of: uniform, sparse")]
pub struct UnknownDistribution(pub String);

impl FromStr for Distribution {
    type Err = UnknownDistribution;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Distribution::ALL
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| UnknownDistribution(s.to_string()))
    }
}

/// A tensor of `dtype` and `shape` drawn from `dist`, determined by `seed`
/// and `stream` (the parameter's name) alone.
///
/// # Panics
/// If the element count of `shape` overflows `usize`.
pub fn generate(
    dtype: DType,
    shape: &[usize],
    dist: Distribution,
    seed: u64,
    stream: &str,
) -> Tensor {
    let len = element_count(shape)
        .unwrap_or_else(|| panic!("shape {shape:?} has more elements than fit in memory"));
    let mut rng = stream_rng(seed, stream);
    let one = bits_from_f64(dtype, 1.0);
    let data = (0..len)
        .map(|_| {
            let raw = rng.next_u64();
            match dist {
                Distribution::Uniform if dtype.is_float() => {
                    bits_from_f64(dtype, unit_interval(raw) * 2.0 - 1.0)
                }
                Distribution::Uniform => canonical_bits(dtype, raw),
                // The top three bits are all zero with probability 1/8.
                Distribution::Sparse if raw >> 61 == 0 => one,
                Distribution::Sparse => 0,
            }
        })
        .collect();
    Tensor {
        dtype,
        shape: shape.to_vec(),
        data,
    }
}

/// A uniform value in `[0, 1)` from the top 53 bits of `raw`: every
/// multiple of 2^-53 equally likely. Doubling it and subtracting 1 is exact.
fn unit_interval(raw: u64) -> f64 {
    (raw >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// The generator for one parameter.
fn stream_rng(seed: u64, stream: &str) -> ChaCha8Rng {
    // The seed has a fixed width, so seed ‖ name is unambiguous.
    let mut state = fnv1a64(seed.to_le_bytes().iter().chain(stream.as_bytes()).copied());
    let mut key = [0u8; 32];
    for word in key.chunks_exact_mut(8) {
        word.copy_from_slice(&splitmix64(&mut state).to_le_bytes());
    }
    ChaCha8Rng::from_seed(key)
}

/// 64-bit FNV-1a.
fn fnv1a64(bytes: impl IntoIterator<Item = u8>) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.into_iter().fold(OFFSET_BASIS, |hash, b| {
        (hash ^ u64::from(b)).wrapping_mul(PRIME)
    })
}

/// SplitMix64, to spread the 64-bit hash over the 256-bit ChaCha key.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_matches_reference_vectors() {
        assert_eq!(fnv1a64(*b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(*b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(*b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn distribution_names() {
        for d in Distribution::ALL {
            assert_eq!(d.to_string().parse::<Distribution>(), Ok(d));
        }
        assert_eq!(
            "normal".parse::<Distribution>().map_err(|e| e.to_string()),
            Err("unknown distribution `normal`; expected one of: uniform, sparse".to_string())
        );
    }

    #[test]
    fn unit_interval_bounds() {
        assert_eq!(unit_interval(0) * 2.0 - 1.0, -1.0);
        assert!(unit_interval(u64::MAX) * 2.0 - 1.0 < 1.0);
    }
}

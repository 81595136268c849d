//! Seeded random inputs: determinism, independence of streams, the shape of
//! each distribution, and golden values that pin the stream.

use accc_tensor::random::{generate, Distribution};
use accc_tensor::DType;

fn texts(t: &accc_tensor::Tensor) -> Vec<String> {
    (0..t.len()).map(|i| t.format_element(i)).collect()
}

/// These values are part of accc's behaviour: `accc run --seed 0` must give
/// the same inputs in every version. If this test fails, the stream changed
/// (a new hash, key derivation, generator or value mapping); that is a
/// breaking change to recorded runs, not a test to update lightly.
#[test]
fn golden_values() {
    let t = generate(DType::I8, &[2, 3], Distribution::Uniform, 0, "A");
    assert_eq!(t.shape, vec![2, 3]);
    assert_eq!(t.data, vec![0xa8, 0x09, 0xe5, 0x6f, 0xe1, 0x3e]);
    assert_eq!(texts(&t), ["-88", "9", "-27", "111", "-31", "62"]);

    let t = generate(DType::I64, &[2], Distribution::Uniform, 0, "A");
    assert_eq!(t.data, vec![0x8788_1770_46ac_94a8, 0x1ab5_19e4_0063_e509]);

    let t = generate(DType::F32, &[2, 3], Distribution::Uniform, 0, "A");
    assert_eq!(
        t.data,
        vec![
            0x3d71_02ee,
            0xbf4a_95cc,
            0xbf0d_39c3,
            0x3ea4_3cf9,
            0xbe48_7e1f,
            0x3f6f_8a34
        ]
    );
    assert_eq!(
        texts(&t),
        [
            "0.058840685",
            "-0.7913482",
            "-0.5516626",
            "0.32077768",
            "-0.19579361",
            "0.93570256"
        ]
    );

    let t = generate(DType::BF16, &[2, 3], Distribution::Uniform, 0, "A");
    assert_eq!(
        texts(&t),
        ["0.0588", "-0.793", "-0.55", "0.32", "-0.195", "0.938"]
    );

    let t = generate(DType::I8, &[16], Distribution::Sparse, 7, "B");
    assert_eq!(t.data, vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]);
}

#[test]
fn same_seed_and_stream_give_same_tensor() {
    for dtype in DType::ALL {
        for dist in Distribution::ALL {
            let a = generate(dtype, &[4, 5], dist, 42, "A");
            let b = generate(dtype, &[4, 5], dist, 42, "A");
            assert_eq!(a, b, "{dtype} {dist}");
        }
    }
}

#[test]
fn different_streams_and_seeds_differ() {
    let a = generate(DType::I32, &[64], Distribution::Uniform, 1, "A");
    let b = generate(DType::I32, &[64], Distribution::Uniform, 1, "B");
    let c = generate(DType::I32, &[64], Distribution::Uniform, 2, "A");
    assert_ne!(a, b);
    assert_ne!(a, c);
    // The seed and the name are not simply concatenated text: seed 1 with
    // name "2" is not seed 12 with name "".
    let d = generate(DType::I32, &[64], Distribution::Uniform, 12, "");
    let e = generate(DType::I32, &[64], Distribution::Uniform, 1, "2");
    assert_ne!(d, e);
}

/// A parameter's values depend on its shape only through its length: a
/// prefix of the stream, so a larger tensor extends a smaller one.
#[test]
fn shape_takes_a_prefix_of_the_stream() {
    let small = generate(DType::F16, &[3], Distribution::Uniform, 5, "X");
    let large = generate(DType::F16, &[2, 4], Distribution::Uniform, 5, "X");
    assert_eq!(small.data[..], large.data[..3]);
    let scalar = generate(DType::F16, &[], Distribution::Uniform, 5, "X");
    assert_eq!(scalar.shape, Vec::<usize>::new());
    assert_eq!(scalar.data, vec![small.data[0]]);
    assert!(generate(DType::F16, &[0, 7], Distribution::Uniform, 5, "X").is_empty());
}

#[test]
fn sparse_is_one_eighth_ones() {
    for dtype in DType::ALL {
        let n = 80_000;
        let t = generate(dtype, &[n], Distribution::Sparse, 3, "S");
        let values: Vec<f64> = (0..n).map(|i| t.to_f64(i)).collect();
        assert!(
            values.iter().all(|&v| v == 0.0 || v == 1.0),
            "{dtype}: only 0 and 1"
        );
        let ones = values.iter().filter(|&&v| v == 1.0).count();
        // Expected 10 000, standard deviation about 94: a loose bound.
        assert!(
            (9_000..11_000).contains(&ones),
            "{dtype}: {ones} ones in {n}"
        );
        // Zeros are +0.0, never -0.0.
        assert!(values.iter().all(|v| !v.is_sign_negative()));
    }
}

#[test]
fn uniform_integers_cover_the_range() {
    for dtype in [DType::I8, DType::I16, DType::I32, DType::I64] {
        let t = generate(dtype, &[10_000], Distribution::Uniform, 9, "U");
        let values: Vec<f64> = (0..t.len()).map(|i| t.to_f64(i)).collect();
        let negative = values.iter().filter(|&&v| v < 0.0).count();
        assert!(
            (4_500..5_500).contains(&negative),
            "{dtype}: {negative} negative"
        );
    }
    let t = generate(DType::U8, &[10_000], Distribution::Uniform, 9, "U");
    let mut seen = [false; 256];
    for &b in &t.data {
        seen[b as usize] = true;
    }
    assert!(
        seen.iter().all(|&s| s),
        "every u8 value appears in 10 000 draws"
    );
    let t = generate(DType::U64, &[10_000], Distribution::Uniform, 9, "U");
    let high = t.data.iter().filter(|&&b| b >= 1 << 63).count();
    assert!((4_500..5_500).contains(&high), "u64: {high} above 2^63");
}

#[test]
fn uniform_floats_are_in_minus_one_to_one() {
    for dtype in [DType::F16, DType::BF16, DType::F32, DType::F64] {
        let t = generate(dtype, &[10_000], Distribution::Uniform, 11, "F");
        let values: Vec<f64> = (0..t.len()).map(|i| t.to_f64(i)).collect();
        // Rounding to a narrow type may reach 1.0 exactly, never beyond.
        assert!(values.iter().all(|v| (-1.0..=1.0).contains(v)), "{dtype}");
        let negative = values.iter().filter(|&&v| v < 0.0).count();
        assert!(
            (4_500..5_500).contains(&negative),
            "{dtype}: {negative} negative"
        );
        let small = values.iter().filter(|v| v.abs() < 0.5).count();
        assert!(
            (4_500..5_500).contains(&small),
            "{dtype}: {small} with |v| < 0.5"
        );
    }
    let t = generate(DType::F64, &[10_000], Distribution::Uniform, 11, "F");
    assert!((0..t.len()).all(|i| t.to_f64(i) < 1.0), "f64 stays below 1");
}

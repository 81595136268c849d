//! `.npy` reading and writing: exact bytes, round trips, agreement with an
//! independent implementation (`npyz`), and every malformed input.

use std::path::Path;

use accc_tensor::npy::{self, NpyError};
use accc_tensor::{canonical_bits, DType, Tensor};
use npyz::WriterBuilder;
use proptest::prelude::*;

/// A `.npy` file with the given version, header text and data, the header
/// length field set to the text's length (no padding, which readers must
/// not require).
fn npy_file(version: (u8, u8), header: &str, data: &[u8]) -> Vec<u8> {
    let mut bytes = b"\x93NUMPY".to_vec();
    bytes.extend_from_slice(&[version.0, version.1]);
    if version.0 == 1 {
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    } else {
        bytes.extend_from_slice(&(header.len() as u32).to_le_bytes());
    }
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    bytes
}

fn header(descr: &str, shape: &str) -> String {
    format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}\n")
}

/// The message of the error `from_bytes` gives for `bytes`.
fn error_of(bytes: &[u8]) -> String {
    match npy::from_bytes(bytes, "inputs/A.npy") {
        Ok(t) => panic!("expected an error, read {t:?}"),
        Err(e) => e.to_string(),
    }
}

fn read_ok(bytes: &[u8]) -> Tensor {
    npy::from_bytes(bytes, "test.npy").unwrap_or_else(|e| panic!("{e}"))
}

// ---------------------------------------------------------------------------
// Exact bytes, as NumPy writes them.

/// `np.save(f, np.arange(6, dtype=np.int32).reshape(2, 3))`, derived by hand
/// from the format spec: magic, version 1.0, header length 118 (little
/// endian), the dict, spaces up to byte 127, a newline at byte 127, then the
/// data.
#[test]
fn int32_matrix_bytes_match_numpy() {
    let t = Tensor::from_f64s(DType::I32, vec![2, 3], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    let mut expected = b"\x93NUMPY\x01\x00\x76\x00".to_vec();
    let dict = b"{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }";
    expected.extend_from_slice(dict);
    expected.resize(127, b' ');
    expected.push(b'\n');
    for i in 0..6i32 {
        expected.extend_from_slice(&i.to_le_bytes());
    }
    assert_eq!(npy::to_bytes(&t), expected);
}

/// A scalar has shape `()` and no spare space for a growth axis; a vector's
/// shape is `(n,)`.
#[test]
fn scalar_and_vector_headers_match_numpy() {
    let scalar = Tensor::from_f64s(DType::F64, vec![], &[0.5]);
    let bytes = npy::to_bytes(&scalar);
    let dict = b"{'descr': '<f8', 'fortran_order': False, 'shape': (), }";
    assert_eq!(&bytes[..10], b"\x93NUMPY\x01\x00\x76\x00");
    assert_eq!(&bytes[10..10 + dict.len()], dict);
    assert!(bytes[10 + dict.len()..127].iter().all(|&b| b == b' '));
    assert_eq!(bytes[127], b'\n');
    assert_eq!(&bytes[128..], &0.5f64.to_le_bytes());

    let vector = Tensor::from_f64s(DType::U8, vec![3], &[1.0, 2.0, 255.0]);
    let bytes = npy::to_bytes(&vector);
    let dict = b"{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }";
    assert_eq!(&bytes[10..10 + dict.len()], dict);
    assert_eq!(&bytes[128..], &[1, 2, 255]);

    let bf16 = Tensor::from_f64s(DType::BF16, vec![1], &[1.0]);
    let bytes = npy::to_bytes(&bf16);
    assert!(bytes.starts_with(b"\x93NUMPY\x01\x00\x76\x00{'descr': '<V2',"));
    assert_eq!(&bytes[128..], &[0x80, 0x3f]);
}

/// NumPy adds `21 - len(str(shape[0]))` spaces of room for the first axis
/// to grow before aligning. For shape `(1,) * 15` the dict is 98 bytes:
/// 10 + 98 + 20 + 1 = 129 rounds up to a 192-byte prefix (header length
/// 182), where the dict alone would fit in 128. With 14 ones (95 bytes),
/// 10 + 95 + 20 + 1 = 126 still fits in 128. (Checked against NumPy 2.4.)
#[test]
fn growth_axis_room_matches_numpy() {
    let dict = |rank: usize| {
        let ones = vec!["1"; rank].join(", ");
        format!("{{'descr': '|i1', 'fortran_order': False, 'shape': ({ones}), }}")
    };
    assert_eq!(dict(15).len(), 98);
    let bytes = npy::to_bytes(&Tensor::zeros(DType::I8, vec![1; 15]));
    assert_eq!(bytes.len(), 192 + 1);
    assert_eq!(u16::from_le_bytes([bytes[8], bytes[9]]), 182);
    assert_eq!(&bytes[10..108], dict(15).as_bytes());
    assert!(bytes[108..191].iter().all(|&b| b == b' '));
    assert_eq!(bytes[191], b'\n');

    assert_eq!(dict(14).len(), 95);
    let bytes = npy::to_bytes(&Tensor::zeros(DType::I8, vec![1; 14]));
    assert_eq!(bytes.len(), 128 + 1);
}

// ---------------------------------------------------------------------------
// Round trips.

fn dtype_strategy() -> impl Strategy<Value = DType> {
    proptest::sample::select(DType::ALL.to_vec())
}

fn tensor_strategy() -> impl Strategy<Value = Tensor> {
    (
        dtype_strategy(),
        proptest::collection::vec(0usize..5, 0..=3),
    )
        .prop_flat_map(|(dtype, shape)| {
            let len: usize = shape.iter().product();
            proptest::collection::vec(any::<u64>(), len).prop_map(move |raw| Tensor {
                dtype,
                shape: shape.clone(),
                data: raw.into_iter().map(|r| canonical_bits(dtype, r)).collect(),
            })
        })
}

proptest! {
    /// Writing a tensor of any type and rank 0..3 to a file and reading it
    /// back gives the same tensor, bit for bit.
    #[test]
    fn write_then_read_is_identity(t in tensor_strategy()) {
        let dir = tempfile::tempdir().expect("a temporary directory can be created");
        let path = dir.path().join("t.npy");
        npy::write(&path, &t).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back = npy::read(&path).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&back, &t);
        let checked = npy::read_expect(&path, "t", t.dtype, &t.shape)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(checked, t);
    }

    /// Every file we write starts its data at a multiple of 64 bytes, with a
    /// header ending in a newline.
    #[test]
    fn data_is_aligned(t in tensor_strategy()) {
        let bytes = npy::to_bytes(&t);
        let data_start = bytes.len() - t.len() * t.dtype.bytes();
        prop_assert_eq!(data_start % 64, 0);
        prop_assert_eq!(bytes[data_start - 1], b'\n');
    }

    /// `from_bytes` never panics, whatever the input.
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = npy::from_bytes(&bytes, "fuzz.npy");
        let mut with_magic = b"\x93NUMPY\x01\x00".to_vec();
        with_magic.extend_from_slice(&bytes);
        let _ = npy::from_bytes(&with_magic, "fuzz.npy");
    }

    /// Nor on a valid file with bytes changed, inserted or cut off.
    #[test]
    fn mutated_files_never_panic(
        t in tensor_strategy(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = npy::to_bytes(&t);
        for (at, byte, kind) in edits {
            let i = at.index(bytes.len());
            match kind {
                0 => bytes[i] = byte,
                1 => bytes.insert(i, byte),
                _ => { bytes.remove(i); }
            }
        }
        let _ = npy::from_bytes(&bytes, "fuzz.npy");
        let keep = cut.index(bytes.len() + 1);
        let _ = npy::from_bytes(&bytes[..keep], "fuzz.npy");
    }

    /// Header text made of the characters headers use never panics either.
    #[test]
    fn header_like_text_never_panics(text in "[{}()\\[\\]'\",: 0-9a-zA-Z<|>_\\-\\\\]{0,80}") {
        let _ = npy::from_bytes(&npy_file((1, 0), &text, &[]), "fuzz.npy");
        let _ = npy::from_bytes(&npy_file((3, 0), &text, &[1, 2, 3]), "fuzz.npy");
    }
}

// ---------------------------------------------------------------------------
// Agreement with npyz, an independent implementation.

#[test]
fn npyz_reads_what_we_write() {
    let t = Tensor::from_f64s(
        DType::I32,
        vec![2, 3],
        &[0.0, -1.0, 2.0, i32::MAX as f64, 4.0, -5.0],
    );
    let bytes = npy::to_bytes(&t);
    let file = npyz::NpyFile::new(&bytes[..]).expect("npyz parses our header");
    assert_eq!(file.shape(), &[2, 3]);
    assert_eq!(
        file.into_vec::<i32>().expect("npyz reads our data"),
        vec![0, -1, 2, i32::MAX, 4, -5]
    );

    let t = Tensor::from_f64s(DType::F64, vec![], &[-0.25]);
    let bytes = npy::to_bytes(&t);
    let file = npyz::NpyFile::new(&bytes[..]).expect("npyz parses a scalar header");
    assert_eq!(file.shape(), &[] as &[u64]);
    assert_eq!(
        file.into_vec::<f64>().expect("npyz reads scalar data"),
        vec![-0.25]
    );
}

#[test]
fn we_read_what_npyz_writes() {
    let mut bytes = Vec::new();
    {
        let mut writer = npyz::WriteOptions::new()
            .default_dtype()
            .shape(&[3, 2])
            .writer(&mut bytes)
            .begin_nd()
            .expect("npyz can start writing to memory");
        writer
            .extend([1.5f32, -2.0, 0.0, -0.0, f32::INFINITY, 3.25])
            .expect("npyz can write to memory");
        writer.finish().expect("npyz can finish writing");
    }
    let t = read_ok(&bytes);
    assert_eq!(t.dtype, DType::F32);
    assert_eq!(t.shape, vec![3, 2]);
    let values: Vec<f64> = (0..6).map(|i| t.to_f64(i)).collect();
    assert_eq!(values, vec![1.5, -2.0, 0.0, -0.0, f64::INFINITY, 3.25]);
    assert_eq!(t.data[3], 0x8000_0000);
}

// ---------------------------------------------------------------------------
// Spellings accepted when reading.

#[test]
fn other_versions_and_spellings_are_read() {
    let data = [1u8, 0, 2, 0];
    for version in [(1, 0), (2, 0), (3, 0)] {
        let t = read_ok(&npy_file(version, &header("<i2", "(2,)"), &data));
        assert_eq!((t.dtype, t.data), (DType::I16, vec![1, 2]));
    }
    let big = read_ok(&npy_file((1, 0), &header(">i2", "(2,)"), &data));
    assert_eq!(big.data, vec![0x0100, 0x0200]);
    let big_float = read_ok(&npy_file(
        (1, 0),
        &header(">f4", "()"),
        &1.5f32.to_be_bytes(),
    ));
    assert_eq!(big_float.to_f64(0), 1.5);
    for descr in ["<i1", "|i1", ">i1"] {
        let t = read_ok(&npy_file((1, 0), &header(descr, "(1,)"), &[0xff]));
        assert_eq!((t.dtype, t.to_f64(0)), (DType::I8, -1.0));
    }
    for descr in ["<u1", "|u1"] {
        assert_eq!(
            read_ok(&npy_file((1, 0), &header(descr, "(1,)"), &[0xff])).to_f64(0),
            255.0
        );
    }
    for descr in ["<V2", "|V2"] {
        let t = read_ok(&npy_file((1, 0), &header(descr, "(1,)"), &[0x80, 0x3f]));
        assert_eq!((t.dtype, t.to_f64(0)), (DType::BF16, 1.0));
    }
    // Python 2 wrote long integers; keys may come in any order; double
    // quotes; no trailing comma; no spaces.
    let odd = "{\"shape\":(2L,),\"fortran_order\":False,\"descr\":\"<i2\"}";
    assert_eq!(read_ok(&npy_file((1, 0), odd, &data)).shape, vec![2]);
    // Zero-sized arrays have no data.
    let empty = read_ok(&npy_file((1, 0), &header("<f8", "(0, 1000000000000)"), &[]));
    assert!(empty.is_empty());
    assert_eq!(empty.shape, vec![0, 1_000_000_000_000]);
}

/// A `bf16` parameter accepts raw `<u2` bits; `read` alone calls them u16.
#[test]
fn bf16_parameter_accepts_u16_bits() {
    let dir = tempfile::tempdir().expect("a temporary directory can be created");
    let path = dir.path().join("W.npy");
    let raw = Tensor {
        dtype: DType::U16,
        shape: vec![2],
        data: vec![0x3f80, 0xbf80],
    };
    npy::write(&path, &raw).expect("the temporary directory is writable");
    assert_eq!(npy::read(&path).map(|t| t.dtype).ok(), Some(DType::U16));
    let t = npy::read_expect(&path, "W", DType::BF16, &[2]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.dtype, DType::BF16);
    assert_eq!((t.to_f64(0), t.to_f64(1)), (1.0, -1.0));
    // The reverse is not allowed: a u16 parameter does not take bf16 files.
    let bf = Tensor {
        dtype: DType::BF16,
        ..raw
    };
    npy::write(&path, &bf).expect("the temporary directory is writable");
    let err = npy::read_expect(&path, "W", DType::U16, &[2])
        .map(|_| ())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "`{}` has element type bf16 (descr '<V2'), but parameter `W` is u16",
            path.display()
        )
    );
}

// ---------------------------------------------------------------------------
// Errors, each with its message.

#[test]
fn missing_file() {
    let err = npy::read(Path::new("inputs/A.npy")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot read `inputs/A.npy`: No such file or directory"
    );
    assert!(matches!(err, NpyError::Read { .. }));
    let err = npy::read_expect(Path::new("inputs/A.npy"), "A", DType::I8, &[1]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot read `inputs/A.npy`: No such file or directory"
    );
}

#[test]
fn unwritable_path() {
    let t = Tensor::zeros(DType::I8, vec![1]);
    let err = npy::write(Path::new("/nonexistent-dir/out/C.npy"), &t).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot write `/nonexistent-dir/out/C.npy`: No such file or directory"
    );
}

#[test]
fn wrong_dtype_and_shape_for_parameter() {
    let dir = tempfile::tempdir().expect("a temporary directory can be created");
    let path = dir.path().join("A.npy");
    npy::write(&path, &Tensor::zeros(DType::F32, vec![512, 256])).expect("writable");
    let shown = path.display();
    let err = npy::read_expect(&path, "A", DType::I8, &[512, 512]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("`{shown}` has element type f32 (descr '<f4'), but parameter `A` is i8")
    );
    let err = npy::read_expect(&path, "A", DType::F32, &[512, 512]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("`{shown}`: expected shape [512, 512] for parameter `A`, found [512, 256]")
    );
    // Type and shape are checked before the data: a truncated file of the
    // wrong type says the type is wrong.
    let mut bytes = npy::to_bytes(&Tensor::zeros(DType::F32, vec![4]));
    bytes.truncate(bytes.len() - 3);
    std::fs::write(&path, &bytes).expect("writable");
    let err = npy::read_expect(&path, "A", DType::I32, &[4]).unwrap_err();
    assert!(matches!(err, NpyError::DtypeMismatch { .. }), "{err}");
    let err = npy::read_expect(&path, "A", DType::F32, &[4]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("`{shown}` is truncated: expected 16 bytes of data, found 13")
    );
}

#[test]
fn bad_magic() {
    let expected =
        "`inputs/A.npy` is not a .npy file: it does not start with the magic string \\x93NUMPY";
    assert_eq!(error_of(b""), expected);
    assert_eq!(error_of(b"PK\x03\x04 a zip file"), expected);
    assert_eq!(error_of(b"\x93NUMP"), expected);
}

#[test]
fn unknown_version() {
    assert_eq!(
        error_of(&npy_file((4, 0), &header("<f4", "()"), &[0; 4])),
        "`inputs/A.npy` has .npy format version 4.0; only versions 1.0, 2.0 and 3.0 exist"
    );
    assert_eq!(
        error_of(&npy_file((1, 1), &header("<f4", "()"), &[0; 4])),
        "`inputs/A.npy` has .npy format version 1.1; only versions 1.0, 2.0 and 3.0 exist"
    );
}

#[test]
fn truncated_header() {
    assert_eq!(
        error_of(b"\x93NUMPY\x01"),
        "`inputs/A.npy` is truncated: expected 8 bytes of header, found 7"
    );
    assert_eq!(
        error_of(b"\x93NUMPY\x02\x00\x10\x00"),
        "`inputs/A.npy` is truncated: expected 12 bytes of header, found 10"
    );
    // The length field claims more header than the file holds.
    let mut bytes = npy_file((1, 0), &header("<f4", "(2,)"), &[]);
    bytes[8..10].copy_from_slice(&1000u16.to_le_bytes());
    assert_eq!(
        error_of(&bytes),
        format!(
            "`inputs/A.npy` is truncated: expected 1010 bytes of header, found {}",
            bytes.len()
        )
    );
    let mut bytes = npy_file((2, 0), &header("<f4", "(2,)"), &[]);
    bytes[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        error_of(&bytes),
        format!(
            "`inputs/A.npy` is truncated: expected 4294967307 bytes of header, found {}",
            bytes.len()
        )
    );
}

#[test]
fn unparsable_dict() {
    let cases = [
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2,) ",
            "`inputs/A.npy` has a malformed header: the header ends before '}' at character 56, \
             in `{'descr': '<f4', 'fortran_order': False, 'shape': (2,)`",
        ),
        (
            "{'descr': '<f4' 'fortran_order': False}",
            "`inputs/A.npy` has a malformed header: expected ',' or '}', found '\\'' at character 17, \
             in `{'descr': '<f4' 'fortran_order': False}`",
        ),
        (
            "{'descr': '<f4', 'fortran_order': false, 'shape': ()}",
            "`inputs/A.npy` has a malformed header: unknown name `false` at character 35, \
             in `{'descr': '<f4', 'fortran_order': false, 'shape': ()}`",
        ),
        (
            "{'descr: '<f4'}",
            "`inputs/A.npy` has a malformed header: expected ':' after a key, found '<' at character 11, \
             in `{'descr: '<f4'}`",
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} extra",
            "`inputs/A.npy` has a malformed header: unexpected 'e' after the dict at character 57, \
             in `{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} extra`",
        ),
        (
            "['descr', '<f4']",
            "`inputs/A.npy` has a malformed header: it is not a dict: `['descr', '<f4']`",
        ),
        (
            "",
            "`inputs/A.npy` has a malformed header: the header ends where a value was expected \
             at character 1, in ``",
        ),
        (
            "{'descr': '<f4}",
            "`inputs/A.npy` has a malformed header: unterminated string at character 11, \
             in `{'descr': '<f4}`",
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2.5,)}",
            "`inputs/A.npy` has a malformed header: expected ',' or ')', found '.' at character 53, \
             in `{'descr': '<f4', 'fortran_order': False, 'shape': (2.5,)}`",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(
            error_of(&npy_file((1, 0), text, &[])),
            expected,
            "header {text:?}"
        );
    }
}

#[test]
fn deeply_nested_header() {
    let text = format!("{}{}", "(".repeat(100_000), ")".repeat(100_000));
    let err = error_of(&npy_file((2, 0), &text, &[]));
    assert!(
        err.starts_with("`inputs/A.npy` has a malformed header: values nested too deeply at character 18, in `((((("),
        "{err}"
    );
    assert!(
        err.ends_with("...`"),
        "long headers are shortened in messages: {err}"
    );
}

#[test]
fn wrong_keys_and_values() {
    let cases = [
        (
            "{'descr': '<f4', 'shape': (2,)}",
            "the key 'fortran_order' is missing, in `{'descr': '<f4', 'shape': (2,)}`",
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}",
            "unexpected key 'extra' (a .npy header has exactly 'descr', 'fortran_order' and 'shape')",
        ),
        (
            "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}",
            "key 'descr' appears twice",
        ),
        ("{1: 2}", "a key is not a string: the integer 1"),
        (
            "{'descr': 4, 'fortran_order': False, 'shape': (2,)}",
            "'descr' must be a string, found the integer 4",
        ),
        (
            "{'descr': [('a', '<f4'), ('b', '<i4')], 'fortran_order': False, 'shape': (2,)}",
            "'descr' is a list of fields: structured arrays are not supported",
        ),
        (
            "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}",
            "'fortran_order' must be True or False, found the integer 0",
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3]}",
            "'shape' must be a tuple of integers, found a list",
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, None)}",
            "shape dimensions must be integers, found None",
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3)}",
            "shape dimension -3 is negative",
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (123456789012345678901234567890,)}",
            "shape dimension 123456789012345678901234567890 is too large",
        ),
    ];
    for (text, problem) in cases {
        assert_eq!(
            error_of(&npy_file((1, 0), text, &[])),
            format!("`inputs/A.npy` has a malformed header: {problem}"),
            "header {text:?}"
        );
    }
}

#[test]
fn non_utf8_version_3_header() {
    let mut bytes = npy_file((3, 0), &header("<f4", "()"), &[0; 4]);
    bytes[12] = 0xff;
    assert_eq!(
        error_of(&bytes),
        "`inputs/A.npy` has a malformed header: the header of a version 3.0 file is not valid UTF-8"
    );
}

#[test]
fn unknown_descr() {
    let supported = "(supported: |i1 <i2 <i4 <i8 |u1 <u2 <u4 <u8 <f2 <f4 <f8, <V2 for bf16, \
                     and their big-endian '>' forms)";
    for descr in ["<c8", "|b1", "<U5", "|O", "<f16", "|i4", "<V4", ""] {
        assert_eq!(
            error_of(&npy_file((1, 0), &header(descr, "(1,)"), &[0; 4])),
            format!(
                "`inputs/A.npy` has element type descriptor '{descr}', which accc does not support {supported}"
            )
        );
    }
}

#[test]
fn fortran_order() {
    let text = "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }";
    assert_eq!(
        error_of(&npy_file((1, 0), text, &[0; 24])),
        "`inputs/A.npy` is stored in Fortran order: Fortran-order arrays are not supported; \
         save with np.ascontiguousarray"
    );
}

#[test]
fn shape_product_overflow() {
    let huge = "(4294967296, 4294967296)";
    assert_eq!(
        error_of(&npy_file((1, 0), &header("<f4", huge), &[0; 16])),
        "`inputs/A.npy` has shape [4294967296, 4294967296], whose data would be too large to hold in memory"
    );
    // The element count fits but the byte count does not.
    let huge = "(4611686018427387904,)";
    assert_eq!(
        error_of(&npy_file((1, 0), &header("<f8", huge), &[])),
        "`inputs/A.npy` has shape [4611686018427387904], whose data would be too large to hold in memory"
    );
}

#[test]
fn truncated_data() {
    // A huge (but addressable) shape with little data is rejected without
    // allocating for the shape.
    assert_eq!(
        error_of(&npy_file((1, 0), &header("<f4", "(512, 512)"), &[0; 1000])),
        "`inputs/A.npy` is truncated: expected 1048576 bytes of data, found 1000"
    );
    assert_eq!(
        error_of(&npy_file(
            (1, 0),
            &header("<i8", "(1000000000, 1000000000)"),
            &[0; 8]
        )),
        "`inputs/A.npy` is truncated: expected 8000000000000000000 bytes of data, found 8"
    );
    assert_eq!(
        error_of(&npy_file((1, 0), &header("|i1", "()"), &[])),
        "`inputs/A.npy` is truncated: expected 1 bytes of data, found 0"
    );
}

#[test]
fn trailing_data() {
    assert_eq!(
        error_of(&npy_file((1, 0), &header("<i2", "(2,)"), &[0; 7])),
        "`inputs/A.npy` has 3 bytes of unexpected data after the 4 bytes its header describes"
    );
}

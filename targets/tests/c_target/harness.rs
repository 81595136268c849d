//! The harness: a GEMM-like kernel computed by hand, `.npy` outputs exactly
//! as NumPy writes them, and clear messages for bad input files.

use crate::support::{dsl, ir, npy_bytes, read_npy, run, to_bytes, Input};
use accc_targets::c::{self, CError};

const MATMUL: &str = "
kernel mm(A: i8[2, 3], B: i8[3, 2]) -> (C: i32[2, 2]) {
  for i, j in grid(2, 2) {
    C[i, j] = 0;
    for k in range(0, 3) {
      C[i, j] += i32(A[i, k]) * i32(B[k, j]);
    }
  }
}
";

fn i8s(v: &[i8]) -> Vec<u8> {
    v.iter().map(|x| *x as u8).collect()
}

#[test]
fn a_small_gemm_gives_the_hand_computed_product() {
    let module = dsl("mm.acc", MATMUL, "mm");
    // A = [[1, 2, 3], [4, 5, -6]], B = [[7, 8], [9, 10], [-11, 12]]
    // C = [[7 + 18 - 33, 8 + 20 + 36], [28 + 45 + 66, 32 + 50 - 72]]
    let ran = run(
        &module,
        "mm",
        &[
            Input {
                name: "A",
                descr: "|i1",
                shape: vec![2, 3],
                data: i8s(&[1, 2, 3, 4, 5, -6]),
            },
            Input {
                name: "B",
                descr: "|i1",
                shape: vec![3, 2],
                data: i8s(&[7, 8, 9, 10, -11, 12]),
            },
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let c = &ran.outputs["C"];
    assert_eq!(c.descr, "<i4");
    assert_eq!(c.shape, vec![2, 2]);
    let want: Vec<u64> = [-8i32, 64, 139, 10]
        .iter()
        .map(|v| *v as u32 as u64)
        .collect();
    assert_eq!(c.data, to_bytes(&want, 4));
    // i8 extremes: (-128) * (-128) * 3 = 49152 fits i32.
    let ran = run(
        &module,
        "mm",
        &[
            Input {
                name: "A",
                descr: "|i1",
                shape: vec![2, 3],
                data: i8s(&[-128; 6]),
            },
            Input {
                name: "B",
                descr: "|i1",
                shape: vec![3, 2],
                data: i8s(&[-128, 127, -128, 127, -128, 127]),
            },
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let want: Vec<u64> = [49152i32, -48768, 49152, -48768]
        .iter()
        .map(|v| *v as u32 as u64)
        .collect();
    assert_eq!(ran.outputs["C"].data, to_bytes(&want, 4));
}

/// NumPy's `np.save` header: sorted keys, room for the first axis to grow
/// to 21 digits, spaces up to a multiple of 64 bytes, a newline.
fn numpy_header(descr: &str, shape: &str, first_dim_digits: Option<usize>) -> Vec<u8> {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    if let Some(d) = first_dim_digits {
        header.push_str(&" ".repeat(21 - d));
    }
    let pad = 64 - (10 + header.len() + 1) % 64;
    header.push_str(&" ".repeat(pad));
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out
}

#[test]
fn outputs_are_written_as_numpy_writes_them() {
    let module = ir(r#"
  func.func @k(%x: f32 {accc.name = "x"}, %m: memref<512x3xf32> {accc.name = "m", accc.output}, %v: memref<5xbf16> {accc.name = "v", accc.output}, %s: memref<f64> {accc.name = "s", accc.output}) {
    %c = arith.constant 1.5 : bf16
    affine.store %c, %v[4] : memref<5xbf16>
    %d = arith.extf %x : f32 to f64
    affine.store %d, %s[] : memref<f64>
    affine.store %x, %m[511, 2] : memref<512x3xf32>
    return
  }
"#);
    let ran = run(
        &module,
        "k",
        &[Input {
            name: "x",
            descr: "<f4",
            shape: vec![],
            data: 2.25f32.to_le_bytes().to_vec(),
        }],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let m = &ran.outputs["m"];
    let header = numpy_header("<f4", "(512, 3)", Some(3));
    assert_eq!(&m.raw[..header.len()], &header[..]);
    assert_eq!(header.len() % 64, 0);
    assert_eq!(m.data.len(), 512 * 3 * 4);
    assert_eq!(&m.data[m.data.len() - 4..], &2.25f32.to_le_bytes());
    assert!(
        m.data[..m.data.len() - 4].iter().all(|b| *b == 0),
        "outputs start zero-filled"
    );

    let v = &ran.outputs["v"];
    let header = numpy_header("<V2", "(5,)", Some(1));
    assert_eq!(&v.raw[..header.len()], &header[..]);
    assert_eq!(v.data, vec![0, 0, 0, 0, 0, 0, 0, 0, 0xc0, 0x3f]);

    let s = &ran.outputs["s"];
    let header = numpy_header("<f8", "()", None);
    assert_eq!(&s.raw[..header.len()], &header[..]);
    assert_eq!(s.data, 2.25f64.to_le_bytes());
}

/// Runs the matmul with the given files for A and B (raw bytes) and
/// returns the input error's message.
fn input_error(a: Option<Vec<u8>>, b: Vec<u8>) -> (String, std::path::PathBuf) {
    let module = dsl("mm.acc", MATMUL, "mm");
    let program = c::emit_kernel(&module, "mm").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let exe = c::build(&program, dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let inputs = dir.path().join("in");
    std::fs::create_dir_all(&inputs).unwrap();
    if let Some(a) = a {
        std::fs::write(inputs.join("A.npy"), a).unwrap();
    }
    std::fs::write(inputs.join("B.npy"), b).unwrap();
    match c::run(&exe, &inputs, &dir.path().join("out")) {
        Err(CError::Input(message)) => (message, inputs),
        Err(e) => panic!("expected an input error, got: {e}"),
        Ok(_) => panic!("expected an input error, but the kernel ran"),
    }
}

#[test]
fn bad_input_files_are_reported_with_their_path() {
    let good_a = npy_bytes("|i1", &[2, 3], &[1; 6]);
    let good_b = npy_bytes("|i1", &[3, 2], &[1; 6]);
    // (file A, file B, the file named, what the message says)
    type Case = (Option<Vec<u8>>, Vec<u8>, &'static str, &'static str);
    let cases: Vec<Case> = vec![
        (
            None,
            good_b.clone(),
            "A.npy",
            "cannot open the input file for `A`: No such file or directory",
        ),
        (
            Some(good_a.clone()),
            npy_bytes("|i1", &[2, 3], &[1; 6]),
            "B.npy",
            "shape (2, 3) does not match: `B` has shape (3, 2)",
        ),
        (
            Some(good_a.clone()),
            npy_bytes("|i1", &[6], &[1; 6]),
            "B.npy",
            "shape (6,) does not match: `B` has shape (3, 2)",
        ),
        (
            Some(good_a.clone()),
            npy_bytes("<f4", &[3, 2], &[0; 24]),
            "B.npy",
            "element type '<f4' does not match: `B` is i8, which is stored as '|i1'",
        ),
        (
            Some(good_a.clone()),
            npy_bytes("|u1", &[3, 2], &[0; 6]),
            "B.npy",
            "element type '|u1' does not match: `B` is i8, which is stored as '|i1'",
        ),
        (
            Some(good_a.clone()),
            npy_bytes("|i1", &[3, 2], &[0; 5]),
            "B.npy",
            "truncated data: expected 6 bytes for shape (3, 2)",
        ),
        (
            Some(good_a.clone()),
            npy_bytes("|i1", &[3, 2], &[0; 7]),
            "B.npy",
            "trailing data after the expected 6 bytes for shape (3, 2)",
        ),
        (
            Some(good_a.clone()),
            b"PK\x03\x04 not numpy".to_vec(),
            "B.npy",
            "not a .npy file",
        ),
        (
            Some(good_a.clone()),
            b"\x93NUMPY\x01\x00\x40\x00{'descr'".to_vec(),
            "B.npy",
            "truncated header",
        ),
        (
            Some(good_a.clone()),
            b"\x93NUMPY\x07\x00".to_vec(),
            "B.npy",
            "unsupported .npy format version 7.0",
        ),
        (
            Some(good_a.clone()),
            npy_bytes("|i1", &[3, 2], &[0; 6]).replacen_fortran(),
            "B.npy",
            "Fortran-order arrays are not supported",
        ),
    ];
    for (a, b, file, message) in cases {
        let (got, dir) = input_error(a, b);
        let path = dir.join(file);
        let prefix = format!("{}: ", path.display());
        assert!(
            got.starts_with(&prefix),
            "message `{got}` does not start with `{prefix}`"
        );
        assert!(
            got.contains(message),
            "message `{got}` does not contain `{message}`"
        );
    }
}

trait FortranOrder {
    fn replacen_fortran(self) -> Vec<u8>;
}

impl FortranOrder for Vec<u8> {
    /// The same file with `'fortran_order': True` (same length, padding
    /// absorbs the extra character).
    fn replacen_fortran(self) -> Vec<u8> {
        let text = String::from_utf8_lossy(&self[10..]).into_owned();
        let hlen = u16::from_le_bytes([self[8], self[9]]) as usize;
        let header = &text[..hlen];
        let patched = header.replacen("False,", "True, ", 1);
        let mut out = self[..10].to_vec();
        out.extend_from_slice(patched.as_bytes());
        out.extend_from_slice(&self[10 + hlen..]);
        out
    }
}

#[test]
fn inputs_of_version_2_and_bf16_as_u2_are_accepted() {
    let module = ir(r#"
  func.func @k(%x: memref<2xbf16> {accc.name = "x"}, %o: memref<2xf32> {accc.name = "o", accc.output}) {
    affine.for %i = 0 to 2 {
      %v = affine.load %x[%i] : memref<2xbf16>
      %w = arith.extf %v : bf16 to f32
      affine.store %w, %o[%i] : memref<2xf32>
    }
    return
  }
"#);
    let program = c::emit_kernel(&module, "k").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let exe = c::build(&program, dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let inputs = dir.path().join("in");
    std::fs::create_dir_all(&inputs).unwrap();
    // Version 2.0: a 4-byte header length.
    let header = "{'descr': '<u2', 'fortran_order': False, 'shape': (2,), }\n";
    let mut file = b"\x93NUMPY\x02\x00".to_vec();
    file.extend_from_slice(&(header.len() as u32).to_le_bytes());
    file.extend_from_slice(header.as_bytes());
    file.extend_from_slice(&[0x80, 0x3f, 0x40, 0xc0]); // 1.0, -3.0
    std::fs::write(inputs.join("x.npy"), file).unwrap();
    let out = dir.path().join("out");
    let r = c::run(&exe, &inputs, &out).unwrap_or_else(|e| panic!("{e}"));
    assert!(r.kernel_ns < 60_000_000_000);
    let o = read_npy(&out.join("o.npy"));
    assert_eq!(
        o.data,
        [1.0f32.to_le_bytes(), (-3.0f32).to_le_bytes()].concat()
    );
}

#[test]
fn outputs_are_byte_identical_to_accc_tensor_and_read_back() {
    // The Rust side of accc writes .npy files with `accc_tensor::npy`: the
    // harness must produce the same bytes for the same tensor.
    let module = ir(r#"
  func.func @k(%a: memref<3x2xi16> {accc.name = "a", accc.dtype = "u16", accc.output}, %b: memref<7xbf16> {accc.name = "b", accc.output}, %s: memref<i8> {accc.name = "s", accc.output}) {
    %c = arith.constant 65535 : i16
    affine.store %c, %a[2, 1] : memref<3x2xi16>
    %h = arith.constant -2.0 : bf16
    affine.store %h, %b[6] : memref<7xbf16>
    %m = arith.constant -128 : i8
    affine.store %m, %s[] : memref<i8>
    return
  }
"#);
    let ran = run(&module, "k", &[]).unwrap_or_else(|e| panic!("{e}"));
    use accc_tensor::{npy, DType, Tensor};
    let expected = [
        (
            "a",
            Tensor {
                dtype: DType::U16,
                shape: vec![3, 2],
                data: vec![0, 0, 0, 0, 0, 0xffff],
            },
        ),
        (
            "b",
            Tensor {
                dtype: DType::BF16,
                shape: vec![7],
                data: vec![0, 0, 0, 0, 0, 0, 0xc000],
            },
        ),
        (
            "s",
            Tensor {
                dtype: DType::I8,
                shape: vec![],
                data: vec![0x80],
            },
        ),
    ];
    for (name, tensor) in expected {
        let ours = &ran.outputs[name].raw;
        assert_eq!(
            ours,
            &npy::to_bytes(&tensor),
            "{name}.npy differs from accc_tensor's"
        );
        assert_eq!(npy::from_bytes(ours, name).unwrap(), tensor);
    }
}

#[test]
fn big_endian_inputs_are_read_like_accc_tensor_reads_them() {
    let module = ir(r#"
  func.func @k(%x: memref<2xi32> {accc.name = "x"}, %y: memref<2xi8> {accc.name = "y"}, %o: memref<2xi32> {accc.name = "o", accc.output}) {
    affine.for %i = 0 to 2 {
      %v = affine.load %x[%i] : memref<2xi32>
      %w = affine.load %y[%i] : memref<2xi8>
      %e = arith.extsi %w : i8 to i32
      %s = arith.addi %v, %e : i32
      affine.store %s, %o[%i] : memref<2xi32>
    }
    return
  }
"#);
    let ran = run(
        &module,
        "k",
        &[
            Input {
                name: "x",
                descr: ">i4",
                shape: vec![2],
                data: vec![0, 0, 1, 2, 0xff, 0xff, 0xff, 0xfe],
            },
            Input {
                name: "y",
                descr: "<i1",
                shape: vec![2],
                data: vec![1, 2],
            },
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ran.outputs["o"].data, to_bytes(&[0x0103, 0], 4));
}

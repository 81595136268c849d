//! Interoperability with NumPy itself: files `numpy.save` writes are read
//! correctly and are byte-identical to what we write for the same array, and
//! NumPy reads our files back to the same values.
//!
//! Needs `python3` with `numpy` (and `ml_dtypes` for the `bf16` case). When
//! they are missing the test passes but says so on stderr, past the test
//! harness's output capture, so a skipped check is never silent.

use std::io::Write as _;
use std::path::Path;
use std::process::Command;

use accc_tensor::{canonical_bits, npy, DType, Tensor};

/// One array both sides build from the same formula: element `i` of `n` is
/// `(i - n/2) * 3` for integers (wrapping for unsigned types) and
/// `(i - n/2) / 4` for floats.
struct Case {
    name: &'static str,
    dtype: DType,
    /// The NumPy dtype expression Python builds the array with.
    numpy_dtype: &'static str,
    shape: &'static [usize],
    /// Whether NumPy writes it exactly as we do (not for big-endian data,
    /// which we read but always write little-endian).
    same_bytes: bool,
}

const CASES: &[Case] = &[
    Case {
        name: "i8",
        dtype: DType::I8,
        numpy_dtype: "np.int8",
        shape: &[2, 3],
        same_bytes: true,
    },
    Case {
        name: "i16",
        dtype: DType::I16,
        numpy_dtype: "np.int16",
        shape: &[4],
        same_bytes: true,
    },
    Case {
        name: "i32",
        dtype: DType::I32,
        numpy_dtype: "np.int32",
        shape: &[2, 3, 4],
        same_bytes: true,
    },
    Case {
        name: "i64",
        dtype: DType::I64,
        numpy_dtype: "np.int64",
        shape: &[],
        same_bytes: true,
    },
    Case {
        name: "u8",
        dtype: DType::U8,
        numpy_dtype: "np.uint8",
        shape: &[5],
        same_bytes: true,
    },
    Case {
        name: "u16",
        dtype: DType::U16,
        numpy_dtype: "np.uint16",
        shape: &[3, 2],
        same_bytes: true,
    },
    Case {
        name: "u32",
        dtype: DType::U32,
        numpy_dtype: "np.uint32",
        shape: &[7],
        same_bytes: true,
    },
    Case {
        name: "u64",
        dtype: DType::U64,
        numpy_dtype: "np.uint64",
        shape: &[2, 2],
        same_bytes: true,
    },
    Case {
        name: "f16",
        dtype: DType::F16,
        numpy_dtype: "np.float16",
        shape: &[3, 3],
        same_bytes: true,
    },
    Case {
        name: "f32",
        dtype: DType::F32,
        numpy_dtype: "np.float32",
        shape: &[512, 512],
        same_bytes: true,
    },
    Case {
        name: "f64",
        dtype: DType::F64,
        numpy_dtype: "np.float64",
        shape: &[1, 2, 3],
        same_bytes: true,
    },
    Case {
        name: "empty",
        dtype: DType::F32,
        numpy_dtype: "np.float32",
        shape: &[0, 3],
        same_bytes: true,
    },
    Case {
        name: "rank15",
        dtype: DType::I8,
        numpy_dtype: "np.int8",
        shape: &[1; 15],
        same_bytes: true,
    },
    Case {
        name: "f32be",
        dtype: DType::F32,
        numpy_dtype: "'>f4'",
        shape: &[3],
        same_bytes: false,
    },
    Case {
        name: "i32be",
        dtype: DType::I32,
        numpy_dtype: "'>i4'",
        shape: &[2, 2],
        same_bytes: false,
    },
    Case {
        name: "bf16",
        dtype: DType::BF16,
        numpy_dtype: "ml_dtypes.bfloat16",
        shape: &[4, 2],
        same_bytes: true,
    },
];

/// `write DIR` saves every case; `check DIR OUT` loads our files, checks
/// their type, shape and values, and saves them again into OUT.
const SCRIPT: &str = r#"
import sys, os
import numpy as np
try:
    import ml_dtypes
except ImportError:
    ml_dtypes = None

def expected(dtype, shape):
    n = int(np.prod(shape, dtype=np.int64))
    base = np.arange(n, dtype=np.int64) - n // 2
    if np.dtype(dtype).kind in 'iu':
        values = (base * 3).astype(dtype)
    else:
        values = (base / 4).astype(dtype)
    return values.reshape(shape)

mode, cases = sys.argv[1], eval(sys.argv[2])
for name, dtype_expr, shape in cases:
    dtype = eval(dtype_expr)
    want = expected(dtype, shape)
    if mode == 'write':
        np.save(os.path.join(sys.argv[3], name + '.npy'), want)
    else:
        got = np.load(os.path.join(sys.argv[3], name + '.npy'))
        if want.dtype.byteorder == '>':
            want = want.astype(want.dtype.newbyteorder('<'))
        if got.dtype.kind == 'V':
            got = got.view(dtype)
        if got.dtype != want.dtype or got.shape != want.shape or got.tobytes() != want.tobytes():
            sys.exit('%s: numpy read %s %s %r, expected %s %s %r'
                     % (name, got.dtype, got.shape, got.ravel()[:8], want.dtype, want.shape, want.ravel()[:8]))
        np.save(os.path.join(sys.argv[4], name + '.npy'), got)
"#;

/// Says that part of the test did not run, where `cargo test` shows it.
fn say_skipped(what: &str) {
    let _ = writeln!(std::io::stderr(), "skipped: {what}");
}

/// Whether `python3` can import `module`.
fn python_has(module: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .map(|out| out.status.success())
        .unwrap_or(false)
}

fn expected_tensor(case: &Case) -> Tensor {
    let n: usize = case.shape.iter().product();
    let data = (0..n)
        .map(|i| {
            let base = i as i64 - (n / 2) as i64;
            if case.dtype.is_float() {
                Tensor::from_f64s(case.dtype, vec![], &[base as f64 / 4.0]).data[0]
            } else {
                canonical_bits(case.dtype, (base * 3) as u64)
            }
        })
        .collect();
    Tensor {
        dtype: case.dtype,
        shape: case.shape.to_vec(),
        data,
    }
}

fn run_python(script: &Path, args: &[&str]) {
    let out = Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 ran a moment ago");
    assert!(
        out.status.success(),
        "python3 {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn numpy_reads_and_writes_the_same_files() {
    if !python_has("numpy") {
        say_skipped(
            "numpy not installed (`python3 -c 'import numpy'` failed); NumPy interop not checked",
        );
        return;
    }
    let cases: Vec<&Case> = if python_has("ml_dtypes") {
        CASES.iter().collect()
    } else {
        say_skipped("ml_dtypes not installed; the bf16 NumPy interop case not checked");
        CASES.iter().filter(|c| c.dtype != DType::BF16).collect()
    };
    let python_cases = format!(
        "[{}]",
        cases
            .iter()
            .map(|c| format!(
                "({:?}, {:?}, {})",
                c.name,
                c.numpy_dtype,
                python_tuple(c.shape)
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let dir = tempfile::tempdir().expect("a temporary directory can be created");
    let script = dir.path().join("interop.py");
    std::fs::write(&script, SCRIPT).expect("the temporary directory is writable");
    let from_numpy = dir.path().join("from_numpy");
    let ours = dir.path().join("ours");
    let resaved = dir.path().join("resaved");
    for d in [&from_numpy, &ours, &resaved] {
        std::fs::create_dir(d).expect("the temporary directory is writable");
    }

    // NumPy writes; we read and compare bytes.
    run_python(
        &script,
        &["write", &python_cases, &from_numpy.to_string_lossy()],
    );
    for case in &cases {
        let path = from_numpy.join(format!("{}.npy", case.name));
        let want = expected_tensor(case);
        let got = npy::read_expect(&path, case.name, case.dtype, case.shape)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got, want, "{}: values read from NumPy's file", case.name);
        if case.same_bytes {
            let numpy_bytes = std::fs::read(&path).expect("NumPy wrote the file");
            assert!(
                npy::to_bytes(&want) == numpy_bytes,
                "{}: our bytes differ from NumPy's:\nours:  {:?}\nnumpy: {:?}",
                case.name,
                String::from_utf8_lossy(&npy::to_bytes(&want)[..128.min(numpy_bytes.len())]),
                String::from_utf8_lossy(&numpy_bytes[..128.min(numpy_bytes.len())]),
            );
        }
    }

    // We write; NumPy reads, checks and saves again; the bytes agree.
    for case in &cases {
        npy::write(
            &ours.join(format!("{}.npy", case.name)),
            &expected_tensor(case),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
    run_python(
        &script,
        &[
            "check",
            &python_cases,
            &ours.to_string_lossy(),
            &resaved.to_string_lossy(),
        ],
    );
    for case in &cases {
        let file = format!("{}.npy", case.name);
        let a = std::fs::read(ours.join(&file)).expect("we wrote the file");
        let b = std::fs::read(resaved.join(&file)).expect("NumPy wrote the file");
        if case.same_bytes {
            assert!(a == b, "{}: NumPy re-saved our file differently", case.name);
        }
    }
}

fn python_tuple(shape: &[usize]) -> String {
    match shape {
        [] => "()".to_string(),
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

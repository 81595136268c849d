//! Helpers: modules from IR or DSL text, `.npy` files, and running a
//! kernel through the C target in a temporary directory.

use accc_ir::diag::SourceFile;
use accc_ir::Module;
use accc_targets::c::{self, CError, CProgram};
use std::collections::BTreeMap;
use std::path::Path;

pub fn ir(text: &str) -> Module {
    let file = SourceFile::new("test.mlir", text);
    match accc_ir::parse_module(&file) {
        Ok(m) => m,
        Err(diags) => panic!(
            "test IR does not parse:\n{}",
            accc_ir::diag::render(&file, &diags)
        ),
    }
}

pub fn dsl(name: &str, text: &str, kernel: &str) -> Module {
    let file = SourceFile::new(name, text);
    let lowered = accc_dsl::parse_and_check(&file)
        .and_then(|p| accc_dsl::lower::lower_program(&file, &p, Some(kernel)));
    match lowered {
        Ok(m) => m,
        Err(diags) => panic!(
            "test DSL does not compile:\n{}",
            accc_ir::diag::render(&file, &diags)
        ),
    }
}

pub fn example(file: &str, kernel: &str) -> Module {
    let path = format!("{}/../examples/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("the examples are part of the repository");
    dsl(&format!("examples/{file}"), &text, kernel)
}

// ----- .npy ------------------------------------------------------------------

/// A version-1.0 `.npy` file (padded to 16 bytes, as old NumPy wrote them:
/// the harness must not depend on the exact padding).
pub fn npy_bytes(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let shape = match shape {
        [] => "()".to_string(),
        [n] => format!("({n},)"),
        dims => format!(
            "({})",
            dims.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 16 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

#[derive(Debug)]
pub struct Npy {
    pub descr: String,
    pub shape: Vec<usize>,
    pub data: Vec<u8>,
    /// The whole file.
    pub raw: Vec<u8>,
}

pub fn read_npy(path: &Path) -> Npy {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&raw[..8], b"\x93NUMPY\x01\x00", "{}", path.display());
    let hlen = u16::from_le_bytes([raw[8], raw[9]]) as usize;
    let header = std::str::from_utf8(&raw[10..10 + hlen]).expect("ASCII header");
    let descr = header
        .split("'descr': '")
        .nth(1)
        .and_then(|s| s.split('\'').next())
        .expect("descr")
        .to_string();
    let shape_text = header
        .split("'shape': (")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .expect("shape");
    let shape = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("dimension"))
        .collect();
    Npy {
        descr,
        shape,
        data: raw[10 + hlen..].to_vec(),
        raw,
    }
}

/// NumPy's descriptor for an IR element type.
pub fn descr(ty: &str) -> &'static str {
    match ty {
        "i1" => "|b1",
        "i8" => "|i1",
        "i16" => "<i2",
        "i32" => "<i4",
        "i64" => "<i8",
        "f16" => "<f2",
        "bf16" => "<V2",
        "f32" => "<f4",
        "f64" => "<f8",
        other => panic!("no descriptor for {other}"),
    }
}

pub fn width_bytes(ty: &str) -> usize {
    match ty {
        "i1" | "i8" => 1,
        "i16" | "f16" | "bf16" => 2,
        "i32" | "f32" => 4,
        _ => 8,
    }
}

pub fn to_bytes(bits: &[u64], width: usize) -> Vec<u8> {
    bits.iter()
        .flat_map(|b| b.to_le_bytes()[..width].to_vec())
        .collect()
}

pub fn from_bytes(data: &[u8], width: usize) -> Vec<u64> {
    data.chunks(width)
        .map(|c| {
            let mut b = [0u8; 8];
            b[..width].copy_from_slice(c);
            u64::from_le_bytes(b)
        })
        .collect()
}

// ----- running ---------------------------------------------------------------

/// An input file: name, descriptor, shape, raw little-endian data.
pub struct Input<'a> {
    pub name: &'a str,
    pub descr: &'a str,
    pub shape: Vec<usize>,
    pub data: Vec<u8>,
}

pub struct Ran {
    pub program: CProgram,
    pub outputs: BTreeMap<String, Npy>,
    #[allow(dead_code)]
    pub kernel_ns: u64,
}

/// Emits, builds and runs `kernel` on `inputs`; the outputs are read back.
pub fn run(module: &Module, kernel: &str, inputs: &[Input]) -> Result<Ran, CError> {
    let program = c::emit_kernel(module, kernel)?;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let exe = c::build(&program, dir.path())?;
    let (input_dir, output_dir) = (dir.path().join("in"), dir.path().join("out"));
    std::fs::create_dir_all(&input_dir).expect("input directory");
    for i in inputs {
        std::fs::write(
            input_dir.join(format!("{}.npy", i.name)),
            npy_bytes(i.descr, &i.shape, &i.data),
        )
        .expect("write an input");
    }
    let r = c::run(&exe, &input_dir, &output_dir)?;
    let mut outputs = BTreeMap::new();
    for entry in std::fs::read_dir(&output_dir).expect("output directory") {
        let path = entry.expect("entry").path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        outputs.insert(name, read_npy(&path));
    }
    Ok(Ran {
        program,
        outputs,
        kernel_ns: r.kernel_ns,
    })
}

/// IR text of a kernel over `n` elements: each input `(name, type)` is
/// loaded as `%name`; each output `(name, type, op)` is `%r_name = op`,
/// stored to the output `name`.
pub fn elementwise(n: usize, inputs: &[(&str, &str)], outputs: &[(&str, &str, &str)]) -> String {
    let mut params = vec![];
    for (name, ty) in inputs {
        params.push(format!(
            "%m_{name}: memref<{n}x{ty}> {{accc.name = \"{name}\"}}"
        ));
    }
    for (name, ty, _) in outputs {
        params.push(format!(
            "%o_{name}: memref<{n}x{ty}> {{accc.name = \"{name}\", accc.output}}"
        ));
    }
    let mut body = String::new();
    for (name, ty) in inputs {
        body.push_str(&format!(
            "      %{name} = affine.load %m_{name}[%i] : memref<{n}x{ty}>\n"
        ));
    }
    for (name, ty, op) in outputs {
        body.push_str(&format!("      %r_{name} = {op}\n"));
        body.push_str(&format!(
            "      affine.store %r_{name}, %o_{name}[%i] : memref<{n}x{ty}>\n"
        ));
    }
    format!(
        "func.func @k({}) {{\n    affine.for %i = 0 to {n} {{\n{body}    }}\n    return\n  }}\n",
        params.join(", ")
    )
}

/// Runs an [`elementwise`] kernel on inputs given as bit patterns and
/// returns each output's bit patterns.
pub fn run_elementwise(
    inputs: &[(&str, &str, Vec<u64>)],
    outputs: &[(&str, &str, &str)],
) -> BTreeMap<String, Vec<u64>> {
    let n = inputs[0].2.len();
    let decl: Vec<(&str, &str)> = inputs.iter().map(|(n, t, _)| (*n, *t)).collect();
    let module = ir(&elementwise(n, &decl, outputs));
    let files: Vec<Input> = inputs
        .iter()
        .map(|(name, ty, bits)| Input {
            name,
            descr: descr(ty),
            shape: vec![n],
            data: to_bytes(bits, width_bytes(ty)),
        })
        .collect();
    let ran = run(&module, "k", &files).unwrap_or_else(|e| panic!("{e}"));
    outputs
        .iter()
        .map(|(name, ty, _)| {
            let npy = &ran.outputs[*name];
            (name.to_string(), from_bytes(&npy.data, width_bytes(ty)))
        })
        .collect()
}

/// Asserts equal bit patterns, printing them in hex.
#[track_caller]
pub fn assert_bits(what: &str, got: &[u64], want: &[u64]) {
    if got != want {
        panic!("{what}:\n  got  {:x?}\n  want {:x?}", got, want);
    }
}

pub fn f32b(x: f32) -> u64 {
    u64::from(x.to_bits())
}

pub fn f64b(x: f64) -> u64 {
    x.to_bits()
}

//! The `main` of an emitted program: the kernel's interface as `.npy` files.
//!
//! Inputs are read from `INPUT_DIR/<name>.npy` and must match their
//! parameter exactly (element type per the table of docs/semantics.md, in
//! either byte order as `accc-tensor` reads them; shape; C order; complete
//! data); outputs start zero-filled and are written to
//! `OUTPUT_DIR/<name>.npy` as NumPy writes them. The runtime this code calls
//! is `harness.c`.

use super::emit::{c_string, scalar_ctype};
use super::error::CError;
use accc_ir::dialects::func::{self, KernelParam};
use accc_ir::{Module, Op, Type};
use std::collections::HashSet;
use std::fmt::Write;

/// How an accc element type is stored in a `.npy` file.
struct NpyType {
    /// What outputs are written with.
    descr: &'static str,
    /// Another kind and size accepted on input (`u2` for `bf16`).
    alt_code: Option<&'static str>,
    /// The IR element type it must have.
    ir: Type,
    is_bool: bool,
}

/// The `.npy` form of an `accc.dtype`: the table of docs/semantics.md, plus
/// `i1`/`bool` as NumPy's `|b1` for kernels built from IR text.
fn npy_type(dtype: &str) -> Option<NpyType> {
    let plain = |descr, ir| NpyType {
        descr,
        alt_code: None,
        ir,
        is_bool: false,
    };
    Some(match dtype {
        "i8" => plain("|i1", Type::Int(8)),
        "u8" => plain("|u1", Type::Int(8)),
        "i16" => plain("<i2", Type::Int(16)),
        "u16" => plain("<u2", Type::Int(16)),
        "i32" => plain("<i4", Type::Int(32)),
        "u32" => plain("<u4", Type::Int(32)),
        "i64" => plain("<i8", Type::Int(64)),
        "u64" => plain("<u8", Type::Int(64)),
        "f16" => plain("<f2", Type::F16),
        "bf16" => NpyType {
            alt_code: Some("u2"),
            ..plain("<V2", Type::BF16)
        },
        "f32" => plain("<f4", Type::F32),
        "f64" => plain("<f8", Type::F64),
        "i1" | "bool" => NpyType {
            is_bool: true,
            ..plain("|b1", Type::Int(1))
        },
        _ => return None,
    })
}

/// Appends `main` (and the parameter tables it uses) for `kernel`, whose C
/// function is `c_name`.
pub(crate) fn emit_main(
    out: &mut String,
    m: &Module,
    kernel: Op,
    c_name: &str,
) -> Result<(), CError> {
    let loc = &m.op(kernel).loc;
    let unsupported = |reason: String| CError::unsupported("func.func", loc, reason);
    if func::function_type(m, kernel).is_some_and(|ft| !ft.results.is_empty()) {
        return Err(unsupported(
            "a kernel that returns values (outputs are parameters marked `accc.output`)".into(),
        ));
    }
    let params = func::kernel_params(m, kernel);
    let mut seen = HashSet::new();
    let mut decls = String::new();
    let mut body = String::new();
    let mut args = vec![];
    let mut writes = String::new();
    let mut frees = String::new();

    for p in &params {
        if !seen.insert(p.name.as_str()) {
            return Err(unsupported(format!(
                "two parameters named `{}` (they would share a file)",
                p.name
            )));
        }
        let (elem, shape): (&Type, &[i64]) = match &p.ty {
            Type::MemRef(mt) => (&mt.elem, &mt.shape),
            t => (t, &[]),
        };
        let npy = npy_type(&p.dtype).ok_or_else(|| {
            unsupported(format!(
                "parameter `{}` has element type `{}`, which has no .npy form",
                p.name, p.dtype
            ))
        })?;
        if npy.ir != *elem {
            return Err(unsupported(format!(
                "parameter `{}` is declared `{}` but its IR type is `{}`",
                p.name, p.dtype, p.ty
            )));
        }
        let ct = scalar_ctype(elem).unwrap_or("uint8_t");
        let i = p.index;
        let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        let count = shape
            .iter()
            .try_fold(
                1i64,
                |acc, &d| if d < 0 { None } else { acc.checked_mul(d) },
            )
            .filter(|n| n.checked_mul(8).is_some())
            .ok_or_else(|| unsupported(format!("parameter `{}` is too large", p.name)))?;
        let _ = writeln!(
            decls,
            "static const uint64_t accc_shape_{i}[] = {{{}}};",
            if dims.is_empty() {
                "0".to_string()
            } else {
                dims.join(", ")
            }
        );
        let _ = writeln!(
            decls,
            "static const accc_param accc_param_{i} = {{{}, {}, {}, {}, {}, {}, accc_shape_{i}, sizeof({ct}), {}}};",
            c_string(&p.name),
            c_string(&p.dtype),
            c_string(npy.descr),
            c_string(&npy.descr[1..]),
            npy.alt_code.map_or("NULL".to_string(), c_string),
            shape.len(),
            u8::from(npy.is_bool),
        );
        emit_param(&mut body, &mut args, &mut writes, &mut frees, p, ct, count)?;
    }

    out.push_str(&decls);
    out.push_str("\nint main(int argc, char **argv) {\n");
    out.push_str("  uint64_t start, end;\n");
    out.push_str("  if (argc != 3) {\n");
    out.push_str("    fprintf(stderr, \"usage: %s INPUT_DIR OUTPUT_DIR\\n\", argv[0]);\n");
    out.push_str("    return 4;\n  }\n");
    out.push_str("  accc_check_host();\n");
    out.push_str(&body);
    out.push_str("  start = accc_now_ns();\n");
    let _ = writeln!(out, "  {c_name}({});", args.join(", "));
    out.push_str("  end = accc_now_ns();\n");
    out.push_str(&writes);
    out.push_str(&frees);
    out.push_str("  printf(\"kernel_ns %\" PRIu64 \"\\n\", end - start);\n");
    out.push_str("  return 0;\n}\n");
    Ok(())
}

fn emit_param(
    body: &mut String,
    args: &mut Vec<String>,
    writes: &mut String,
    frees: &mut String,
    p: &KernelParam,
    ct: &str,
    count: i64,
) -> Result<(), CError> {
    let i = p.index;
    let name = format!("arg{i}");
    if p.memref().is_some() {
        let _ = writeln!(
            body,
            "  {ct} *{name} = ({ct} *)accc_alloc({count}, sizeof({ct}));"
        );
        if p.is_output {
            let _ = writeln!(
                writes,
                "  accc_write_output(argv[2], &accc_param_{i}, {name});"
            );
        } else {
            let _ = writeln!(body, "  accc_read_input(argv[1], &accc_param_{i}, {name});");
        }
        let _ = writeln!(frees, "  free({name});");
        args.push(name);
    } else {
        if p.is_output {
            return Err(CError::Unsupported {
                op: "func.func".into(),
                loc: Default::default(),
                reason: format!(
                    "output `{}` is a scalar; outputs must be tensors (a kernel cannot write a scalar parameter)",
                    p.name
                ),
            });
        }
        let _ = writeln!(body, "  {ct} {name} = 0;");
        let _ = writeln!(
            body,
            "  accc_read_input(argv[1], &accc_param_{i}, &{name});"
        );
        args.push(name);
    }
    Ok(())
}

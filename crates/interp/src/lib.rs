//! accc-interp: the reference interpreter of accc's tensor IR.
//!
//! It defines what a kernel computes: targets, schedules and the verifier
//! are all judged against it. It executes `func`, `affine`, `arith`, `math`,
//! `memref` and `scf` ops with the meanings written next to each op in
//! `accc_ir::dialects` (over the [`concrete::Concrete`] value domain), and
//! follows `docs/semantics.md` for everything else: zero-filled
//! allocations, bounds-checked accesses, division by zero and use after
//! `dealloc` reported as errors with the op's source location. It never
//! panics on a verified module.
//!
//! Speed: a module is compiled once into instruction trees over a flat
//! register file, with each op's meaning and each access's index arithmetic
//! resolved ahead of time (see [`program`]), then into specialised closures
//! with single-use values fused into their consumers (`code.rs`);
//! `cargo bench -p accc-interp` reports executed ops per second on the
//! example GEMMs.
//!
//! ```
//! use accc_tensor::{DType, Tensor};
//! let text = r#"
//! func.func @double(%x: memref<4xi32>, %y: memref<4xi32>) {
//!   affine.for %i = 0 to 4 {
//!     %v = affine.load %x[%i] : memref<4xi32>
//!     %w = arith.addi %v, %v : i32
//!     affine.store %w, %y[%i] : memref<4xi32>
//!   }
//!   return
//! }"#;
//! let module = accc_ir::parse_module(&accc_ir::diag::SourceFile::new("double.mlir", text)).unwrap();
//! let interp = accc_interp::Interpreter::new(&module).unwrap();
//! let mut args = vec![
//!     Tensor::from_f64s(DType::I32, vec![4], &[1.0, -2.0, 3.0, 2147483647.0]),
//!     Tensor::zeros(DType::I32, vec![4]),
//! ];
//! interp.run("double", &mut args).unwrap();
//! assert_eq!(args[1].to_f64(1), -4.0);
//! assert_eq!(args[1].to_f64(3), -2.0); // wraps around
//! ```

mod code;
pub mod concrete;
mod exec;
pub mod program;

use accc_ir::semantics::{Fault, FloatFormat, ScalarType};
use accc_ir::{Location, Module, Type};
use accc_tensor::{DType, Tensor};

use exec::Machine;
use program::Program;

/// Why a module cannot be interpreted or a run failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InterpError {
    /// A run-time error of the program itself (docs/semantics.md).
    #[error("{location}: error: {fault} in `{op}`")]
    Fault {
        fault: Fault,
        op: String,
        location: Location,
    },
    #[error("{location}: error: the interpreter does not support `{op}` here: {reason}")]
    Unsupported {
        op: String,
        location: Location,
        reason: String,
    },
    #[error("no kernel named `{name}`; the module defines: {}", available.join(", "))]
    NoKernel {
        name: String,
        available: Vec<String>,
    },
    #[error("kernel `{kernel}` takes {expected} arguments, {given} were given")]
    ArgumentCount {
        kernel: String,
        expected: usize,
        given: usize,
    },
    #[error("argument {index} of kernel `{kernel}` must be {expected}, found a {found} tensor")]
    ArgumentType {
        kernel: String,
        index: usize,
        expected: String,
        found: String,
    },
}

/// What one run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Executed ops: each op once per execution, each loop once per
    /// iteration (its `yield`), terminators of straight-line blocks not
    /// counted.
    pub ops: u64,
}

/// A module compiled for interpretation; cheap to run many times.
pub struct Interpreter {
    program: Program,
    /// `program`'s functions compiled to closures, by index.
    code: Vec<std::sync::Arc<code::Compiled>>,
}

impl Interpreter {
    /// Compiles every function of a verified module.
    pub fn new(module: &Module) -> Result<Interpreter, InterpError> {
        let program = Program::compile(module)?;
        let code = code::compile_program(&program);
        Ok(Interpreter { program, code })
    }

    /// The module's function names, in module order.
    pub fn functions(&self) -> impl Iterator<Item = &str> {
        self.program.functions.iter().map(|f| f.name.as_str())
    }

    /// Runs `kernel` with `args` in parameter order: a tensor of the
    /// memref's shape and element width for each memref parameter, a rank-0
    /// tensor for each scalar. Memref arguments are passed by reference:
    /// what the kernel writes is in `args` afterwards (outputs, but also
    /// anything else it writes). On an error, `args` keep their contents from
    /// before the run.
    pub fn run(&self, kernel: &str, args: &mut [Tensor]) -> Result<RunStats, InterpError> {
        let Some(&f) = self.program.by_name.get(kernel) else {
            return Err(InterpError::NoKernel {
                name: kernel.to_string(),
                available: self.functions().map(str::to_string).collect(),
            });
        };
        let func = &self.program.functions[f];
        if args.len() != func.param_types.len() {
            return Err(InterpError::ArgumentCount {
                kernel: kernel.to_string(),
                expected: func.param_types.len(),
                given: args.len(),
            });
        }
        for (index, (ty, t)) in func.param_types.iter().zip(args.iter()).enumerate() {
            check_argument(ty, t).map_err(|expected| InterpError::ArgumentType {
                kernel: kernel.to_string(),
                index,
                expected,
                found: format!("{}{:?}", t.dtype, t.shape),
            })?;
        }
        let mut machine = Machine::new();
        let mut values = Vec::with_capacity(args.len());
        for (ty, t) in func.param_types.iter().zip(args.iter()) {
            values.push(match ty {
                Type::MemRef(mr) => machine.add_buffer(
                    exec::Storage::from_bits(t.dtype.bits(), &t.data),
                    mr.shape.clone().into(),
                ),
                _ => t.data[0],
            });
        }
        if machine.call(&self.code[f], &values).is_err() {
            let (func, site, fault) = machine.error.take().expect("a stopped run has its fault");
            return Err(self.program.functions[func].fault(site, fault));
        }
        for ((ty, t), v) in func.param_types.iter().zip(args.iter_mut()).zip(values) {
            if ty.as_memref().is_some() {
                t.data = machine.buffer_bits(v);
            }
        }
        Ok(RunStats { ops: machine.ops })
    }
}

/// `Err(description of the expected argument)` unless `t` fits `ty`.
fn check_argument(ty: &Type, t: &Tensor) -> Result<(), String> {
    let (elem, shape): (&Type, &[i64]) = match ty {
        Type::MemRef(mr) => (&mr.elem, &mr.shape),
        other => (other, &[]),
    };
    let describe = || match ty {
        Type::MemRef(_) => format!("a `{elem}` tensor of shape {shape:?}"),
        _ => format!("a `{elem}` scalar (a rank-0 tensor)"),
    };
    let fits_elem = match ScalarType::of(elem) {
        Some(ScalarType::Int(w)) => !t.dtype.is_float() && t.dtype.bits() == w,
        Some(ScalarType::Float(f)) => {
            t.dtype
                == match f {
                    FloatFormat::F16 => DType::F16,
                    FloatFormat::BF16 => DType::BF16,
                    FloatFormat::F32 => DType::F32,
                    FloatFormat::F64 => DType::F64,
                }
        }
        None => false,
    };
    let fits_shape =
        t.shape.len() == shape.len() && t.shape.iter().zip(shape).all(|(a, b)| *a as i64 == *b);
    if fits_elem && fits_shape && t.data.len() == t.len() {
        Ok(())
    } else {
        Err(describe())
    }
}

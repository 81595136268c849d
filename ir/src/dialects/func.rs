//! The `func` dialect: `func.func` (attributes `sym_name`, `function_type`,
//! optional `arg_attrs`: an array of dictionaries, one per argument),
//! `func.return` and `func.call` (attribute `callee`, a symbol reference).

use super::expect_counts;
use crate::attrs::Attribute;
use crate::builder::Builder;
use crate::entity::{Block, Op, Value};
use crate::module::{Module, OpSpec};
use crate::types::{FunctionType, Type};

/// Creates `func.func @name` at the end of the module body, with an entry
/// block whose arguments have the input types. The body has no terminator yet.
pub fn build_func(
    m: &mut Module,
    name: &str,
    inputs: Vec<Type>,
    results: Vec<Type>,
) -> (Op, Block) {
    let body = m.body();
    let mut b = Builder::at_end(m, body);
    let op = b.insert(
        OpSpec::new("func.func")
            .attr("sym_name", Attribute::string(name))
            .attr(
                "function_type",
                Attribute::Type(Type::Function(FunctionType {
                    inputs: inputs.clone(),
                    results,
                })),
            )
            .regions(1),
    );
    let region = m.op_regions(op)[0];
    let entry = m.append_block(region, &inputs);
    (op, entry)
}

pub fn build_return(b: &mut Builder, values: &[Value]) -> Op {
    b.insert(OpSpec::new("func.return").operands(values.iter().copied()))
}

pub fn build_call(b: &mut Builder, callee: &str, args: &[Value], results: Vec<Type>) -> Op {
    b.insert(
        OpSpec::new("func.call")
            .operands(args.iter().copied())
            .results(results)
            .attr("callee", Attribute::SymbolRef(callee.to_string())),
    )
}

/// The `func.func` ops of a module, in module order.
pub fn functions(m: &Module) -> impl Iterator<Item = Op> + '_ {
    m.block_ops(m.body())
        .iter()
        .copied()
        .filter(move |&o| m.op_name(o) == "func.func")
}

/// The function type of a `func.func`.
pub fn function_type(m: &Module, op: Op) -> Option<&FunctionType> {
    m.attr(op, "function_type")?.as_type()?.as_function()
}

pub fn sym_name(m: &Module, op: Op) -> Option<&str> {
    m.attr(op, "sym_name")?.as_str()
}

/// The attribute dictionary of argument `index` of a `func.func`, if any.
pub fn arg_attr<'m>(m: &'m Module, op: Op, index: usize, name: &str) -> Option<&'m Attribute> {
    m.attr(op, "arg_attrs")?
        .as_array()?
        .get(index)?
        .as_dict()?
        .get(name)
}

/// Sets one argument attribute, creating `arg_attrs` as needed.
pub fn set_arg_attr(m: &mut Module, op: Op, index: usize, name: &str, value: Attribute) {
    let n = function_type(m, op).map_or(0, |f| f.inputs.len());
    let mut dicts: Vec<Attribute> = match m.attr(op, "arg_attrs").and_then(Attribute::as_array) {
        Some(a) => a.to_vec(),
        None => vec![Attribute::Dict(Default::default()); n],
    };
    if dicts.len() <= index {
        dicts.resize(index + 1, Attribute::Dict(Default::default()));
    }
    if let Attribute::Dict(d) = &mut dicts[index] {
        d.insert(name.to_string(), value);
    }
    m.set_attr(op, "arg_attrs", Attribute::Array(dicts));
}

/// One parameter of a kernel as the front end describes it: the
/// `accc.name`, `accc.dtype` and `accc.output` argument attributes plus the
/// IR type. Runners and targets read kernels' interfaces through this.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelParam {
    pub index: usize,
    pub name: String,
    /// The source element type (`i8`, `u8`, `f32`, ...): IR integers are
    /// signless, so this is where signedness survives. Falls back to the IR
    /// element type's spelling (`i8`, `f32`) for functions without it.
    pub dtype: String,
    pub ty: Type,
    pub is_output: bool,
}

impl KernelParam {
    /// The memref type of a tensor parameter, `None` for a scalar.
    pub fn memref(&self) -> Option<&crate::types::MemRefType> {
        self.ty.as_memref()
    }
}

/// The parameters of `func.func` `op`, in argument order. Arguments without
/// `accc.name` are named `arg{i}`.
pub fn kernel_params(m: &Module, op: Op) -> Vec<KernelParam> {
    let Some(ft) = function_type(m, op) else {
        return Vec::new();
    };
    ft.inputs
        .iter()
        .enumerate()
        .map(|(i, ty)| {
            let elem = ty.as_memref().map_or(ty, |mr| &*mr.elem);
            KernelParam {
                index: i,
                name: arg_attr(m, op, i, "accc.name")
                    .and_then(Attribute::as_str)
                    .map_or_else(|| format!("arg{i}"), str::to_string),
                dtype: arg_attr(m, op, i, "accc.dtype")
                    .and_then(Attribute::as_str)
                    .map_or_else(|| elem.to_string(), str::to_string),
                ty: ty.clone(),
                is_output: arg_attr(m, op, i, "accc.output").is_some(),
            }
        })
        .collect()
}

pub(crate) fn verify(m: &Module, op: Op) -> Result<(), String> {
    match m.op_name(op) {
        "func.func" => {
            if sym_name(m, op).is_none() {
                return Err("requires a string `sym_name` attribute".into());
            }
            let Some(ft) = function_type(m, op) else {
                return Err("requires a `function_type` attribute of function type".into());
            };
            if m.op_regions(op).len() != 1 {
                return Err("expects one region".into());
            }
            if let Some(entry) = m.entry_block(op, 0) {
                let args: Vec<&Type> = m
                    .block_args(entry)
                    .iter()
                    .map(|v| m.value_type(*v))
                    .collect();
                if args.len() != ft.inputs.len()
                    || args.iter().zip(&ft.inputs).any(|(a, b)| *a != b)
                {
                    return Err("entry block arguments do not match the function type".into());
                }
            }
            if let Some(arg_attrs) = m.attr(op, "arg_attrs") {
                match arg_attrs.as_array() {
                    Some(a)
                        if a.len() == ft.inputs.len()
                            && a.iter().all(|d| d.as_dict().is_some()) => {}
                    _ => {
                        return Err(
                            "`arg_attrs` must be an array of one dictionary per argument".into(),
                        )
                    }
                }
            }
            Ok(())
        }
        "func.return" => {
            expect_counts(m, op, m.operands(op).len(), 0)?;
            let Some(func) = m.parent_op(op).filter(|p| m.op_name(*p) == "func.func") else {
                return Err("must be directly inside a `func.func`".into());
            };
            let Some(ft) = function_type(m, func) else {
                return Ok(());
            };
            let got: Vec<&Type> = m.operands(op).iter().map(|v| m.value_type(*v)).collect();
            if got.len() != ft.results.len() || got.iter().zip(&ft.results).any(|(a, b)| *a != b) {
                return Err(format!(
                    "returns ({}) but the function returns ({})",
                    join(got.iter().map(|t| t.to_string())),
                    join(ft.results.iter().map(|t| t.to_string()))
                ));
            }
            Ok(())
        }
        "func.call" => {
            let Some(callee) = m.attr(op, "callee").and_then(Attribute::as_symbol) else {
                return Err("requires a symbol `callee` attribute".into());
            };
            let Some(target) = m.lookup_symbol(callee) else {
                return Err(format!(
                    "calls `@{callee}`, which is not defined in the module"
                ));
            };
            let Some(ft) = function_type(m, target) else {
                return Ok(());
            };
            let args: Vec<&Type> = m.operands(op).iter().map(|v| m.value_type(*v)).collect();
            if args.len() != ft.inputs.len() || args.iter().zip(&ft.inputs).any(|(a, b)| *a != b) {
                return Err(format!(
                    "argument types do not match `@{callee}`'s signature"
                ));
            }
            let res: Vec<&Type> = m.results(op).iter().map(|v| m.value_type(*v)).collect();
            if res.len() != ft.results.len() || res.iter().zip(&ft.results).any(|(a, b)| *a != b) {
                return Err(format!("result types do not match `@{callee}`'s signature"));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn join(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

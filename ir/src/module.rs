//! The IR container: one arena per entity kind, with parent links and use
//! lists kept consistent by every mutating method.
//!
//! A [`Module`] owns a `builtin.module` op whose single block holds the
//! top-level ops (`func.func`, ...). Ops, blocks, regions and values are named
//! by ids ([`crate::entity`]); erased entities stay in their arena as
//! tombstones, detached from the tree, so ids are never reused.
//!
//! Invariants kept by this module (and checked by [`crate::verify`]):
//! - an op is in at most one block, a block in at most one region, a region
//!   in exactly one op; parent links agree with the child lists;
//! - every operand of a live op appears in its value's use list exactly at
//!   `(op, operand index)`, and nothing else does.

use crate::attrs::Attribute;
use crate::entity::{Block, Op, Region, Value};
use crate::types::Type;
use std::collections::BTreeMap;
use std::fmt;

/// Where an op came from in the user's source.
#[derive(
    Clone,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
pub enum Location {
    #[default]
    Unknown,
    FileLineCol {
        file: String,
        line: u32,
        col: u32,
    },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Unknown => write!(f, "<unknown>"),
            Location::FileLineCol { file, line, col } => write!(f, "{file}:{line}:{col}"),
        }
    }
}

/// One use of a value: operand `index` of `op`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Use {
    pub op: Op,
    pub index: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueDef {
    /// Result `index` of `op`.
    OpResult { op: Op, index: u32 },
    /// Argument `index` of `block`.
    BlockArg { block: Block, index: u32 },
}

#[derive(Clone, Debug)]
pub struct ValueData {
    pub ty: Type,
    pub def: ValueDef,
    uses: Vec<Use>,
    /// A preferred SSA name for printing (`%A`, `%i`), without the `%`.
    pub name_hint: Option<String>,
}

#[derive(Clone, Debug)]
pub struct OpData {
    pub name: String,
    operands: Vec<Value>,
    results: Vec<Value>,
    /// Sorted by name, as MLIR's attribute dictionaries are.
    pub attrs: BTreeMap<String, Attribute>,
    regions: Vec<Region>,
    parent: Option<Block>,
    pub loc: Location,
    erased: bool,
}

#[derive(Clone, Debug)]
pub struct BlockData {
    args: Vec<Value>,
    ops: Vec<Op>,
    parent: Option<Region>,
}

#[derive(Clone, Debug)]
pub struct RegionData {
    blocks: Vec<Block>,
    parent: Op,
}

/// Everything needed to create an op, as MLIR's `OperationState`.
#[derive(Clone, Debug, Default)]
pub struct OpSpec {
    pub name: String,
    pub operands: Vec<Value>,
    pub result_types: Vec<Type>,
    pub attrs: BTreeMap<String, Attribute>,
    /// Number of (initially empty) regions.
    pub num_regions: usize,
    pub loc: Location,
}

impl OpSpec {
    pub fn new(name: impl Into<String>) -> OpSpec {
        OpSpec {
            name: name.into(),
            ..OpSpec::default()
        }
    }
    #[must_use]
    pub fn operands(mut self, operands: impl IntoIterator<Item = Value>) -> OpSpec {
        self.operands.extend(operands);
        self
    }
    #[must_use]
    pub fn results(mut self, types: impl IntoIterator<Item = Type>) -> OpSpec {
        self.result_types.extend(types);
        self
    }
    #[must_use]
    pub fn attr(mut self, name: impl Into<String>, value: Attribute) -> OpSpec {
        self.attrs.insert(name.into(), value);
        self
    }
    #[must_use]
    pub fn regions(mut self, n: usize) -> OpSpec {
        self.num_regions = n;
        self
    }
    #[must_use]
    pub fn loc(mut self, loc: Location) -> OpSpec {
        self.loc = loc;
        self
    }
}

/// Errors of IR mutation that a caller can trigger with a bad request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IrError {
    #[error("cannot erase `{name}` ({op}): result {index} still has {uses} use(s)")]
    ResultStillUsed {
        op: Op,
        name: String,
        index: u32,
        uses: usize,
    },
    #[error("{0} is erased")]
    Erased(Op),
    #[error("{0} is already in a block")]
    AlreadyAttached(Op),
}

#[derive(Clone, Debug)]
pub struct Module {
    ops: Vec<OpData>,
    blocks: Vec<BlockData>,
    regions: Vec<RegionData>,
    values: Vec<ValueData>,
    top: Op,
}

impl Default for Module {
    fn default() -> Self {
        Module::new()
    }
}

impl Module {
    /// An empty `builtin.module` with one block.
    pub fn new() -> Module {
        let mut m = Module {
            ops: vec![],
            blocks: vec![],
            regions: vec![],
            values: vec![],
            top: Op(0),
        };
        let top = m.create_op(OpSpec::new("builtin.module").regions(1));
        m.top = top;
        let region = m.op_regions(top)[0];
        m.append_block(region, &[]);
        m
    }

    /// The `builtin.module` op.
    pub fn top(&self) -> Op {
        self.top
    }

    /// The block of the `builtin.module` op that holds the top-level ops.
    pub fn body(&self) -> Block {
        let region = self.ops[self.top.index()].regions[0];
        self.regions[region.index()].blocks[0]
    }

    // ----- creation -------------------------------------------------------

    /// Creates a detached op; insert it with [`Module::insert_op`] or
    /// [`Module::append_op`].
    pub fn create_op(&mut self, spec: OpSpec) -> Op {
        let op = Op(self.ops.len() as u32);
        self.ops.push(OpData {
            name: spec.name,
            operands: vec![],
            results: vec![],
            attrs: spec.attrs,
            regions: vec![],
            parent: None,
            loc: spec.loc,
            erased: false,
        });
        for (index, v) in spec.operands.into_iter().enumerate() {
            self.values[v.index()].uses.push(Use {
                op,
                index: index as u32,
            });
            self.ops[op.index()].operands.push(v);
        }
        for (index, ty) in spec.result_types.into_iter().enumerate() {
            let v = self.new_value(
                ty,
                ValueDef::OpResult {
                    op,
                    index: index as u32,
                },
            );
            self.ops[op.index()].results.push(v);
        }
        for _ in 0..spec.num_regions {
            let region = Region(self.regions.len() as u32);
            self.regions.push(RegionData {
                blocks: vec![],
                parent: op,
            });
            self.ops[op.index()].regions.push(region);
        }
        op
    }

    fn new_value(&mut self, ty: Type, def: ValueDef) -> Value {
        let v = Value(self.values.len() as u32);
        self.values.push(ValueData {
            ty,
            def,
            uses: vec![],
            name_hint: None,
        });
        v
    }

    /// Appends a new block with the given argument types to a region.
    pub fn append_block(&mut self, region: Region, arg_types: &[Type]) -> Block {
        let block = self.create_block(arg_types);
        self.blocks[block.index()].parent = Some(region);
        self.regions[region.index()].blocks.push(block);
        block
    }

    /// Creates a detached block.
    pub fn create_block(&mut self, arg_types: &[Type]) -> Block {
        let block = Block(self.blocks.len() as u32);
        self.blocks.push(BlockData {
            args: vec![],
            ops: vec![],
            parent: None,
        });
        for t in arg_types {
            self.add_block_arg(block, t.clone());
        }
        block
    }

    pub fn add_block_arg(&mut self, block: Block, ty: Type) -> Value {
        let index = self.blocks[block.index()].args.len() as u32;
        let v = self.new_value(ty, ValueDef::BlockArg { block, index });
        self.blocks[block.index()].args.push(v);
        v
    }

    /// Attaches a detached block at the end of a region.
    pub fn push_block(&mut self, region: Region, block: Block) {
        debug_assert!(
            self.blocks[block.index()].parent.is_none(),
            "block is already attached"
        );
        self.blocks[block.index()].parent = Some(region);
        self.regions[region.index()].blocks.push(block);
    }

    // ----- placement ------------------------------------------------------

    /// Inserts a detached op at position `index` of `block`.
    pub fn insert_op(&mut self, block: Block, index: usize, op: Op) -> Result<(), IrError> {
        if self.ops[op.index()].erased {
            return Err(IrError::Erased(op));
        }
        if self.ops[op.index()].parent.is_some() {
            return Err(IrError::AlreadyAttached(op));
        }
        let ops = &mut self.blocks[block.index()].ops;
        let index = index.min(ops.len());
        ops.insert(index, op);
        self.ops[op.index()].parent = Some(block);
        Ok(())
    }

    /// Appends a detached op to the end of `block`.
    pub fn append_op(&mut self, block: Block, op: Op) -> Result<(), IrError> {
        let len = self.blocks[block.index()].ops.len();
        self.insert_op(block, len, op)
    }

    /// Removes an op from its block, keeping it (and its uses) alive.
    pub fn detach_op(&mut self, op: Op) {
        if let Some(block) = self.ops[op.index()].parent.take() {
            self.blocks[block.index()].ops.retain(|&o| o != op);
        }
    }

    /// Moves an op right before `anchor` (in `anchor`'s block).
    pub fn move_op_before(&mut self, op: Op, anchor: Op) -> Result<(), IrError> {
        self.detach_op(op);
        let (block, index) = self.op_position(anchor).ok_or(IrError::Erased(anchor))?;
        self.insert_op(block, index, op)
    }

    /// Moves an op right after `anchor` (in `anchor`'s block).
    pub fn move_op_after(&mut self, op: Op, anchor: Op) -> Result<(), IrError> {
        self.detach_op(op);
        let (block, index) = self.op_position(anchor).ok_or(IrError::Erased(anchor))?;
        self.insert_op(block, index + 1, op)
    }

    /// The block holding an op and the op's index in it.
    pub fn op_position(&self, op: Op) -> Option<(Block, usize)> {
        let block = self.ops[op.index()].parent?;
        let index = self.blocks[block.index()]
            .ops
            .iter()
            .position(|&o| o == op)?;
        Some((block, index))
    }

    // ----- use lists and rewriting ------------------------------------------

    /// Replaces operand `index` of `op`, keeping use lists exact.
    pub fn set_operand(&mut self, op: Op, index: usize, new: Value) {
        let old = self.ops[op.index()].operands[index];
        let u = Use {
            op,
            index: index as u32,
        };
        self.values[old.index()].uses.retain(|x| *x != u);
        self.values[new.index()].uses.push(u);
        self.ops[op.index()].operands[index] = new;
    }

    /// Replaces all operands of `op` at once.
    pub fn set_operands(&mut self, op: Op, operands: Vec<Value>) {
        self.drop_operand_uses(op);
        for (index, v) in operands.iter().enumerate() {
            self.values[v.index()].uses.push(Use {
                op,
                index: index as u32,
            });
        }
        self.ops[op.index()].operands = operands;
    }

    fn drop_operand_uses(&mut self, op: Op) {
        let operands = std::mem::take(&mut self.ops[op.index()].operands);
        for (index, v) in operands.iter().enumerate() {
            let u = Use {
                op,
                index: index as u32,
            };
            self.values[v.index()].uses.retain(|x| *x != u);
        }
    }

    /// Makes every use of `old` a use of `new`.
    pub fn replace_all_uses(&mut self, old: Value, new: Value) {
        if old == new {
            return;
        }
        let uses = std::mem::take(&mut self.values[old.index()].uses);
        for u in &uses {
            self.ops[u.op.index()].operands[u.index as usize] = new;
        }
        self.values[new.index()].uses.extend(uses);
    }

    /// Replaces the uses of `op`'s results by `new` (one value per result)
    /// and erases `op`.
    pub fn replace_op(&mut self, op: Op, new: &[Value]) -> Result<(), IrError> {
        let results = self.ops[op.index()].results.clone();
        assert_eq!(
            results.len(),
            new.len(),
            "replace_op needs one replacement per result"
        );
        for (old, new) in results.iter().zip(new) {
            self.replace_all_uses(*old, *new);
        }
        self.erase_op(op)
    }

    /// Erases an op and everything nested in it. Fails, changing nothing, if
    /// a result of the op is used outside it.
    pub fn erase_op(&mut self, op: Op) -> Result<(), IrError> {
        if self.ops[op.index()].erased {
            return Err(IrError::Erased(op));
        }
        let nested = self.walk_ops(op);
        let inside: std::collections::HashSet<Op> = nested.iter().copied().collect();
        for &o in &nested {
            for (index, &r) in self.ops[o.index()].results.iter().enumerate() {
                let outside = self.values[r.index()]
                    .uses
                    .iter()
                    .filter(|u| !inside.contains(&u.op))
                    .count();
                if outside > 0 {
                    return Err(IrError::ResultStillUsed {
                        op: o,
                        name: self.ops[o.index()].name.clone(),
                        index: index as u32,
                        uses: outside,
                    });
                }
            }
        }
        self.detach_op(op);
        for &o in nested.iter().rev() {
            self.drop_operand_uses(o);
            self.ops[o.index()].erased = true;
        }
        for &o in &nested {
            for r in self.ops[o.index()].regions.clone() {
                for b in self.regions[r.index()].blocks.clone() {
                    self.blocks[b.index()].ops.clear();
                }
            }
        }
        Ok(())
    }

    /// Deep-copies `op` (with its regions) as a detached op. Operands are
    /// looked up in `map` (values not in it are used as they are); the
    /// clone's results and nested block arguments are added to `map`.
    pub fn clone_op(&mut self, op: Op, map: &mut ValueMap) -> Op {
        let data = &self.ops[op.index()];
        let spec = OpSpec {
            name: data.name.clone(),
            operands: data.operands.iter().map(|v| map.lookup(*v)).collect(),
            result_types: data
                .results
                .iter()
                .map(|v| self.values[v.index()].ty.clone())
                .collect(),
            attrs: data.attrs.clone(),
            num_regions: data.regions.len(),
            loc: data.loc.clone(),
        };
        let old_results = data.results.clone();
        let old_regions = data.regions.clone();
        let new = self.create_op(spec);
        for (old, new_v) in old_results
            .iter()
            .zip(self.ops[new.index()].results.clone())
        {
            self.values[new_v.index()].name_hint = self.values[old.index()].name_hint.clone();
            map.insert(*old, new_v);
        }
        let new_regions = self.ops[new.index()].regions.clone();
        for (old_r, new_r) in old_regions.iter().zip(new_regions) {
            self.clone_region_into(*old_r, new_r, map);
        }
        new
    }

    /// Clones the blocks of `from` to the end of `to`.
    pub fn clone_region_into(&mut self, from: Region, to: Region, map: &mut ValueMap) {
        for b in self.regions[from.index()].blocks.clone() {
            let arg_types: Vec<Type> = self
                .block_args(b)
                .iter()
                .map(|v| self.value_type(*v).clone())
                .collect();
            let nb = self.append_block(to, &arg_types);
            for (old, new) in self
                .block_args(b)
                .to_vec()
                .into_iter()
                .zip(self.block_args(nb).to_vec())
            {
                self.values[new.index()].name_hint = self.values[old.index()].name_hint.clone();
                map.insert(old, new);
            }
            for o in self.blocks[b.index()].ops.clone() {
                let c = self.clone_op(o, map);
                self.blocks[nb.index()].ops.push(c);
                self.ops[c.index()].parent = Some(nb);
            }
        }
    }

    // ----- accessors ------------------------------------------------------

    pub fn op(&self, op: Op) -> &OpData {
        &self.ops[op.index()]
    }
    pub fn op_mut(&mut self, op: Op) -> &mut OpData {
        &mut self.ops[op.index()]
    }
    pub fn op_name(&self, op: Op) -> &str {
        &self.ops[op.index()].name
    }
    pub fn is_erased(&self, op: Op) -> bool {
        self.ops[op.index()].erased
    }
    pub fn operands(&self, op: Op) -> &[Value] {
        &self.ops[op.index()].operands
    }
    pub fn operand(&self, op: Op, i: usize) -> Value {
        self.ops[op.index()].operands[i]
    }
    pub fn results(&self, op: Op) -> &[Value] {
        &self.ops[op.index()].results
    }
    pub fn result(&self, op: Op, i: usize) -> Value {
        self.ops[op.index()].results[i]
    }
    pub fn op_regions(&self, op: Op) -> &[Region] {
        &self.ops[op.index()].regions
    }
    pub fn attr(&self, op: Op, name: &str) -> Option<&Attribute> {
        self.ops[op.index()].attrs.get(name)
    }
    pub fn set_attr(&mut self, op: Op, name: impl Into<String>, value: Attribute) {
        self.ops[op.index()].attrs.insert(name.into(), value);
    }
    pub fn remove_attr(&mut self, op: Op, name: &str) -> Option<Attribute> {
        self.ops[op.index()].attrs.remove(name)
    }
    /// The block that contains the op, if it is attached.
    pub fn op_parent_block(&self, op: Op) -> Option<Block> {
        self.ops[op.index()].parent
    }
    /// The op whose region contains the op's block.
    pub fn parent_op(&self, op: Op) -> Option<Op> {
        let block = self.ops[op.index()].parent?;
        self.block_parent_op(block)
    }
    pub fn block_ops(&self, block: Block) -> &[Op] {
        &self.blocks[block.index()].ops
    }
    pub fn block_args(&self, block: Block) -> &[Value] {
        &self.blocks[block.index()].args
    }
    pub fn block_parent(&self, block: Block) -> Option<Region> {
        self.blocks[block.index()].parent
    }
    pub fn block_parent_op(&self, block: Block) -> Option<Op> {
        Some(self.regions[self.blocks[block.index()].parent?.index()].parent)
    }
    /// The last op of a block, its terminator when the block has one.
    pub fn block_terminator(&self, block: Block) -> Option<Op> {
        self.blocks[block.index()].ops.last().copied()
    }
    pub fn region_blocks(&self, region: Region) -> &[Block] {
        &self.regions[region.index()].blocks
    }
    pub fn region_parent(&self, region: Region) -> Op {
        self.regions[region.index()].parent
    }
    /// The entry block of the `i`-th region of `op`.
    pub fn entry_block(&self, op: Op, region_index: usize) -> Option<Block> {
        let region = *self.ops[op.index()].regions.get(region_index)?;
        self.regions[region.index()].blocks.first().copied()
    }
    pub fn value(&self, v: Value) -> &ValueData {
        &self.values[v.index()]
    }
    pub fn value_type(&self, v: Value) -> &Type {
        &self.values[v.index()].ty
    }
    pub fn set_value_type(&mut self, v: Value, ty: Type) {
        self.values[v.index()].ty = ty;
    }
    pub fn uses(&self, v: Value) -> &[Use] {
        &self.values[v.index()].uses
    }
    pub fn name_hint(&self, v: Value) -> Option<&str> {
        self.values[v.index()].name_hint.as_deref()
    }
    pub fn set_name_hint(&mut self, v: Value, name: impl Into<String>) {
        self.values[v.index()].name_hint = Some(name.into());
    }
    /// The op defining a value, if it is an op result.
    pub fn defining_op(&self, v: Value) -> Option<Op> {
        match self.values[v.index()].def {
            ValueDef::OpResult { op, .. } => Some(op),
            ValueDef::BlockArg { .. } => None,
        }
    }
    /// Number of op slots in the arena (live and erased); ids are below it.
    pub fn num_op_slots(&self) -> usize {
        self.ops.len()
    }
    pub fn num_value_slots(&self) -> usize {
        self.values.len()
    }

    // ----- traversal ------------------------------------------------------

    /// `op` and every op nested in it, in pre-order (parents first, then
    /// regions, blocks and ops in order).
    pub fn walk_ops(&self, op: Op) -> Vec<Op> {
        let mut out = vec![];
        self.walk(op, &mut |o| out.push(o));
        out
    }

    /// Calls `f` on `op` and every op nested in it, in pre-order.
    pub fn walk(&self, op: Op, f: &mut impl FnMut(Op)) {
        f(op);
        for &r in &self.ops[op.index()].regions {
            for &b in &self.regions[r.index()].blocks {
                for &o in &self.blocks[b.index()].ops {
                    self.walk(o, f);
                }
            }
        }
    }

    /// Is `op` nested (at any depth) inside `ancestor`? An op is not its own
    /// ancestor.
    pub fn is_proper_ancestor(&self, ancestor: Op, op: Op) -> bool {
        let mut cur = self.parent_op(op);
        while let Some(p) = cur {
            if p == ancestor {
                return true;
            }
            cur = self.parent_op(p);
        }
        false
    }

    /// The top-level op with the given `sym_name` (a function, usually).
    pub fn lookup_symbol(&self, name: &str) -> Option<Op> {
        self.block_ops(self.body())
            .iter()
            .copied()
            .find(|&o| self.attr(o, "sym_name").and_then(Attribute::as_str) == Some(name))
    }
}

/// A mapping from old values to new ones, used when cloning.
#[derive(Clone, Debug, Default)]
pub struct ValueMap {
    map: std::collections::HashMap<Value, Value>,
}

impl ValueMap {
    pub fn new() -> ValueMap {
        ValueMap::default()
    }
    pub fn insert(&mut self, from: Value, to: Value) {
        self.map.insert(from, to);
    }
    /// The mapped value, or `v` itself when unmapped.
    pub fn lookup(&self, v: Value) -> Value {
        self.map.get(&v).copied().unwrap_or(v)
    }
    pub fn get(&self, v: Value) -> Option<Value> {
        self.map.get(&v).copied()
    }
}

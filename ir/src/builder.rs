//! An insertion point into a block, used to create ops in order.
//!
//! Dialect constructors (`crate::dialects::*::build_*`) take a `Builder` so
//! that frontends and rewrites create ops the same way.

use crate::entity::{Block, Op, Value};
use crate::module::{Location, Module, OpSpec};

pub struct Builder<'m> {
    pub module: &'m mut Module,
    block: Block,
    /// Insert before this position; `None` appends at the end.
    index: Option<usize>,
    loc: Location,
}

impl<'m> Builder<'m> {
    /// Inserts at the end of `block`.
    pub fn at_end(module: &'m mut Module, block: Block) -> Builder<'m> {
        Builder {
            module,
            block,
            index: None,
            loc: Location::Unknown,
        }
    }
    /// Inserts at the start of `block`.
    pub fn at_start(module: &'m mut Module, block: Block) -> Builder<'m> {
        Builder {
            module,
            block,
            index: Some(0),
            loc: Location::Unknown,
        }
    }
    /// Inserts right before `op`; `None` if `op` is not in a block.
    pub fn before(module: &'m mut Module, op: Op) -> Option<Builder<'m>> {
        let (block, index) = module.op_position(op)?;
        Some(Builder {
            module,
            block,
            index: Some(index),
            loc: Location::Unknown,
        })
    }
    /// Inserts right after `op`; `None` if `op` is not in a block.
    pub fn after(module: &'m mut Module, op: Op) -> Option<Builder<'m>> {
        let (block, index) = module.op_position(op)?;
        Some(Builder {
            module,
            block,
            index: Some(index + 1),
            loc: Location::Unknown,
        })
    }
    /// Inserts before the terminator of `block` (at the end if it is empty).
    pub fn before_terminator(module: &'m mut Module, block: Block) -> Builder<'m> {
        let len = module.block_ops(block).len();
        Builder {
            module,
            block,
            index: Some(len.saturating_sub(1)),
            loc: Location::Unknown,
        }
    }
    pub fn block(&self) -> Block {
        self.block
    }
    /// The location given to ops created from now on (unless their spec has one).
    pub fn set_loc(&mut self, loc: Location) {
        self.loc = loc;
    }
    pub fn loc(&self) -> &Location {
        &self.loc
    }

    /// Creates the op and inserts it at the insertion point, which then moves
    /// past it.
    pub fn insert(&mut self, mut spec: OpSpec) -> Op {
        if spec.loc == Location::Unknown {
            spec.loc = self.loc.clone();
        }
        let op = self.module.create_op(spec);
        let index = self
            .index
            .unwrap_or(self.module.block_ops(self.block).len());
        // A freshly created op is live and detached, so insertion cannot fail.
        self.module
            .insert_op(self.block, index, op)
            .expect("fresh op is detached");
        if let Some(i) = self.index.as_mut() {
            *i += 1;
        }
        op
    }

    /// Inserts an op with exactly one result and returns that result.
    pub fn insert_value(&mut self, spec: OpSpec) -> Value {
        debug_assert_eq!(
            spec.result_types.len(),
            1,
            "insert_value needs a single-result op"
        );
        let op = self.insert(spec);
        self.module.result(op, 0)
    }
}

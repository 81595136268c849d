//! Typed ids for IR entities, in the spirit of Cranelift's entity maps.
//!
//! Rust references fight the graph shape of an IR (ops point at values,
//! values at their uses, blocks at their parents), so every entity lives in
//! one arena in [`crate::Module`] and is named by a small copyable id. One id
//! type per kind keeps a block id from being used as a value id.

macro_rules! entity {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub(crate) u32);

        impl $name {
            /// The arena index of this entity.
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }
    };
}

entity!(
    /// An operation.
    Op,
    "op"
);
entity!(
    /// An SSA value: an op result or a block argument.
    Value,
    "v"
);
entity!(
    /// A basic block: typed arguments and a list of ops.
    Block,
    "bb"
);
entity!(
    /// A region: a list of blocks owned by an op.
    Region,
    "region"
);

//! End-to-end tests of the portable C target: emit a kernel, compile it with
//! the host C compiler, run it on `.npy` inputs and compare the outputs bit
//! for bit with values computed by hand from docs/semantics.md.

mod emitted;
mod examples;
mod faults;
mod floats;
mod harness;
mod ints;
mod support;

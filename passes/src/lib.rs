//! accc-passes: the pass manager and, later, the schedule primitives.

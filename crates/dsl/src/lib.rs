//! accc-dsl

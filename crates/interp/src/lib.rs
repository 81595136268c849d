//! accc-interp (being written).

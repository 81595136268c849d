//! accc-tensor (being written).

//! accc library facade

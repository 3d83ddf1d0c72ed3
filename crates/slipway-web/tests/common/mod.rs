//! Helpers shared by the slipway-web integration tests.
pub mod browser;
pub mod seed;

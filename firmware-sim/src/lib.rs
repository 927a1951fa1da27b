//! Simulated water meter fleets.
pub mod model;

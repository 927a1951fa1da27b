//! Consumption and fault model (placeholder, being written).

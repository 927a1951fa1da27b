//! Polish identifiers (placeholder, being written).

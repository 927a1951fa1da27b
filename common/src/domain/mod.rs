//! Domain types: values that are valid by construction once parsed at the edge.

pub mod identifiers;

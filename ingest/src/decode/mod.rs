//! Payload decoders (being written).

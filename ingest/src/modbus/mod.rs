//! Modbus TCP source: polls the configured devices (`[[ingest.modbus]]`, see docs/ingest.md) and
//! hands each poll's readings to the pipeline as one [`Envelope`](crate::pipeline::Envelope).
//!
//! - [`registers`]: pure register arithmetic (exact scales, word orders, status bits) and the
//!   per-device [`ReadPlan`], which groups the meters' registers into as few requests as
//!   possible, so a poll costs few round trips.
//! - [`poller`]: the per-device poll loop (connection, timeout, retries, back-off, metrics).

pub mod poller;
pub mod registers;

#[cfg(test)]
mod test_server;

pub use poller::{PollTiming, run_device, run_device_with, spawn_all};
pub use registers::{ReadPlan, ReadRequest, Scale, ScaleError, combine, split, status_flags};

//! The `ebok` binary's library: the command line, the composition of parts into one process, the
//! private local stack, and the demo utility.

pub mod bench;
pub mod cli;
pub mod demo;
pub mod run;
pub mod sim;
pub mod stack;
pub mod telemetry;

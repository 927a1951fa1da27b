//! The `ebok` binary's library: the command line, the composition of parts into one process, the
//! private local stack, the demo utility, gateway accounts and access-token keys.

pub mod bench;
pub mod billing;
pub mod cli;
pub mod demo;
pub mod gateway;
pub mod run;
pub mod sim;
pub mod stack;
pub mod telemetry;
pub mod token_keys;

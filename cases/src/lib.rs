//! Cases: residents' applications and letters to the utility, and their handling by staff
//! (seed 004's connection conditions and supply contract; seeds 000, 001 and 003's case
//! handling).
//!
//! The pure core, no I/O:
//! - [`form`]: application forms as data (fields of checked kinds, conditions), and the check
//!   of a submission with a Polish message at each wrong field;
//! - [`attachments`]: which files a form takes, told by content, and what a submission lacks;
//! - [`builtin`]: the application types every utility starts with;
//! - [`lifecycle`]: the states of a case and who may move it how;
//! - [`deadline`]: the 30 days (paused, extended, moved to a working day) and the appeal time;
//! - [`number`]: case numbers, `WTP/2026/000123`.
//!
//! And the shell over PostgreSQL (migrations 0027 and 0028):
//! - [`types`]: a utility's application types, the built-in ones copied in, then its own;
//! - [`store`]: drafts, attachments, submission and every later action, each with its
//!   history row, the resident's notice and an audit entry; the public status lookup;
//! - [`documents`]: files stored once per utility by their SHA-256;
//! - [`letters`]: the acknowledgement, decisions and contract, from the utility's templates;
//! - [`signing`]: signing the offered contract behind a trait, and the public check of a
//!   document against its hash;
//! - [`overdue`]: alerts for cases past their deadline;
//! - [`views`]: a resident's cases, and one case with its history, files and deadline.

pub mod attachments;
pub mod builtin;
pub mod deadline;
pub mod documents;
pub mod form;
pub mod letters;
pub mod lifecycle;
pub mod number;
pub mod overdue;
pub mod signing;
pub mod store;
pub mod types;
pub mod views;

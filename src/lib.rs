//! The `sealpass` command: [`cli`] turns arguments into calls on the crates beneath it and
//! [`output`] is the only place that prints. The layers run one way, each its own crate, so the
//! compiler keeps them honest (`docs/architecture.md`):
//!
//! - `sealpass-core`: pure — policies, the generator, the envelope, age sealing, links, the
//!   catalog, events, the audit chain, receipts, the vendor's manifest and the trust verdict;
//! - `sealpass-client`: the HTTP client, the hand-over, private files, exit codes;
//! - `sealpass-server` (feature `server`): the drop server, its stores and its configuration;
//! - this crate: the CLI, process hardening and output.

pub mod cli;
pub mod harden;
pub mod output;

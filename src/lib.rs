//! sealpass hands a CRM service-account credential from a customer to a vendor without anyone
//! seeing it in the clear: it generates or checks the password against the CRM's policy, seals it
//! with age to the vendor's keys, and moves only ciphertext through a single-use drop server.
//!
//! The library is layered so the pure parts stay pure: [`policy`] and [`generate`] know nothing
//! of terminals, files or networks; [`cli`] glues them to the outside world, and [`output`] is the
//! only place that prints. See `docs/architecture.md`.

pub mod cli;
pub mod exit;
pub mod generate;
pub mod output;
pub mod policy;

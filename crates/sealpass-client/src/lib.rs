//! sealpass's client side: talking to a drop server ([`http`]), the hand-over built on it
//! ([`handover`]: send, receive, and checking what a server serves against what the caller
//! trusts), signing staff in with an identity provider ([`login`]), private files on disk ([`files`]) and the exit codes every command ends with
//! ([`exit`]). It stands on `sealpass-core` and knows nothing of the server.

pub mod exit;
pub mod files;
pub mod handover;
pub mod http;
pub mod login;

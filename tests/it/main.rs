//! The one integration test binary: the real `sealpass` binary driven end to end, and property
//! tests of the library's promises.

mod access;
mod cctv;
mod certificates;
mod check_cli;
mod cli_edges;
mod envelope_cli;
mod events;
mod generate_cli;
mod hardening;
mod hardening_process;
mod helpers;
mod hostile_server;
mod interop;
mod login;
mod oidc;
mod policies_cli;
mod properties;
mod redis_servers;
mod redis_support;
mod serve_cli;
mod server_api;
mod server_support;
mod snapshots;
mod store_conformance;
mod trust_root;
mod vendor_key;
mod workflow;

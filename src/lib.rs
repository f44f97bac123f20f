//! sealpass hands a CRM service-account credential from a customer to a vendor without anyone
//! seeing it in the clear: it generates or checks the password against the CRM's policy, seals it
//! with age to the vendor's keys, and moves only ciphertext through a single-use drop server.
//!
//! The library is layered so the pure parts stay pure: [`policy`] and [`generate`] know nothing
//! of terminals, files or networks; [`cli`] glues them to the outside world, and [`output`] is the
//! only place that prints. See `docs/architecture.md`.
//!
//! ```
//! use rand::SeedableRng;
//! use sealpass::generate::Generator;
//! use sealpass::policy::Policy;
//!
//! let policy = Policy::preset("salesforce")?;
//! let generator = Generator::new(&policy, None)?;
//! let password = generator.generate(&mut rand::rngs::StdRng::from_os_rng())?;
//! assert_eq!(password.len(), 32);
//! assert!((generator.entropy_bits() - 196.1).abs() < 0.05);
//! assert!(policy.check(&password, Some("kore@acme.example")).compliant);
//!
//! let typed = policy.check("Password123!Password123!Password1", None);
//! assert!(!typed.compliant);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod api;
pub mod audit;
pub mod catalog;
pub mod cert;
pub mod checkpoint;
pub mod cli;
pub mod client;
#[cfg(feature = "server")]
pub mod config;
pub mod contents;
pub mod crypto;
pub mod duration;
pub mod envelope;
pub mod events;
pub mod exit;
pub mod files;
pub mod generate;
pub mod handover;
pub mod harden;
pub mod keyfile;
pub mod link;
pub mod manifest;
pub mod output;
pub mod policy;
pub mod qr;
pub mod receipt;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "server")]
pub mod store;
pub mod trust;
pub mod webhook;

//! sealpass's pure core: what a credential hand-over is, with no terminal, file or network in
//! sight. Policies and the generator decide what a compliant password is; the envelope and age
//! sealing decide what travels; links, the manifest and the trust verdict decide whom to trust;
//! events, the audit chain and receipts decide what is recorded. The client, the server and the
//! CLI are built on it and it on none of them (`docs/architecture.md`).
//!
//! ```
//! use rand::SeedableRng;
//! use sealpass_core::generate::Generator;
//! use sealpass_core::policy::Policy;
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

pub mod access;
pub mod api;
pub mod audit;
pub mod catalog;
pub mod cert;
pub mod checkpoint;
pub mod contents;
pub mod crypto;
pub mod duration;
pub mod envelope;
pub mod events;
pub mod generate;
pub mod keyfile;
pub mod link;
pub mod manifest;
pub mod policy;
pub mod qr;
pub mod receipt;
pub mod text;
pub mod trust;
pub mod webhook;

//! Sealing and opening a typical envelope (criterion). Run: `cargo bench --bench envelope`.
//! Whole-process figures beside the age CLI are in docs/performance.md.

use criterion::{Criterion, criterion_group, criterion_main};
use sealpass_core::crypto::{self, Identities};
use sealpass_core::envelope::{Envelope, Kind};
use secrecy::{ExposeSecret, SecretString};

fn envelope() -> Envelope {
    Envelope {
        kind: Kind::SalesforcePassword,
        secret: SecretString::from("5=3wNdPM1Rk+3b_xHkKalOcE4$4eKNZJ"),
        fields: [("username".to_owned(), SecretString::from("kore@acme.example"))].into_iter().collect(),
        policy: Some("salesforce".into()),
        rules: None,
        note: None,
        request: None,
        created_at: "2026-11-27T12:00:00Z".into(),
        sender: None,
        allow_weak: false,
    }
}

fn seal_open(c: &mut Criterion) {
    // X25519 as the figures in docs/performance.md were measured, then the hybrid default.
    for (name, (identity, recipient)) in [
        ("envelope", crypto::generate_classic_identity("bench")),
        ("envelope-hybrid", crypto::generate_identity("bench")),
    ] {
        let identities = Identities::parse(identity.expose_secret().as_bytes()).unwrap();
        let recipients = [recipient];
        let e = envelope();
        let sealed = crypto::seal(&e.to_padded_bytes().unwrap(), &recipients).unwrap();
        c.bench_function(&format!("{name}/seal"), |b| {
            b.iter(|| crypto::seal(&e.to_padded_bytes().unwrap(), &recipients).unwrap())
        });
        c.bench_function(&format!("{name}/open"), |b| {
            b.iter(|| Envelope::from_bytes(&crypto::open(sealed.as_bytes(), &identities).unwrap()).unwrap())
        });
    }
}

criterion_group!(benches, seal_open);
criterion_main!(benches);

//! Custom `passwordrules`: parse; if they parse, build a generator; if that works, generate
//! (bounded: an error, never a hang) and check that what it made complies; check the input
//! itself as a secret too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;
use sealpass_core::generate::Generator;
use sealpass_core::policy::Policy;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(policy) = Policy::from_rules(text) else { return };
    let _ = policy.check(text, Some("kore@acme.example"));
    if let Ok(generator) = Generator::new(&policy, None) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(data.len() as u64);
        if let Ok(password) = generator.generate(&mut rng) {
            let report = policy.check(&password, None);
            assert!(report.compliant, "{text:?} generated a password its own rules refuse: {:?}", report.rules);
            assert_eq!(password.chars().count(), generator.length());
        }
    }
});

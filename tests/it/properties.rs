//! Property tests: whatever the generator makes for a policy, that policy's checker accepts.

use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use sealpass_core::generate::Generator;
use sealpass_core::policy::Policy;

proptest! {
    // A fixed seed: CI explores the same cases every run; change it to explore others.
    #![proptest_config(ProptestConfig {
        cases: 64,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5ea1_9a55),
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_generated_preset_password_passes_its_check(
        seed in any::<u64>(),
        preset in prop::sample::select(vec!["salesforce", "entra-password", "strong"]),
        extra in 0usize..20,
    ) {
        let policy = Policy::preset(preset).unwrap();
        let default = Generator::new(&policy, None).unwrap().length();
        let length = (default + extra).min(policy.max_length.unwrap_or(usize::MAX));
        let g = Generator::new(&policy, Some(length)).unwrap();
        let mut rng = StdRng::seed_from_u64(seed);
        let pw = g.generate(&mut rng).unwrap();
        let report = policy.check(&pw, Some("kore@acme.example"));
        prop_assert!(report.compliant, "{preset} {}: {:#?}", pw.as_str(), report.rules);
    }

    #[test]
    fn shortest_allowed_lengths_still_pass(seed in any::<u64>(), preset in prop::sample::select(vec!["salesforce", "strong"])) {
        let policy = Policy::preset(preset).unwrap();
        let g = Generator::new(&policy, Some(policy.min_length)).unwrap();
        let pw = g.generate(&mut StdRng::seed_from_u64(seed)).unwrap();
        prop_assert!(policy.check(&pw, None).compliant, "{preset} {}", pw.as_str());
    }

    #[test]
    fn every_generated_custom_password_passes_its_rules(
        seed in any::<u64>(),
        min in 1u32..40,
        span in 0u32..40,
        allowed in prop::collection::vec(prop::sample::select(vec!["upper", "lower", "digit", "special", "ascii-printable", "[-_.]", "[abc]"]), 0..3),
        required in prop::collection::vec(prop::sample::select(vec!["upper", "lower", "digit", "special", "[-]", "[xyz]", "upper, digit"]), 0..4),
        max_consecutive in prop::option::of(1u32..4),
    ) {
        let mut rules = format!("minlength: {min}; maxlength: {};", min + span);
        for a in &allowed { rules.push_str(&format!(" allowed: {a};")); }
        for r in &required { rules.push_str(&format!(" required: {r};")); }
        if let Some(m) = max_consecutive { rules.push_str(&format!(" max-consecutive: {m};")); }
        let policy = Policy::from_rules(&rules).unwrap();
        // Some random rule sets are unsatisfiable (too short for the required classes); the
        // generator must say so rather than loop. The rest must produce compliant passwords.
        if let Ok(g) = Generator::new(&policy, None) {
            let mut rng = StdRng::seed_from_u64(seed);
            for _ in 0..5 {
                let pw = g.generate(&mut rng).unwrap();
                let report = policy.check(&pw, None);
                prop_assert!(report.compliant, "{rules} → {}: {:#?}", pw.as_str(), report.rules);
                let ceiling = pw.len() as f64 * (g.alphabet_len() as f64).log2();
                prop_assert!(g.entropy_bits() >= 0.0 && g.entropy_bits() <= ceiling + 1e-9, "{} > {ceiling}", g.entropy_bits());
            }
        }
    }
}

//! Tests of the generator: exact counting against brute force, entropy against hand-computed
//! values, refusals, and uniformity (chi-square) with a seeded RNG.

use super::count::{compliant_count, log2, mask_sizes};
use super::*;
use num_bigint::BigUint;
use rand::SeedableRng;
use rand::rngs::StdRng;

fn brute_force(alphabet: &[char], required: &[Charset], length: usize, max_run: Option<usize>) -> u64 {
    let n = alphabet.len();
    let mut count = 0;
    for mut code in 0..(n as u64).pow(length as u32) {
        let s: Vec<char> = (0..length)
            .map(|_| {
                let c = alphabet[(code % n as u64) as usize];
                code /= n as u64;
                c
            })
            .collect();
        let classes = required.iter().all(|r| s.iter().any(|&c| r.contains(c)));
        let runs = max_run.is_none_or(|k| s.windows(k + 1).all(|w| w.iter().any(|&c| c != w[0])));
        count += u64::from(classes && runs);
    }
    count
}

#[test]
fn counting_matches_brute_force_on_small_cases() {
    let alphabet: Vec<char> = "abcD1-".chars().collect();
    let lower = Charset::of("abc");
    let cases: Vec<(Vec<Charset>, usize, Option<usize>)> = vec![
        (vec![], 5, None),
        (vec![lower, Charset::of("D"), Charset::of("1-")], 5, None),
        (vec![lower, Charset::of("D")], 6, Some(1)),
        (vec![Charset::of("aD"), Charset::of("D1")], 6, Some(2)),
        (vec![Charset::of("-")], 4, Some(3)),
    ];
    for (required, length, run) in cases {
        let exact = compliant_count(alphabet.len(), &mask_sizes(&alphabet, &required), length, run);
        assert_eq!(
            exact,
            BigUint::from(brute_force(&alphabet, &required, length, run)),
            "{required:?} {length} {run:?}"
        );
    }
}

#[test]
fn entropy_matches_hand_computed_values() {
    // 30 characters of the 94 printable, all four classes required: 196.59 bits.
    let p = Policy::from_rules(
        "minlength: 30; maxlength: 30; required: upper; required: lower; required: digit; required: special",
    )
    .unwrap();
    let g = Generator::new(&p, None).unwrap();
    assert_eq!(g.alphabet.len(), 94);
    assert!((g.entropy_bits() - 196.59).abs() < 0.005, "{}", g.entropy_bits());
    // Salesforce: 32 of 70 with all four classes; 32·log2(70) = 196.135 minus the small
    // share of strings missing a class.
    let sf = Generator::new(&Policy::preset("salesforce").unwrap(), None).unwrap();
    assert!((sf.entropy_bits() - 196.1).abs() < 0.05, "{}", sf.entropy_bits());
    assert!(sf.entropy_bits() < 32.0 * 70f64.log2());
    // No required classes: exactly length · log2(alphabet).
    let strong = Generator::new(&Policy::preset("strong").unwrap(), None).unwrap();
    assert!((strong.entropy_bits() - 24.0 * 76f64.log2()).abs() < 1e-9);
}

#[test]
fn external_presets_say_who_generates() {
    let err = Generator::new(&Policy::preset("microsoft-app-password").unwrap(), None).unwrap_err();
    assert!(err.to_string().contains("Microsoft generates app passwords"), "{err}");
    let err = Generator::new(&Policy::preset("entra-client-secret").unwrap(), None).unwrap_err();
    assert!(err.to_string().contains("Entra ID generates client secrets"), "{err}");
}

#[test]
fn length_must_fit_the_policy() {
    let sf = Policy::preset("salesforce").unwrap();
    assert!(matches!(Generator::new(&sf, Some(29)), Err(GenerateError::Length { .. })));
    assert!(Generator::new(&sf, Some(30)).is_ok() && Generator::new(&sf, Some(128)).is_ok());
    assert!(Generator::new(&sf, Some(129)).is_err());
    let strong = Policy::preset("strong").unwrap();
    assert!(Generator::new(&strong, Some(MAX_LENGTH + 1)).unwrap_err().to_string().contains("at most"));
}

#[test]
fn impossible_and_too_sparse_rules_are_refused() {
    let p = Policy::from_rules("maxlength: 2; required: upper; required: lower; required: digit").unwrap();
    assert!(
        Generator::new(&p, None).unwrap_err().to_string().contains("requires 3 classes but a 2-character password")
    );
    let p = Policy::from_rules(
        "minlength: 8; maxlength: 8; allowed: ascii-printable; required: [a]; required: [b]; required: [c]; \
         required: [d]; required: [e]; required: [f]; required: [g]",
    )
    .unwrap();
    assert!(Generator::new(&p, None).unwrap_err().to_string().contains("too few to find by rejection"));
    // Two strings of 64 (abab…, baba…): sparse among 2^64, but drawn directly, not by rejection.
    let p = Policy::from_rules("minlength: 64; allowed: [ab]; max-consecutive: 1").unwrap();
    let g = Generator::new(&p, None).unwrap();
    assert_eq!(g.entropy_bits(), 1.0);
    let pw = g.generate(&mut StdRng::seed_from_u64(3)).unwrap();
    assert!(pw.starts_with("abab") || pw.starts_with("baba"), "{}", pw.as_str());
    let p = Policy::from_rules("allowed: lower; required: [ ]").unwrap();
    assert!(Generator::new(&p, None).unwrap_err().to_string().contains("has no character it may generate"));
    let p = Policy::from_rules("required: [ ]").unwrap();
    assert!(Generator::new(&p, None).unwrap_err().to_string().contains("nothing to draw from"));
}

#[test]
fn generated_passwords_honour_max_consecutive_and_classes() {
    let p = Policy::from_rules("minlength: 40; maxlength: 40; allowed: [abc]; required: digit; max-consecutive: 1")
        .unwrap();
    let g = Generator::new(&p, None).unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    for _ in 0..200 {
        let pw = g.generate(&mut rng).unwrap();
        assert!(p.check(&pw, None).compliant, "{}", pw.as_str());
    }
}

#[test]
fn log2_is_exact_for_powers_of_two_and_large_values() {
    assert_eq!(log2(&BigUint::from(1u8)), 0.0);
    assert_eq!(log2(&(BigUint::from(1u8) << 300u32)), 300.0);
    let big = BigUint::from(70u8).pow(32);
    assert!((log2(&big) - 32.0 * 70f64.log2()).abs() < 1e-9);
}

/// Chi-square critical value for `df` degrees of freedom at p = 1e-4 (Wilson–Hilferty).
fn chi_square_critical(df: f64) -> f64 {
    let z = 3.719;
    let a = 2.0 / (9.0 * df);
    df * (1.0 - a + z * a.sqrt()).powi(3)
}

fn chi_square(observed: &[f64], expected: &[f64]) -> f64 {
    observed.iter().zip(expected).map(|(o, e)| (o - e) * (o - e) / e).sum()
}

#[test]
fn strong_passwords_are_uniform_over_their_alphabet() {
    let g = Generator::new(&Policy::preset("strong").unwrap(), None).unwrap();
    let mut rng = StdRng::seed_from_u64(0x5ea1_9a55);
    let mut counts = std::collections::HashMap::<char, f64>::new();
    let mut total = 0.0;
    while total < 120_000.0 {
        for c in g.generate(&mut rng).unwrap().chars() {
            *counts.entry(c).or_default() += 1.0;
            total += 1.0;
        }
    }
    assert_eq!(counts.len(), 76, "every character of the alphabet appears");
    let observed: Vec<f64> = g.alphabet.iter().map(|c| counts.get(c).copied().unwrap_or(0.0)).collect();
    let expected = vec![total / 76.0; 76];
    let stat = chi_square(&observed, &expected);
    assert!(stat < chi_square_critical(75.0), "chi-square {stat:.1} over 75 df");
}

/// Per-class totals of `passwords` for the four disjoint Salesforce classes.
fn class_totals(classes: &[Charset], passwords: impl Iterator<Item = String>) -> Vec<f64> {
    let mut totals = vec![0.0; classes.len()];
    for pw in passwords {
        for c in pw.chars() {
            let k = classes.iter().position(|class| class.contains(c)).expect("every character is in a class");
            totals[k] += 1.0;
        }
    }
    totals
}

/// Expected share of each class per character of a uniformly drawn compliant password: the first
/// character is in class K for |K| · count(n − 1 strings covering the other classes) of them.
fn exact_class_shares(g: &Generator) -> Vec<f64> {
    let all = super::count::compliant(&g.alphabet, &g.required, g.length, None);
    g.required
        .iter()
        .enumerate()
        .map(|(k, class)| {
            let others: Vec<Charset> =
                g.required.iter().enumerate().filter(|(i, _)| *i != k).map(|(_, c)| *c).collect();
            let rest = super::count::compliant(&g.alphabet, &others, g.length - 1, None);
            let first_in_k = rest * BigUint::from(class.ascii_len());
            (log2(&first_in_k) - log2(&all)).exp2()
        })
        .collect()
}

/// The biased method we must not use: one of each required class, the rest at random, shuffled.
fn insert_and_shuffle(g: &Generator, rng: &mut StdRng) -> String {
    use rand::seq::{IndexedRandom, SliceRandom};
    let mut chars: Vec<char> =
        g.required.iter().map(|class| *class.ascii_chars().collect::<Vec<_>>().choose(rng).unwrap()).collect();
    while chars.len() < g.length {
        chars.push(*g.alphabet.choose(rng).unwrap());
    }
    chars.shuffle(rng);
    chars.into_iter().collect()
}

#[test]
fn salesforce_passwords_are_uniform_over_the_compliant_set() {
    let g = Generator::new(&Policy::preset("salesforce").unwrap(), None).unwrap();
    let mut rng = StdRng::seed_from_u64(70);
    let passwords: Vec<String> = (0..4000).map(|_| g.generate(&mut rng).unwrap().to_string()).collect();
    let total = (4000 * g.length) as f64;
    assert!(total >= 100_000.0);

    // Within each class every character is equally likely.
    let mut counts = std::collections::HashMap::<char, f64>::new();
    passwords.iter().flat_map(|p| p.chars()).for_each(|c| *counts.entry(c).or_default() += 1.0);
    let totals = class_totals(&g.required, passwords.iter().cloned());
    let (mut observed, mut expected) = (Vec::new(), Vec::new());
    for (class, class_total) in g.required.iter().zip(&totals) {
        for c in class.ascii_chars() {
            observed.push(counts.get(&c).copied().unwrap_or(0.0));
            expected.push(class_total / class.ascii_len() as f64);
        }
    }
    let stat = chi_square(&observed, &expected);
    assert!(stat < chi_square_critical(66.0), "within-class chi-square {stat:.1}");

    // Across classes the shares match the exact expectation for the compliant set.
    let shares = exact_class_shares(&g);
    assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{shares:?}");
    let expected: Vec<f64> = shares.iter().map(|s| s * total).collect();
    let stat = chi_square(&totals, &expected);
    assert!(stat < chi_square_critical(3.0), "class chi-square {stat:.1}: {totals:?} vs {expected:?}");
}

#[test]
fn the_class_test_detects_insert_and_shuffle_bias() {
    let g = Generator::new(&Policy::preset("salesforce").unwrap(), None).unwrap();
    let mut rng = StdRng::seed_from_u64(70);
    let biased = (0..4000).map(|_| insert_and_shuffle(&g, &mut rng));
    let totals = class_totals(&g.required, biased);
    let expected: Vec<f64> = exact_class_shares(&g).iter().map(|s| s * (4000 * g.length) as f64).collect();
    let stat = chi_square(&totals, &expected);
    assert!(stat > 10.0 * chi_square_critical(3.0), "insert-and-shuffle should stand out: {stat:.1}");
}

#[test]
fn long_run_limited_passwords_are_drawn_without_mass_rejection() {
    // Found by fuzzing: 4096 characters of 17 letters with no triple is one uniform draw in a
    // million, which took 133 s by whole-string rejection.
    let p = Policy::from_rules("minlength:4096;max-consecutive:2;allowed:[abcdefghijklmnopq]").unwrap();
    let g = Generator::new(&p, None).unwrap();
    assert!(matches!(g.sampling, Sampling::Runs(_)));
    let mut rng = StdRng::seed_from_u64(9);
    for _ in 0..3 {
        let pw = g.generate(&mut rng).unwrap();
        assert_eq!(pw.len(), 4096);
        assert!(p.check(&pw, None).compliant);
    }
}

#[test]
fn run_limited_generation_is_uniform_over_the_compliant_set() {
    // 6 of [abc], no two equal neighbours, at least one c: 3·2^5 − 2 = 94 strings.
    let p =
        Policy::from_rules("minlength: 6; maxlength: 6; allowed: [abc]; required: [c]; max-consecutive: 1").unwrap();
    let g = Generator::new(&p, None).unwrap();
    assert!(matches!(g.sampling, Sampling::Runs(_)));
    assert!((g.entropy_bits() - 94f64.log2()).abs() < 1e-9);
    let mut rng = StdRng::seed_from_u64(94);
    let mut seen = std::collections::HashMap::<String, f64>::new();
    let draws = 94.0 * 200.0;
    for _ in 0..draws as usize {
        *seen.entry(g.generate(&mut rng).unwrap().to_string()).or_default() += 1.0;
    }
    assert_eq!(seen.len(), 94);
    let observed: Vec<f64> = seen.values().copied().collect();
    let stat = chi_square(&observed, &vec![draws / 94.0; 94]);
    assert!(stat < chi_square_critical(93.0), "chi-square {stat:.1} over 93 df");
}

#[test]
fn rules_that_force_the_username_in_are_an_error_not_a_hang() {
    // Found by fuzzing: every candidate must contain "x", and the username is "x".
    let p = Policy::from_rules("required: [x]").unwrap();
    let g = Generator::new(&p, None).unwrap();
    let mut rng = StdRng::seed_from_u64(1);
    let err = g
        .generate_where(&mut rng, |pw| p.check(pw, Some("x")).rules.iter().find(|r| !r.ok).map(|r| r.rule))
        .unwrap_err();
    assert!(matches!(err, GenerateError::Exhausted { .. }));
    assert!(err.to_string().contains("username"), "{err}");
}

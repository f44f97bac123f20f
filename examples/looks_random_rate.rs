//! Measures how often the looks-random rule flags a generated password (a false positive):
//! `cargo run --release --example looks_random_rate -- POLICY LENGTH COUNT`.
//! The figures are recorded in docs/policies.md and docs/performance.md.

use std::sync::atomic::{AtomicU64, Ordering};

use rand::SeedableRng;
use rand::rngs::StdRng;
use sealpass_core::generate::Generator;
use sealpass_core::policy::{Policy, randomness};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (name, length, count) = match &args[1..] {
        [p, l, c] => (p.as_str(), l.parse().expect("LENGTH"), c.parse::<u64>().expect("COUNT")),
        _ => {
            eprintln!("usage: looks_random_rate POLICY LENGTH COUNT");
            std::process::exit(2);
        }
    };
    let policy = Policy::preset(name).expect("a preset");
    let generator = Generator::new(&policy, Some(length)).expect("a generatable length");
    let flagged = AtomicU64::new(0);
    let max_cover = AtomicU64::new(0);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    std::thread::scope(|s| {
        for t in 0..threads {
            let (generator, flagged, max_cover) = (&generator, &flagged, &max_cover);
            s.spawn(move || {
                let mut rng = StdRng::from_os_rng();
                for _ in (t..count).step_by(threads as usize) {
                    let pw = generator.generate(&mut rng).unwrap();
                    let a = randomness::analyse(&pw);
                    max_cover.fetch_max((a.covered * 1000 / a.analysed) as u64, Ordering::Relaxed);
                    if !a.looks_random() {
                        flagged.fetch_add(1, Ordering::Relaxed);
                        eprintln!("flagged: {}", a.describe(5));
                    }
                }
            });
        }
    });
    println!(
        "{name} length {length}: {} of {count} flagged; largest pattern coverage {:.1}% (threshold 50%)",
        flagged.into_inner(),
        max_cover.into_inner() as f64 / 10.0
    );
}

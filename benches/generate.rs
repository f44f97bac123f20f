//! Generator and checker throughput (criterion). Run: `cargo bench --bench generate`.
//! Results and the whole-process comparison with pwgen are in docs/performance.md.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::SeedableRng;
use rand::rngs::StdRng;
use sealpass_core::generate::Generator;
use sealpass_core::policy::Policy;

/// 32 characters, all four classes, no more than two identical characters in a row.
const MAX_CONSECUTIVE_RULES: &str = "minlength: 32; maxlength: 32; allowed: upper, lower, digit, [-_]; \
     required: upper; required: lower; required: digit; max-consecutive: 2";

fn generation(c: &mut Criterion) {
    let mut group = c.benchmark_group("generate");
    group.throughput(Throughput::Elements(1));
    for (name, policy) in [
        ("salesforce", Policy::preset("salesforce").unwrap()),
        ("max-consecutive-2", Policy::from_rules(MAX_CONSECUTIVE_RULES).unwrap()),
        ("strong", Policy::preset("strong").unwrap()),
    ] {
        let generator = Generator::new(&policy, None).unwrap();
        let mut rng = StdRng::from_os_rng();
        group.bench_function(name, |b| b.iter(|| generator.generate(&mut rng).unwrap()));
    }
    group.finish();
}

fn checking(c: &mut Criterion) {
    let policy = Policy::preset("salesforce").unwrap();
    let password = Generator::new(&policy, None).unwrap().generate(&mut StdRng::seed_from_u64(1)).unwrap();
    let mut group = c.benchmark_group("check");
    group.throughput(Throughput::Elements(1));
    group.bench_function("salesforce", |b| b.iter(|| policy.check(&password, Some("kore@acme.example"))));
    group.finish();
}

criterion_group!(benches, generation, checking);
criterion_main!(benches);

//! `sealpass generate`: compliant passwords on stdout, one a line, or JSON lines with their
//! exact entropy.

use std::io::{IsTerminal, Write};

use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Serialize;

use super::PolicyArgs;
use sealpass_client::exit::{Exit, Failure};
use sealpass_core::generate::Generator;

/// Most passwords one run generates.
const MAX_COUNT: i64 = 10_000_000;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    sealpass generate --policy salesforce\n  \
    sealpass generate --policy entra-password --count 5 --json\n  \
    sealpass generate --rules \"minlength: 20; required: upper; required: digit; allowed: lower, [-_]; max-consecutive: 2\"")]
pub(crate) struct GenerateArgs {
    #[command(flatten)]
    policy: PolicyArgs,
    /// Length in characters (default: the policy's)
    #[arg(long, short = 'l', allow_negative_numbers = true)]
    length: Option<usize>,
    /// How many passwords
    #[arg(long, short = 'n', default_value_t = 1, allow_negative_numbers = true,
          value_parser = clap::value_parser!(i64).range(1..=MAX_COUNT))]
    count: i64,
    /// One JSON object a line: {"password","policy","length","entropy_bits"}
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Line<'a> {
    password: &'a str,
    policy: &'a str,
    length: usize,
    entropy_bits: f64,
}

pub(crate) fn run(args: GenerateArgs, ctx: &super::Context) -> Result<Exit, Failure> {
    let printer = &ctx.printer;
    let policy = args.policy.resolve()?;
    let generator = Generator::new(&policy, args.length).map_err(Failure::usage)?;
    if generator.entropy_bits() < sealpass_core::generate::WEAK_BITS {
        printer.warn(&format!(
            "these rules leave only {:.1} bits of entropy (fewer than {:.0}): a guesser needs few tries; allow more \
             characters or a longer length",
            generator.entropy_bits(),
            sealpass_core::generate::WEAK_BITS
        ));
    }
    // One OS-seeded CSPRNG (ChaCha12) for the run: a syscall per process, not per character.
    let mut rng = StdRng::try_from_os_rng()
        .map_err(|e| anyhow::anyhow!("the operating system's random number generator failed: {e}"))?;
    let mut out = printer.secret_sink();
    for _ in 0..args.count {
        let password = generator.generate(&mut rng).map_err(|e| Failure::new(Exit::Error, e))?;
        if printer.json() {
            let line = Line {
                password: &password,
                policy: generator.policy(),
                length: generator.length(),
                entropy_bits: generator.entropy_bits(),
            };
            serde_json::to_writer(&mut out, &line)?;
            out.write_all(b"\n")?;
        } else {
            out.write_all(password.as_bytes())?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    if !printer.json() && std::io::stdout().is_terminal() {
        printer.note(&format!(
            "{} characters, {:.1} bits of entropy each (policy {})",
            generator.length(),
            generator.entropy_bits(),
            generator.policy()
        ));
    }
    Ok(Exit::Ok)
}

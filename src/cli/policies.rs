//! `sealpass policies`: the built-in policies with their rules, generated from the same model
//! the generator and checker use.

use serde::Serialize;

use crate::exit::{Exit, Failure};
use crate::generate::Generator;
use crate::output::Printer;
use crate::policy::{Generation, Policy};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// One JSON object a line, one a policy
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Generates {
    length: usize,
    alphabet: String,
    required: Vec<String>,
    max_consecutive: Option<usize>,
    entropy_bits: f64,
}

#[derive(Serialize)]
struct Accepts {
    min_length: usize,
    max_length: Option<usize>,
    alphabet: String,
}

#[derive(Serialize)]
struct Entry {
    name: String,
    summary: String,
    generates: Option<Generates>,
    generated_by: Option<&'static str>,
    accepts: Accepts,
    rules: Vec<String>,
    warnings: Vec<&'static str>,
}

fn entry(policy: &Policy) -> Entry {
    let (generates, generated_by) = match &policy.generation {
        Generation::Local(rules) => {
            let entropy_bits = Generator::new(policy, None).map_or(f64::NAN, |g| g.entropy_bits());
            let generates = Generates {
                length: rules.length,
                alphabet: rules.alphabet.describe(),
                required: rules.required.iter().map(|c| c.name.clone()).collect(),
                max_consecutive: rules.max_consecutive,
                entropy_bits,
            };
            (Some(generates), None)
        }
        Generation::External(who) => (None, Some(*who)),
    };
    Entry {
        name: policy.name.clone(),
        summary: policy.summary.clone(),
        generates,
        generated_by,
        accepts: Accepts {
            min_length: policy.min_length,
            max_length: policy.max_length,
            alphabet: policy.accept.describe(),
        },
        rules: policy.rule_lines(),
        warnings: policy.warnings.clone(),
    }
}

fn human(e: &Entry) -> String {
    let mut text = format!("{} — {}\n", e.name, e.summary);
    match (&e.generates, e.generated_by) {
        (Some(g), _) => {
            let with = if g.required.is_empty() { String::new() } else { format!(", with {}", g.required.join(", ")) };
            text.push_str(&format!(
                "  generates: {} characters of {}{with} ({:.1} bits)\n",
                g.length, g.alphabet, g.entropy_bits
            ));
        }
        (None, Some(who)) => text.push_str(&format!("  generates: no. {who}\n")),
        (None, None) => {}
    }
    text.push_str("  accepts:\n");
    for rule in &e.rules {
        text.push_str(&format!("    - {rule}\n"));
    }
    for warning in &e.warnings {
        text.push_str(&format!("  note: {warning}\n"));
    }
    text
}

pub(crate) fn run(args: Args) -> Result<Exit, Failure> {
    let printer = Printer::new(args.json);
    let entries: Vec<Entry> = Policy::presets().iter().map(entry).collect();
    if args.json {
        for e in &entries {
            printer.json_line(e)?;
        }
    } else {
        let text: Vec<String> = entries.iter().map(human).collect();
        printer.lines(&text.join("\n"))?;
    }
    Ok(Exit::Ok)
}

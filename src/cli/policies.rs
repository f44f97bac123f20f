//! `sealpass policies`: the built-in policies with their rules, from the catalog (the same
//! document `GET /v1/policies` serves and the web page runs on).

use crate::catalog::{PolicyEntry, catalog};
use crate::exit::{Exit, Failure};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The catalog as one JSON document: {"version","policies":[…],"kinds":[…]}, every rule in
    /// a form a program can run (what GET /v1/policies serves)
    #[arg(long)]
    json: bool,
}

fn human(e: &PolicyEntry) -> String {
    let mut text = format!("{} — {}\n", e.name, e.summary);
    match (&e.generates, e.generated_by) {
        (Some(g), _) => {
            let names: Vec<&str> = g.required.iter().map(|c| c.name.as_str()).collect();
            let with = if names.is_empty() { String::new() } else { format!(", with {}", names.join(", ")) };
            let alphabet = crate::policy::Charset::of(&g.alphabet).describe();
            text.push_str(&format!(
                "  generates: {} characters of {alphabet}{with} ({:.1} bits)\n",
                g.length, g.entropy_bits
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

pub(crate) fn run(args: Args, ctx: &super::Context) -> Result<Exit, Failure> {
    let printer = &ctx.printer;
    let catalog = catalog();
    if args.json {
        printer.json_line(&catalog)?;
    } else {
        let text: Vec<String> = catalog.policies.iter().map(human).collect();
        printer.lines(&text.join("\n"))?;
    }
    Ok(Exit::Ok)
}

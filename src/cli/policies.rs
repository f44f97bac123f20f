//! `sealpass policies`: the built-in policies with their rules, from the catalog (the same
//! document `GET /v1/policies` serves and the web page runs on).

use sealpass_client::exit::{Exit, Failure};
use sealpass_core::catalog::{KindEntry, PolicyEntry, catalog};

#[derive(Debug, clap::Args)]
pub(crate) struct PoliciesArgs {
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
            let alphabet = sealpass_core::policy::Charset::of(&g.alphabet).describe();
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

/// A kind in one line (two for a legacy kind): what it checks, and what replaces it.
fn kind_line(k: &KindEntry) -> String {
    let checked = match (k.default_policy, k.has_secret) {
        (Some(policy), _) => format!("policy {policy}"),
        (None, true) => "its structure".to_owned(),
        (None, false) => "no secret: the customer registers the vendor's certificate".to_owned(),
    };
    let fields: Vec<String> =
        k.fields.iter().map(|f| if f.required { f.name.to_owned() } else { format!("[{}]", f.name) }).collect();
    let fields = if fields.is_empty() { "any KEY=VALUE".to_owned() } else { fields.join(" ") };
    let mut line = format!("  {:<30} {checked}; fields: {fields}", k.name);
    if let Some(s) = &k.successor {
        line.push_str(&format!("\n  {:<30} legacy: use {} — {}", "", s.kinds, s.why));
    }
    line
}

pub(crate) fn run(args: PoliciesArgs, ctx: &super::Context) -> Result<Exit, Failure> {
    let printer = &ctx.printer;
    let catalog = catalog();
    if args.json {
        printer.json_line(&catalog)?;
    } else {
        let text: Vec<String> = catalog.policies.iter().map(human).collect();
        let kinds: Vec<String> = catalog.kinds.iter().map(kind_line).collect();
        printer.lines(&format!("{}\nkinds:\n{}", text.join("\n"), kinds.join("\n")))?;
    }
    Ok(Exit::Ok)
}

//! `sealpass policies` through the real binary.

use crate::helpers::sealpass;

#[test]
fn lists_the_five_presets_with_their_rules() {
    let run = sealpass(&["policies"], "");
    assert_eq!(run.code, 0);
    for name in ["salesforce", "entra-password", "microsoft-app-password", "entra-client-secret", "strong"] {
        assert!(run.stdout.contains(&format!("{name} — ")), "{name} missing");
    }
    assert!(run.stdout.contains("at least 3 of: upper, lower, digit"));
    assert!(run.stdout.contains("^[A-Za-z0-9._~-]{3}[78]Q~[A-Za-z0-9._~-]{34}$"));
}

#[test]
fn json_gives_the_catalog_with_runnable_rules() {
    let run = sealpass(&["policies", "--json"], "");
    let catalog = run.json();
    assert_eq!(catalog["version"], 1);
    let all = catalog["policies"].as_array().unwrap();
    assert_eq!(all.len(), 5);
    let sf = &all[0];
    assert_eq!(sf["name"], "salesforce");
    assert_eq!(sf["generates"]["length"], 32);
    assert_eq!(sf["check"]["min_length"], 30);
    assert_eq!(sf["check"]["max_length"], 128);
    assert_eq!(
        sf["check"]["accept"]["ascii"],
        "!#$%+-0123456789=ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
    );
    assert_eq!(catalog["kinds"][0]["name"], "salesforce-password");
    assert_eq!(
        catalog["kinds"][0]["fields"][0],
        serde_json::json!({"name": "username", "required": true, "type": "text", "pattern": null, "expected": null})
    );
    let bits = sf["generates"]["entropy_bits"].as_f64().unwrap();
    assert!((bits - 196.1).abs() < 0.05, "{bits}");
    let app = all.iter().find(|p| p["name"] == "microsoft-app-password").unwrap();
    assert!(app["generates"].is_null());
    assert!(app["generated_by"].as_str().unwrap().contains("Microsoft"));
}

#[test]
fn completions_and_man_page_come_from_the_cli_definition() {
    let bash = sealpass(&["completions", "bash"], "");
    assert_eq!(bash.code, 0);
    assert!(
        bash.stdout.contains("sealpass") && bash.stdout.contains("receive"),
        "{}",
        &bash.stdout[..200.min(bash.stdout.len())]
    );
    let man = sealpass(&["man"], "");
    assert_eq!(man.code, 0);
    assert!(man.stdout.contains(".TH sealpass") && man.stdout.contains("generate"));
    assert_eq!(sealpass(&["completions", "tcsh"], "").code, 2);
}

//! Envelope tests: every kind round-trips, padding hides length, strict reading refuses what it
//! should with a clear error, and `Debug` never shows a secret.

use super::*;

fn sample(kind: Kind) -> Envelope {
    let fields: &[(&str, &str)] = match kind {
        Kind::SalesforcePassword => &[("username", "kore@acme.example"), ("security_token", "TOKENVALUE123")],
        Kind::SalesforceClientCredentials => {
            &[("consumer_key", "3MVG9abc"), ("instance_url", "https://acme.my.salesforce.com")]
        }
        Kind::DynamicsAppPassword | Kind::DynamicsPassword => &[("username", "kore@acme.example")],
        Kind::EntraClientSecret => &[
            ("tenant_id", "0f8fad5b-d9cb-469f-a165-70867728950e"),
            ("client_id", "7c9e6679-7425-40de-944b-e07fc1f90ae7"),
        ],
        Kind::Generic => &[("what", "ftp")],
    };
    Envelope {
        kind,
        secret: SecretString::from("s3cr3t-VALUE-that-must-not-leak"),
        fields: fields.iter().map(|(k, v)| ((*k).to_owned(), SecretString::from(*v))).collect(),
        policy: Some(kind.default_policy().to_owned()),
        rules: None,
        note: Some("hello".into()),
        request: None,
        created_at: "2026-11-27T12:00:00Z".into(),
        sender: None,
        allow_weak: false,
    }
}

#[test]
fn every_kind_round_trips() {
    for kind in Kind::ALL {
        let e = sample(kind);
        let bytes = e.to_padded_bytes().unwrap();
        let back = Envelope::from_bytes(&bytes).unwrap();
        assert_eq!(back.kind, kind);
        assert_eq!(back.secret.expose_secret(), e.secret.expose_secret());
        assert_eq!(back.fields.len(), e.fields.len());
        assert_eq!(back.note.as_deref(), Some("hello"));
        assert_eq!(back.policy.as_deref(), Some(kind.default_policy()));
    }
}

#[test]
fn padding_is_to_512_at_least_1024_and_hides_length() {
    let mut e = sample(Kind::Generic);
    let short = e.to_padded_bytes().unwrap().len();
    e.secret = SecretString::from("x".repeat(400));
    let longer = e.to_padded_bytes().unwrap().len();
    assert_eq!((short, longer), (1024, 1024));
    e.secret = SecretString::from("x".repeat(1500));
    let bytes = e.to_padded_bytes().unwrap();
    assert_eq!(bytes.len() % 512, 0);
    assert_eq!(bytes.len(), 2048);
    assert!(bytes.ends_with(b"    "));
    e.secret = SecretString::from("x".repeat(50_000));
    assert_eq!(e.to_padded_bytes().unwrap_err(), EnvelopeError::TooLargeToSeal);
}

#[test]
fn strict_reading() {
    let bad = |json: &str| Envelope::from_bytes(json.as_bytes()).unwrap_err();
    let ok =
        r#"{"v":1,"kind":"generic","secret":"x","created_at":"2026-11-27T12:00:00Z","policy":null,"request":null}"#;
    assert!(Envelope::from_bytes(ok.as_bytes()).is_ok());
    assert_eq!(bad(&ok.replace("\"v\":1", "\"v\":2")), EnvelopeError::Version(2));
    assert!(bad(&ok.replace("\"v\":1", "\"v\":2")).to_string().contains("upgrade"));
    assert!(matches!(bad(&ok.replace("generic", "ftp-password")), EnvelopeError::UnknownKind(..)));
    assert_eq!(bad(&ok.replace(r#""secret":"x","#, "")), EnvelopeError::MissingSecret);
    assert_eq!(bad(&ok.replace(r#""secret":"x""#, r#""secret":"""#)), EnvelopeError::MissingSecret);
    assert!(matches!(bad("not json"), EnvelopeError::Malformed(_)));
    assert!(matches!(bad(&ok.replace("\"v\":1,", "")), EnvelopeError::Malformed(_)));
    assert!(matches!(bad(&ok.replace("}", r#","extra":1}"#)), EnvelopeError::Malformed(_)));
    let missing = r#"{"v":1,"kind":"salesforce-password","secret":"x","created_at":"2026-11-27T12:00:00Z"}"#;
    assert!(bad(missing).to_string().contains("needs field(s): username"));
    let huge = format!("{}{}", ok, " ".repeat(MAX_BYTES));
    assert_eq!(bad(&huge), EnvelopeError::TooLarge);
    let exactly = format!("{ok}{}", " ".repeat(MAX_BYTES - ok.len()));
    assert!(Envelope::from_bytes(exactly.as_bytes()).is_ok(), "64 KiB exactly is accepted");
    // The specific errors come first, whatever else is wrong.
    assert!(matches!(bad(r#"{"v":1,"kind":"ftp","extra":1}"#), EnvelopeError::UnknownKind(..)));
    assert_eq!(bad(r#"{"v":1,"kind":"generic","extra":1}"#), EnvelopeError::MissingSecret);
}

#[test]
fn errors_never_quote_the_input() {
    let leaky =
        r#"{"v":1,"kind":"generic","secret":"x","created_at":"2026-11-27T12:00:00Z","allow_weak":"Zq8SECRETvalue"}"#;
    let e = Envelope::from_bytes(leaky.as_bytes()).unwrap_err().to_string();
    assert!(!e.contains("Zq8SECRET"), "{e}");
    let fields =
        r#"{"v":1,"kind":"generic","secret":"x","created_at":"2026-11-27T12:00:00Z","fields":"token=Zq8SECRET"}"#;
    let e = Envelope::from_bytes(fields.as_bytes()).unwrap_err().to_string();
    assert!(!e.contains("Zq8SECRET"), "{e}");
    let kind = r#"{"v":1,"kind":"\u001b[2Jevil","secret":"x"}"#;
    let e = Envelope::from_bytes(kind.as_bytes()).unwrap_err().to_string();
    assert!(!e.contains('\x1b'), "{e:?}");
}

#[test]
fn text_shown_to_the_receiver_has_no_control_characters() {
    let base =
        |extra: &str| format!(r#"{{"v":1,"kind":"generic","secret":"x","created_at":"2026-11-27T12:00:00Z"{extra}}}"#);
    assert!(Envelope::from_bytes(base("").as_bytes()).is_ok());
    for extra in [
        r#","note":"\u001b[1Apolicy strong: compliant""#,
        r#","sender":"a\rb""#,
        r#","fields":{"k":"v\u001b]0;title\u0007"}"#,
        r#","policy":"x\ny""#,
    ] {
        let e = Envelope::from_bytes(base(extra).as_bytes()).unwrap_err().to_string();
        assert!(e.contains("control characters"), "{extra}: {e}");
    }
    let bad_time = r#"{"v":1,"kind":"generic","secret":"x","created_at":"not a date"}"#;
    assert!(Envelope::from_bytes(bad_time.as_bytes()).unwrap_err().to_string().contains("RFC 3339"));
    let empty_field = base(r#","fields":{"k":" "}"#);
    assert!(Envelope::from_bytes(empty_field.as_bytes()).unwrap_err().to_string().contains("empty"));
}

#[test]
fn fields_are_validated_against_the_kind() {
    assert!(
        validate_field(Kind::EntraClientSecret, "tenant_id", "not-a-guid").unwrap_err().to_string().contains("GUID")
    );
    assert!(
        validate_field(Kind::SalesforcePassword, "instance_url", "http://x").unwrap_err().to_string().contains("https")
    );
    let e = validate_field(Kind::SalesforcePassword, "colour", "blue").unwrap_err().to_string();
    assert!(e.contains("username, security_token, instance_url"), "{e}");
    assert!(validate_field(Kind::Generic, "any.key", "v").is_ok());
    assert!(validate_field(Kind::Generic, "bad key", "v").is_err());
}

#[test]
fn debug_never_shows_secrets() {
    let e = sample(Kind::SalesforcePassword);
    let debug = format!("{e:?}");
    assert!(!debug.contains("s3cr3t") && !debug.contains("TOKENVALUE"), "{debug}");
    assert!(debug.contains("security_token"), "field names are fine: {debug}");
}

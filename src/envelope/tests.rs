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
    e.secret = SecretString::from("x".repeat(70_000));
    assert_eq!(e.to_padded_bytes().unwrap_err(), EnvelopeError::TooLarge);
}

#[test]
fn strict_reading() {
    let bad = |json: &str| Envelope::from_bytes(json.as_bytes()).unwrap_err();
    let ok = r#"{"v":1,"kind":"generic","secret":"x","created_at":"t","policy":null,"request":null}"#;
    assert!(Envelope::from_bytes(ok.as_bytes()).is_ok());
    assert_eq!(bad(&ok.replace("\"v\":1", "\"v\":2")), EnvelopeError::Version(2));
    assert!(bad(&ok.replace("\"v\":1", "\"v\":2")).to_string().contains("upgrade"));
    assert!(matches!(bad(&ok.replace("generic", "ftp-password")), EnvelopeError::UnknownKind(..)));
    assert_eq!(bad(&ok.replace(r#""secret":"x","#, "")), EnvelopeError::MissingSecret);
    assert_eq!(bad(&ok.replace(r#""secret":"x""#, r#""secret":"""#)), EnvelopeError::MissingSecret);
    assert!(matches!(bad("not json"), EnvelopeError::Malformed(_)));
    assert!(matches!(bad(&ok.replace("\"v\":1,", "")), EnvelopeError::Malformed(_)));
    assert!(matches!(bad(&ok.replace("}", r#","extra":1}"#)), EnvelopeError::Malformed(_)));
    let missing = r#"{"v":1,"kind":"salesforce-password","secret":"x","created_at":"t"}"#;
    assert!(bad(missing).to_string().contains("needs field(s): username"));
    let huge = format!("{}{}", ok, " ".repeat(MAX_BYTES));
    assert_eq!(bad(&huge), EnvelopeError::TooLarge);
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

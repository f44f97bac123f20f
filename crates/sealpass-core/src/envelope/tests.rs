//! Envelope tests: every kind round-trips, padding hides length, strict reading refuses what it
//! should with a clear error, and `Debug` never shows a secret.

use super::*;

/// A consumer key of the shape Salesforce shows (made up).
pub(crate) const CONSUMER_KEY: &str =
    "3MVG9fTLmJ60pJ5JnY9ZxsxDq1Hh4bFbD.FoNzxmHJmbjTNp3hKzMH8R_tM2vR5L4xKcZYkDq3eZp6WnXoAbCdEf";

fn sample(kind: Kind) -> Envelope {
    let fields: &[(&str, &str)] = match kind {
        Kind::SalesforcePassword => &[("username", "kore@acme.example"), ("security_token", "TOKENVALUE123")],
        Kind::SalesforceClientCredentials => {
            &[("consumer_key", CONSUMER_KEY), ("instance_url", "https://acme.my.salesforce.com")]
        }
        Kind::DynamicsAppPassword | Kind::DynamicsPassword => &[("username", "kore@acme.example")],
        Kind::EntraClientSecret => &[
            ("tenant_id", "0f8fad5b-d9cb-469f-a165-70867728950e"),
            ("client_id", "7c9e6679-7425-40de-944b-e07fc1f90ae7"),
            ("expires_on", "2027-06-30"),
        ],
        Kind::Generic => &[("what", "ftp")],
        Kind::SalesforceJwt => &[
            ("consumer_key", CONSUMER_KEY),
            ("username", "kore@acme.example"),
            ("instance_url", "https://acme--uat.sandbox.my.salesforce.com"),
        ],
        Kind::EntraCertificate => &[
            ("tenant_id", "0f8fad5b-d9cb-469f-a165-70867728950e"),
            ("client_id", "7c9e6679-7425-40de-944b-e07fc1f90ae7"),
            ("environment_url", "https://acme.crm4.dynamics.com"),
            ("thumbprint", "C34E43840C420AC6AC7DBACF117C2DF9F6B8ADB9"),
        ],
        Kind::KeyFile => &[("filename", "vendor.pem"), ("format", "pem")],
    };
    let secret = match kind {
        Kind::SalesforceJwt | Kind::EntraCertificate => SecretString::from(""),
        Kind::KeyFile => key_file_secret(b"-----BEGIN PRIVATE KEY-----\n\0binary\xff\n"),
        _ => SecretString::from("s3cr3t-VALUE-that-must-not-leak"),
    };
    Envelope {
        kind,
        secret,
        fields: fields.iter().map(|(k, v)| ((*k).to_owned(), SecretString::from(*v))).collect(),
        policy: kind.default_policy().map(str::to_owned),
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
        assert_eq!(back.policy.as_deref(), kind.default_policy());
        let text = std::str::from_utf8(&bytes).unwrap();
        assert_eq!(text.contains("\"secret\""), kind.has_secret(), "{kind}");
    }
    let file = sample(Kind::KeyFile);
    assert_eq!(&key_file_bytes(&file.secret).unwrap()[..], b"-----BEGIN PRIVATE KEY-----\n\0binary\xff\n");
}

#[test]
fn a_reader_trims_fields_and_lets_an_old_shape_through_for_the_check_to_report() {
    // Sealed before instance_url had to be a My Domain URL, with stray spaces around a value.
    let json = format!(
        r#"{{"v":1,"kind":"salesforce-client-credentials","secret":"Zq8!kR2#mW9$vB4%tN7^","fields":{{"consumer_key":" {CONSUMER_KEY} ","instance_url":"https://acme.lightning.force.com"}},"created_at":"2026-11-27T12:00:00Z"}}"#
    );
    let e = Envelope::from_bytes(json.as_bytes()).unwrap();
    assert_eq!(e.fields["consumer_key"].expose_secret(), CONSUMER_KEY);
    let policy = crate::policy::Policy::preset("strong").unwrap();
    let against =
        crate::contents::Against { policy: Some(&policy), certificates: None, now: time::OffsetDateTime::now_utc() };
    let report = crate::contents::check(e.kind, &e.secret, &e.fields, against);
    assert!(!report.compliant);
    assert!(report.rules.iter().any(|r| r.rule == "identifiers" && r.detail.contains("My Domain")), "{report:?}");
    // Sealing is strict.
    assert!(matches!(e.to_padded_bytes(), Err(EnvelopeError::Shape(_))));
}

#[test]
fn kinds_without_a_secret_carry_none_and_fields_have_their_shapes() {
    let jwt = r#"{"v":1,"kind":"salesforce-jwt","created_at":"2026-11-27T12:00:00Z","fields":{}}"#;
    assert!(Envelope::from_bytes(jwt.as_bytes()).unwrap_err().to_string().contains("consumer_key"));
    let with_secret = jwt.replace("\"fields\"", "\"secret\":\"x\",\"fields\"");
    assert!(Envelope::from_bytes(with_secret.as_bytes()).unwrap_err().to_string().contains("carries no secret"));
    let cases = [
        (Kind::SalesforceJwt, "consumer_key", "not-a-key", "starts with 3MVG"),
        (Kind::SalesforceJwt, "instance_url", "https://login.salesforce.com", "My Domain"),
        (Kind::SalesforceClientCredentials, "instance_url", "https://acme.my.salesforce.com.evil.example", "My Domain"),
        (Kind::SalesforceJwt, "username", "kore", "email"),
        (Kind::EntraCertificate, "environment_url", "https://acme.dynamics.com", "Dataverse"),
        (Kind::DynamicsPassword, "environment_url", "https://crm.evil.example/acme.crm.dynamics.com", "Dataverse"),
        (Kind::EntraCertificate, "tenant_id", "acme.onmicrosoft.com", "GUID"),
        (Kind::EntraCertificate, "thumbprint", "C34E4384", "40 hexadecimal"),
        (Kind::EntraClientSecret, "expires_on", "2027-02-30", "YYYY-MM-DD"),
        (Kind::KeyFile, "filename", "../etc/passwd", "without directories"),
        (Kind::KeyFile, "format", "der", "pem, pkcs12 or json"),
    ];
    for (kind, field, value, says) in cases {
        let e = validate_field(kind, field, value).unwrap_err().to_string();
        assert!(e.contains(says), "{kind} {field}={value}: {e}");
    }
    for (kind, field, value) in [
        (Kind::SalesforceJwt, "instance_url", "https://acme-dev-ed.develop.my.salesforce.com"),
        (Kind::SalesforceJwt, "instance_url", "https://ACME.my.salesforce.com/"),
        (Kind::EntraCertificate, "environment_url", "https://contoso.crm.dynamics.com"),
        (Kind::EntraCertificate, "environment_url", "https://contoso-test.crm11.dynamics.com"),
        (Kind::EntraCertificate, "thumbprint", &"ab".repeat(32)),
        (Kind::EntraClientSecret, "expires_on", "2028-02-29"),
    ] {
        validate_field(kind, field, value).unwrap_or_else(|e| panic!("{field}={value}: {e}"));
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
    e.secret = SecretString::from("x".repeat(MAX_SEALED_BYTES));
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

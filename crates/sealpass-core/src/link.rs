//! Pickup and request links ⇄ their parts (SPEC §5). Pure: strings in, strings out.
//!
//! - pickup: `https://host[/prefix]/d/<id>`
//! - request: `https://host[/prefix]/r/<id>#<upload token>.<recipient fingerprint>` — the
//!   fragment never reaches a server from a browser; the CLI reads it.

use std::fmt;

use url::Url;

/// Why a link could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LinkError {
    /// Not a link of ours. The text is never echoed: it may be a secret typed in the wrong place.
    #[error(
        "that is not a sealpass link (not shown, in case it is a secret); links look like https://host/d/ID or https://host/r/ID#TOKEN.FINGERPRINT"
    )]
    NotALink,
    /// A request link without its fragment.
    #[error("the request link is missing its '#token.fingerprint' part: copy the whole link")]
    MissingFragment,
    /// A bare id without a server.
    #[error("'{0}' is a bare id: give the whole link, or --server URL")]
    NoServer(String),
    /// A pickup link where a request link is wanted (given to `send`).
    #[error(
        "that is a pickup link (…/d/…): it is for the vendor's `sealpass receive`; to send, use the request link (…/r/…#…) the vendor gave you"
    )]
    PickupNotRequest,
    /// A request link where a pickup link is wanted (given to `receive`, `status`, `revoke`).
    #[error(
        "that is a request link (…/r/…#…): it is for the customer's `sealpass send`; here give the pickup link (…/d/…) that send printed"
    )]
    RequestNotPickup,
    /// A user name or password before the host: never part of a sealpass link, and a way to
    /// smuggle a credential to (or past) a server.
    #[error(
        "the link carries a user name or password before its host (user:password@host); sealpass links never \
         do, so it was refused and nothing was sent or recorded. Ask for the link again"
    )]
    Credentials,
}

/// A drop to pick up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pickup {
    /// Server base URL, without a trailing slash.
    pub server: String,
    /// Drop id.
    pub id: String,
}

/// A request to answer.
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    /// Server base URL, without a trailing slash.
    pub server: String,
    /// Request id.
    pub id: String,
    /// The one-time upload token.
    pub token: String,
    /// The fingerprint of the recipients the sender must seal to.
    pub fingerprint: String,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("server", &self.server)
            .field("id", &self.id)
            .field("token", &"[REDACTED]")
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

impl fmt::Display for Pickup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/d/{}", self.server, self.id)
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/r/{}#{}.{}", self.server, self.id, self.token, self.fingerprint)
    }
}

/// An upload or manage token: base64url, 22 to 128 characters (ours are 43).
pub fn is_token(s: &str) -> bool {
    (22..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A fingerprint (SPEC §4, §9–§11): `sp1-` (recipients), `sp2-` (and certificates), `sp3-` (and the receipt key) or `sp4-` (the vendor key) and 26 characters of lowercase base32 in groups
/// of four, the last of two.
pub fn is_fingerprint(s: &str) -> bool {
    let Some(groups) = ["sp1-", "sp2-", "sp3-", "sp4-"].iter().find_map(|p| s.strip_prefix(p)) else { return false };
    let groups: Vec<&str> = groups.split('-').collect();
    groups.len() == 7
        && groups.iter().enumerate().all(|(i, g)| {
            g.len() == if i == 6 { 2 } else { 4 }
                && g.bytes().all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
        })
}

/// A drop or request id: 26 characters of lowercase base32.
pub fn is_id(s: &str) -> bool {
    s.len() == 26 && s.bytes().all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
}

/// A link as pasted from an email or a chat: surrounding white space, and the `<…>`, `(…)`,
/// quotes or sentence punctuation that text around it adds, removed.
pub fn cleaned(link: &str) -> &str {
    let mut text = link.trim();
    loop {
        let before = text;
        text = text.trim_start_matches(['<', '(', '[', '"', '\'', '\u{201c}', '\u{2018}']);
        text = text.trim_end_matches(['>', ')', ']', '"', '\'', '\u{201d}', '\u{2019}', '.', ',', ';', ':', '!', '?']);
        text = text.trim();
        if text == before {
            return text;
        }
    }
}

/// Split `https://host/prefix/<kind>/<id>` into (server, id); the other kind of link is named.
fn split(link: &str, kind: &str) -> Result<(String, String), LinkError> {
    let url = Url::parse(link).map_err(|_| LinkError::NotALink)?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(LinkError::NotALink);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(LinkError::Credentials);
    }
    let path = url.path().trim_end_matches('/');
    let other = |k: &str| path.rsplit_once(&format!("/{k}/")).is_some_and(|(_, id)| is_id(id));
    let (prefix, id) = path.rsplit_once(&format!("/{kind}/")).ok_or(match kind {
        "r" if other("d") => LinkError::PickupNotRequest,
        "d" if other("r") => LinkError::RequestNotPickup,
        _ => LinkError::NotALink,
    })?;
    if !is_id(id) {
        return Err(LinkError::NotALink);
    }
    let mut base = url.clone();
    base.set_path(prefix);
    base.set_fragment(None);
    base.set_query(None);
    Ok((base.as_str().trim_end_matches('/').to_owned(), id.to_owned()))
}

/// A server's base URL as given on the command line or in the config: `http(s)://host[:port][/prefix]`
/// without user name, password, query or fragment, and without a trailing slash.
pub fn server_base(text: &str) -> Result<String, String> {
    let text = text.trim();
    if !text.contains("://") {
        return Err(format!("has no scheme: write https://{text} (or http://{text} for a server on this machine)"));
    }
    let url = Url::parse(text).map_err(|_| "is not a URL".to_owned())?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err("must be an https:// (or http://) URL with a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password (user:password@host)".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a ?query or #fragment".into());
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// A pickup link, or a bare id with `server`.
pub fn parse_pickup(link: &str, server: Option<&str>) -> Result<Pickup, LinkError> {
    let link = cleaned(link);
    if is_id(link) {
        let server = server.ok_or_else(|| LinkError::NoServer(link.to_owned()))?;
        return Ok(Pickup { server: server.trim_end_matches('/').to_owned(), id: link.to_owned() });
    }
    split(link, "d").map(|(server, id)| Pickup { server, id })
}

/// A request link with its `#token.fingerprint` fragment.
pub fn parse_request(link: &str) -> Result<Request, LinkError> {
    let link = cleaned(link);
    let (server, id) = split(link, "r")?;
    let fragment = Url::parse(link).ok().and_then(|u| u.fragment().map(str::to_owned)).unwrap_or_default();
    let (token, fingerprint) = fragment.rsplit_once('.').ok_or(LinkError::MissingFragment)?;
    if !is_token(token) || !is_fingerprint(fingerprint) {
        return Err(LinkError::MissingFragment);
    }
    Ok(Request { server, id, token: token.to_owned(), fingerprint: fingerprint.to_owned() })
}

/// The origin (`scheme://host[:port]`) of a base URL, to compare servers.
pub fn origin(server: &str) -> Option<String> {
    let url = Url::parse(server).ok()?;
    Some(url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "abcdefghijklmnopqrstuvwxyz";
    const TOKEN: &str = "lfoblfZY1nG93kvwgKVVtE2XXej5JwWCh4GJ8YNuzFk";
    const FP: &str = "sp1-z57f-narr-gfig-qw7r-nzbm-j2si-4e";

    #[test]
    fn pickup_links_round_trip() {
        for server in ["https://drop.example.com", "http://127.0.0.1:8427", "https://example.com/sealpass"] {
            let p = Pickup { server: server.into(), id: ID.into() };
            assert_eq!(parse_pickup(&p.to_string(), None).unwrap(), p);
            assert_eq!(parse_pickup(&format!("{p}/"), None).unwrap(), p);
        }
        assert_eq!(parse_pickup(ID, Some("https://h.example/")).unwrap().server, "https://h.example");
        assert_eq!(parse_pickup(ID, None).unwrap_err(), LinkError::NoServer(ID.into()));
        let e = parse_pickup("Hunter2-SuperSecret-Pass", None).unwrap_err().to_string();
        assert!(!e.contains("Hunter2"), "{e}");
        assert_eq!(origin("https://h.example:443/prefix"), Some("https://h.example".into()));
        assert_ne!(origin("http://h.example"), origin("https://h.example"));
        assert!(parse_pickup("https://h.example/d/short", None).is_err());
        assert!(parse_pickup("ftp://h.example/d/abcdefghijklmnopqrstuvwxyz", None).is_err());
    }

    #[test]
    fn request_links_round_trip_and_keep_the_token_out_of_errors_and_debug() {
        let r = Request {
            server: "https://drop.example.com".into(),
            id: ID.into(),
            token: TOKEN.into(),
            fingerprint: FP.into(),
        };
        let text = r.to_string();
        assert_eq!(text, format!("https://drop.example.com/r/{ID}#{TOKEN}.{FP}"));
        assert_eq!(parse_request(&text).unwrap(), r);
        assert!(!format!("{r:?}").contains(TOKEN));
        assert_eq!(parse_request(&format!("https://drop.example.com/r/{ID}")).unwrap_err(), LinkError::MissingFragment);
        let e = parse_request(&format!("https://drop.example.com/x/{ID}#{TOKEN}.{FP}")).unwrap_err().to_string();
        assert!(!e.contains(TOKEN), "{e}");
    }

    #[test]
    fn request_fragments_are_checked_strictly() {
        // Found by fuzzing: a "fingerprint" that was only "sp1-" and then anything, the token
        // included, which Debug then showed.
        let forged = format!("https://drop.example.com/r/{ID}#{TOKEN}.sp1-z57f-n%00#{TOKEN}'ig-qw7r-nzbm-j2si-4e");
        assert_eq!(parse_request(&forged).unwrap_err(), LinkError::MissingFragment);
        assert!(is_fingerprint(FP));
        for bad in ["sp1-", "sp1-z57f-narr-gfig-qw7r-nzbm-j2si-4", "sp1-Z57F-narr-gfig-qw7r-nzbm-j2si-4e", "sp2-z57f"] {
            assert!(!is_fingerprint(bad), "{bad}");
        }
        let short = format!("https://drop.example.com/r/{ID}#abc.{FP}");
        assert_eq!(parse_request(&short).unwrap_err(), LinkError::MissingFragment);
    }

    #[test]
    fn links_pasted_from_mail_are_cleaned_and_the_wrong_kind_names_its_command() {
        let request = format!("https://drop.example.com/r/{ID}#{TOKEN}.{FP}");
        let pickup = format!("https://drop.example.com/d/{ID}");
        for wrapped in
            [format!("<{request}>"), format!("({request})."), format!("\"{request}\","), format!(" {request}. ")]
        {
            assert_eq!(parse_request(&wrapped).unwrap().to_string(), request, "{wrapped}");
        }
        for wrapped in
            [format!("<{pickup}>"), format!("{pickup})"), format!("\u{201c}{pickup}\u{201d}."), format!("'{pickup}'")]
        {
            assert_eq!(parse_pickup(&wrapped, None).unwrap().to_string(), pickup, "{wrapped}");
        }
        let e = parse_request(&pickup).unwrap_err();
        assert_eq!(e, LinkError::PickupNotRequest);
        assert!(e.to_string().contains("sealpass receive"), "{e}");
        let e = parse_pickup(&request, None).unwrap_err();
        assert_eq!(e, LinkError::RequestNotPickup);
        assert!(e.to_string().contains("sealpass send") && !e.to_string().contains(TOKEN), "{e}");
    }

    #[test]
    fn links_with_a_user_or_password_are_refused_without_echo() {
        for link in [
            format!("https://user:hunter2@drop.example.com/r/{ID}#{TOKEN}.{FP}"),
            format!("https://user@drop.example.com/d/{ID}"),
        ] {
            let e = parse_request(&link).err().or(parse_pickup(&link, None).err()).unwrap();
            assert_eq!(e, LinkError::Credentials);
            assert!(!e.to_string().contains("hunter2"));
        }
        assert!(server_base("https://u:p@h.example").unwrap_err().contains("user name"));
        assert!(server_base("127.0.0.1:8427").unwrap_err().contains("http://127.0.0.1:8427"));
        assert_eq!(server_base("https://h.example/x/").unwrap(), "https://h.example/x");
    }
}

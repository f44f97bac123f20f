//! The web sender page (SPEC §8): its built files, embedded at compile time from `web/dist/`
//! (committed, so `cargo build` needs no Node), served with a strict Content-Security-Policy.
//! Like every page, it reads nothing from the store and changes nothing: the page's script does
//! the work, in the browser, against the API.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::AppState;
use super::auth::valid_id;

/// What the page may load and do: its own scripts, styles and API, nothing else (no images, no
/// fonts), in no frame; and no string ever becomes HTML or script (Trusted Types, none allowed).
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
    frame-ancestors 'none'; form-action 'none'; base-uri 'none'; require-trusted-types-for 'script'; \
    trusted-types 'none'";

/// An embedded file: its name, media type, bytes, and a gzipped copy if there is one.
struct Asset {
    name: &'static str,
    media_type: &'static str,
    bytes: &'static [u8],
    gzip: Option<&'static [u8]>,
}

const REQUEST_PAGE: &[u8] = include_bytes!("../../../web/dist/request.html");
const SEND_PAGE: &[u8] = include_bytes!("../../../web/dist/send.html");

const ASSETS: &[Asset] = &[
    Asset {
        name: "sender.js",
        media_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../../web/dist/sender.js"),
        gzip: Some(include_bytes!("../../../web/dist/sender.js.gz")),
    },
    Asset {
        name: "patterns.js",
        media_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../../web/dist/patterns.js"),
        gzip: Some(include_bytes!("../../../web/dist/patterns.js.gz")),
    },
    Asset {
        name: "sender.css",
        media_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../../web/dist/sender.css"),
        gzip: None,
    },
];

/// The SHA-256 of each file of the page, as `web/dist/SHA256SUMS` lists them: logged at start
/// so an operator (and a careful customer) can compare what is served with what was built.
pub fn bundle_digests() -> Vec<(&'static str, String)> {
    let pages = [("request.html", REQUEST_PAGE), ("send.html", SEND_PAGE)];
    pages
        .into_iter()
        .chain(ASSETS.iter().map(|a| (a.name, a.bytes)))
        .map(|(name, bytes)| (name, data_encoding::HEXLOWER.encode(&Sha256::digest(bytes))))
        .collect()
}

/// Every security header of the sender page on `response`.
pub(super) fn secure(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_CSP));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    h.insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn html(status: StatusCode, bytes: &'static [u8]) -> Response {
    secure((status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], bytes).into_response())
}

/// `GET /r/{id}`: the sender page for a request link (its `#token.fingerprint` fragment never
/// reaches us; the page reads it).
#[utoipa::path(get, path = "/r/{id}", tag = "pages", summary = "The web sender page for a request link",
    params(("id" = String, Path, description = "Request id", pattern = "^[a-z2-7]{26}$")),
    responses(
        (status = 200, description = "The page; it reads nothing from the store", body = String, content_type = "text/html"),
        (status = 404, description = "Not a request id: a page that says so", body = String, content_type = "text/html")))]
pub async fn request_page(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    if !valid_id(&id) {
        return super::pages::not_a_link(&state, "request");
    }
    html(StatusCode::OK, REQUEST_PAGE)
}

/// `GET /send`: the sender page for an anonymous upload, when this server takes them.
#[utoipa::path(get, path = "/send", tag = "pages", summary = "The web sender page for an anonymous upload",
    responses(
        (status = 200, description = "The page, or one saying that this server takes only requested credentials",
            body = String, content_type = "text/html")))]
pub async fn send_page(State(state): State<AppState>) -> Response {
    if state.settings.allow_anonymous_uploads {
        return html(StatusCode::OK, SEND_PAGE);
    }
    super::pages::page(
        &state,
        "This server takes only requested credentials",
        "<p>The vendor asks for credentials with request links: ask them for one, and open it.</p>",
    )
}

/// `GET /web/{file}`: the page's script, its pattern analysis and its stylesheet.
#[utoipa::path(get, path = "/web/{file}", tag = "pages", summary = "The web sender page's script and stylesheet",
    params(("file" = String, Path, description = "sender.js, patterns.js or sender.css")),
    responses(
        (status = 200, description = "The file", body = String, content_type = "text/javascript"),
        (status = 404, description = "No such file", body = sealpass_core::api::ErrorBody)))]
pub async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == file) else {
        return super::error::ApiError::not_found("file").into_response();
    };
    let gzip_ok = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().split(';').next() == Some("gzip")));
    let mut response = match asset.gzip.filter(|_| gzip_ok) {
        Some(gz) => {
            ([(header::CONTENT_TYPE, asset.media_type), (header::CONTENT_ENCODING, "gzip")], gz).into_response()
        }
        None => ([(header::CONTENT_TYPE, asset.media_type)], asset.bytes).into_response(),
    };
    response.headers_mut().insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    let mut response = secure(response);
    // Small and changing with each release: revalidate rather than store forever.
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

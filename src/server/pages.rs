//! What a person sees when a link is opened in a browser: how to receive or send with the CLI.
//! These pages read nothing from the store and change nothing, so link previewers, scanners
//! and browsers cannot burn a drop.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::AppState;
use super::auth::valid_id;

fn escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '&' => "&amp;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

fn page(title: &str, body: &str) -> Response {
    page_with(StatusCode::OK, title, body)
}

/// A page that says a link is not ours: 404, so previewers and crawlers know it too.
fn not_a_link(what: &str) -> Response {
    page_with(
        StatusCode::NOT_FOUND,
        "Not a sealpass link",
        &format!("<p>This link is not a sealpass {what} link. Copy the whole link you were sent.</p>"),
    )
}

fn page_with(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"robots\" content=\"noindex\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title>\
         <style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em}}\
         code,pre{{background:#f3f3f3;padding:.2em .4em}}pre{{padding:1em;overflow-x:auto}}</style></head>\
         <body><h1>{title}</h1>{body}</body></html>"
    );
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'; style-src 'unsafe-inline'"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        Html(html),
    )
        .into_response()
}

/// `GET /d/{id}`: a pickup link.
#[utoipa::path(get, path = "/d/{id}", tag = "pages", summary = "A pickup link opened in a browser: how to receive it",
    params(("id" = String, Path, description = "Drop id", pattern = "^[a-z2-7]{26}$")),
    responses(
        (status = 200, description = "A page; it reads nothing from the store", body = String, content_type = "text/html"),
        (status = 404, description = "Not a drop id: a page that says so", body = String, content_type = "text/html")))]
pub async fn pickup(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    if !valid_id(&id) {
        return not_a_link("pickup");
    }
    let url = escape(&format!("{}/d/{id}", state.settings.public_url));
    page(
        "A sealed credential is waiting",
        &format!(
            "<p>Someone sent a credential through sealpass. It is encrypted to the vendor's keys; this page \
             cannot show it, and opening it here changed nothing.</p>\
             <p>Vendor staff receive it, exactly once, with:</p><pre>sealpass receive {url}</pre>\
             <p>If you sent it, check on it with <code>sealpass status {url}</code>.</p>"
        ),
    )
}

/// `GET /r/{id}`: a request link (its `#token.fingerprint` fragment never reaches us).
#[utoipa::path(get, path = "/r/{id}", tag = "pages", summary = "A request link opened in a browser",
    params(("id" = String, Path, description = "Request id", pattern = "^[a-z2-7]{26}$")),
    responses(
        (status = 200, description = "A page; it reads nothing from the store", body = String, content_type = "text/html"),
        (status = 404, description = "Not a request id: a page that says so", body = String, content_type = "text/html")))]
pub async fn request(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    if !valid_id(&id) {
        return not_a_link("request");
    }
    let url = escape(&format!("{}/r/{id}", state.settings.public_url));
    page(
        "You were asked for a credential",
        &format!(
            "<p>A vendor asked you to send a credential with sealpass. It is checked and encrypted on your \
             computer before anything is sent; the vendor's server never sees it in the clear.</p>\
             <p>Install sealpass, then run (with the <strong>whole</strong> link from your address bar, \
             including the part after <code>#</code>):</p><pre>sealpass send '{url}#…'</pre>"
        ),
    )
}

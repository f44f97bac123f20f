//! What a person sees when a link is opened in a browser: how to receive or send with the CLI.
//! These pages read nothing from the store and change nothing, so link previewers, scanners
//! and browsers cannot burn a drop.

use axum::extract::{Path, State};
use axum::http::StatusCode;
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

/// A page of ours: the sender page's stylesheet (no inline style or script), every security
/// header of the sender page. `prefix` is the path of the public URL, where the stylesheet is.
pub(super) fn page(state: &AppState, title: &str, body: &str) -> Response {
    page_with(state, StatusCode::OK, title, body)
}

/// A page that says a link is not ours: 404, so previewers and crawlers know it too.
pub(super) fn not_a_link(state: &AppState, what: &str) -> Response {
    page_with(
        state,
        StatusCode::NOT_FOUND,
        "Not a sealpass link",
        &format!("<p>This link is not a sealpass {what} link. Copy the whole link you were sent.</p>"),
    )
}

fn page_with(state: &AppState, status: StatusCode, title: &str, body: &str) -> Response {
    let prefix = url::Url::parse(&state.settings.public_url)
        .map(|u| u.path().trim_end_matches('/').to_owned())
        .unwrap_or_default();
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"robots\" content=\"noindex\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title>\
         <link rel=\"stylesheet\" href=\"{}/web/sender.css\"></head>\
         <body><main><h1>{title}</h1>{body}</main></body></html>",
        escape(&prefix)
    );
    super::web::secure((status, Html(html)).into_response())
}

/// `GET /d/{id}`: a pickup link.
#[utoipa::path(get, path = "/d/{id}", tag = "pages", summary = "A pickup link opened in a browser: how to receive it",
    params(("id" = String, Path, description = "Drop id", pattern = "^[a-z2-7]{26}$")),
    responses(
        (status = 200, description = "A page; it reads nothing from the store", body = String, content_type = "text/html"),
        (status = 404, description = "Not a drop id: a page that says so", body = String, content_type = "text/html")))]
pub async fn pickup(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    if !valid_id(&id) {
        return not_a_link(&state, "pickup");
    }
    let url = escape(&format!("{}/d/{id}", state.settings.public_url));
    page(
        &state,
        "A sealpass pickup link",
        &format!(
            "<p>This is the link to a credential sent through sealpass, encrypted to the vendor's keys. This page \
             does not look it up: it cannot show the credential or tell whether it is still waiting, and opening \
             it here changed nothing.</p>\
             <p>Vendor staff receive it, exactly once, with:</p><pre>sealpass receive {url}</pre>\
             <p>If you sent it, see whether it was picked up, and by whom, with \
             <code>sealpass status {url}</code>.</p>"
        ),
    )
}

/// `GET /`: what this server is, for a person who opens its address in a browser.
#[utoipa::path(get, path = "/", tag = "pages", summary = "What this server is, for a person with a browser",
    responses((status = 200, description = "A page", body = String, content_type = "text/html")))]
pub async fn home(State(state): State<AppState>) -> Response {
    let send = if state.settings.allow_anonymous_uploads {
        "<p>Or, if the vendor asked you to, <a href=\"send\">send a credential without a request link</a>.</p>"
    } else {
        ""
    };
    let server = escape(&state.settings.public_url);
    page(
        &state,
        "A sealpass drop server",
        &format!(
            "<p>This server passes credentials from customers to a vendor's staff. Each credential is encrypted on \
             the sender's machine to the vendor's keys before it is uploaded, so this server only ever holds \
             ciphertext; it is picked up once, then wiped.</p>\
             <h2>You were asked for a credential</h2>\
             <p>Open the request link the vendor sent you (it looks like <code>{server}/r/…#…</code>) and follow \
             the page, or run <code>sealpass send '&lt;link&gt;'</code>.</p>{send}\
             <h2>You work for the vendor</h2>\
             <p>Receive with <code>sealpass receive</code>; see the staff guide (docs/guide-staff.md). The API is \
             described at <a href=\"v1/openapi.json\">v1/openapi.json</a>; the customer's guide is \
             docs/guide-customer.md.</p>\
             <p>Check the vendor's key fingerprint out of band: this page cannot vouch for itself.</p>"
        ),
    )
}

//! The OpenAPI 3.1 document of API v1, generated from the wire types (`api`) and the handlers'
//! annotations, so it cannot drift from the code. Served at `GET /v1/openapi.json`; a copy is
//! checked in as `docs/openapi.json` (a test keeps it current).

use std::sync::OnceLock;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::{handlers, pages, web};

#[derive(OpenApi)]
#[openapi(
    info(title = "sealpass drop server", description = "API v1 of the sealpass drop server (SPEC §5): it stores \
        single-use ciphertext for CRM credential hand-overs and never sees plaintext."),
    paths(
        handlers::info, handlers::openapi, handlers::policies, handlers::create_drop, handlers::inbox, handlers::drop_status,
        handlers::revoke, handlers::claim, handlers::ack, handlers::release, handlers::receipt, handlers::create_request,
        handlers::request_status, handlers::list_requests, handlers::cancel_request,
        handlers::audit, handlers::whoami,
        handlers::healthz, handlers::readyz, handlers::metrics, pages::home, pages::pickup, web::request_page,
        web::send_page, web::asset,
    ),
    modifiers(&Common),
)]
struct ApiV1;

/// What every operation shares: the bearer scheme (staff, manage and upload tokens), and the
/// errors any request can meet on its way in.
struct Common;

impl Modify for Common {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A staff token, or a drop's manage token, or a request's upload token"))
                    .build(),
            ),
        );
        let error = || {
            ContentBuilder::new().schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name("ErrorBody")))).build()
        };
        let common = [
            ("400", "A malformed request (head, JSON, path or query)"),
            ("405", "Not a method of this path"),
            ("408", "The request or its body took too long"),
            ("413", "The body is too large"),
            ("429", "Too many requests, or too many in flight, from your address (see Retry-After)"),
            ("500", "An internal error; the operator's log has the cause"),
            ("503", "The store is down, the disk is nearly full, or every slot is taken (see Retry-After)"),
        ];
        for item in doc.paths.paths.values_mut() {
            for operation in [&mut item.get, &mut item.post, &mut item.delete].into_iter().flatten() {
                for (status, description) in common {
                    operation.responses.responses.entry(status.to_owned()).or_insert_with(|| {
                        RefOr::T(
                            ResponseBuilder::new()
                                .description(description)
                                .content("application/json", error())
                                .build(),
                        )
                    });
                }
            }
        }
    }
}

/// The document.
pub fn document() -> Document {
    let mut doc = ApiV1::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// The document as pretty JSON, made once.
pub fn document_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        let mut text = document().to_pretty_json().unwrap_or_else(|_| "{}".to_owned());
        text.push('\n');
        text
    })
}

//! Shared pieces of the services' OpenAPI documents (`GET /api/openapi.json`).
//!
//! Each service documents its own handlers with `#[utoipa::path]` and builds its routes through
//! `utoipa_axum::router::OpenApiRouter`, so a route cannot be served without being documented.
//! What both services have in common lives here: the two ways to authenticate ([`SecurityAddon`])
//! and the routes `common` itself serves (`/healthz`, `/metrics`: [`SharedPaths`]).

use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};

/// Security scheme name for `Authorization: Bearer <access token>` (an EdDSA JWT from auth-api).
/// Use it in `#[utoipa::path(security(("bearerAuth" = [])))]`.
pub const BEARER_AUTH: &str = "bearerAuth";

/// Security scheme name for the session cookie (the refresh token) set by auth-api.
/// Use it in `#[utoipa::path(security(("sessionCookie" = [])))]`.
pub const SESSION_COOKIE: &str = "sessionCookie";

/// Adds the [`BEARER_AUTH`] and [`SESSION_COOKIE`] security schemes to a document's components:
/// `#[openapi(modifiers(&common::openapi::SecurityAddon))]`.
pub struct SecurityAddon;

impl Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER_AUTH,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token from auth-api (EdDSA JWT, verifiable with \
                         `/.well-known/jwks.json`; lives at most 15 minutes).",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            SESSION_COOKIE,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "__Host-batiyoun_session",
                "The HttpOnly session cookie holding the refresh token. Named \
                 `batiyoun_session` (without the `__Host-` prefix) when `COOKIE_SECURE=false` \
                 for plain-http local development. State-changing requests that carry it must \
                 send an allow-listed `Origin` or an `X-Requested-With` header.",
            ))),
        );
    }
}

/// The routes `common` serves for every service: liveness and Prometheus metrics. Merge into a
/// service's document with `doc.merge(SharedPaths::openapi())`.
#[derive(OpenApi)]
#[openapi(paths(crate::server::healthz, crate::observability::metrics))]
pub struct SharedPaths;

//! The HTTP adapter: axum routes that translate requests into [`AuthService`] calls and results
//! into the shared JSON bodies. No SQL and no business rules live here.

mod auth_routes;
mod avatar_routes;
pub mod cookies;
mod csrf;
mod email_routes;
pub mod extract;
mod google_routes;
mod meta_routes;
mod session_routes;
mod users_routes;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::{Extension, Router};
use common::openapi::SecurityAddon;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::AuthService;
use crate::domain::oauth::Google;

/// Largest request body accepted (every auth body is tiny; keys are < 1 KiB).
pub const BODY_LIMIT: usize = 64 * 1024;

/// Web-facing settings the handlers need.
pub struct Web {
    pub cookie: cookies::CookieSettings,
    /// Exact origins (`scheme://host[:port]`) allowed for CORS and cookie-authenticated writes.
    pub allowed_origins: Vec<String>,
    /// Where the Google callback sends the browser (an allowed origin).
    pub app_url: String,
    pub trust_proxy: bool,
}

#[derive(Clone)]
pub struct AppState {
    pub auth: AuthService,
    pub google: Option<Arc<Google>>,
    pub web: Arc<Web>,
}

/// The document's fixed parts; the paths and their schemas come from the routes themselves.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Batiyoun auth-api",
        description = "Accounts, email one-time codes, password and Google sign-in, sessions, \
                       access-token minting and the end-to-end public-key directory. Errors are \
                       `{\"error\":{\"code\",\"message\",\"fields\"?}}` with a stable `code`.",
    ),
    modifiers(&SecurityAddon),
    tags(
        (name = "auth", description = "Sign-up, one-time codes, sign-in and sessions"),
        (name = "google", description = "Sign-in with Google (OpenID Connect, PKCE)"),
        (name = "users", description = "Profiles, username search and public keys"),
        (name = "meta", description = "Keys, health, readiness, metrics and this document"),
    ),
)]
struct ApiDoc;

/// The API routes, each registered through `routes!` together with its `#[utoipa::path]`
/// documentation, so the served path and method are the documented ones. Add routes here with
/// `.routes(routes!(handler))`, never with a bare `.route(…)`: `tests/api/openapi.rs` pins the
/// documented set and calls every documented operation.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(auth_routes::signup))
        .routes(routes!(auth_routes::request_otp))
        .routes(routes!(auth_routes::verify_otp))
        .routes(routes!(auth_routes::login))
        .routes(routes!(auth_routes::refresh))
        .routes(routes!(auth_routes::logout))
        .routes(routes!(auth_routes::verify_me))
        .routes(routes!(auth_routes::change_password))
        .routes(routes!(auth_routes::reset_password))
        .routes(routes!(auth_routes::delete_account))
        .routes(routes!(email_routes::request_change))
        .routes(routes!(email_routes::confirm_change))
        .routes(routes!(session_routes::list, session_routes::end_others))
        .routes(routes!(session_routes::end))
        .routes(routes!(google_routes::start))
        .routes(routes!(google_routes::callback))
        .routes(routes!(users_routes::search))
        .routes(routes!(users_routes::profiles))
        .routes(routes!(users_routes::put_key))
        .routes(routes!(users_routes::keys))
        .routes(routes!(
            users_routes::put_key_backup,
            users_routes::get_key_backup
        ))
        .routes(routes!(users_routes::me, users_routes::update_me))
        .routes(routes!(users_routes::profile))
        .routes(routes!(
            avatar_routes::put_avatar,
            avatar_routes::delete_avatar
        ))
        .routes(routes!(avatar_routes::get_avatar))
        .routes(routes!(users_routes::get_key))
        .routes(routes!(meta_routes::jwks))
        .routes(routes!(meta_routes::readyz))
        .routes(routes!(meta_routes::openapi_json))
}

/// The OpenAPI document of every route [`router`] serves (the API routes plus the liveness and
/// metrics routes `common` adds).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, doc) = api_routes().split_for_parts();
    with_shared_paths(doc)
}

fn with_shared_paths(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    doc.merge(common::openapi::SharedPaths::openapi());
    doc
}

/// Every route, with CORS, the Origin check, the body limit and request tracing, and the OpenAPI
/// document of them all at `GET /api/openapi.json`.
pub fn router(state: AppState) -> Router {
    let origins: Vec<HeaderValue> = state
        .web
        .allowed_origins
        .iter()
        .filter_map(|o| o.parse().ok())
        .collect();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static(csrf::CUSTOM_HEADER),
        ])
        .max_age(Duration::from_secs(600));

    let (api, doc) = api_routes()
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            csrf::require_allowed_origin,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
        .split_for_parts();
    let doc = with_shared_paths(doc);
    // Serialized once; a failure here is a bug in a schema, caught by the tests.
    let json = doc.to_json().unwrap_or_else(|e| {
        tracing::error!(error = %e, "cannot serialize the OpenAPI document");
        "{}".to_owned()
    });
    let api: Router = api.layer(Extension(meta_routes::OpenApiJson(json.into())));

    // Request ids, per-request spans and route metrics (`GET /metrics`) come from common.
    common::observability::instrument(api.merge(common::server::liveness())).layer(cors)
}

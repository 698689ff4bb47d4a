//! The HTTP adapter: axum routes that translate requests into [`AuthService`] calls and results
//! into the shared JSON bodies. No SQL and no business rules live here.

mod auth_routes;
pub mod cookies;
mod csrf;
pub mod extract;
mod google_routes;
mod meta_routes;
mod users_routes;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::routing::{get, post, put};
use tower_http::cors::{AllowOrigin, CorsLayer};

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

/// Every route, with CORS, the Origin check, the body limit and request tracing.
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
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static(csrf::CUSTOM_HEADER),
        ])
        .max_age(Duration::from_secs(600));

    let api = Router::new()
        .route("/api/auth/signup", post(auth_routes::signup))
        .route("/api/auth/request-otp", post(auth_routes::request_otp))
        .route("/api/auth/verify-otp", post(auth_routes::verify_otp))
        .route("/api/auth/login", post(auth_routes::login))
        .route("/api/auth/refresh", post(auth_routes::refresh))
        .route("/api/auth/logout", post(auth_routes::logout))
        .route("/api/auth/verify-me", get(auth_routes::verify_me))
        .route("/api/auth/google", get(google_routes::start))
        .route("/api/auth/google/callback", get(google_routes::callback))
        .route("/api/users/search", get(users_routes::search))
        .route("/api/users/me/keys", put(users_routes::put_key))
        .route("/api/users/{id}", get(users_routes::profile))
        .route("/api/users/{id}/keys", get(users_routes::get_key))
        .route("/.well-known/jwks.json", get(meta_routes::jwks))
        .route("/readyz", get(meta_routes::readyz))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            csrf::require_allowed_origin,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state);

    // Request ids, per-request spans and route metrics (`GET /metrics`) come from common.
    common::observability::instrument(api.merge(common::server::liveness())).layer(cors)
}

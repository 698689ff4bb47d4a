//! `GET /api/openapi.json`: this service's OpenAPI document.

use axum::Extension;
use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;

/// This service's OpenAPI document, serialized once when the router is built.
#[derive(Clone)]
pub struct OpenApiJson(pub Bytes);

/// `GET /api/openapi.json`: the OpenAPI 3.1 document of every REST route of this service; the
/// Socket.IO events are described in `info.description` and their payloads are components.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "meta",
    responses((status = 200, description = "This document", body = Object)),
)]
pub async fn openapi_json(
    Extension(OpenApiJson(doc)): Extension<OpenApiJson>,
) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], doc)
}

//! `/api/chats/{id}/attachments`: upload an attachment's bytes to a chat, read them back. The
//! bytes are opaque (the PWA's are sealed): they are served as `application/octet-stream`, never
//! as the type of the file inside, so no upload is ever rendered by the browser as a page.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use common::contracts::chat::{AttachmentCreated, MAX_ATTACHMENT_BYTES};
use common::error::ErrorResponse;
use common::server::read_body;
use common::{ApiError, ErrorCode};
use tokio::sync::{OwnedSemaphorePermit, mpsc};

use super::AppState;
use super::extract::{AuthUser, object_id};
use crate::domain::attachments::{attachment_not_found, too_large};

/// Uploads an attachment to the chat (members only): the raw bytes are the body, at most
/// `MAX_ATTACHMENT_BYTES` (10 MiB). Send its `id` in a message's `metadata.attachmentId`.
#[utoipa::path(
    post,
    path = "/api/chats/{id}/attachments",
    tag = "chats",
    params(("id" = String, Path, description = "The chat's id (24 hex digits)")),
    request_body(
        content = Vec<u8>,
        content_type = "application/octet-stream",
        description = "The attachment's bytes (the PWA's are sealed), 1 to 10,485,760 of them",
    ),
    security(("bearerAuth" = [])),
    responses(
        (status = 201, description = "Stored (durably)", body = AttachmentCreated),
        (status = 401, description = "`unauthorized`: no valid access token", body = ErrorResponse),
        (status = 403, description = "`not_a_member`", body = ErrorResponse),
        (status = 404, description = "`not_found`: no such chat (or not an id)", body = ErrorResponse),
        (status = 408, description = "`request_timeout`: the body did not arrive within `UPLOAD_TIMEOUT_SECS` (2 minutes) of its turn", body = ErrorResponse),
        (status = 413, description = "`payload_too_large`: more than 10 MiB", body = ErrorResponse),
        (status = 422, description = "`validation_failed`: an empty body", body = ErrorResponse),
        (status = 429, description = "`rate_limited`: this user's upload quota for the hour is spent (`UPLOAD_BYTES_PER_HOUR`); `Retry-After` says when it renews", body = ErrorResponse),
        (status = 503, description = "`unavailable`: the chat store does not answer", body = ErrorResponse),
        (status = 507, description = "`quota_exceeded`: this user's attachments would take more than `ATTACHMENT_BYTES_PER_USER` (2 GiB) in all", body = ErrorResponse),
    ),
)]
pub async fn upload(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    body: Body,
) -> Result<(StatusCode, Json<AttachmentCreated>), ApiError> {
    object_id(&id)?;
    let attachments = &state.services.attachments;
    let upload = attachments.begin_upload(&user.user_id, &id).await?;
    let within = attachments.upload_within;
    let bytes = tokio::time::timeout(within, read_body(body, MAX_ATTACHMENT_BYTES, too_large))
        .await
        .map_err(|_| {
            ApiError::new(
                ErrorCode::RequestTimeout,
                format!("the upload did not arrive within {} s", within.as_secs()),
            )
        })??;
    let created = attachments.upload(upload, &bytes).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// An attachment's bytes, for the chat's members.
#[utoipa::path(
    get,
    path = "/api/chats/{id}/attachments/{attachment_id}",
    tag = "chats",
    params(
        ("id" = String, Path, description = "The chat's id (24 hex digits)"),
        ("attachment_id" = String, Path, description = "The attachment's id (24 hex digits)"),
    ),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The bytes as uploaded (an attachment never changes, so they may be cached). Cut short (fewer bytes than `Content-Length`) if not taken within `DOWNLOAD_TIMEOUT_SECS` (2 minutes) of its turn", body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 401, description = "`unauthorized`: no valid access token", body = ErrorResponse),
        (status = 403, description = "`not_a_member`", body = ErrorResponse),
        (status = 404, description = "`not_found`: no such chat, or no such attachment in it (or not an id)", body = ErrorResponse),
        (status = 503, description = "`unavailable`: the chat store does not answer", body = ErrorResponse),
    ),
)]
pub async fn download(
    State(state): State<AppState>,
    user: AuthUser,
    Path((id, attachment_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    object_id(&id)?;
    if !common::ids::is_object_id(&attachment_id) {
        return Err(attachment_not_found());
    }
    let (bytes, turn) = state
        .services
        .attachments
        .download(&user.user_id, &id, &attachment_id)
        .await?;
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        ),
        (
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment"),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, max-age=31536000, immutable"),
        ),
        (header::CONTENT_LENGTH, HeaderValue::from(bytes.len())),
    ];
    let within = state.services.attachments.download_within;
    Ok((headers, sent_within(bytes, turn, within)).into_response())
}

/// The bytes as a body of 256 KiB chunks, each copied out when the client has taken the one
/// before: the bytes and `turn` are held until the last chunk is handed over, or until `within`
/// passes. Then the body is cut short (the client gets fewer bytes than `Content-Length`, so it
/// cannot take them for the whole file) and both are let go, whatever the connection does
/// (hyper has no write timeout). A client that goes away lets them go at once.
fn sent_within(bytes: Vec<u8>, turn: OwnedSemaphorePermit, within: Duration) -> Body {
    const CHUNK: usize = 256 * 1024;
    let (chunks, mut body) = mpsc::channel::<Result<Bytes, Infallible>>(1);
    tokio::spawn(async move {
        let _turn = turn;
        let hand_over = async {
            for chunk in bytes.chunks(CHUNK) {
                if chunks
                    .send(Ok(Bytes::copy_from_slice(chunk)))
                    .await
                    .is_err()
                {
                    return; // the client went away
                }
            }
        };
        if tokio::time::timeout(within, hand_over).await.is_err() {
            tracing::info!(
                within_secs = within.as_secs(),
                "a download was not taken in time: cut short"
            );
        }
    });
    Body::from_stream(futures::stream::poll_fn(move |cx| body.poll_recv(cx)))
}

//! Attachments: bytes uploaded to a chat, read by its members, sent in a message by their
//! uploader (`MessageService::send` checks the one a message names). The server never looks
//! inside them: the PWA seals every file with a key of its own, which travels in the message's
//! content (sealed for the chat's members when the chat is end-to-end encrypted).

use std::sync::Arc;
use std::time::Duration;

use chrono::{SubsecRound, Utc};
use common::contracts::chat::{AttachmentCreated, MAX_ATTACHMENT_BYTES};
use common::kv::SharedKv;
use common::{ApiError, ErrorCode};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{ChatService, new_object_id, normalize_id};
use crate::config::Limits;
use crate::ports::{Attachment, ChatStore};

/// The window the upload quota counts bytes in.
const QUOTA_WINDOW: Duration = Duration::from_secs(3600);

/// How long an upload no message names is kept: the time a client has between uploading and
/// sending its message (the PWA uploads right before it sends, and uploads again should the
/// upload be gone by then).
pub const UNSENT_KEPT: Duration = Duration::from_secs(24 * 3600);

/// How often each instance deletes the uploads older than [`UNSENT_KEPT`] no message names.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);

/// How many uploads and downloads one instance holds in memory at once (each up to
/// `MAX_ATTACHMENT_BYTES`); more wait their turn. Bounds what parallel transfers can take:
/// without it, a member asking for one 10 MiB file a hundred times at once held a gigabyte.
pub const TRANSFERS: usize = 16;

#[derive(Clone)]
pub struct AttachmentService {
    store: Arc<dyn ChatStore>,
    chats: ChatService,
    kv: SharedKv,
    /// Bytes one user may upload per [`QUOTA_WINDOW`].
    quota: u64,
    /// Bytes of attachments one user may have stored at once.
    stored_per_user: u64,
    /// How long an upload's body may take to arrive once its turn came.
    pub upload_within: Duration,
    /// How long a download may take to be written once its turn came.
    pub download_within: Duration,
    /// Uploads and downloads in memory (see [`TRANSFERS`]).
    transfers: Arc<Semaphore>,
}

/// An upload let in ([`AttachmentService::begin_upload`]): its uploader, the chat, and the turn
/// its bytes hold until they are stored.
pub struct Upload {
    user: String,
    chat_id: String,
    _turn: OwnedSemaphorePermit,
}

pub(crate) fn attachment_not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "attachment not found")
}

fn quota_key(user: &str) -> String {
    format!("attachments:bytes:{user}")
}

impl AttachmentService {
    /// Takes from `limits` the upload quotas (hourly, and stored per user) and how long a
    /// transfer may take.
    pub fn new(
        store: Arc<dyn ChatStore>,
        chats: ChatService,
        kv: SharedKv,
        limits: &Limits,
    ) -> Self {
        Self {
            store,
            chats,
            kv,
            quota: limits.upload_bytes_per_hour,
            stored_per_user: limits.attachment_bytes_per_user,
            upload_within: limits.upload_within,
            download_within: limits.download_within,
            transfers: Arc::new(Semaphore::new(TRANSFERS)),
        }
    }

    /// A turn to hold an attachment's bytes in memory, held until they are stored or sent.
    async fn transfer(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        // Never closed: an error here would be a bug, answered `internal`.
        self.transfers
            .clone()
            .acquire_owned()
            .await
            .map_err(ApiError::internal)
    }

    /// Lets an upload in, before its body is read: its uploader is a member of the chat (an
    /// outsider's bytes are never buffered), and its bytes have a turn (see [`TRANSFERS`]).
    pub async fn begin_upload(&self, user: &str, chat_id: &str) -> Result<Upload, ApiError> {
        let chat = self.chats.open_chat(user, chat_id).await?;
        Ok(Upload {
            user: user.to_owned(),
            chat_id: chat.id,
            _turn: self.transfer().await?,
        })
    }

    /// Stores the upload's `bytes` as an attachment of its chat; durable when it returns.
    pub async fn upload(
        &self,
        upload: Upload,
        bytes: &[u8],
    ) -> Result<AttachmentCreated, ApiError> {
        let user = upload.user.as_str();
        if bytes.is_empty() {
            return Err(ApiError::field(
                "body",
                "an attachment has at least one byte",
            ));
        }
        if bytes.len() > MAX_ATTACHMENT_BYTES {
            return Err(too_large());
        }
        let size = bytes.len() as u64;
        self.within_storage(user, size).await?;
        self.spend(user, size).await?;
        let attachment = Attachment {
            id: new_object_id(),
            chat_id: upload.chat_id.clone(),
            uploader_id: user.to_owned(),
            size,
            created_at: Utc::now().trunc_subsecs(3),
            sent: false,
        };
        if let Err(e) = self.store.insert_attachment(&attachment, bytes).await {
            self.refund(user, size).await;
            return Err(e.into());
        }
        Ok(AttachmentCreated {
            id: attachment.id,
            chat_id: attachment.chat_id,
            size,
        })
    }

    /// An attachment's bytes, for a member of the chat it was uploaded to, with the turn they
    /// hold until they are sent (or [`Self::download_within`] passed).
    pub async fn download(
        &self,
        user: &str,
        chat_id: &str,
        id: &str,
    ) -> Result<(Vec<u8>, OwnedSemaphorePermit), ApiError> {
        let chat = self.chats.member_chat(user, chat_id).await?;
        let turn = self.transfer().await?;
        let (_, bytes) = self
            .store
            .attachment_bytes(&normalize_id(id))
            .await?
            .filter(|(a, _)| a.chat_id == chat.id)
            .ok_or_else(attachment_not_found)?;
        Ok((bytes, turn))
    }

    /// Deletes the uploads older than [`UNSENT_KEPT`] that no message names; how many.
    pub async fn sweep(&self) -> Result<u64, ApiError> {
        let kept = chrono::Duration::from_std(UNSENT_KEPT).unwrap_or(chrono::Duration::MAX);
        Ok(self
            .store
            .delete_unsent_attachments(Utc::now() - kept)
            .await?)
    }

    /// Sweeps every [`SWEEP_EVERY`] (several instances sweeping at once delete nothing twice).
    pub fn spawn_sweeper(self) -> tokio::task::JoinHandle<()> {
        super::spawn_every(SWEEP_EVERY, move || {
            let service = self.clone();
            async move {
                match service.sweep().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(deleted = n, "deleted uploads no message named"),
                    Err(e) => tracing::warn!(error = %e, "cannot sweep unsent uploads"),
                }
            }
        })
    }

    /// Refuses an upload of `size` that would take the user's stored attachments past
    /// [`Limits::attachment_bytes_per_user`]. Uploads running at once may pass it together, by at
    /// most their own sizes (a bound on disk, not an exact count).
    async fn within_storage(&self, user: &str, size: u64) -> Result<(), ApiError> {
        let stored = self.store.attachment_bytes_of(user).await?;
        if stored.saturating_add(size) <= self.stored_per_user {
            return Ok(());
        }
        Err(ApiError::new(
            ErrorCode::QuotaExceeded,
            format!(
                "your attachments take {stored} of the {} bytes this server keeps per user",
                self.stored_per_user
            ),
        ))
    }

    /// Counts `size` against the user's quota, or refuses past it with when to retry.
    async fn spend(&self, user: &str, size: u64) -> Result<(), ApiError> {
        let delta = i64::try_from(size).unwrap_or(i64::MAX);
        let key = quota_key(user);
        let used = self
            .kv
            .incr(&key, delta, QUOTA_WINDOW)
            .await
            .map_err(|e| ApiError::unavailable(e.0))?;
        if u64::try_from(used).unwrap_or(0) <= self.quota {
            return Ok(());
        }
        self.refund(user, size).await;
        let wait = self
            .kv
            .ttl(&key)
            .await
            .ok()
            .flatten()
            .unwrap_or(QUOTA_WINDOW);
        Err(ApiError::new(
            ErrorCode::RateLimited,
            "too many attachment bytes uploaded this hour; try again later",
        )
        .with_retry_after(wait.as_secs().max(1)))
    }

    /// Gives back what [`Self::spend`] counted for an upload that was not stored.
    async fn refund(&self, user: &str, size: u64) {
        let delta = i64::try_from(size).unwrap_or(i64::MAX);
        if let Err(e) = self.kv.incr(&quota_key(user), -delta, QUOTA_WINDOW).await {
            tracing::warn!(error = %e.0, "cannot give back an upload's quota");
        }
    }
}

pub(crate) fn too_large() -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("an attachment is at most {MAX_ATTACHMENT_BYTES} bytes"),
    )
}

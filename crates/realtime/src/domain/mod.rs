//! The domain core: chats, messages and presence. It talks only to ports (`ChatStore`, `Kv`) and
//! returns data; the transports (REST in `crate::http`, Socket.IO in `crate::socket`) validate
//! input, call it, and emit events.

pub mod attachments;
pub mod budgets;
pub mod chats;
pub mod edits;
pub mod messages;
pub mod passcode;
pub mod presence;
pub mod presence_changes;
pub mod revocations;

use common::{ApiError, ErrorCode};
use sha2::{Digest, Sha256};

use crate::ports::StoreError;

pub use attachments::AttachmentService;
pub use budgets::Budgets;
pub use chats::ChatService;
pub use messages::MessageService;
pub use presence::Presence;
pub use presence_changes::PresenceChanges;
pub use revocations::Revocations;

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(cause) => ApiError::unavailable(cause),
            StoreError::Duplicate => ApiError::new(ErrorCode::Conflict, "already exists"),
            StoreError::Other(cause) => ApiError::internal(cause),
        }
    }
}

/// Runs `work` every `period`, from a random point of the first period (instances started
/// together do not all do it at once), until aborted: the store's sweeps, which several instances
/// may run at once without harm.
pub(crate) fn spawn_every<F, W>(
    period: std::time::Duration,
    mut work: W,
) -> tokio::task::JoinHandle<()>
where
    W: FnMut() -> F + Send + 'static,
    F: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let first = period.mul_f64(rand::random::<f64>());
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + first, period);
        loop {
            ticks.tick().await;
            work().await;
        }
    })
}

/// A fresh 24-hex-digit ObjectId (time-ordered; a per-process counter orders ids of one second).
pub fn new_object_id() -> String {
    bson::oid::ObjectId::new().to_hex()
}

/// The id of the one direct chat between two users: derived from the sorted pair, so concurrent
/// creations collide on the primary key instead of creating two chats.
pub fn direct_chat_id(a: &str, b: &str) -> String {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let digest = Sha256::digest(format!("direct|{lo}|{hi}").as_bytes());
    hex::encode(&digest[..12])
}

/// Ids from clients are validated as 24 hex digits; stored ids are lowercase.
pub fn normalize_id(id: &str) -> String {
    id.to_ascii_lowercase()
}

pub(crate) fn not_a_member() -> ApiError {
    ApiError::new(ErrorCode::NotAMember, "you are not a member of this chat")
}

pub(crate) fn chat_not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "chat not found")
}

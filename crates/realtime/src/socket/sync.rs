//! `sync`: how a reconnecting client catches up (socketioxide has no connection-state recovery).
//! The client sends, per chat, the id of the newest message it has; the ack carries what came
//! after, oldest first per chat, bounded by `limit`; it repeats with advanced cursors while
//! `hasMore`. Live `new_message` events may overlap a sync: clients dedupe by message id.

use std::sync::Arc;

use common::contracts::events::SyncRequest;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Extension, State, TryData};
use validator::Validate;

use super::{Session, SharedServices, invalid_payload, reply};

pub async fn sync<A: Adapter>(
    ack: AckSender<A>,
    TryData(data): TryData<SyncRequest>,
    State(app): State<SharedServices>,
    Extension(session): Extension<Arc<Session>>,
) {
    let result = async {
        session.limiter.check()?;
        let req = data.map_err(invalid_payload)?;
        req.validate()?;
        let page = app.messages.sync(&session.user_id, &req).await?;
        serde_json::to_value(page).map_err(common::ApiError::internal)
    }
    .await;
    reply(ack, result);
}

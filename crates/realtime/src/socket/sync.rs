//! `sync`: how a reconnecting client catches up (socketioxide has no connection-state recovery).
//! The client sends, per chat, the id of the newest message it has; the ack carries what came
//! after, oldest first per chat, bounded by `limit`; it repeats with advanced cursors while
//! `hasMore`. Live `new_message` events may overlap a sync: clients dedupe by message id.

use common::contracts::events::SyncRequest;
use socketioxide::adapter::Adapter;
use validator::Validate;

use super::limit::Budget;
use super::{Call, invalid_payload, reply};

pub(crate) async fn sync<A: Adapter>(call: Call<A, SyncRequest>) {
    let result = async {
        call.session.limiter.check(Budget::Events)?;
        let req = call.data.map_err(invalid_payload)?;
        req.validate()?;
        let page = call.app.messages.sync(&call.session.user_id, &req).await?;
        serde_json::to_value(page).map_err(common::ApiError::internal)
    }
    .await;
    reply(call.ack, result);
}

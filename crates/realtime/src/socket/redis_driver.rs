//! The Socket.IO Redis adapter's driver, over a connection that comes back.
//!
//! socketioxide-redis's own `RedisDriver` holds one `MultiplexedConnection`, which never
//! reconnects: after a Redis restart or a dropped connection every broadcast to other instances
//! fails, and theirs stop arriving, for the life of the process (tested:
//! `tests/api/multi_instance.rs`). This driver does the same work over redis's
//! `ConnectionManager` with RESP3 push messages and automatic resubscription: the manager
//! reconnects as soon as the connection reports it dropped and subscribes again to every channel
//! the adapter follows. What was published while disconnected is lost, as with any Redis pub/sub:
//! the driver tells [`FanoutHealth`], and sockets are told to catch up (`super::outage`).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use socketioxide_redis::drivers::redis::redis_client as redis;
use socketioxide_redis::drivers::{ChanItem, Driver, MessageStream};
use tokio::sync::mpsc;

use super::outage::FanoutHealth;

use self::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use self::redis::{AsyncCommands, FromRedisValue, PushInfo, PushKind, RedisError};

/// The adapter's channels and where their messages go.
type Handlers = Arc<RwLock<HashMap<String, mpsc::Sender<ChanItem>>>>;

#[derive(Clone)]
pub struct ReconnectingDriver {
    conn: ConnectionManager,
    handlers: Handlers,
    health: Arc<FanoutHealth>,
}

impl ReconnectingDriver {
    /// Connects with `client` (a RESP3 URL: push messages need it); tells `health` when the
    /// connection drops, a publish fails or a message is dropped.
    pub async fn connect(
        client: redis::Client,
        health: Arc<FanoutHealth>,
    ) -> Result<Self, RedisError> {
        let handlers: Handlers = Arc::default();
        let (routes, told) = (handlers.clone(), health.clone());
        let config = ConnectionManagerConfig::new()
            // As the Kv's commands (the crate's default is 500 ms, short for a busy Redis).
            .set_connection_timeout(Some(Duration::from_secs(3)))
            .set_response_timeout(Some(Duration::from_secs(3)))
            .set_push_sender(move |push: PushInfo| {
                route(push, &routes, &told);
                Ok::<(), std::convert::Infallible>(())
            })
            .set_automatic_resubscription();
        let conn = client.get_connection_manager_with_config(config).await?;
        Ok(Self {
            conn,
            handlers,
            health,
        })
    }

    /// Whether Redis answers (through the reconnected connection, subscriptions renewed).
    pub async fn ping(&self) -> Result<(), RedisError> {
        redis::cmd("PING")
            .query_async::<()>(&mut self.conn.clone())
            .await
    }
}

/// Hands a published message to its channel's stream, and tells `health` of a dropped
/// connection; every other push is ignored.
fn route(push: PushInfo, handlers: &Handlers, health: &FanoutHealth) {
    if push.kind == PushKind::Disconnection {
        health.went_out();
        return;
    }
    if push.kind != PushKind::Message {
        return;
    }
    let mut data = push.data.into_iter();
    let (Some(chan), Some(payload)) = (data.next(), data.next()) else {
        return;
    };
    let (Ok(chan), Ok(payload)) = (
        String::from_redis_value(chan),
        Vec::<u8>::from_redis_value(payload),
    ) else {
        tracing::warn!("unreadable message from the Socket.IO Redis channel");
        return;
    };
    let handlers = handlers.read().unwrap_or_else(|e| e.into_inner());
    if let Some(tx) = handlers.get(&chan)
        && let Err(e) = tx.try_send((chan, payload))
    {
        tracing::warn!(error = %e, "Socket.IO Redis channel full; message dropped");
        health.lost_some();
    }
}

impl Driver for ReconnectingDriver {
    type Error = RedisError;

    async fn publish(&self, chan: String, val: Vec<u8>) -> Result<(), Self::Error> {
        let published = self.conn.clone().publish::<_, _, ()>(chan, val).await;
        if published.is_err() {
            self.health.went_out();
        }
        published
    }

    async fn subscribe(
        &self,
        chan: String,
        size: usize,
    ) -> Result<MessageStream<ChanItem>, Self::Error> {
        // Routed before SUBSCRIBE is confirmed, so nothing published right after is dropped.
        let (tx, rx) = mpsc::channel(size);
        self.handlers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(chan.clone(), tx);
        if let Err(e) = self.conn.clone().subscribe(&chan).await {
            self.handlers
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&chan);
            return Err(e);
        }
        Ok(MessageStream::new(rx))
    }

    async fn unsubscribe(&self, chan: String) -> Result<(), Self::Error> {
        self.handlers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&chan);
        self.conn.clone().unsubscribe(&chan).await
    }

    async fn num_serv(&self, chan: &str) -> Result<u16, Self::Error> {
        let (_, count): (String, u16) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(chan)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(count)
    }
}

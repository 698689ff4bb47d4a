//! Fan-out while Redis is out, and making up for what it lost once it is back.
//!
//! The Socket.IO Redis adapter publishes a broadcast before it emits to this instance's own
//! sockets, and when the publish fails it returns without emitting: until the eighteenth
//! session, while an instance could not reach Redis, even its own sockets stopped hearing each
//! other (`tests/api/multi_instance.rs`). And Redis pub/sub keeps nothing, so what the other
//! instances published meanwhile is lost here, and what this one could not publish is lost there,
//! while every socket stays connected and has no reason to `sync`.
//!
//! So `emit` (in `socket`) falls back to this instance's sockets when the adapter fails, and
//! goes to them directly while fan-out is known to be out, not waiting for each publish to fail.
//! Once Redis answers again, every socket on every instance is sent `resync`, and the client
//! catches up as after a reconnect.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::contracts::events::{Resync, server};
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::redis_driver::ReconnectingDriver;

/// How often a fan-out that is out is tried again.
const RETRY: Duration = Duration::from_millis(500);

/// Whether fan-out between instances is out, and whether events were lost that sockets must
/// make up for. Never out without Redis (one instance has nobody to fan out to).
#[derive(Default)]
pub struct FanoutHealth {
    out: AtomicBool,
    lost: Notify,
}

impl FanoutHealth {
    /// Broadcasts go to this instance's sockets only, for now.
    pub fn is_out(&self) -> bool {
        self.out.load(Ordering::SeqCst)
    }

    /// Fan-out is out (the connection dropped, a publish failed): events are being lost.
    pub fn went_out(&self) {
        self.out.store(true, Ordering::SeqCst);
        self.lost.notify_one();
    }

    /// Events published by other instances were lost here, though fan-out is up.
    pub fn lost_some(&self) {
        self.lost.notify_one();
    }
}

/// After every loss, once Redis answers again: fan-out is back, and every socket on every instance
/// is told to `resync`. Losses during one recovery make one more. Runs until aborted.
pub fn spawn_recovery<A: Adapter>(
    io: SocketIo<A>,
    health: Arc<FanoutHealth>,
    driver: ReconnectingDriver,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            health.lost.notified().await;
            while driver.ping().await.is_err() {
                tokio::time::sleep(RETRY).await;
            }
            health.out.store(false, Ordering::SeqCst);
            if io.of("/").is_none() {
                return; // closed: the instance is stopping
            }
            tracing::warn!("fan-out lost events; telling every socket to catch up");
            super::emit(&health, || io.broadcast(), server::RESYNC, &Resync {}).await;
        }
    })
}

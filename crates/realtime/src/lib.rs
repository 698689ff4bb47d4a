//! Batiyoun `realtime`: Socket.IO messaging with durable storage and multi-instance fan-out.
//!
//! - [`domain`]: chats, messages, receipts, sync and presence — the rules, independent of transport;
//! - [`ports`]: the traits the domain needs (`ChatStore`, `Fanout`; short-lived state uses
//!   `common::kv::Kv`);
//! - [`adapters`]: `ChatStore` on MongoDB and on embedded SQLite;
//! - `coalesce`: reads by key merged into one fetch per batch (the stores' chat reads, the domain's
//!   contacts);
//! - [`http`] (REST `/api/chats…`) and [`socket`] (Socket.IO events) — the transports;
//! - [`app`]: `Application::build` wires it all from [`config::Config`].

pub mod adapters;
pub mod app;
pub(crate) mod coalesce;
pub mod config;
pub mod domain;
pub mod http;
pub mod ports;
pub mod socket;

pub use app::Application;
pub use config::Config;

/// The `realtime` binary's whole body: `src/main.rs` only calls it (and names the allocator).
///
/// It lives in the library because a binary compiles again, in its own crate, the generic and
/// async code it instantiates from a library: with the server's future built in `main.rs`, the
/// release build compiled most of the service twice (bench/README.md, "Build and suite time").
#[tokio::main]
pub async fn main() -> std::process::ExitCode {
    common::server::run_service("realtime", 3002, |env| async move {
        let app = Application::build(Config::from_env(&env)?).await?;
        app.run_until_stopped().await
    })
    .await
}

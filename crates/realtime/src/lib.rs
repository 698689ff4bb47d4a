//! Batiyoun `realtime`: Socket.IO messaging with durable storage and multi-instance fan-out.
//!
//! - [`domain`]: chats, messages, receipts, sync and presence — the rules, independent of transport;
//! - [`ports`]: the traits the domain needs (`ChatStore`, `Fanout`; short-lived state uses
//!   `common::kv::Kv`);
//! - [`adapters`]: `ChatStore` on MongoDB and on embedded SQLite;
//! - [`http`] (REST `/api/chats…`) and [`socket`] (Socket.IO events) — the transports;
//! - [`app`]: `Application::build` wires it all from [`config::Config`].

pub mod adapters;
pub mod app;
pub mod config;
pub mod domain;
pub mod http;
pub mod ports;
pub mod socket;

pub use app::Application;
pub use config::Config;

//! The Batiyoun contract shared by `auth-api`, `realtime` and (through its JSON shapes) the PWA.
//!
//! Everything that crosses a process boundary is defined here exactly once:
//! - [`contracts`]: REST bodies and Socket.IO event payloads (serde + validator, camelCase JSON);
//! - [`error`]: the stable error-code table and the one error body used by REST and socket acks;
//! - [`jwt`]: access-token claims, minting (auth-api only) and JWKS-based verification (realtime);
//! - [`kv`]: the key-value/TTL port (Redis or in-process) both services keep ephemeral state in;
//! - [`config`], [`telemetry`], [`server`]: the start-up plumbing both binaries share;
//! - [`openapi`]: the pieces of the services' OpenAPI documents they have in common.

pub mod config;
pub mod contracts;
pub mod error;
pub mod ids;
pub mod jwt;
pub mod kv;
pub mod observability;
pub mod openapi;
pub mod pictures;
pub mod server;
pub mod sessions;
pub mod telemetry;
pub mod testing;

pub use error::{ApiError, ErrorCode};

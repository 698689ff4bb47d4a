//! The `common` crate's contract tests: one binary, one module per area.

mod account;
mod config;
mod contracts;
mod errors;
mod jwt;
mod kv;
mod observability;
mod reactions;
mod server;

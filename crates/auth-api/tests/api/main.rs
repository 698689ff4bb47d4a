//! auth-api integration tests: one binary (link once), modules by area. Flow tests run against
//! both backend sets — embedded (SQLite, in-process Kv, dev mailbox) and real (PostgreSQL, Redis,
//! SMTP sink) — through the `both!` macro; real ones skip locally when `TEST_*` is unset and fail
//! under `CI=true`.

mod helpers;
mod mailbox;

mod account;
mod avatars;
mod deletion;
mod email_change;
mod errors;
mod flow;
mod google;
mod limits;
mod openapi;
mod security;
mod startup;
mod store_contract;
mod users;

//! The realtime integration tests: one binary, one module per area. Behaviour tests run twice,
//! on the embedded adapters and on MongoDB + Redis (`TEST_MONGODB_URL`, `TEST_REDIS_URL`).

mod account_deletions;
mod admins;
mod attachments;
mod budgets;
mod connect;
mod edits;
mod helpers;
mod limits;
mod membership;
mod messaging;
mod metrics;
mod multi_instance;
mod mutes;
mod openapi;
mod pictures;
mod pins;
mod presence;
mod reactions;
mod replies;
mod resilience;
mod user_changes;
#[macro_use]
mod store_contract;
mod sync;
mod topics;

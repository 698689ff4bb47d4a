//! `ChatStore` adapters: MongoDB (production) and SQLite (the embedded default).

pub mod chat_cache;
pub mod deadline;
pub mod mongo;
pub mod sqlite;

pub use chat_cache::ChatCache;
pub use deadline::Deadline;
pub use mongo::{MongoStore, Patience};
pub use sqlite::SqliteStore;

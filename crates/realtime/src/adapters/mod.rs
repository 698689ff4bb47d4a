//! `ChatStore` adapters: MongoDB (production) and SQLite (the embedded default).

mod coalesce;
pub mod deadline;
pub mod mongo;
pub mod sqlite;

pub use deadline::Deadline;
pub use mongo::{MongoStore, Patience};
pub use sqlite::SqliteStore;

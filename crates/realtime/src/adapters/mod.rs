//! `ChatStore` adapters: MongoDB (production) and SQLite (the embedded default).

mod coalesce;
pub mod mongo;
pub mod sqlite;

pub use mongo::MongoStore;
pub use sqlite::SqliteStore;

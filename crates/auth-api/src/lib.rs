//! Batiyoun `auth-api`: accounts, email OTP, password and Google sign-in, sessions and access-token
//! minting.
//!
//! The tree follows ports and adapters:
//! - [`domain`]: the rules (signup, OTP, login, sessions, Google OAuth, key directory), written
//!   against the traits in [`ports`] and common's `Kv`, never against a concrete backend;
//! - [`ports`]: `UserStore` and `Mailer`;
//! - [`adapters`]: PostgreSQL / SQLite stores, SMTP / dev-mailbox mailers;
//! - [`http`]: axum routes, extractors and the CSRF/CORS layers — translation only;
//! - [`startup`]: wiring everything from a [`Config`] into an [`Application`].

pub mod adapters;
pub mod config;
pub mod domain;
pub mod http;
pub mod ports;
pub mod startup;

pub use config::Config;
pub use startup::Application;

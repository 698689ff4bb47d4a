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

/// The `auth-api` binary's whole body: `src/main.rs` only calls it.
///
/// It lives in the library because a binary compiles again, in its own crate, the generic and
/// async code it instantiates from a library: with the server's future built in `main.rs`, the
/// release build compiled most of the service twice (bench/README.md, "Build and suite time").
#[tokio::main]
pub async fn main() -> std::process::ExitCode {
    common::server::run_service("auth-api", 3001, |env| async move {
        let app = Application::build(Config::from_env(&env)?).await?;
        app.run_until_stopped().await
    })
    .await
}

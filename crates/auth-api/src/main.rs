//! The `auth-api` binary: read config, start tracing, build the application, serve until a
//! shutdown signal. Everything else lives in the library so tests build the very same app.
//! `auth-api --healthcheck` probes a running instance's `/healthz` (the container HEALTHCHECK).

use std::process::ExitCode;

use auth_api::{Application, Config};

#[tokio::main]
async fn main() -> ExitCode {
    common::server::run_service("auth-api", 3001, |env| async move {
        let app = Application::build(Config::from_env(&env)?).await?;
        app.run_until_stopped().await
    })
    .await
}

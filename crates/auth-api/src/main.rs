//! The `auth-api` binary: read config, start tracing, build the application, serve until a
//! shutdown signal. Everything else lives in the library so tests build the very same app.
//! `auth-api --healthcheck` probes a running instance's `/healthz` (the container HEALTHCHECK).

use std::process::ExitCode;

use auth_api::{Application, Config};
use common::config::Env;

#[tokio::main]
async fn main() -> ExitCode {
    let env = Env::process();
    if common::server::healthcheck_requested() {
        return common::server::healthcheck(env.or("PORT", 3001).unwrap_or(3001)).await;
    }
    common::telemetry::init();
    let run = async {
        let config = Config::from_env(&env)?;
        let app = Application::build(config).await?;
        app.run_until_stopped().await
    };
    match run.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("auth-api stopped: {e:#}");
            eprintln!("auth-api: {e:#}");
            ExitCode::FAILURE
        }
    }
}

//! The `realtime` binary: read config, start tracing, build the application, serve until a
//! shutdown signal. Everything else lives in the library so tests build the very same app.
//! `realtime --healthcheck` probes a running instance's `/healthz` (the container HEALTHCHECK).

use std::process::ExitCode;

use common::config::Env;
use realtime::{Application, Config};

#[tokio::main]
async fn main() -> ExitCode {
    let env = Env::process();
    if common::server::healthcheck_requested() {
        return common::server::healthcheck(env.or("PORT", 3002).unwrap_or(3002)).await;
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
            tracing::error!("realtime stopped: {e:#}");
            eprintln!("realtime: {e:#}");
            ExitCode::FAILURE
        }
    }
}

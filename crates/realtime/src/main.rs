//! The `realtime` binary: read config, start tracing, build the application, serve until a
//! shutdown signal. Everything else lives in the library so tests build the very same app.
//! `realtime --healthcheck` probes a running instance's `/healthz` (the container HEALTHCHECK).

use std::process::ExitCode;

use realtime::{Application, Config};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    common::server::run_service("realtime", 3002, |env| async move {
        let app = Application::build(Config::from_env(&env)?).await?;
        app.run_until_stopped().await
    })
    .await
}

//! The `realtime` binary: read config, start tracing, build the application, serve until a
//! shutdown signal. Everything else lives in the library so tests build the very same app.

use common::config::Env;
use realtime::{Application, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::telemetry::init();
    let config = Config::from_env(&Env::process())?;
    let app = Application::build(config).await?;
    app.run_until_stopped().await
}

//! `batiyoun`: the whole system in one process on embedded defaults (see the library docs).

use std::io::Write;
use std::process::ExitCode;

use common::config::Env;
use launcher::{LaunchConfig, launch};

#[tokio::main]
async fn main() -> ExitCode {
    common::telemetry::init();
    let run = async {
        let config = LaunchConfig::from_env(&Env::process())?;
        let launched = launch(&config).await?;
        // Printed on stdout, not only logged: it is the line a newcomer (and the browser tests) read.
        println!("Batiyoun is running: open {}", launched.url());
        println!(
            "One-time codes are printed below and appended to {}/dev-mailbox.log",
            config.data_dir.display()
        );
        let _ = std::io::stdout().flush();
        common::server::serve(
            launched.listener,
            launched.router,
            common::server::shutdown_signal(),
        )
        .await?;
        anyhow::Ok(())
    };
    match run.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("batiyoun: {e:#}");
            ExitCode::FAILURE
        }
    }
}

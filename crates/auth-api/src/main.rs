//! The `auth-api` binary: [`auth_api::main`] reads config, starts tracing, builds the
//! application and serves until a shutdown signal. Everything lives in the library so tests
//! build the very same app. `auth-api --healthcheck` probes a running instance's `/healthz` (the
//! container HEALTHCHECK).

use std::process::ExitCode;

fn main() -> ExitCode {
    auth_api::main()
}

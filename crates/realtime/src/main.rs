//! The `realtime` binary: [`realtime::main`] reads config, starts tracing, builds the application
//! and serves until a shutdown signal. Everything lives in the library so tests build the very
//! same app. `realtime --healthcheck` probes a running instance's `/healthz` (the container
//! HEALTHCHECK).

use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    realtime::main()
}

//! Helpers for the services' integration tests (not used by production code paths).

/// The URL of a real backend for tests, from the environment variable `name`
/// (e.g. `TEST_REDIS_URL`). When unset, tests may skip on a developer's laptop, but under CI
/// (`CI=true`) a missing backend is a failure, so CI always proves the real path.
pub fn backend_url(name: &str) -> Option<String> {
    match std::env::var(name).ok().filter(|v| !v.trim().is_empty()) {
        Some(url) => Some(url),
        None if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{name} is not set, and CI=true requires every real backend to be tested")
        }
        None => {
            eprintln!(
                "skipping: {name} is not set (set it, or run bash .ci/run, to test against the real backend)"
            );
            None
        }
    }
}

/// A unique, readable prefix for keys, databases and channels of one test.
pub fn unique_name(test: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "t_{}_{}",
        test.chars()
            .filter(char::is_ascii_alphanumeric)
            .take(24)
            .collect::<String>(),
        &id[..12]
    )
}

/// The sum of every Prometheus sample line in `text` whose name starts with `prefix` and that
/// contains every `needle`. Summing over the other labels keeps the value monotonic while
/// parallel tests add label sets, so tests compare a before/after delta of it.
pub fn metric_sum(text: &str, prefix: &str, needles: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(prefix) && needles.iter().all(|n| l.contains(n)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

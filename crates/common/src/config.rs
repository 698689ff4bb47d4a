//! Typed configuration from environment variables (12-factor).
//!
//! Each service parses its variables once at start-up into a struct with these helpers. A
//! malformed value stops start-up with a message naming the variable; values of secret variables
//! are never echoed, and [`Secret`] keeps them out of `Debug` output.

use std::fmt;
use std::str::FromStr;

/// A configuration problem, naming the variable.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {name}: {message}")]
pub struct ConfigError {
    pub name: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(name: &str, message: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            message: message.into(),
        }
    }
}

/// A string whose value must never be logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

type Lookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Reads variables from a source (the process environment, or a map in tests).
pub struct Env {
    lookup: Lookup,
}

impl Env {
    /// The process environment, falling back to `.env` in the working directory (variables set
    /// in the environment win).
    pub fn process() -> Self {
        let dotenv = read_dotenv();
        Self {
            lookup: Box::new(move |name| {
                std::env::var(name)
                    .ok()
                    .or_else(|| dotenv.get(name).cloned())
            }),
        }
    }

    /// A fixed set of variables (tests).
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let map: std::collections::HashMap<String, String> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Self {
            lookup: Box::new(move |name| map.get(name).cloned()),
        }
    }

    /// The raw value; empty counts as unset.
    pub fn raw(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.trim().is_empty())
    }

    /// An optional value parsed as `T`.
    pub fn opt<T: FromStr>(&self, name: &str) -> Result<Option<T>, ConfigError>
    where
        T::Err: fmt::Display,
    {
        self.raw(name)
            .map(|v| {
                v.trim()
                    .parse::<T>()
                    .map_err(|e| ConfigError::new(name, format!("invalid value {v:?}: {e}")))
            })
            .transpose()
    }

    /// A value parsed as `T`, or `default` when unset.
    pub fn or<T: FromStr>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        Ok(self.opt(name)?.unwrap_or(default))
    }

    /// A required value.
    pub fn required<T: FromStr>(&self, name: &str) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        self.opt(name)?
            .ok_or_else(|| ConfigError::new(name, "is required but not set"))
    }

    /// A secret; parse errors never include the value.
    pub fn secret(&self, name: &str) -> Option<Secret> {
        self.raw(name).map(Secret::new)
    }

    /// A comma-separated list, or `default` when unset.
    pub fn list(&self, name: &str, default: &[&str]) -> Vec<String> {
        match self.raw(name) {
            Some(v) => v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            None => default.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// A boolean (`true/false/1/0/yes/no`), or `default` when unset.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        match self.raw(name).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if matches!(v.as_str(), "1" | "true" | "yes" | "on") => Ok(true),
            Some(v) if matches!(v.as_str(), "0" | "false" | "no" | "off") => Ok(false),
            Some(v) => Err(ConfigError::new(
                name,
                format!("expected true or false, got {v:?}"),
            )),
        }
    }

    /// Whether `APP_ENV=production`.
    pub fn is_production(&self) -> bool {
        self.raw("APP_ENV")
            .is_some_and(|v| v.eq_ignore_ascii_case("production"))
    }
}

/// Parses `.env` in the working directory, if there is one (local development only).
fn read_dotenv() -> std::collections::HashMap<String, String> {
    let Ok(text) = std::fs::read_to_string(".env") else {
        return Default::default();
    };
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
        .collect()
}

/// The production guard: with `APP_ENV=production`, a service refuses to start with insecure
/// settings and names every one of them. Outside production it only logs them as warnings.
#[derive(Debug, Default)]
pub struct ProductionGuard {
    production: bool,
    problems: Vec<(String, String)>,
}

impl ProductionGuard {
    pub fn new(env: &Env) -> Self {
        Self {
            production: env.is_production(),
            problems: Vec::new(),
        }
    }

    /// Records `problem` about variable `name` unless `ok`.
    pub fn require(&mut self, ok: bool, name: &str, problem: &str) -> &mut Self {
        if !ok {
            self.problems.push((name.to_owned(), problem.to_owned()));
        }
        self
    }

    /// Refuses an allow-list containing `*` (CORS/Origin must name the real origins).
    pub fn no_wildcard(&mut self, name: &str, list: &[String]) -> &mut Self {
        let ok = !list.iter().any(|o| o.trim() == "*" || o.contains('*'));
        self.require(
            ok,
            name,
            "a wildcard allow-list is not allowed in production",
        )
    }

    /// `Ok` outside production or when nothing is wrong; otherwise an error naming every problem.
    pub fn finish(&self) -> Result<(), ConfigError> {
        if self.problems.is_empty() {
            return Ok(());
        }
        if !self.production {
            for (name, problem) in &self.problems {
                tracing::info!(variable = %name, "{problem} in production (fine for local development)");
            }
            return Ok(());
        }
        let names = self
            .problems
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let details = self
            .problems
            .iter()
            .map(|(n, p)| format!("{n}: {p}"))
            .collect::<Vec<_>>()
            .join("; ");
        Err(ConfigError::new(
            &names,
            format!("insecure settings refused with APP_ENV=production: {details}"),
        ))
    }
}

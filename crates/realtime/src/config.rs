//! Typed configuration of the realtime service, read once at start-up from the environment.
//!
//! Every variable is optional: unset backend URLs select the embedded defaults (SQLite under
//! `DATA_DIR`, in-process fan-out and key-value store), which the start-up log names.

use std::path::PathBuf;
use std::time::Duration;

use common::config::{ConfigError, Env, ProductionGuard, Secret};

/// Everything `Application::build` needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub host: String,
    pub port: u16,
    /// auth-api's JWKS endpoint; tokens are verified against it (realtime never mints).
    pub auth_jwks_url: String,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    /// Browser origins allowed to open a socket. A handshake without `Origin` (non-browser
    /// clients) is allowed: the Origin check exists to stop cross-site WebSocket hijacking, which
    /// only browsers can be tricked into, and browsers always send `Origin` on WebSocket/XHR.
    pub allowed_origins: Vec<String>,
    pub mongodb_url: Option<Secret>,
    pub mongodb_db: String,
    /// Write concern for message inserts: `majority` (default) or a node count such as `1`.
    pub mongodb_write_concern: String,
    /// Server-selection / connect timeout, so an unreachable MongoDB fails fast (`unavailable`).
    pub mongodb_timeout: Duration,
    /// Longest wait for MongoDB's answer to one operation (`unavailable` after): the driver has
    /// no socket timeout, and a hung server or a half-open connection would otherwise hold a
    /// request, and every send queued behind it, for hours.
    pub mongodb_answer_timeout: Duration,
    pub data_dir: PathBuf,
    pub redis_url: Option<Secret>,
    pub redis_prefix: String,
    pub limits: Limits,
}

/// Abuse limits and timings.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest Engine.IO payload accepted, in bytes.
    pub max_payload: u64,
    /// Events a socket may send in a burst.
    pub rate_burst: u32,
    /// Events per second a socket may sustain.
    pub rate_per_sec: f64,
    /// Packets a socket may have waiting to be written; past it the session is closed, so the
    /// client reconnects and catches up instead of missing a packet (see `app.rs`).
    pub send_buffer: usize,
    /// Minimum interval between two `user_typing` broadcasts of one user in one chat.
    pub typing_throttle: Duration,
    /// How long a typing indicator lives (`chat:{chatId}:typing:{userId}`).
    pub typing_ttl: Duration,
    /// Lifetime of `user:online:{userId}`; refreshed while the user has a socket.
    pub presence_ttl: Duration,
    /// How often live sockets refresh their user's presence keys.
    pub presence_refresh: Duration,
    /// How long an instance that stopped renewing its key is taken to be up; after it, the
    /// others take its sockets off presence (see `domain::presence`). Renewed every third.
    pub instance_ttl: Duration,
    /// The window in which an instance's presence changes are coalesced into one round of
    /// `presence_update`s (see `domain::presence_changes`); a change after a quiet spell goes out
    /// at once.
    pub presence_batch: Duration,
    /// How far before a client's cursor `sync` answers from (see `MessageService::sync`): more
    /// than the longest a message may take from getting its id to reaching a client — the store's
    /// answer timeout (10 s) and the fan-out — plus the clocks' skew between instances.
    pub sync_lookback: Duration,
    /// Bytes of attachments one user may upload per hour, counted across instances (a fixed
    /// window in the `Kv`): what stops one account filling the store's disk.
    pub upload_bytes_per_hour: u64,
    /// Bytes of attachments one user may have stored at once, in every chat (`quota_exceeded`
    /// past it): what bounds the disk one account takes over time, where the hourly quota bounds
    /// its rate. Deleting a chat frees its attachments' bytes.
    pub attachment_bytes_per_user: u64,
    /// How long an upload's body may take to arrive once its turn came (`request_timeout` after
    /// it): a stalled upload would otherwise hold one of the instance's few transfer turns.
    pub upload_within: Duration,
    /// How long a download may take to be written to its client once its turn came: past it the
    /// body is cut short (fewer bytes than its `Content-Length`) and the turn let go, so a
    /// client that stops reading cannot hold one for good.
    pub download_within: Duration,
    /// How often each instance looks for deleted accounts whose groups nobody has taken them out
    /// of yet (see `socket::account_deletions`): the longest such work waits when its
    /// announcement was missed.
    pub deleted_users_sweep: Duration,
    /// Changes to chats one user may make over REST in a minute, counted across instances
    /// (`domain::budgets`): creating, renaming, members, admins, pictures, mutes, joins.
    pub chat_changes_per_minute: u32,
    /// Wrong passcodes one user may try in an hour before joins are refused until it ends.
    pub join_failures_per_hour: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_payload: 64 * 1024,
            rate_burst: 30,
            rate_per_sec: 10.0,
            send_buffer: 1024,
            typing_throttle: Duration::from_secs(2),
            typing_ttl: Duration::from_secs(3),
            presence_ttl: Duration::from_secs(300),
            presence_refresh: Duration::from_secs(60),
            instance_ttl: Duration::from_secs(30),
            presence_batch: Duration::from_secs(1),
            sync_lookback: Duration::from_secs(15),
            upload_bytes_per_hour: 256 * 1024 * 1024,
            attachment_bytes_per_user: 2 * 1024 * 1024 * 1024,
            upload_within: Duration::from_secs(120),
            download_within: Duration::from_secs(120),
            deleted_users_sweep: Duration::from_secs(60),
            chat_changes_per_minute: 60,
            join_failures_per_hour: 10,
        }
    }
}

impl Config {
    /// Reads every variable; a malformed one stops start-up naming it.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let d = Limits::default();
        let limits = Limits {
            max_payload: env.or("MAX_PAYLOAD_BYTES", d.max_payload)?,
            rate_burst: env.or("SOCKET_RATE_BURST", d.rate_burst)?,
            rate_per_sec: env.or("SOCKET_RATE_PER_SEC", d.rate_per_sec)?,
            send_buffer: env.or("SOCKET_SEND_BUFFER", d.send_buffer)?,
            typing_throttle: Duration::from_millis(env.or("TYPING_THROTTLE_MS", 2000)?),
            typing_ttl: Duration::from_millis(env.or("TYPING_TTL_MS", 3000)?),
            presence_ttl: Duration::from_secs(env.or("PRESENCE_TTL_SECS", 300)?),
            presence_refresh: Duration::from_secs(env.or("PRESENCE_REFRESH_SECS", 60)?),
            instance_ttl: Duration::from_secs(env.or("INSTANCE_TTL_SECS", 30)?),
            presence_batch: Duration::from_millis(env.or("PRESENCE_BATCH_MS", 1000)?),
            sync_lookback: Duration::from_secs(env.or("SYNC_LOOKBACK_SECS", 15)?),
            upload_bytes_per_hour: env.or("UPLOAD_BYTES_PER_HOUR", d.upload_bytes_per_hour)?,
            attachment_bytes_per_user: env
                .or("ATTACHMENT_BYTES_PER_USER", d.attachment_bytes_per_user)?,
            upload_within: Duration::from_secs(env.or("UPLOAD_TIMEOUT_SECS", 120)?),
            download_within: Duration::from_secs(env.or("DOWNLOAD_TIMEOUT_SECS", 120)?),
            deleted_users_sweep: Duration::from_secs(env.or("DELETED_USERS_SWEEP_SECS", 60)?),
            chat_changes_per_minute: env
                .or("CHAT_CHANGES_PER_MINUTE", d.chat_changes_per_minute)?,
            join_failures_per_hour: env.or("JOIN_FAILURES_PER_HOUR", d.join_failures_per_hour)?,
        };
        if limits.chat_changes_per_minute == 0 {
            return Err(ConfigError::new(
                "CHAT_CHANGES_PER_MINUTE",
                "must be at least 1",
            ));
        }
        if limits.join_failures_per_hour == 0 {
            return Err(ConfigError::new(
                "JOIN_FAILURES_PER_HOUR",
                "must be at least 1",
            ));
        }
        if limits.deleted_users_sweep.is_zero() {
            return Err(ConfigError::new(
                "DELETED_USERS_SWEEP_SECS",
                "must be at least 1",
            ));
        }
        if limits.rate_burst == 0 || !limits.rate_per_sec.is_finite() || limits.rate_per_sec <= 0.0
        {
            return Err(ConfigError::new(
                "SOCKET_RATE_BURST",
                "burst and SOCKET_RATE_PER_SEC must be positive",
            ));
        }
        if limits.instance_ttl < Duration::from_secs(3) {
            return Err(ConfigError::new("INSTANCE_TTL_SECS", "must be at least 3"));
        }
        if limits.presence_batch > Duration::from_secs(60) {
            return Err(ConfigError::new(
                "PRESENCE_BATCH_MS",
                "must be at most 60000 (presence changes wait this long at most)",
            ));
        }
        if limits.send_buffer == 0 {
            return Err(ConfigError::new("SOCKET_SEND_BUFFER", "must be positive"));
        }
        if limits.max_payload < 1024 {
            return Err(ConfigError::new(
                "MAX_PAYLOAD_BYTES",
                "must be at least 1024",
            ));
        }
        let config = Self {
            host: env.or("HOST", "127.0.0.1".to_owned())?,
            port: env.or("PORT", 3002)?,
            auth_jwks_url: env.or(
                "AUTH_JWKS_URL",
                "http://127.0.0.1:3001/.well-known/jwks.json".to_owned(),
            )?,
            jwt_issuer: env.or("JWT_ISSUER", "batiyoun-auth".to_owned())?,
            jwt_audience: env.or("JWT_AUDIENCE", "batiyoun".to_owned())?,
            allowed_origins: env.list(
                "ALLOWED_ORIGINS",
                &["http://localhost:3000", "http://127.0.0.1:3000"],
            ),
            mongodb_url: env.secret("MONGODB_URL"),
            mongodb_db: env.or("MONGODB_DB", "batiyoun".to_owned())?,
            mongodb_write_concern: env.or("MONGODB_WRITE_CONCERN", "majority".to_owned())?,
            mongodb_timeout: Duration::from_millis(env.or("MONGODB_TIMEOUT_MS", 2000)?),
            mongodb_answer_timeout: Duration::from_millis(
                env.or("MONGODB_ANSWER_TIMEOUT_MS", 10_000)?,
            ),
            data_dir: PathBuf::from(env.or("DATA_DIR", "./data".to_owned())?),
            redis_url: env.secret("REDIS_URL"),
            redis_prefix: env.or("REDIS_PREFIX", String::new())?,
            limits,
        };
        config.production_guard(env)?;
        Ok(config)
    }

    /// With `APP_ENV=production`, refuses settings that only fit a single laptop: a wildcard or
    /// plain-http Origin allow-list, embedded storage, in-process fan-out.
    fn production_guard(&self, env: &Env) -> Result<(), ConfigError> {
        ProductionGuard::new(env)
            .no_wildcard("ALLOWED_ORIGINS", &self.allowed_origins)
            .require(
                self.allowed_origins
                    .iter()
                    .all(|o| o.starts_with("https://")),
                "ALLOWED_ORIGINS",
                "browsers must reach the service over https",
            )
            .require(
                self.mongodb_url.is_some(),
                "MONGODB_URL",
                "MongoDB must be configured",
            )
            .require(
                self.redis_url.is_some(),
                "REDIS_URL",
                "Redis must be configured (fan-out and presence across instances)",
            )
            .finish()
    }

    /// Defaults for everything (tests override fields).
    pub fn for_tests() -> Self {
        let mut c = Self::from_env(&Env::from_pairs(Vec::<(String, String)>::new()))
            .unwrap_or_else(|e| panic!("default config is invalid: {e}"));
        c.port = 0;
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_refuses_each_insecure_setting_and_names_it() {
        let good = [
            ("APP_ENV", "production"),
            ("ALLOWED_ORIGINS", "https://chat.example.com"),
            ("MONGODB_URL", "mongodb://mongo.internal:27017"),
            ("REDIS_URL", "redis://redis.internal:6379"),
        ];
        assert!(Config::from_env(&Env::from_pairs(good)).is_ok());
        let bad = [
            ("ALLOWED_ORIGINS", "*"),
            ("ALLOWED_ORIGINS", "http://chat.example.com"),
            ("MONGODB_URL", ""),
            ("REDIS_URL", ""),
        ];
        for (name, value) in bad {
            let pairs = good
                .iter()
                .map(|&(k, v)| (k, if k == name { value } else { v }));
            let err = Config::from_env(&Env::from_pairs(pairs)).expect_err(name);
            assert!(err.to_string().contains(name), "{name}: {err}");
        }
    }

    #[test]
    fn defaults_need_no_environment() {
        let c =
            Config::from_env(&Env::from_pairs(Vec::<(String, String)>::new())).expect("defaults");
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 3002));
        assert_eq!(
            c.auth_jwks_url,
            "http://127.0.0.1:3001/.well-known/jwks.json"
        );
        assert_eq!(
            (c.jwt_issuer.as_str(), c.jwt_audience.as_str()),
            ("batiyoun-auth", "batiyoun")
        );
        assert_eq!(
            c.allowed_origins,
            ["http://localhost:3000", "http://127.0.0.1:3000"]
        );
        assert!(c.mongodb_url.is_none() && c.redis_url.is_none());
        assert_eq!(c.mongodb_db, "batiyoun");
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert_eq!(c.limits.max_payload, 64 * 1024);
    }

    #[test]
    fn a_malformed_variable_is_named_in_the_error() {
        for (name, value) in [
            ("PORT", "http"),
            ("SOCKET_RATE_BURST", "0"),
            ("MAX_PAYLOAD_BYTES", "10"),
            ("PRESENCE_BATCH_MS", "600000"),
        ] {
            let err = Config::from_env(&Env::from_pairs([(name, value)])).expect_err(name);
            assert_eq!(err.name, name);
        }
    }

    #[test]
    fn a_secret_url_is_never_printed() {
        let c = Config::from_env(&Env::from_pairs([(
            "MONGODB_URL",
            "mongodb://user:hunter2@db",
        )]))
        .expect("config");
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}

//! Every environment variable auth-api reads, parsed once into [`Config`].
//!
//! Unset backend URLs select the embedded adapters (SQLite under `DATA_DIR`, the in-process Kv,
//! the dev mailbox), so the binary starts with no environment at all. Insecure combinations are
//! refused when `APP_ENV=production`.

use std::path::PathBuf;
use std::time::Duration;

use common::config::{ConfigError, Env, ProductionGuard, Secret};

/// Google (or any OpenID Connect provider with Google's shape) settings; `None` disables
/// `/api/auth/google`.
#[derive(Debug, Clone)]
pub struct GoogleConfig {
    pub client_id: String,
    pub client_secret: Option<Secret>,
    pub auth_url: String,
    pub token_url: String,
    pub jwks_url: String,
    /// Accepted `iss` values of the ID token.
    pub issuers: Vec<String>,
    /// Where the provider sends the browser back; default `{PUBLIC_URL}/api/auth/google/callback`.
    pub redirect_url: Option<String>,
}

/// Rate-limit budgets (fixed windows).
#[derive(Debug, Clone)]
pub struct Limits {
    pub login_failures_per_account: i64,
    pub login_failures_per_ip: i64,
    pub login_window: Duration,
    pub otp_per_email_hour: i64,
    pub otp_per_ip_hour: i64,
    pub otp_resend_cooldown: Duration,
    /// Profile changes per user per hour: each is announced to every contact.
    pub profile_changes_per_hour: i64,
    /// End-to-end keys a user publishes per hour: each is announced to every contact, whose
    /// clients fetch it and warn that it changed.
    pub key_changes_per_hour: i64,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub host: String,
    pub port: u16,
    /// This service's own origin as browsers see it; default `http://{bound address}`.
    pub public_url: Option<String>,
    pub production: bool,
    pub database_url: Option<Secret>,
    pub data_dir: PathBuf,
    pub redis_url: Option<Secret>,
    pub redis_prefix: String,
    pub smtp_url: Option<Secret>,
    pub smtp_from: String,
    pub jwt_signing_key: Option<Secret>,
    pub jwt_previous_signing_key: Option<Secret>,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub access_token_ttl: Duration,
    pub session_ttl: Duration,
    pub otp_ttl: Duration,
    pub cookie_secure: bool,
    /// Origins allowed for CORS and for cookie-authenticated state changes (the service's own
    /// origin is added at start-up).
    pub allowed_origins: Vec<String>,
    /// Where the Google callback sends the browser (must be an allowed origin).
    pub app_url: String,
    pub trust_proxy: bool,
    pub limits: Limits,
    pub google: Option<GoogleConfig>,
}

fn secs(env: &Env, name: &str, default: u64) -> Result<Duration, ConfigError> {
    Ok(Duration::from_secs(env.or(name, default)?))
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let production = env.is_production();
        let public_url: Option<String> = env.opt("PUBLIC_URL")?;
        let https = public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"));
        let cookie_secure = env.flag("COOKIE_SECURE", production || https)?;
        if production && !cookie_secure {
            return Err(ConfigError::new(
                "COOKIE_SECURE",
                "must not be false when APP_ENV=production (session cookies would travel over plain http)",
            ));
        }
        let access_token_ttl = secs(env, "ACCESS_TOKEN_TTL_SECS", 900)?;
        if access_token_ttl.is_zero() || access_token_ttl > common::jwt::MAX_ACCESS_TTL {
            return Err(ConfigError::new(
                "ACCESS_TOKEN_TTL_SECS",
                "must be between 1 and 900 seconds",
            ));
        }
        let app_url = env.or("APP_URL", "http://localhost:3000".to_owned())?;
        let allowed_origins = env.list(
            "ALLOWED_ORIGINS",
            &["http://localhost:3000", "http://127.0.0.1:3000"],
        );
        if !allowed_origins
            .iter()
            .any(|o| app_url.starts_with(o.as_str()))
        {
            return Err(ConfigError::new(
                "APP_URL",
                "must be on one of ALLOWED_ORIGINS",
            ));
        }
        let google = match env.opt::<String>("GOOGLE_CLIENT_ID")? {
            None => None,
            Some(client_id) => Some(GoogleConfig {
                client_id,
                client_secret: env.secret("GOOGLE_CLIENT_SECRET"),
                auth_url: env.or(
                    "GOOGLE_AUTH_URL",
                    "https://accounts.google.com/o/oauth2/v2/auth".to_owned(),
                )?,
                token_url: env.or(
                    "GOOGLE_TOKEN_URL",
                    "https://oauth2.googleapis.com/token".to_owned(),
                )?,
                jwks_url: env.or(
                    "GOOGLE_JWKS_URL",
                    "https://www.googleapis.com/oauth2/v3/certs".to_owned(),
                )?,
                issuers: env.list(
                    "GOOGLE_ISSUER",
                    &["https://accounts.google.com", "accounts.google.com"],
                ),
                redirect_url: env.opt("GOOGLE_REDIRECT_URL")?,
            }),
        };
        let config = Self {
            host: env.or("HOST", "127.0.0.1".to_owned())?,
            port: env.or("PORT", 3001)?,
            public_url,
            production,
            database_url: env.secret("DATABASE_URL"),
            data_dir: PathBuf::from(env.or("DATA_DIR", "./data".to_owned())?),
            redis_url: env.secret("REDIS_URL"),
            redis_prefix: env.or("REDIS_PREFIX", String::new())?,
            smtp_url: env.secret("SMTP_URL"),
            smtp_from: env.or("SMTP_FROM", "Batiyoun <no-reply@localhost>".to_owned())?,
            jwt_signing_key: env.secret("JWT_SIGNING_KEY"),
            jwt_previous_signing_key: env.secret("JWT_PREVIOUS_SIGNING_KEY"),
            jwt_issuer: env.or("JWT_ISSUER", "batiyoun-auth".to_owned())?,
            jwt_audience: env.or("JWT_AUDIENCE", "batiyoun".to_owned())?,
            access_token_ttl,
            session_ttl: secs(env, "SESSION_TTL_SECS", 7 * 24 * 3600)?,
            otp_ttl: secs(env, "OTP_TTL_SECS", 600)?,
            cookie_secure,
            allowed_origins,
            app_url,
            trust_proxy: env.flag("TRUST_PROXY", false)?,
            limits: Limits {
                login_failures_per_account: env.or("LOGIN_MAX_FAILURES_PER_ACCOUNT", 5)?,
                login_failures_per_ip: env.or("LOGIN_MAX_FAILURES_PER_IP", 50)?,
                login_window: secs(env, "LOGIN_FAILURE_WINDOW_SECS", 900)?,
                otp_per_email_hour: env.or("OTP_MAX_PER_EMAIL_PER_HOUR", 5)?,
                otp_per_ip_hour: env.or("OTP_MAX_PER_IP_PER_HOUR", 20)?,
                otp_resend_cooldown: secs(env, "OTP_RESEND_COOLDOWN_SECS", 60)?,
                profile_changes_per_hour: env.or("PROFILE_MAX_CHANGES_PER_HOUR", 30)?,
                key_changes_per_hour: env.or("KEY_MAX_CHANGES_PER_HOUR", 20)?,
            },
            google,
        };
        config.production_guard(env)?;
        Ok(config)
    }

    /// With `APP_ENV=production`, refuses to start on settings that are only fit for a laptop:
    /// a wildcard origin allow-list, a generated (file) signing key, no SMTP, embedded storage.
    fn production_guard(&self, env: &Env) -> Result<(), ConfigError> {
        ProductionGuard::new(env)
            .no_wildcard("ALLOWED_ORIGINS", &self.allowed_origins)
            .require(
                self.jwt_signing_key.is_some(),
                "JWT_SIGNING_KEY",
                "a signing key must be configured",
            )
            .require(
                self.smtp_url.is_some(),
                "SMTP_URL",
                "an SMTP server must be configured",
            )
            .require(
                self.database_url.is_some(),
                "DATABASE_URL",
                "PostgreSQL must be configured",
            )
            .require(
                self.redis_url.is_some(),
                "REDIS_URL",
                "Redis must be configured (sessions must be shared)",
            )
            .require(
                self.public_url
                    .as_deref()
                    .is_some_and(|u| u.starts_with("https://")),
                "PUBLIC_URL",
                "must be an https:// URL",
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn no_environment_gives_the_embedded_local_defaults() {
        let c = Config::from_env(&env(&[])).expect("defaults are valid");
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 3001));
        assert!(c.database_url.is_none() && c.redis_url.is_none() && c.smtp_url.is_none());
        assert!(!c.cookie_secure);
        assert_eq!(c.access_token_ttl, Duration::from_secs(900));
        assert!(c.google.is_none());
    }

    const PRODUCTION: &[(&str, &str)] = &[
        ("APP_ENV", "production"),
        ("PUBLIC_URL", "https://chat.example.com"),
        ("APP_URL", "https://chat.example.com"),
        ("ALLOWED_ORIGINS", "https://chat.example.com"),
        (
            "JWT_SIGNING_KEY",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ),
        ("SMTP_URL", "smtps://user:pass@smtp.example.com"),
        ("DATABASE_URL", "postgres://db.example.com/batiyoun"),
        ("REDIS_URL", "redis://redis.example.com"),
    ];

    fn production_with(changes: &[(&'static str, &'static str)]) -> Result<Config, ConfigError> {
        let mut pairs: Vec<(&str, &str)> = PRODUCTION
            .iter()
            .copied()
            .filter(|(k, _)| !changes.iter().any(|(c, _)| c == k))
            .collect();
        pairs.extend(changes.iter().copied().filter(|(_, v)| !v.is_empty()));
        Config::from_env(&env(&pairs))
    }

    #[test]
    fn production_refuses_insecure_cookies_and_defaults_to_secure() {
        let err = production_with(&[("COOKIE_SECURE", "false")]).unwrap_err();
        assert_eq!(err.name, "COOKIE_SECURE");
        assert!(
            production_with(&[])
                .expect("production config")
                .cookie_secure
        );
    }

    #[test]
    fn production_refuses_each_insecure_setting_and_names_it() {
        let cases: &[(&str, &str)] = &[
            ("ALLOWED_ORIGINS", "*"),
            ("JWT_SIGNING_KEY", ""),
            ("SMTP_URL", ""),
            ("DATABASE_URL", ""),
            ("REDIS_URL", ""),
            ("PUBLIC_URL", ""),
        ];
        for &(name, value) in cases {
            let mut change = vec![(name, value)];
            if name == "ALLOWED_ORIGINS" {
                change.push(("APP_URL", "*"));
            }
            let err = production_with(&change).expect_err(name);
            assert!(err.to_string().contains(name), "{name}: {err}");
        }
    }

    #[test]
    fn access_tokens_cannot_outlive_fifteen_minutes() {
        let err = Config::from_env(&env(&[("ACCESS_TOKEN_TTL_SECS", "3600")])).unwrap_err();
        assert_eq!(err.name, "ACCESS_TOKEN_TTL_SECS");
    }

    #[test]
    fn the_app_url_must_be_an_allowed_origin() {
        let err = Config::from_env(&env(&[("APP_URL", "https://evil.example")])).unwrap_err();
        assert_eq!(err.name, "APP_URL");
    }
}

//! Wiring: from a [`Config`] to a bound, ready-to-serve [`Application`]. Chooses each port's
//! adapter (and says so in the log), loads or creates the signing key, and binds the listener so
//! the real port is known before serving (port 0 in tests).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use common::jwt::{KeyRing, Minter, SigningKey, Verifier};
use common::kv::SharedKv;
use tokio::net::TcpListener;

use crate::adapters::{
    dev_mailbox::DevMailbox, postgres::PostgresStore, smtp::SmtpMailer, sqlite::SqliteStore,
};
use crate::config::Config;
use crate::domain::oauth::Google;
use crate::domain::{AuthService, otp::Otps, password::Hasher, sessions::Sessions};
use crate::http::{self, AppState, Web, cookies::CookieSettings};
use crate::ports::{Mailer, UserStore};

pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    router: axum::Router,
}

impl Application {
    /// Builds with the Kv named by `REDIS_URL` (or the in-process one).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let redis = config.redis_url.as_ref().map(|s| s.expose().to_owned());
        let kv = common::kv::connect(redis.as_deref(), &config.redis_prefix)
            .await
            .context("connecting to REDIS_URL")?;
        Self::build_with_kv(config, kv).await
    }

    /// Builds sharing `kv` (e.g. one in-process store with realtime in the single-process dev mode).
    pub async fn build_with_kv(config: Config, kv: SharedKv) -> anyhow::Result<Self> {
        let store: Arc<dyn UserStore> = match &config.database_url {
            Some(url) => Arc::new(
                PostgresStore::connect(url.expose())
                    .await
                    .context("connecting to DATABASE_URL")?,
            ),
            None => Arc::new(
                SqliteStore::open(&config.data_dir.join("auth.db"))
                    .await
                    .context("opening the SQLite database")?,
            ),
        };
        let mailer: Arc<dyn Mailer> = match &config.smtp_url {
            Some(url) => {
                Arc::new(SmtpMailer::new(url.expose(), &config.smtp_from).context("SMTP_URL")?)
            }
            None => Arc::new(DevMailbox::new(config.data_dir.join("dev-mailbox.log"))),
        };
        let minter = Arc::new(load_minter(&config)?);
        let verifier = Arc::new(Verifier::from_jwks(
            &minter.jwks(crate::domain::now()),
            &config.jwt_issuer,
            &config.jwt_audience,
        ));

        let listener = common::server::bind(&config.host, config.port)
            .await
            .with_context(|| format!("binding {}:{}", config.host, config.port))?;
        let addr = listener.local_addr()?;
        let own_origin = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        let own_origin = own_origin.trim_end_matches('/').to_owned();
        let mut allowed_origins = config.allowed_origins.clone();
        allowed_origins.push(own_origin.clone());
        if config.public_url.is_none() && addr.ip().is_loopback() {
            allowed_origins.push(format!("http://localhost:{}", addr.port()));
        }

        let google = match &config.google {
            Some(g) => {
                let redirect = g
                    .redirect_url
                    .clone()
                    .unwrap_or_else(|| format!("{own_origin}/api/auth/google/callback"));
                Some(Arc::new(
                    Google::new(g, redirect).context("Google OAuth configuration")?,
                ))
            }
            None => None,
        };

        tracing::info!(
            database = store.backend(),
            kv = kv.backend(),
            mail = mailer.backend(),
            google = google.is_some(),
            cookie_secure = config.cookie_secure,
            "auth-api backends"
        );

        let auth = AuthService {
            store,
            kv: kv.clone(),
            mailer,
            hasher: Hasher::new()?,
            minter,
            verifier,
            sessions: Sessions::new(kv.clone(), config.session_ttl),
            otps: Otps::new(kv.clone(), config.otp_ttl),
            email_changes: Otps::for_email_change(kv, config.otp_ttl),
            limits: config.limits.clone(),
        };
        let web = Web {
            cookie: CookieSettings {
                secure: config.cookie_secure,
                max_age_secs: config.session_ttl.as_secs(),
            },
            allowed_origins,
            app_url: config.app_url.clone(),
            trust_proxy: config.trust_proxy,
        };
        let router = http::router(AppState {
            auth,
            google,
            web: Arc::new(web),
        });
        Ok(Self {
            listener,
            addr,
            router,
        })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every route (including `/healthz` and `/readyz`), for embedding in another server.
    pub fn router(&self) -> axum::Router {
        self.router.clone()
    }

    /// Serves until SIGTERM or ctrl-c, then drains in-flight requests.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_with_shutdown(common::server::shutdown_signal())
            .await
    }

    pub async fn run_with_shutdown(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!(addr = %self.addr, "auth-api listening");
        common::server::serve(self.listener, self.router, shutdown).await?;
        Ok(())
    }
}

/// The signing key from `JWT_SIGNING_KEY`, else the one persisted under `DATA_DIR` (created on
/// first start), so restarts keep issued tokens valid. `JWT_PREVIOUS_SIGNING_KEY` stays published
/// for one access-token lifetime after start, covering tokens minted before a rotation.
fn load_minter(config: &Config) -> anyhow::Result<Minter> {
    let current = match &config.jwt_signing_key {
        Some(seed) => SigningKey::from_base64_seed(seed.expose())
            .map_err(|e| anyhow::anyhow!("JWT_SIGNING_KEY: {e}"))?,
        None => persisted_key(&config.data_dir.join("jwt-signing-key"))?,
    };
    let ttl = config.access_token_ttl;
    let (iss, aud) = (config.jwt_issuer.clone(), config.jwt_audience.clone());
    match &config.jwt_previous_signing_key {
        Some(seed) => {
            let previous = SigningKey::from_base64_seed(seed.expose())
                .map_err(|e| anyhow::anyhow!("JWT_PREVIOUS_SIGNING_KEY: {e}"))?;
            let minter = Minter::new(KeyRing::new(previous), iss, aud, ttl);
            minter.rotate(current, crate::domain::now());
            Ok(minter)
        }
        None => Ok(Minter::new(KeyRing::new(current), iss, aud, ttl)),
    }
}

fn persisted_key(path: &Path) -> anyhow::Result<SigningKey> {
    if let Ok(text) = std::fs::read_to_string(path) {
        return SigningKey::from_base64_seed(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()));
    }
    let key = SigningKey::generate();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    write_private(path, &key.to_base64_seed())
        .with_context(|| format!("writing {}", path.display()))?;
    tracing::info!(path = %path.display(), "generated a new JWT signing key (set JWT_SIGNING_KEY in production)");
    Ok(key)
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

//! Google sign-in (OpenID Connect authorization code flow with PKCE), per RFC 9700:
//! - `start`: a random `state` (single use, 10 minutes, in the `Kv`), a PKCE S256 challenge and a
//!   `nonce`; the verifier and nonce stay server-side under the state.
//! - `finish`: the state is taken (so it cannot be replayed), the code exchanged with the `oauth2`
//!   crate over a client that never follows redirects, and the ID token validated: RS256 signature
//!   against the provider's JWKS, `iss`, `aud` = our client id, `exp`, and `nonce`.
//!
//! Which account the identity signs in to is decided in `oauth_accounts`.

use std::sync::RwLock;
use std::time::{Duration, Instant};

use common::kv::SharedKv;
use common::{ApiError, ErrorCode};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    StandardRevocableToken, StandardTokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};

use super::kv_err;
use crate::config::GoogleConfig;

/// The token endpoint's extra field we need: the OpenID Connect ID token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdTokenField {
    pub id_token: Option<String>,
}
impl ExtraTokenFields for IdTokenField {}

type OidcClient = Client<
    BasicErrorResponse,
    StandardTokenResponse<IdTokenField, BasicTokenType>,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

const STATE_TTL: Duration = Duration::from_secs(600);
const JWKS_MAX_AGE: Duration = Duration::from_secs(3600);
const JWKS_MIN_REFRESH: Duration = Duration::from_secs(10);

/// What stays on the server between the redirect and the callback.
#[derive(Serialize, Deserialize)]
struct Pending {
    verifier: String,
    nonce: String,
    return_to: String,
}

/// The ID token claims we use.
#[derive(Debug, Clone, Deserialize)]
pub struct IdClaims {
    pub sub: String,
    pub email: Option<String>,
    /// Google sends a boolean; some providers send `"true"`.
    #[serde(default)]
    pub email_verified: Option<serde_json::Value>,
    pub nonce: Option<String>,
    pub name: Option<String>,
}

impl IdClaims {
    pub fn email_verified(&self) -> bool {
        matches!(&self.email_verified, Some(serde_json::Value::Bool(true)))
            || matches!(&self.email_verified, Some(serde_json::Value::String(s)) if s == "true")
    }
}

pub struct Google {
    client: OidcClient,
    http: reqwest::Client,
    client_id: String,
    issuers: Vec<String>,
    jwks_url: String,
    jwks: RwLock<Option<(JwkSet, Instant)>>,
    jwks_refresh: tokio::sync::Mutex<Option<Instant>>,
}

pub(crate) fn failed(message: &str) -> ApiError {
    ApiError::new(ErrorCode::OauthFailed, message)
}

fn state_key(state: &str) -> String {
    format!("oauth_state:{state}")
}

impl Google {
    pub fn new(config: &GoogleConfig, redirect_url: String) -> anyhow::Result<Self> {
        let mut client = Client::new(ClientId::new(config.client_id.clone()))
            .set_auth_uri(AuthUrl::new(config.auth_url.clone())?)
            .set_token_uri(TokenUrl::new(config.token_url.clone())?)
            .set_redirect_uri(RedirectUrl::new(redirect_url)?);
        if let Some(secret) = &config.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.expose().to_owned()));
        }
        // Never follow redirects from the token endpoint (SSRF and code-leak hardening).
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self {
            client,
            http,
            client_id: config.client_id.clone(),
            issuers: config.issuers.clone(),
            jwks_url: config.jwks_url.clone(),
            jwks: RwLock::new(None),
            jwks_refresh: tokio::sync::Mutex::new(None),
        })
    }

    /// The provider URL to send the browser to; `return_to` is a path on the app.
    pub async fn start(&self, kv: &SharedKv, return_to: String) -> Result<String, ApiError> {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = CsrfToken::new_random().secret().clone();
        let (url, state) = self
            .client
            .authorize_url(CsrfToken::new_random)
            .add_scope(Scope::new("openid".into()))
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .add_extra_param("nonce", nonce.clone())
            .set_pkce_challenge(challenge)
            .url();
        let pending = Pending {
            verifier: verifier.secret().clone(),
            nonce,
            return_to,
        };
        let json = serde_json::to_string(&pending).map_err(ApiError::internal)?;
        kv.set(&state_key(state.secret()), &json, Some(STATE_TTL))
            .await
            .map_err(kv_err)?;
        Ok(url.to_string())
    }

    /// Completes the flow: returns the validated ID token claims and the app path to return to.
    pub async fn finish(
        &self,
        kv: &SharedKv,
        code: &str,
        state: &str,
    ) -> Result<(IdClaims, String), ApiError> {
        if state.is_empty() || state.len() > 128 {
            return Err(failed("missing or malformed state"));
        }
        let pending = kv
            .take(&state_key(state))
            .await
            .map_err(kv_err)?
            .ok_or_else(|| failed("unknown, expired or already used state"))?;
        let pending: Pending = serde_json::from_str(&pending).map_err(ApiError::internal)?;
        let response = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier))
            .request_async(&self.http)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "OAuth code exchange failed");
                failed("the authorization code could not be exchanged")
            })?;
        let id_token = response
            .extra_fields()
            .id_token
            .as_deref()
            .ok_or_else(|| failed("the provider returned no ID token"))?;
        let claims = self.validate(id_token).await?;
        if claims.nonce.as_deref() != Some(pending.nonce.as_str()) {
            return Err(failed("ID token nonce mismatch"));
        }
        Ok((claims, pending.return_to))
    }

    async fn validate(&self, id_token: &str) -> Result<IdClaims, ApiError> {
        let header =
            jsonwebtoken::decode_header(id_token).map_err(|_| failed("malformed ID token"))?;
        if header.alg != Algorithm::RS256 {
            return Err(failed("ID token algorithm not allowed"));
        }
        let kid = header.kid.ok_or_else(|| failed("ID token without kid"))?;
        let key = self.key(&kid).await?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&self.issuers);
        validation.set_audience(&[&self.client_id]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 60;
        jsonwebtoken::decode::<IdClaims>(id_token, &key, &validation)
            .map(|d| d.claims)
            .map_err(|e| {
                tracing::warn!(error = %e, "ID token refused");
                failed("the ID token is not valid")
            })
    }

    /// The provider's key `kid`, refetching the JWKS when it is unknown (rotation) or stale.
    async fn key(&self, kid: &str) -> Result<DecodingKey, ApiError> {
        let cached = |fresh_only: bool| -> Option<DecodingKey> {
            let guard = self.jwks.read().ok()?;
            let (set, at) = guard.as_ref()?;
            if fresh_only && at.elapsed() > JWKS_MAX_AGE {
                return None;
            }
            set.find(kid).and_then(|k| DecodingKey::from_jwk(k).ok())
        };
        if let Some(key) = cached(true) {
            return Ok(key);
        }
        let mut last = self.jwks_refresh.lock().await;
        if last.is_none_or(|at| at.elapsed() > JWKS_MIN_REFRESH) {
            *last = Some(Instant::now());
            match self.fetch_jwks().await {
                Ok(set) => {
                    if let Ok(mut guard) = self.jwks.write() {
                        *guard = Some((set, Instant::now()));
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, url = %self.jwks_url, "provider JWKS fetch failed")
                }
            }
        }
        cached(false).ok_or_else(|| failed("the ID token is signed with an unknown key"))
    }

    async fn fetch_jwks(&self) -> Result<JwkSet, reqwest::Error> {
        self.http
            .get(&self.jwks_url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await
    }
}

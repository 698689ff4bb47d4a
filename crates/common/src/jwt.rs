//! Access tokens: claims, minting (auth-api only) and verification against a JWKS (realtime).
//!
//! Signatures are Ed25519 (`EdDSA`). Every key has a `kid` (its RFC 7638 thumbprint); verifiers
//! hold only public keys, looked up by `kid`, so realtime can verify but never mint and keys can
//! rotate. RFC 8725 checks: the algorithm is pinned to EdDSA (so `none` and HS*/asymmetric
//! confusion are rejected), `iss` and `aud` must match exactly, `exp`/`nbf` are checked with a
//! small leeway, the header `typ` must be `at+jwt` and the `typ` claim `access`, and `jku`, `x5u`
//! and `jwk` headers are never consulted.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse, ThumbprintHash,
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// The JOSE header `typ` of an access token (RFC 9068).
pub const ACCESS_HEADER_TYP: &str = "at+jwt";
/// The `typ` claim of an access token.
pub const ACCESS_CLAIM_TYP: &str = "access";
/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECS: u64 = 30;
/// Longest lifetime an access token may be minted with.
pub const MAX_ACCESS_TTL: Duration = Duration::from_secs(15 * 60);

/// The claims of every token we mint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// The session id (so a revoked session's sockets can be found).
    pub sid: String,
    pub iss: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    /// `access` for access tokens; anything else is refused by [`Verifier::verify_access`].
    pub typ: String,
}

/// Why a token was refused. Every variant is served as `unauthorized`; the variant is for logs.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("malformed token")]
    Malformed,
    #[error("algorithm not allowed")]
    AlgorithmNotAllowed,
    #[error("wrong token type")]
    WrongType,
    #[error("unknown key id")]
    UnknownKid,
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
    #[error("wrong issuer")]
    WrongIssuer,
    #[error("wrong audience")]
    WrongAudience,
    #[error("bad signature or claims: {0}")]
    Invalid(String),
    #[error("key set unavailable: {0}")]
    KeySetUnavailable(String),
}

/// An Ed25519 signing key with its `kid` and public JWK.
pub struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    public: Jwk,
    seed: [u8; 32],
}

/// PKCS#8 v1 prefix of an Ed25519 private key; the 32-byte seed follows.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

impl SigningKey {
    /// A fresh key from the OS CSPRNG.
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut seed);
        Self::from_seed(seed)
    }

    /// A key from its 32-byte Ed25519 seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let mut der = ED25519_PKCS8_PREFIX.to_vec();
        der.extend_from_slice(&seed);
        let encoding = EncodingKey::from_ed_der(&der);
        #[allow(clippy::expect_used)] // a 48-byte Ed25519 PKCS#8 key always yields a JWK
        let mut public =
            Jwk::from_encoding_key(&encoding, Algorithm::EdDSA).expect("ed25519 public key");
        #[allow(clippy::expect_used)]
        let kid = public
            .thumbprint(ThumbprintHash::SHA256)
            .expect("jwk thumbprint");
        public.common.key_id = Some(kid.clone());
        public.common.public_key_use = Some(PublicKeyUse::Signature);
        public.common.key_algorithm = Some(KeyAlgorithm::EdDSA);
        Self {
            kid,
            encoding,
            public,
            seed,
        }
    }

    /// A key from its base64 seed, as stored by [`SigningKey::to_base64_seed`].
    pub fn from_base64_seed(text: &str) -> Result<Self, String> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|e| format!("not base64: {e}"))?;
        let seed: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "an Ed25519 seed is 32 bytes".to_owned())?;
        Ok(Self::from_seed(seed))
    }

    /// The seed, base64, for storing the key (keep it secret).
    pub fn to_base64_seed(&self) -> String {
        STANDARD.encode(self.seed)
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half as a JWK (with `kid`, `use: sig`, `alg: EdDSA`).
    pub fn public_jwk(&self) -> &Jwk {
        &self.public
    }

    /// Signs arbitrary claims with this key; the header carries `kid` and the given `typ`.
    pub fn sign<T: Serialize>(&self, claims: &T, typ: &str) -> Result<String, JwtError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        header.typ = Some(typ.to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|e| JwtError::Invalid(e.to_string()))
    }
}

/// The keys auth-api signs with: the current one, and retired ones still published until their
/// overlap ends (so tokens minted just before a rotation keep verifying until they expire).
pub struct KeyRing {
    current: SigningKey,
    retired: Vec<(Jwk, i64)>,
}

impl KeyRing {
    pub fn new(current: SigningKey) -> Self {
        Self {
            current,
            retired: Vec::new(),
        }
    }

    pub fn current(&self) -> &SigningKey {
        &self.current
    }

    /// Makes `next` the signing key; the old public key stays in the JWKS until `now + overlap`.
    pub fn rotate(&mut self, next: SigningKey, overlap: Duration, now: i64) {
        let old = std::mem::replace(&mut self.current, next);
        let retire_at = now + i64::try_from(overlap.as_secs()).unwrap_or(i64::MAX / 2);
        self.retired.push((old.public, retire_at));
    }

    /// The published key set at time `now` (unix seconds).
    pub fn jwks(&self, now: i64) -> JwkSet {
        let mut keys = vec![self.current.public.clone()];
        keys.extend(
            self.retired
                .iter()
                .filter(|(_, until)| *until > now)
                .map(|(k, _)| k.clone()),
        );
        JwkSet { keys }
    }
}

/// Mints access tokens. Used by auth-api only.
pub struct Minter {
    ring: RwLock<KeyRing>,
    issuer: String,
    audience: String,
    ttl: Duration,
}

impl Minter {
    /// `ttl` is capped at [`MAX_ACCESS_TTL`].
    pub fn new(
        ring: KeyRing,
        issuer: impl Into<String>,
        audience: impl Into<String>,
        ttl: Duration,
    ) -> Self {
        Self {
            ring: RwLock::new(ring),
            issuer: issuer.into(),
            audience: audience.into(),
            ttl: ttl.min(MAX_ACCESS_TTL),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Mints an access token for `user_id` in session `session_id`, valid from `now`.
    pub fn mint_access(
        &self,
        user_id: &str,
        session_id: &str,
        now: i64,
    ) -> Result<String, JwtError> {
        let claims = Claims {
            sub: user_id.to_owned(),
            sid: session_id.to_owned(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            exp: now + i64::try_from(self.ttl.as_secs()).unwrap_or(900),
            iat: now,
            nbf: now,
            jti: uuid::Uuid::new_v4().to_string(),
            typ: ACCESS_CLAIM_TYP.to_owned(),
        };
        let ring = self
            .ring
            .read()
            .map_err(|_| JwtError::Invalid("key ring poisoned".into()))?;
        ring.current().sign(&claims, ACCESS_HEADER_TYP)
    }

    /// The JWKS to publish at `now`.
    pub fn jwks(&self, now: i64) -> JwkSet {
        match self.ring.read() {
            Ok(ring) => ring.jwks(now),
            Err(poisoned) => poisoned.into_inner().jwks(now),
        }
    }

    /// Rotates to `next`, keeping the old key published for the token lifetime plus leeway.
    pub fn rotate(&self, next: SigningKey, now: i64) {
        let overlap = self.ttl + Duration::from_secs(LEEWAY_SECS);
        match self.ring.write() {
            Ok(mut ring) => ring.rotate(next, overlap, now),
            Err(poisoned) => poisoned.into_inner().rotate(next, overlap, now),
        }
    }
}

/// Verifies access tokens against a fixed set of public keys.
#[derive(Clone)]
pub struct Verifier {
    keys: HashMap<String, DecodingKey>,
    validation: Validation,
}

impl Verifier {
    /// Builds a verifier from a JWKS, keeping only Ed25519 signature keys that carry a `kid`.
    pub fn from_jwks(jwks: &JwkSet, issuer: &str, audience: &str) -> Self {
        let keys = jwks
            .keys
            .iter()
            .filter(|k| matches!(&k.algorithm, AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519))
            .filter(|k| !matches!(k.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature))
            .filter_map(|k| Some((k.common.key_id.clone()?, DecodingKey::from_jwk(k).ok()?)))
            .collect();
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        Self { keys, validation }
    }

    pub fn knows_kid(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }

    /// Verifies an access token and returns its claims.
    pub fn verify_access(&self, token: &str) -> Result<Claims, JwtError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| JwtError::Malformed)?;
        // Pinned: anything but EdDSA (HS256 keyed with our public key, RS*, ES*…) is refused
        // before any key is touched. `alg: none` does not even parse as a header.
        if header.alg != Algorithm::EdDSA {
            return Err(JwtError::AlgorithmNotAllowed);
        }
        if !header
            .typ
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case(ACCESS_HEADER_TYP))
        {
            return Err(JwtError::WrongType);
        }
        // Only our own key set is consulted: header `jku`, `x5u` and `jwk` are ignored.
        let kid = header.kid.ok_or(JwtError::UnknownKid)?;
        let key = self.keys.get(&kid).ok_or(JwtError::UnknownKid)?;
        let data = jsonwebtoken::decode::<Claims>(token, key, &self.validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => JwtError::Expired,
                ErrorKind::ImmatureSignature => JwtError::NotYetValid,
                ErrorKind::InvalidIssuer => JwtError::WrongIssuer,
                ErrorKind::InvalidAudience => JwtError::WrongAudience,
                ErrorKind::InvalidAlgorithm => JwtError::AlgorithmNotAllowed,
                other => JwtError::Invalid(format!("{other:?}")),
            }
        })?;
        if data.claims.typ != ACCESS_CLAIM_TYP {
            return Err(JwtError::WrongType);
        }
        Ok(data.claims)
    }
}

/// A verifier that fetches auth-api's JWKS over HTTP, caches it, and refetches when a token names
/// an unknown `kid` (at most once per `min_refresh`) or the cache is older than `max_age`.
pub struct JwksVerifier {
    url: String,
    issuer: String,
    audience: String,
    http: reqwest::Client,
    cached: RwLock<Option<(Arc<Verifier>, Instant)>>,
    refresh: tokio::sync::Mutex<Option<Instant>>,
    min_refresh: Duration,
    max_age: Duration,
}

impl JwksVerifier {
    pub fn new(
        url: impl Into<String>,
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Self {
        Self {
            url: url.into(),
            issuer: issuer.into(),
            audience: audience.into(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            cached: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(None),
            min_refresh: Duration::from_secs(5),
            max_age: Duration::from_secs(300),
        }
    }

    /// How often an unknown `kid` may trigger a refetch.
    pub fn with_min_refresh(mut self, min_refresh: Duration) -> Self {
        self.min_refresh = min_refresh;
        self
    }

    fn current(&self) -> Option<(Arc<Verifier>, Instant)> {
        self.cached.read().ok().and_then(|c| c.clone())
    }

    /// Verifies an access token, fetching or refreshing the key set when needed.
    pub async fn verify_access(&self, token: &str) -> Result<Claims, JwtError> {
        let verifier = match self.current() {
            Some((v, at)) if at.elapsed() < self.max_age => v,
            _ => self.refetch(true).await?,
        };
        match verifier.verify_access(token) {
            Err(JwtError::UnknownKid) => {
                let refreshed = self.refetch(false).await?;
                refreshed.verify_access(token)
            }
            other => other,
        }
    }

    /// Fetches the key set; unless `force`, at most once per `min_refresh`.
    async fn refetch(&self, force: bool) -> Result<Arc<Verifier>, JwtError> {
        let mut last = self.refresh.lock().await;
        if let (false, Some(at), Some((v, _))) = (force, *last, self.current())
            && at.elapsed() < self.min_refresh
        {
            return Ok(v);
        }
        *last = Some(Instant::now());
        let fetched = async {
            let resp = self.http.get(&self.url).send().await?.error_for_status()?;
            resp.json::<JwkSet>().await
        }
        .await;
        match fetched {
            Ok(jwks) => {
                let v = Arc::new(Verifier::from_jwks(&jwks, &self.issuer, &self.audience));
                if let Ok(mut c) = self.cached.write() {
                    *c = Some((v.clone(), Instant::now()));
                }
                Ok(v)
            }
            // A stale key set is better than none while auth-api is briefly unreachable.
            Err(e) => match self.current() {
                Some((v, _)) => {
                    tracing::warn!(error = %e, url = %self.url, "JWKS refresh failed; using cached keys");
                    Ok(v)
                }
                None => Err(JwtError::KeySetUnavailable(e.to_string())),
            },
        }
    }

    /// Whether the key set can be fetched now (for `/readyz`).
    pub async fn ready(&self) -> bool {
        self.refetch(true).await.is_ok_and(|v| !v.keys.is_empty())
    }
}

//! The RFC 8725 table: every way a token can be wrong, each refused for the right reason.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::jwt::{
    ACCESS_CLAIM_TYP, ACCESS_HEADER_TYP, Claims, JwksVerifier, JwtError, KeyRing, Minter,
    SigningKey, Verifier,
};
use jsonwebtoken::jwk::AlgorithmParameters;
use jsonwebtoken::{Algorithm, EncodingKey, Header};

const ISS: &str = "batiyoun-auth";
const AUD: &str = "batiyoun";
const TTL: Duration = Duration::from_secs(900);

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn claims(now: i64) -> Claims {
    Claims {
        sub: "user-1".into(),
        sid: "session-1".into(),
        iss: ISS.into(),
        aud: AUD.into(),
        exp: now + 900,
        iat: now,
        nbf: now,
        jti: "jti-1".into(),
        typ: ACCESS_CLAIM_TYP.into(),
    }
}

/// A minter and a verifier over the same fresh key, plus a copy of that key for hand-made tokens.
fn setup() -> (Minter, Verifier, SigningKey) {
    let key = SigningKey::generate();
    let copy = SigningKey::from_base64_seed(&key.to_base64_seed()).unwrap();
    let minter = Minter::new(KeyRing::new(key), ISS, AUD, TTL);
    let verifier = Verifier::from_jwks(&minter.jwks(now()), ISS, AUD);
    (minter, verifier, copy)
}

fn b64(json: serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&json).unwrap())
}

#[test]
fn a_minted_access_token_verifies_and_carries_its_claims() {
    let (minter, verifier, _) = setup();
    let token = minter.mint_access("user-7", "sid-7", now()).unwrap();
    let c = verifier.verify_access(&token).unwrap();
    assert_eq!(
        (c.sub.as_str(), c.sid.as_str(), c.typ.as_str()),
        ("user-7", "sid-7", "access")
    );
    assert_eq!((c.iss.as_str(), c.aud.as_str()), (ISS, AUD));
    assert!(c.exp - c.iat <= 900 && c.nbf == c.iat && !c.jti.is_empty());
}

#[test]
fn the_minted_header_names_the_key_and_the_access_type() {
    let (minter, _, key) = setup();
    let token = minter.mint_access("u", "s", now()).unwrap();
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, Algorithm::EdDSA);
    assert_eq!(header.typ.as_deref(), Some(ACCESS_HEADER_TYP));
    assert_eq!(header.kid.as_deref(), Some(key.kid()));
}

#[test]
fn access_token_lifetime_is_capped_at_fifteen_minutes() {
    let minter = Minter::new(
        KeyRing::new(SigningKey::generate()),
        ISS,
        AUD,
        Duration::from_secs(86_400),
    );
    assert_eq!(minter.ttl(), Duration::from_secs(900));
}

#[test]
fn an_expired_token_is_refused_but_small_clock_skew_is_tolerated() {
    let (_, verifier, key) = setup();
    let t = now();
    let expired = Claims {
        exp: t - 120,
        iat: t - 1000,
        nbf: t - 1000,
        ..claims(t)
    };
    let token = key.sign(&expired, ACCESS_HEADER_TYP).unwrap();
    assert_eq!(verifier.verify_access(&token), Err(JwtError::Expired));
    let skewed = Claims {
        exp: t - 5,
        ..claims(t)
    };
    let token = key.sign(&skewed, ACCESS_HEADER_TYP).unwrap();
    assert!(verifier.verify_access(&token).is_ok());
}

#[test]
fn a_token_not_yet_valid_is_refused() {
    let (_, verifier, key) = setup();
    let t = now();
    let future = Claims {
        nbf: t + 3600,
        iat: t + 3600,
        exp: t + 4000,
        ..claims(t)
    };
    let token = key.sign(&future, ACCESS_HEADER_TYP).unwrap();
    assert_eq!(verifier.verify_access(&token), Err(JwtError::NotYetValid));
}

#[test]
fn a_wrong_issuer_is_refused() {
    let (_, verifier, key) = setup();
    let token = key
        .sign(
            &Claims {
                iss: "someone-else".into(),
                ..claims(now())
            },
            ACCESS_HEADER_TYP,
        )
        .unwrap();
    assert_eq!(verifier.verify_access(&token), Err(JwtError::WrongIssuer));
}

#[test]
fn a_wrong_audience_is_refused() {
    let (_, verifier, key) = setup();
    let token = key
        .sign(
            &Claims {
                aud: "another-app".into(),
                ..claims(now())
            },
            ACCESS_HEADER_TYP,
        )
        .unwrap();
    assert_eq!(verifier.verify_access(&token), Err(JwtError::WrongAudience));
}

#[test]
fn alg_none_is_refused() {
    let (_, verifier, key) = setup();
    let token = format!(
        "{}.{}.",
        b64(serde_json::json!({"alg": "none", "typ": ACCESS_HEADER_TYP, "kid": key.kid()})),
        b64(serde_json::to_value(claims(now())).unwrap())
    );
    assert!(verifier.verify_access(&token).is_err());
    for alg in ["None", "NONE", "nOnE"] {
        let token = format!(
            "{}.{}.",
            b64(serde_json::json!({"alg": alg, "typ": ACCESS_HEADER_TYP, "kid": key.kid()})),
            b64(serde_json::to_value(claims(now())).unwrap())
        );
        assert!(verifier.verify_access(&token).is_err(), "{alg}");
    }
}

#[test]
fn an_hs256_token_keyed_with_the_public_key_is_refused() {
    let (_, verifier, key) = setup();
    let AlgorithmParameters::OctetKeyPair(params) = &key.public_jwk().algorithm else {
        panic!("ed25519 key expected")
    };
    let raw_public = URL_SAFE_NO_PAD.decode(&params.x).unwrap();
    let jwk_json = serde_json::to_vec(key.public_jwk()).unwrap();
    for secret in [
        raw_public.as_slice(),
        jwk_json.as_slice(),
        params.x.as_bytes(),
    ] {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(key.kid().to_owned());
        header.typ = Some(ACCESS_HEADER_TYP.into());
        let token =
            jsonwebtoken::encode(&header, &claims(now()), &EncodingKey::from_secret(secret))
                .unwrap();
        assert_eq!(
            verifier.verify_access(&token),
            Err(JwtError::AlgorithmNotAllowed)
        );
    }
}

#[test]
fn an_unknown_kid_is_refused() {
    let (_, verifier, _) = setup();
    let stranger = SigningKey::generate();
    let token = stranger.sign(&claims(now()), ACCESS_HEADER_TYP).unwrap();
    assert_eq!(verifier.verify_access(&token), Err(JwtError::UnknownKid));
}

#[test]
fn a_jku_or_embedded_jwk_header_is_ignored() {
    let (_, verifier, _) = setup();
    let attacker = SigningKey::generate();
    let mut header = Header::new(Algorithm::EdDSA);
    header.typ = Some(ACCESS_HEADER_TYP.into());
    header.kid = Some(attacker.kid().to_owned());
    header.jku = Some("http://127.0.0.1:9/attacker-jwks.json".into());
    header.jwk = Some(attacker.public_jwk().clone());
    header.x5u = Some("http://127.0.0.1:9/cert.pem".into());
    let der = {
        let mut d = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        d.extend(
            base64::engine::general_purpose::STANDARD
                .decode(attacker.to_base64_seed())
                .unwrap(),
        );
        d
    };
    let token =
        jsonwebtoken::encode(&header, &claims(now()), &EncodingKey::from_ed_der(&der)).unwrap();
    assert_eq!(verifier.verify_access(&token), Err(JwtError::UnknownKid));
}

#[test]
fn a_rotated_key_is_accepted_during_the_overlap_and_refused_after() {
    let (minter, _, _) = setup();
    let t = now();
    let old_token = minter.mint_access("u", "s", t).unwrap();
    minter.rotate(SigningKey::generate(), t);
    let new_token = minter.mint_access("u", "s", t).unwrap();

    let during = Verifier::from_jwks(&minter.jwks(t + 60), ISS, AUD);
    assert!(
        during.verify_access(&old_token).is_ok(),
        "old key must verify during the overlap"
    );
    assert!(during.verify_access(&new_token).is_ok());

    let after = Verifier::from_jwks(&minter.jwks(t + 900 + 31), ISS, AUD);
    assert_eq!(after.verify_access(&old_token), Err(JwtError::UnknownKid));
    assert!(after.verify_access(&new_token).is_ok());
    assert_eq!(minter.jwks(t + 900 + 31).keys.len(), 1);
}

#[test]
fn a_non_access_type_presented_as_access_is_refused() {
    let (_, verifier, key) = setup();
    let refresh = Claims {
        typ: "refresh".into(),
        ..claims(now())
    };
    let token = key.sign(&refresh, ACCESS_HEADER_TYP).unwrap();
    assert_eq!(verifier.verify_access(&token), Err(JwtError::WrongType));
    for typ in ["JWT", "id+jwt", ""] {
        let token = key.sign(&claims(now()), typ).unwrap();
        assert_eq!(
            verifier.verify_access(&token),
            Err(JwtError::WrongType),
            "{typ:?}"
        );
    }
}

#[test]
fn garbage_is_refused_without_panicking() {
    let (_, verifier, _) = setup();
    for token in [
        "",
        ".",
        "..",
        "a.b.c",
        "eyJhbGciOiJFZERTQSJ9",
        &"x".repeat(10_000),
    ] {
        assert!(verifier.verify_access(token).is_err(), "{token}");
    }
}

#[test]
fn a_tampered_payload_is_refused() {
    let (minter, verifier, _) = setup();
    let token = minter.mint_access("user-1", "s", now()).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let forged = b64(serde_json::to_value(Claims {
        sub: "admin".into(),
        ..claims(now())
    })
    .unwrap());
    let tampered = format!("{}.{}.{}", parts[0], forged, parts[2]);
    assert!(matches!(
        verifier.verify_access(&tampered),
        Err(JwtError::Invalid(_))
    ));
}

/// Serves `minter`'s JWKS over real HTTP, as auth-api does.
async fn serve_jwks(minter: Arc<Minter>) -> String {
    let app = axum::Router::new().route(
        "/.well-known/jwks.json",
        axum::routing::get(move || {
            let minter = minter.clone();
            async move { axum::Json(minter.jwks(chrono::Utc::now().timestamp())) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/.well-known/jwks.json")
}

#[tokio::test]
async fn the_jwks_verifier_fetches_keys_and_refetches_on_an_unknown_kid() {
    let minter = Arc::new(Minter::new(
        KeyRing::new(SigningKey::generate()),
        ISS,
        AUD,
        TTL,
    ));
    let url = serve_jwks(minter.clone()).await;
    let verifier = JwksVerifier::new(url, ISS, AUD).with_min_refresh(Duration::ZERO);

    let first = minter.mint_access("u1", "s1", now()).unwrap();
    assert_eq!(verifier.verify_access(&first).await.unwrap().sub, "u1");

    minter.rotate(SigningKey::generate(), now());
    let second = minter.mint_access("u2", "s2", now()).unwrap();
    assert_eq!(
        verifier.verify_access(&second).await.unwrap().sub,
        "u2",
        "new kid triggers a refetch"
    );
    assert_eq!(
        verifier.verify_access(&first).await.unwrap().sub,
        "u1",
        "old key still in the overlap"
    );

    let stranger = SigningKey::generate()
        .sign(&claims(now()), ACCESS_HEADER_TYP)
        .unwrap();
    assert_eq!(
        verifier.verify_access(&stranger).await,
        Err(JwtError::UnknownKid)
    );
}

#[tokio::test]
async fn the_jwks_verifier_reports_an_unreachable_key_set() {
    let verifier = JwksVerifier::new("http://127.0.0.1:9/.well-known/jwks.json", ISS, AUD);
    let token = SigningKey::generate()
        .sign(&claims(now()), ACCESS_HEADER_TYP)
        .unwrap();
    assert!(matches!(
        verifier.verify_access(&token).await,
        Err(JwtError::KeySetUnavailable(_))
    ));
    assert!(!verifier.ready().await);
}

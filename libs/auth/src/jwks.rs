//! Keys published by an identity provider as a JWK Set (RFC 7517), so a county plugs in
//! its own provider (Keycloak, …) by its `jwks_uri` instead of a key file. The set is
//! fetched at start, cached, refetched when a token names a `kid` the cache does not
//! hold (a key rotation) — at most once per `min_refresh` so unknown kids cannot make
//! the service hammer the provider — and refreshed in the background once it is older
//! than `max_age`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey};

/// How often a set may be fetched again because of an unknown `kid` (as Keycloak's
/// adapters do by default).
pub const MIN_REFRESH: Duration = Duration::from_secs(10);
/// How old a set may grow before it is refreshed in the background.
pub const MAX_AGE: Duration = Duration::from_secs(600);

/// One usable key: what it verifies and with which algorithm.
#[derive(Clone)]
pub struct Key {
    pub decoding: DecodingKey,
    pub alg: Algorithm,
}

#[derive(Default)]
struct Cache {
    keys: HashMap<String, Key>,
    fetched: Option<Instant>,
}

/// A provider's key set, shared by every clone of a verifier.
pub struct Jwks {
    url: String,
    http: reqwest::Client,
    cache: RwLock<Cache>,
    /// When the last fetch was tried (succeeded or not).
    tried: Mutex<Option<Instant>>,
    /// Serialises fetches so concurrent requests with a new kid fetch once.
    fetching: tokio::sync::Mutex<()>,
    pub min_refresh: Duration,
    pub max_age: Duration,
}

/// Why a key set could not be used.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("cannot fetch the key set {url}: {reason}")]
    Fetch { url: String, reason: String },
    #[error("the key set {url} is not a JWK Set: {reason}")]
    Parse { url: String, reason: String },
    #[error("the key set {url} holds no usable signing key")]
    Empty { url: String },
}

/// The algorithm a JWK verifies: its `alg` when given, else what its key type implies
/// (RSA → RS256, EC P-256 → ES256, P-384 → ES384, OKP Ed25519 → EdDSA). Symmetric
/// and encryption keys are not usable.
pub fn algorithm_of(jwk: &Jwk) -> Option<Algorithm> {
    if let Some(a) = &jwk.common.key_algorithm {
        let alg: Algorithm = a.to_string().parse().ok()?;
        return matches!(
            alg,
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512
                | Algorithm::ES256
                | Algorithm::ES384
                | Algorithm::EdDSA
        )
        .then_some(alg);
    }
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => Some(Algorithm::ES256),
            EllipticCurve::P384 => Some(Algorithm::ES384),
            _ => None,
        },
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            Some(Algorithm::EdDSA)
        }
        _ => None,
    }
}

/// The signing keys of a set by `kid` (a key without one is kept under "").
pub fn keys_of(set: &JwkSet) -> HashMap<String, Key> {
    let mut out = HashMap::new();
    for jwk in &set.keys {
        if jwk
            .common
            .public_key_use
            .as_ref()
            .is_some_and(|u| *u != jsonwebtoken::jwk::PublicKeyUse::Signature)
        {
            continue;
        }
        let (Some(alg), Ok(decoding)) = (algorithm_of(jwk), DecodingKey::from_jwk(jwk)) else {
            continue;
        };
        out.insert(
            jwk.common.key_id.clone().unwrap_or_default(),
            Key { decoding, alg },
        );
    }
    out
}

impl Jwks {
    /// A set at `url`, not yet fetched.
    pub fn new(url: &str) -> Result<Arc<Jwks>, JwksError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| JwksError::Fetch {
                url: url.to_owned(),
                reason: e.to_string(),
            })?;
        Ok(Arc::new(Jwks {
            url: url.to_owned(),
            http,
            cache: RwLock::default(),
            tried: Mutex::default(),
            fetching: tokio::sync::Mutex::new(()),
            min_refresh: MIN_REFRESH,
            max_age: MAX_AGE,
        }))
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The cached key for `kid` (the only key when the token names none and the set
    /// has exactly one).
    pub fn key(&self, kid: Option<&str>) -> Option<Key> {
        let c = self.cache.read().ok()?;
        match kid {
            Some(k) => c.keys.get(k).cloned(),
            None if c.keys.len() == 1 => c.keys.values().next().cloned(),
            None => None,
        }
    }

    /// How many keys the cache holds.
    pub fn len(&self) -> usize {
        self.cache.read().map(|c| c.keys.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the cache is older than `max_age` (or was never filled).
    pub fn stale(&self) -> bool {
        self.cache
            .read()
            .map(|c| c.fetched.is_none_or(|t| t.elapsed() > self.max_age))
            .unwrap_or(true)
    }

    /// Whether a fetch may be tried now (none within `min_refresh`).
    fn may_fetch(&self) -> bool {
        self.tried
            .lock()
            .map(|t| t.is_none_or(|t| t.elapsed() >= self.min_refresh))
            .unwrap_or(false)
    }

    /// Fetches the set and replaces the cache; the number of usable keys.
    pub async fn fetch(&self) -> Result<usize, JwksError> {
        if let Ok(mut t) = self.tried.lock() {
            *t = Some(Instant::now());
        }
        let err = |reason: String| JwksError::Fetch {
            url: self.url.clone(),
            reason,
        };
        let r = self
            .http
            .get(&self.url)
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| err(e.to_string()))?;
        if !r.status().is_success() {
            return Err(err(format!("HTTP {}", r.status())));
        }
        let set: JwkSet = r.json().await.map_err(|e| JwksError::Parse {
            url: self.url.clone(),
            reason: e.to_string(),
        })?;
        let keys = keys_of(&set);
        if keys.is_empty() {
            return Err(JwksError::Empty {
                url: self.url.clone(),
            });
        }
        let n = keys.len();
        if let Ok(mut c) = self.cache.write() {
            c.keys = keys;
            c.fetched = Some(Instant::now());
        }
        Ok(n)
    }

    /// Refetches because a token named an unknown `kid`, unless a fetch was tried within
    /// `min_refresh` (then the cache stands). True when the set was fetched.
    pub async fn refresh_for_unknown_kid(&self) -> bool {
        let _one = self.fetching.lock().await;
        if !self.may_fetch() {
            return false;
        }
        match self.fetch().await {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(error = %e, "refreshing the identity provider's keys failed");
                false
            }
        }
    }
}

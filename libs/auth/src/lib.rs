//! Authentication and scoped access.
//!
//! Tokens are JWTs signed by an identity provider (EdDSA or RS256) whose public key is
//! configured. Claims carry `sub`, `roles`, `unit` and `jurisdiction`; a user sees the
//! cases whose jurisdiction code starts with theirs (county ⊃ township ⊃ village).

pub mod jwks;

use std::sync::Arc;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use xf_http::Problem;

/// The roles the services know.
pub mod roles {
    /// Reception staff: register letters, visits, calls.
    pub const REGISTRAR: &str = "registrar";
    /// Handling unit staff.
    pub const HANDLER: &str = "handler";
    /// Supervision office staff.
    pub const SUPERVISOR: &str = "supervisor";
    /// Leaders.
    pub const LEADER: &str = "leader";
    /// Office staff that keep reception calendars.
    pub const SCHEDULER: &str = "scheduler";
    /// Analysts and leaders reading reports.
    pub const ANALYST: &str = "analyst";
    /// May read decrypted petitioner identity (audited).
    pub const VAULT_READER: &str = "vault_reader";
    /// Administrators of reference data (units, rules, policies).
    pub const ADMIN: &str = "admin";
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    pub jurisdiction: String,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

impl Claims {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
    /// True when this user's jurisdiction covers `code`.
    pub fn covers(&self, code: &str) -> bool {
        xf_jurisdiction::scope_covers(&self.jurisdiction, code)
    }
    /// 403 unless the user has one of `roles`.
    pub fn require_any_role(&self, roles: &[&str]) -> Result<(), Problem> {
        if roles.iter().any(|r| self.has_role(r)) {
            Ok(())
        } else {
            Err(Problem::forbidden(format!(
                "this action needs one of the roles: {}",
                roles.join(", ")
            )))
        }
    }
    /// 403 unless the user's jurisdiction covers `code`.
    pub fn require_scope(&self, code: &str) -> Result<(), Problem> {
        if self.covers(code) {
            Ok(())
        } else {
            Err(Problem::forbidden(
                "the case lies outside your jurisdiction",
            ))
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyAlgorithm {
    EdDSA,
    RS256,
}

impl KeyAlgorithm {
    fn jwt(self) -> Algorithm {
        match self {
            KeyAlgorithm::EdDSA => Algorithm::EdDSA,
            KeyAlgorithm::RS256 => Algorithm::RS256,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the public key is not a valid {alg:?} PEM key: {reason}")]
    BadKey { alg: KeyAlgorithm, reason: String },
    #[error("cannot read key file {path}: {reason}")]
    Io { path: String, reason: String },
}

/// Verifies tokens against a configured public key, a provider's JWK Set, or both (a
/// token naming a `kid` is checked against the set, one without against the key file).
/// Cheap to clone.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    key: Option<jwks::Key>,
    jwks: Option<Arc<jwks::Jwks>>,
    validation: Validation,
}

/// What a check found.
enum Checked {
    Valid(Claims),
    /// The token names a key the cached set does not hold.
    UnknownKid,
    Refused(Problem),
}

fn refused(e: &jsonwebtoken::errors::Error) -> Problem {
    use jsonwebtoken::errors::ErrorKind;
    let why = match e.kind() {
        ErrorKind::ExpiredSignature => "the token has expired",
        ErrorKind::InvalidSignature => "the token's signature is not valid",
        ErrorKind::InvalidAlgorithm => "the token uses an algorithm not accepted here",
        ErrorKind::InvalidIssuer => "the token's issuer is not accepted",
        ErrorKind::InvalidAudience => "the token's audience is not accepted",
        _ => "the token is malformed",
    };
    Problem::unauthenticated(why)
}

fn validation(alg: Algorithm, issuer: Option<&str>, audience: Option<&str>) -> Validation {
    let mut v = Validation::new(alg);
    v.leeway = 30;
    // A configured issuer or audience must be present in the token, not merely
    // right when present.
    let mut required = vec!["exp", "sub"];
    if issuer.is_some() {
        required.push("iss");
    }
    if audience.is_some() {
        required.push("aud");
    }
    v.set_required_spec_claims(&required);
    match issuer {
        Some(i) => v.set_issuer(&[i]),
        None => v.iss = None,
    }
    match audience {
        Some(a) => v.set_audience(&[a]),
        None => v.validate_aud = false,
    }
    v
}

impl Verifier {
    pub fn from_pem(
        pem: &[u8],
        alg: KeyAlgorithm,
        issuer: Option<&str>,
        audience: Option<&str>,
    ) -> Result<Self, KeyError> {
        let decoding = match alg {
            KeyAlgorithm::EdDSA => DecodingKey::from_ed_pem(pem),
            KeyAlgorithm::RS256 => DecodingKey::from_rsa_pem(pem),
        }
        .map_err(|e| KeyError::BadKey {
            alg,
            reason: e.to_string(),
        })?;
        Ok(Verifier {
            inner: Arc::new(Inner {
                key: Some(jwks::Key {
                    decoding,
                    alg: alg.jwt(),
                }),
                jwks: None,
                validation: validation(alg.jwt(), issuer, audience),
            }),
        })
    }

    pub fn from_file(
        path: &str,
        alg: KeyAlgorithm,
        issuer: Option<&str>,
        audience: Option<&str>,
    ) -> Result<Self, KeyError> {
        let pem = std::fs::read(path).map_err(|e| KeyError::Io {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        Self::from_pem(&pem, alg, issuer, audience)
    }

    /// A verifier of the provider's tokens by its JWK Set at `url` (plus the key file's
    /// key, when one is given, for tokens that name no `kid`). The set is fetched when
    /// first needed; call [`Verifier::prefetch`] at start.
    pub fn with_jwks(
        url: &str,
        key_file: Option<(&str, KeyAlgorithm)>,
        issuer: Option<&str>,
        audience: Option<&str>,
    ) -> Result<Self, KeyError> {
        let key = match key_file {
            Some((path, alg)) => Self::from_file(path, alg, issuer, audience)?
                .inner
                .key
                .clone(),
            None => None,
        };
        let set = jwks::Jwks::new(url).map_err(|e| KeyError::Io {
            path: url.to_owned(),
            reason: e.to_string(),
        })?;
        let alg = key.as_ref().map_or(Algorithm::RS256, |k| k.alg);
        Ok(Verifier {
            inner: Arc::new(Inner {
                key,
                jwks: Some(set),
                validation: validation(alg, issuer, audience),
            }),
        })
    }

    /// The verifier a service's `auth` settings describe: the key file's key, the
    /// provider's JWK Set, or both; an empty key file with a set means the set alone.
    pub fn configure(
        public_key_file: &str,
        alg: KeyAlgorithm,
        jwks_url: Option<&str>,
        issuer: Option<&str>,
        audience: Option<&str>,
    ) -> Result<Self, KeyError> {
        let file = Some(public_key_file.trim()).filter(|f| !f.is_empty());
        match jwks_url.map(str::trim).filter(|u| !u.is_empty()) {
            Some(url) => Self::with_jwks(url, file.map(|f| (f, alg)), issuer, audience),
            None => Self::from_file(file.unwrap_or_default(), alg, issuer, audience),
        }
    }

    /// Fetches the provider's key set now (a service does at start); a failure is
    /// reported, and the set is fetched again when a token needs it.
    pub async fn prefetch(&self) -> Result<usize, jwks::JwksError> {
        match &self.inner.jwks {
            Some(j) => j.fetch().await,
            None => Ok(0),
        }
    }

    /// The provider's key set, when this verifier uses one.
    pub fn jwks(&self) -> Option<&Arc<jwks::Jwks>> {
        self.inner.jwks.as_ref()
    }

    fn check(&self, token: &str) -> Checked {
        let inner = &*self.inner;
        let header = match jsonwebtoken::decode_header(token) {
            Ok(h) => h,
            Err(e) => return Checked::Refused(refused(&e)),
        };
        let key = match (&inner.jwks, header.kid.as_deref()) {
            (Some(set), Some(kid)) => match set.key(Some(kid)) {
                Some(k) => k,
                None => return Checked::UnknownKid,
            },
            (Some(set), None) => match inner.key.clone().or_else(|| set.key(None)) {
                Some(k) => k,
                None => return Checked::UnknownKid,
            },
            (None, _) => match inner.key.clone() {
                Some(k) => k,
                None => {
                    return Checked::Refused(Problem::unauthenticated(
                        "no key is configured to check tokens",
                    ));
                }
            },
        };
        let mut v = inner.validation.clone();
        v.algorithms = vec![key.alg];
        let data = match jsonwebtoken::decode::<Claims>(token, &key.decoding, &v) {
            Ok(d) => d,
            Err(e) => return Checked::Refused(refused(&e)),
        };
        let c = data.claims;
        if xf_jurisdiction::Code::parse(&c.jurisdiction).is_err() {
            return Checked::Refused(Problem::unauthenticated(
                "the token's jurisdiction claim is not a valid jurisdiction code",
            ));
        }
        Checked::Valid(c)
    }

    /// Verifies with the keys at hand (a `kid` the cached set lacks is refused).
    pub fn verify(&self, token: &str) -> Result<Claims, Problem> {
        match self.check(token) {
            Checked::Valid(c) => Ok(c),
            Checked::UnknownKid => Err(unknown_kid()),
            Checked::Refused(p) => Err(p),
        }
    }

    /// Verifies, refetching the provider's key set once when the token names a key it
    /// does not hold (a rotation), and refreshing a stale set in the background.
    pub async fn verify_fresh(&self, token: &str) -> Result<Claims, Problem> {
        if let Some(set) = &self.inner.jwks
            && set.stale()
            && !set.is_empty()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let set = set.clone();
            rt.spawn(async move {
                set.refresh_for_unknown_kid().await;
            });
        }
        match self.check(token) {
            Checked::Valid(c) => Ok(c),
            Checked::Refused(p) => Err(p),
            Checked::UnknownKid => {
                if let Some(set) = &self.inner.jwks {
                    set.refresh_for_unknown_kid().await;
                }
                self.verify(token)
            }
        }
    }
}

fn unknown_kid() -> Problem {
    Problem::unauthenticated(
        "the token is signed with a key the identity provider does not publish",
    )
}

/// Signs tokens (development and tests).
pub struct Signer {
    key: EncodingKey,
    alg: KeyAlgorithm,
    kid: Option<String>,
}

impl Signer {
    pub fn from_pem(pem: &[u8], alg: KeyAlgorithm) -> Result<Self, KeyError> {
        let key = match alg {
            KeyAlgorithm::EdDSA => EncodingKey::from_ed_pem(pem),
            KeyAlgorithm::RS256 => EncodingKey::from_rsa_pem(pem),
        }
        .map_err(|e| KeyError::BadKey {
            alg,
            reason: e.to_string(),
        })?;
        Ok(Signer {
            key,
            alg,
            kid: None,
        })
    }
    /// Names the key in each token's header (`kid`), as a provider publishing a JWK
    /// Set does.
    pub fn with_kid(mut self, kid: &str) -> Self {
        self.kid = Some(kid.to_owned());
        self
    }
    pub fn sign(&self, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
        let mut h = Header::new(self.alg.jwt());
        h.kid.clone_from(&self.kid);
        jsonwebtoken::encode(&h, claims, &self.key)
    }
}

/// Builds claims valid for `ttl_secs` from now.
pub fn claims(
    sub: &str,
    roles: &[&str],
    unit: Option<&str>,
    jurisdiction: &str,
    ttl_secs: i64,
) -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        sub: sub.to_owned(),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        unit: unit.map(str::to_owned),
        jurisdiction: jurisdiction.to_owned(),
        exp: now + ttl_secs,
        iat: Some(now),
        iss: None,
        aud: None,
    }
}

/// The authenticated caller: extract it in a handler to require a valid token.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Claims);

impl FromRequest for Authenticated {
    type Error = Problem;
    type Future = futures::future::LocalBoxFuture<'static, Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let found = bearer(req);
        Box::pin(async move {
            let (verifier, token) = found?;
            verifier.verify_fresh(&token).await.map(Authenticated)
        })
    }
}

/// The verifier and the bearer token of a request.
fn bearer(req: &HttpRequest) -> Result<(Verifier, String), Problem> {
    let verifier = req
        .app_data::<web::Data<Verifier>>()
        .ok_or_else(|| Problem::internal(&"no token verifier configured"))?;
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or_else(|| Problem::unauthenticated("send an Authorization: Bearer token"))?;
    let value = header
        .to_str()
        .map_err(|_| Problem::unauthenticated("the Authorization header is not text"))?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or_else(|| Problem::unauthenticated("the Authorization header must be Bearer"))?;
    Ok((verifier.get_ref().clone(), token.trim().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    mod dev {
        pub const PRIVATE_PEM: &str = include_str!("../../../dev/keys/dev-ed25519-private.pem");
        pub const PUBLIC_PEM: &str = include_str!("../../../dev/keys/dev-ed25519-public.pem");
    }

    fn pair() -> (Signer, Verifier) {
        (
            Signer::from_pem(dev::PRIVATE_PEM.as_bytes(), KeyAlgorithm::EdDSA).expect("key"),
            Verifier::from_pem(dev::PUBLIC_PEM.as_bytes(), KeyAlgorithm::EdDSA, None, None)
                .expect("key"),
        )
    }

    #[test]
    fn valid_token_round_trips() {
        let (s, v) = pair();
        let c = claims("u1", &[roles::REGISTRAR], Some("U1"), "330122", 60);
        let got = v.verify(&s.sign(&c).expect("signs")).expect("verifies");
        assert_eq!(got, c);
        assert!(got.covers("330122002200"));
        assert!(!got.covers("330123"));
    }

    #[test]
    fn expired_forged_and_garbage_tokens_are_refused() {
        let (s, v) = pair();
        let expired = claims("u1", &[], None, "330122", -3600);
        let p = v
            .verify(&s.sign(&expired).expect("signs"))
            .expect_err("expired");
        assert_eq!(p.status, 401);
        let token = s
            .sign(&claims("u1", &[], None, "330122", 60))
            .expect("signs");
        let mut forged = token.clone();
        forged.pop();
        forged.push(if token.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(v.verify(&forged).expect_err("forged").status, 401);
        assert_eq!(v.verify("abc.def").expect_err("garbage").status, 401);
        // With an audience configured, a token without one, or with another, is refused.
        let strict = Verifier::from_pem(
            dev::PUBLIC_PEM.as_bytes(),
            KeyAlgorithm::EdDSA,
            Some("idp"),
            Some("xinfang"),
        )
        .expect("key");
        for (iss, aud, ok) in [
            (None, None, false),
            (Some("idp"), None, false),
            (Some("idp"), Some("other"), false),
            (None, Some("xinfang"), false),
            (Some("idp"), Some("xinfang"), true),
        ] {
            let mut c = claims("u1", &[], None, "330122", 60);
            c.iss = iss.map(str::to_owned);
            c.aud = aud.map(str::to_owned);
            let got = strict.verify(&s.sign(&c).expect("signs"));
            assert_eq!(got.is_ok(), ok, "iss {iss:?} aud {aud:?}");
            if let Err(p) = got {
                assert_eq!(p.status, 401);
            }
        }
        let bad_scope = claims("u1", &[], None, "33x", 60);
        assert_eq!(
            v.verify(&s.sign(&bad_scope).expect("signs"))
                .expect_err("scope")
                .status,
            401
        );
    }
}

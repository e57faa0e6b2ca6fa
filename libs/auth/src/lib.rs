//! Authentication and scoped access.
//!
//! Tokens are JWTs signed by an identity provider (EdDSA or RS256) whose public key is
//! configured. Claims carry `sub`, `roles`, `unit` and `jurisdiction`; a user sees the
//! cases whose jurisdiction code starts with theirs (county ⊃ township ⊃ village).

use std::future::{Ready, ready};
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

/// Verifies tokens. Cheap to clone.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<(DecodingKey, Validation)>,
}

impl Verifier {
    pub fn from_pem(
        pem: &[u8],
        alg: KeyAlgorithm,
        issuer: Option<&str>,
        audience: Option<&str>,
    ) -> Result<Self, KeyError> {
        let key = match alg {
            KeyAlgorithm::EdDSA => DecodingKey::from_ed_pem(pem),
            KeyAlgorithm::RS256 => DecodingKey::from_rsa_pem(pem),
        }
        .map_err(|e| KeyError::BadKey {
            alg,
            reason: e.to_string(),
        })?;
        let mut v = Validation::new(alg.jwt());
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
        Ok(Verifier {
            inner: Arc::new((key, v)),
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

    pub fn verify(&self, token: &str) -> Result<Claims, Problem> {
        let (key, validation) = &*self.inner;
        let data = jsonwebtoken::decode::<Claims>(token, key, validation).map_err(|e| {
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
        })?;
        let c = data.claims;
        if xf_jurisdiction::Code::parse(&c.jurisdiction).is_err() {
            return Err(Problem::unauthenticated(
                "the token's jurisdiction claim is not a valid jurisdiction code",
            ));
        }
        Ok(c)
    }
}

/// Signs tokens (development and tests).
pub struct Signer {
    key: EncodingKey,
    alg: KeyAlgorithm,
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
        Ok(Signer { key, alg })
    }
    pub fn sign(&self, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
        jsonwebtoken::encode(&Header::new(self.alg.jwt()), claims, &self.key)
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
    type Future = Ready<Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req).map(Authenticated))
    }
}

fn authenticate(req: &HttpRequest) -> Result<Claims, Problem> {
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
    verifier.verify(token.trim())
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

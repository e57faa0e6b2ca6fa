//! Sessions in a sealed cookie (AES-256-GCM): the user's token and its CSRF secret.
//! Nothing is kept on the server, so any replica serves any request. A second cookie
//! carries the CSRF secret of visitors who are not signed in (the public forms).

use actix_web::HttpRequest;
use actix_web::HttpResponse;
use actix_web::http::header::{HeaderValue, SET_COOKIE};
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

pub const SESSION_COOKIE: &str = "xf_session";
pub const CSRF_COOKIE: &str = "xf_csrf";

/// What the session cookie holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// The JWT the services accept, sent on every call made for this user.
    pub token: String,
    /// The CSRF secret every form of this session carries.
    pub csrf: String,
    /// A display name (the demo user's label, or the token's subject).
    pub name: String,
}

#[derive(Clone)]
pub struct Sealer {
    cipher: Aes256Gcm,
    secure: bool,
    ttl_secs: i64,
}

impl Sealer {
    pub fn new(key: &[u8; 32], secure: bool, ttl_secs: i64) -> anyhow::Result<Self> {
        Ok(Sealer {
            cipher: Aes256Gcm::new_from_slice(key)
                .map_err(|_| anyhow::anyhow!("the session key must be 32 bytes"))?,
            secure,
            ttl_secs,
        })
    }

    /// Reads a key file (32 bytes, base64) or, when none is named, makes a random key.
    pub fn key_from(path: &str) -> anyhow::Result<[u8; 32]> {
        if path.trim().is_empty() {
            return Ok(rand::random());
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("session.key_file {path}: {e}"))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| anyhow::anyhow!("session.key_file: not base64"))?;
        bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("session.key_file: must hold 32 bytes"))
    }

    pub fn seal(&self, s: &Session) -> String {
        self.seal_value(s)
    }

    pub fn open(&self, sealed: &str) -> Option<Session> {
        self.open_value(sealed)
    }

    /// Seals any value (JSON, then AES-256-GCM with a fresh nonce), base64url.
    pub fn seal_value<T: Serialize>(&self, v: &T) -> String {
        let nonce_bytes: [u8; 12] = rand::random();
        let plain = serde_json::to_vec(v).unwrap_or_default();
        let ct = self
            .cipher
            .encrypt(&Nonce::from(nonce_bytes), plain.as_slice())
            .unwrap_or_default();
        let mut out = nonce_bytes.to_vec();
        out.extend(ct);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// Opens what [`Sealer::seal_value`] sealed; None when it is not ours or altered.
    pub fn open_value<T: serde::de::DeserializeOwned>(&self, sealed: &str) -> Option<T> {
        let raw = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if raw.len() < 13 {
            return None;
        }
        let (n, ct) = raw.split_at(12);
        let nonce: [u8; 12] = n.try_into().ok()?;
        let plain = self.cipher.decrypt(&Nonce::from(nonce), ct).ok()?;
        serde_json::from_slice(&plain).ok()
    }

    /// The session of a request, if its cookie is ours and intact.
    pub fn session(&self, req: &HttpRequest) -> Option<Session> {
        cookie(req, SESSION_COOKIE).and_then(|c| self.open(&c))
    }

    fn attrs(&self, same_site: &str) -> String {
        format!(
            "; Path=/; HttpOnly; SameSite={same_site}{}",
            if self.secure { "; Secure" } else { "" }
        )
    }

    pub fn session_cookie(&self, s: &Session) -> String {
        format!(
            "{SESSION_COOKIE}={}{}; Max-Age={}",
            self.seal(s),
            self.attrs("Lax"),
            self.ttl_secs
        )
    }

    pub fn clear_session(&self) -> String {
        format!("{SESSION_COOKIE}={}; Max-Age=0", self.attrs("Lax"))
    }

    /// A short-lived sealed cookie `name` holding `v` (a sign-in in progress). Lax, so
    /// that it comes back with the provider's redirect.
    pub fn value_cookie<T: Serialize>(&self, name: &str, v: &T, max_age: i64) -> String {
        format!(
            "{name}={}{}; Max-Age={max_age}",
            self.seal_value(v),
            self.attrs("Lax")
        )
    }

    pub fn clear_value(&self, name: &str) -> String {
        format!("{name}={}; Max-Age=0", self.attrs("Lax"))
    }

    pub fn csrf_cookie(&self, value: &str) -> String {
        format!("{CSRF_COOKIE}={value}{}", self.attrs("Strict"))
    }
}

/// The value of cookie `name` in the request's Cookie headers.
pub fn cookie(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(actix_web::http::header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// Adds a Set-Cookie header to a response.
pub fn set_cookie(r: &mut HttpResponse, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().append(SET_COOKIE, v);
    }
}

/// A fresh random secret (CSRF).
pub fn secret() -> String {
    let b: [u8; 24] = rand::random();
    URL_SAFE_NO_PAD.encode(b)
}

/// Whether the form's CSRF value matches the expected one (in constant time).
pub fn csrf_ok(expected: &str, given: &str) -> bool {
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_sessions_open_only_with_their_key_and_intact() {
        let a = Sealer::new(&[7; 32], false, 60).expect("key");
        let b = Sealer::new(&[8; 32], false, 60).expect("key");
        let s = Session {
            token: "t".into(),
            csrf: secret(),
            name: "n".into(),
        };
        let sealed = a.seal(&s);
        assert_eq!(a.open(&sealed).map(|x| x.csrf), Some(s.csrf.clone()));
        assert!(b.open(&sealed).is_none());
        let mut bad = sealed.clone();
        bad.pop();
        bad.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(a.open(&bad).is_none());
        assert!(csrf_ok(&s.csrf, &s.csrf));
        assert!(!csrf_ok(&s.csrf, "x"));
        assert!(!csrf_ok("", ""));
    }
}

//! Sign-in with the county's OpenID Connect provider (Keycloak or any other): the
//! authorization code flow with PKCE (RFC 7636, S256) for a public client. The
//! provider's endpoints come from its discovery document; `state`, `nonce` and the code
//! verifier travel in a sealed, HttpOnly cookie for ten minutes; the ID token is checked
//! against the provider's JWK Set (issuer, audience = client id, nonce), and the access
//! token — the JWT the five services accept by the same key set — becomes the session's
//! token.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use xf_auth::jwks::Jwks;

use crate::State;
use crate::config::Settings;
use crate::page::{Page, redirect, safe_next};
use crate::session::{self, Session};

/// The cookie that carries a sign-in in progress.
pub const FLOW_COOKIE: &str = "xf_oidc";
/// How long a sign-in may take at the provider.
const FLOW_SECS: i64 = 600;

/// What the provider's discovery document says (the parts used here).
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
}

/// The console as the provider's client.
pub struct Client {
    issuer: String,
    client_id: String,
    scopes: String,
    redirect_uri: String,
    http: reqwest::Client,
    found: RwLock<Option<(Discovery, Arc<Jwks>)>>,
}

/// A sign-in in progress, sealed in [`FLOW_COOKIE`].
#[derive(Debug, Serialize, Deserialize)]
struct Flow {
    state: String,
    nonce: String,
    verifier: String,
    next: String,
    started: i64,
}

#[derive(Debug, Deserialize)]
struct TokenAnswer {
    access_token: String,
    id_token: String,
}

#[derive(Debug, Deserialize)]
struct IdClaims {
    sub: String,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    preferred_username: Option<String>,
}

/// The code challenge of a verifier (S256).
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A code verifier: 32 random bytes, base64url (43 characters, as RFC 7636 asks).
fn verifier() -> String {
    let b: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(b)
}

impl Client {
    /// The client the settings describe, when OIDC sign-in is enabled. Nothing is
    /// fetched until the first sign-in.
    pub fn new(s: &Settings) -> anyhow::Result<Option<Client>> {
        if !s.oidc.enabled {
            return Ok(None);
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(s.services.timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            // Sign-ins are rare: a fresh connection each time, never one the provider
            // closed while it sat idle.
            .pool_max_idle_per_host(0)
            .build()?;
        Ok(Some(Client {
            issuer: s.oidc.issuer.trim_end_matches('/').to_owned(),
            client_id: s.oidc.client_id.clone(),
            scopes: s.oidc.scopes.clone(),
            redirect_uri: format!(
                "{}{}",
                s.http.public_url.trim_end_matches('/'),
                s.oidc.redirect_path
            ),
            http,
            found: RwLock::default(),
        }))
    }

    /// The discovery document and the provider's key set, fetched once.
    async fn discover(&self) -> anyhow::Result<(Discovery, Arc<Jwks>)> {
        if let Ok(g) = self.found.read()
            && let Some(f) = g.as_ref()
        {
            return Ok(f.clone());
        }
        let url = format!("{}/.well-known/openid-configuration", self.issuer);
        let d: Discovery = self
            .http
            .get(&url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        if d.issuer.trim_end_matches('/') != self.issuer {
            anyhow::bail!("the provider at {url} names another issuer ({})", d.issuer);
        }
        let set = Jwks::new(&d.jwks_uri)?;
        set.fetch().await?;
        if let Ok(mut g) = self.found.write() {
            *g = Some((d.clone(), set.clone()));
        }
        Ok((d, set))
    }

    /// Checks the ID token: signature by the provider's keys, issuer, audience, expiry
    /// and the nonce of this sign-in.
    async fn check_id_token(
        &self,
        set: &Jwks,
        d: &Discovery,
        token: &str,
        nonce: &str,
    ) -> anyhow::Result<IdClaims> {
        let header = jsonwebtoken::decode_header(token)?;
        let key = match set.key(header.kid.as_deref()) {
            Some(k) => k,
            None => {
                set.refresh_for_unknown_kid().await;
                set.key(header.kid.as_deref())
                    .ok_or_else(|| anyhow::anyhow!("the ID token's key is not published"))?
            }
        };
        let mut v = jsonwebtoken::Validation::new(key.alg);
        v.set_issuer(&[d.issuer.as_str()]);
        v.set_audience(&[self.client_id.as_str()]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        v.leeway = 30;
        let c = jsonwebtoken::decode::<IdClaims>(token, &key.decoding, &v)?.claims;
        if c.nonce.as_deref() != Some(nonce) {
            anyhow::bail!("the ID token's nonce is not this sign-in's");
        }
        Ok(c)
    }
}

pub fn configure(cfg: &mut web::ServiceConfig, redirect_path: &str) {
    cfg.route("/signin/oidc", web::get().to(start))
        .route(redirect_path, web::get().to(callback));
}

#[derive(Deserialize)]
struct StartQuery {
    next: Option<String>,
}

/// The sign-in page again, with what went wrong.
fn failed(req: &HttpRequest, state: &State, status: u16, why: &str) -> HttpResponse {
    let p = Page::new(state, req);
    p.render_status(
        actix_web::http::StatusCode::from_u16(status)
            .unwrap_or(actix_web::http::StatusCode::BAD_GATEWAY),
        "signin.html",
        &state.ui.cat.t("signin.title"),
        json!({"next": "/", "users": [], "dev": false, "oidc": true,
            "oidc_error": state.ui.cat.t(why)}),
    )
}

/// `GET /signin/oidc?next=…`: to the provider's authorization endpoint.
async fn start(
    req: HttpRequest,
    state: web::Data<State>,
    q: web::Query<StartQuery>,
) -> HttpResponse {
    let Some(client) = state.oidc.as_ref() else {
        return redirect("/signin");
    };
    let (d, _) = match client.discover().await {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(
                error = format!("{e:#}"),
                "the identity provider cannot be reached"
            );
            return failed(&req, &state, 502, "signin.oidc_unreachable");
        }
    };
    let flow = Flow {
        state: session::secret(),
        nonce: session::secret(),
        verifier: verifier(),
        next: safe_next(q.next.as_deref().unwrap_or("/")),
        started: chrono::Utc::now().timestamp(),
    };
    let query = serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", client.client_id.as_str()),
        ("redirect_uri", client.redirect_uri.as_str()),
        ("scope", client.scopes.as_str()),
        ("state", flow.state.as_str()),
        ("nonce", flow.nonce.as_str()),
        ("code_challenge", challenge(&flow.verifier).as_str()),
        ("code_challenge_method", "S256"),
    ])
    .unwrap_or_default();
    let sep = if d.authorization_endpoint.contains('?') {
        '&'
    } else {
        '?'
    };
    let mut r = redirect(&format!("{}{sep}{query}", d.authorization_endpoint));
    session::set_cookie(
        &mut r,
        &state.sealer.value_cookie(FLOW_COOKIE, &flow, FLOW_SECS),
    );
    r
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// The provider sends the browser back here with a code (or an error).
async fn callback(
    req: HttpRequest,
    state: web::Data<State>,
    q: web::Query<CallbackQuery>,
) -> HttpResponse {
    let Some(client) = state.oidc.as_ref() else {
        return redirect("/signin");
    };
    let flow: Option<Flow> = session::cookie(&req, FLOW_COOKIE)
        .and_then(|c| state.sealer.open_value(&c))
        .filter(|f: &Flow| chrono::Utc::now().timestamp() - f.started <= FLOW_SECS);
    let mut r = match (flow, &q.code, &q.state, &q.error) {
        (_, _, _, Some(e)) => {
            tracing::info!(error = %e, "the identity provider refused the sign-in");
            failed(&req, &state, 401, "signin.oidc_refused")
        }
        (Some(flow), Some(code), Some(st), None) if session::csrf_ok(&flow.state, st) => {
            match finish(client, &state, &flow, code).await {
                Ok((s, claims)) => {
                    let to = if flow.next == "/" {
                        crate::routes::home_of(&claims).to_owned()
                    } else {
                        flow.next.clone()
                    };
                    let mut r = redirect(&to);
                    session::set_cookie(&mut r, &state.sealer.session_cookie(&s));
                    r
                }
                Err(e) => {
                    tracing::warn!(
                        error = format!("{e:#}"),
                        "the sign-in could not be completed"
                    );
                    failed(&req, &state, 502, "signin.oidc_failed")
                }
            }
        }
        _ => failed(&req, &state, 400, "signin.oidc_stale"),
    };
    session::set_cookie(&mut r, &state.sealer.clear_value(FLOW_COOKIE));
    r
}

/// Trades the code for tokens, checks both and makes the session.
async fn finish(
    client: &Client,
    state: &State,
    flow: &Flow,
    code: &str,
) -> anyhow::Result<(Session, xf_auth::Claims)> {
    let (d, set) = client.discover().await?;
    let answer: TokenAnswer = client
        .http
        .post(&d.token_endpoint)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", client.redirect_uri.as_str()),
            ("client_id", client.client_id.as_str()),
            ("code_verifier", flow.verifier.as_str()),
        ])
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let id = client
        .check_id_token(&set, &d, &answer.id_token, &flow.nonce)
        .await?;
    // The access token is what the services will check: the console checks it the
    // same way (auth.jwks_url) and reads the roles, unit and jurisdiction from it.
    let claims = state
        .verifier
        .verify_fresh(&answer.access_token)
        .await
        .map_err(|p| {
            anyhow::anyhow!(
                "the access token is not accepted: {}",
                p.detail.unwrap_or_default()
            )
        })?;
    if claims.sub != id.sub {
        anyhow::bail!("the access token is another user's");
    }
    let name = id
        .name
        .or(id.preferred_username)
        .unwrap_or_else(|| id.sub.clone());
    Ok((
        Session {
            token: answer.access_token,
            csrf: session::secret(),
            name,
        },
        claims,
    ))
}

//! A county plugs in its own identity provider by its JWK Set: the five services, given
//! `auth.jwks_url` and no key file, accept the provider's tokens by the `kid` in their
//! header, fetch the set once at start, refetch it when a token names a key it does not
//! hold (a rotation) — at most once per ten seconds, however many such tokens come —
//! and refuse a token whose key the provider does not publish with a 401 problem.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::StatusCode;
use serde_json::{Value, json};
use xf_auth::{KeyAlgorithm, Signer, roles};
use xf_testkit::Ctx;

const COUNTY: &str = "330122";
const ISSUER: &str = "https://idp.example.gov.cn/realms/county";
const AUDIENCE: &str = "xinfang";
const SERVICES: [&str; 5] = [
    "intake",
    "routing",
    "supervision",
    "scheduling",
    "reporting",
];

fn key_file(name: &str) -> String {
    format!("{}/../dev/keys/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The public key of an Ed25519 PEM file as an OKP JWK with `kid`.
fn jwk(public_pem: &str, kid: &str) -> Value {
    let pem = std::fs::read_to_string(key_file(public_pem)).expect("pem");
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = STANDARD.decode(b64).expect("der");
    // The SubjectPublicKeyInfo of Ed25519 ends with the 32-byte key.
    let raw = &der[der.len() - 32..];
    json!({"kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": kid,
           "x": URL_SAFE_NO_PAD.encode(raw)})
}

fn signer(private_pem: &str, kid: &str) -> Signer {
    let pem = std::fs::read(key_file(private_pem)).expect("pem");
    Signer::from_pem(&pem, KeyAlgorithm::EdDSA)
        .expect("key")
        .with_kid(kid)
}

fn token(s: &Signer) -> String {
    let mut c = xf_auth::claims("idp-user-1", &[roles::ADMIN], None, COUNTY, 600);
    c.iss = Some(ISSUER.into());
    c.aud = Some(AUDIENCE.into());
    s.sign(&c).expect("token")
}

async fn answers(ctx: &Ctx, token: &str) -> Vec<(String, StatusCode, Value)> {
    let mut out = Vec::new();
    for svc in SERVICES {
        let (s, v) =
            xf_testkit::call("GET", &ctx.svc(svc).url("/v1/admin/audit"), token, None).await;
        out.push((svc.to_owned(), s, v));
    }
    out
}

#[tokio::test]
async fn the_services_accept_the_providers_tokens_by_its_key_set_and_follow_a_rotation() {
    let mut ctx = Ctx::new().await.expect("context");
    let set = Arc::new(Mutex::new(json!({
        "keys": [jwk("dev-ed25519-public.pem", "key-2026-a")]
    })));
    let (url, fetches) = xf_testkit::endpoint::document(set.clone()).await;
    let settings = [
        ("auth.jwks_url", url.as_str()),
        ("auth.public_key_file", ""),
        ("auth.issuer", ISSUER),
        ("auth.audience", AUDIENCE),
    ];
    // Before any service fetched: within ten seconds of this, no service may fetch again.
    let started = std::time::Instant::now();
    xf_e2e::start_all_with(&mut ctx, &settings)
        .await
        .expect("stack starts");
    let at_start = fetches.lock().expect("lock").len();
    assert_eq!(
        at_start,
        SERVICES.len(),
        "each service fetched the set once"
    );

    // The provider's current key: every service accepts its token.
    let a = signer("dev-ed25519-private.pem", "key-2026-a");
    for (svc, s, v) in answers(&ctx, &token(&a)).await {
        assert_eq!(s, StatusCode::OK, "{svc}: {v}");
    }
    assert_eq!(
        fetches.lock().expect("lock").len(),
        at_start,
        "served from the cache"
    );

    // A key the provider does not publish: refused, named, not a 500.
    let b = signer("test-ed25519-b-private.pem", "key-2026-b");
    for (svc, s, v) in answers(&ctx, &token(&b)).await {
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{svc}: {v}");
        assert!(
            v["detail"]
                .as_str()
                .is_some_and(|d| d.contains("does not publish")),
            "{svc}: {v}"
        );
    }
    // Within ten seconds of the last fetch, unknown kids fetch nothing more.
    let after_refusals = fetches.lock().expect("lock").len();
    assert!(
        started.elapsed() >= Duration::from_secs(10) || after_refusals == at_start,
        "no fetch within ten seconds of the last: {after_refusals} fetches"
    );

    // The provider rotates: key b is published beside a. Once the ten seconds since
    // the last fetch have passed, the first token with the new kid makes each service
    // refetch the set, and from then on b's tokens pass.
    set.lock().expect("lock")["keys"]
        .as_array_mut()
        .expect("keys")
        .push(jwk("test-ed25519-b-public.pem", "key-2026-b"));
    tokio::time::sleep(Duration::from_secs(11)).await;
    let before = fetches.lock().expect("lock").len();
    for (svc, s, v) in answers(&ctx, &token(&b)).await {
        assert_eq!(s, StatusCode::OK, "{svc} after the rotation: {v}");
    }
    let after = fetches.lock().expect("lock").len();
    assert_eq!(after - before, SERVICES.len(), "one refetch per service");
    for (svc, s, v) in answers(&ctx, &token(&a)).await {
        assert_eq!(s, StatusCode::OK, "{svc}: the old key still published: {v}");
    }
    // A token for another audience, or from another issuer, is refused by its claims.
    let mut c = xf_auth::claims("idp-user-1", &[roles::ADMIN], None, COUNTY, 600);
    c.iss = Some("https://elsewhere.example".into());
    c.aud = Some(AUDIENCE.into());
    let foreign = b.sign(&c).expect("token");
    for (svc, s, v) in answers(&ctx, &foreign).await {
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{svc}: {v}");
    }
    ctx.cleanup().await;
}

//! Test support against the real Postgres and the real Kafka-protocol broker.
//!
//! Each [`Ctx`] owns a fresh set of schemas (`t_<id>_<service>`), topics
//! (`xinfang.case.v1.t_<id>`) and consumer groups, and drops them in
//! [`Ctx::cleanup`]. Environment:
//! - `XINFANG_TEST_DATABASE_URL` (default `postgres://xinfang:xinfang@127.0.0.1:5432/xinfang_test`)
//! - `XINFANG_TEST_BROKERS` (default `127.0.0.1:19092`, the broker `make test` starts)
//! - `XINFANG_TANSU_BIN` (for tests that start a private broker)
//! - `XINFANG_TEST_LOG` (a log filter, e.g. `info`; off by default)

mod broker;
pub mod endpoint;
mod kafka;
pub mod otlp;
mod postgres;
mod process;

use std::future::Future;
use std::time::Duration;

use serde::de::DeserializeOwned;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use xf_app::cli::Binary;
use xf_app::{Application, Settings, Validate};
use xf_auth::{KeyAlgorithm, Signer};
use xf_bus::Handler;

pub use broker::TestBroker;
pub use kafka::{Record, produce_raw, read_topic};
pub use postgres::{Stop, TestPostgres};
pub use process::{Process, free_port, service_binary};

/// The development keys in `dev/keys` (never for production).
pub const DEV_PUBLIC_KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../dev/keys/dev-ed25519-public.pem"
);
pub const DEV_PRIVATE_PEM: &str = include_str!("../../../dev/keys/dev-ed25519-private.pem");
pub const DEV_VAULT_KEY: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../dev/keys/dev-vault.key");
pub const DEV_PSEUDONYM_KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../dev/keys/dev-pseudonym.key"
);

pub fn database_url() -> String {
    std::env::var("XINFANG_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://xinfang:xinfang@127.0.0.1:5432/xinfang_test".into())
}

pub fn brokers() -> String {
    std::env::var("XINFANG_TEST_BROKERS").unwrap_or_else(|_| "127.0.0.1:19092".into())
}

/// One test's isolated world.
pub struct Ctx {
    pub id: String,
    pub brokers: String,
    pub topic: String,
    pub dlq_topic: String,
    /// The database every service of this context uses (each in its own schema).
    pub database_url: String,
    admin: PgPool,
    running: Vec<Running>,
    signer: Signer,
    /// Set by [`Ctx::cleanup`]; otherwise dropping the context (a test that panicked)
    /// stops its services and drops its schemas.
    cleaned: bool,
}

/// A service started in-process.
pub struct Running {
    pub name: String,
    pub base_url: String,
    pub pool: PgPool,
    pub clock: xf_app::Clock,
    cancel: CancellationToken,
    join: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Running {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
    /// Stops the service gracefully and waits for it.
    pub async fn stop(&mut self) {
        self.cancel.cancel();
        if let Some(j) = self.join.take() {
            let _ = j.await;
        }
    }
}

impl Ctx {
    pub async fn new() -> anyhow::Result<Ctx> {
        Self::with_brokers(&brokers()).await
    }

    pub async fn with_brokers(brokers: &str) -> anyhow::Result<Ctx> {
        Self::with(brokers, &database_url()).await
    }

    /// A context on `brokers` and the database at `database_url` (e.g. a
    /// [`TestPostgres`] of the test's own, which the test may restart).
    pub async fn with(brokers: &str, database_url: &str) -> anyhow::Result<Ctx> {
        xf_telemetry::init_for_tests();
        let id = format!("t_{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        let admin = PgPoolOptions::new()
            .max_connections(2)
            .connect(database_url)
            .await?;
        let signer = Signer::from_pem(DEV_PRIVATE_PEM.as_bytes(), KeyAlgorithm::EdDSA)?;
        Ok(Ctx {
            topic: format!("xinfang.case.v1.{id}"),
            dlq_topic: format!("xinfang.case.v1.{id}.dlq"),
            brokers: brokers.to_owned(),
            database_url: database_url.to_owned(),
            id,
            admin,
            running: Vec::new(),
            signer,
            cleaned: false,
        })
    }

    pub fn schema(&self, service: &str) -> String {
        format!("{}_{service}", self.id)
    }

    /// Settings overrides that isolate `service` in this context.
    pub fn overrides(&self, service: &str) -> Vec<(String, String)> {
        let mut o = vec![
            ("http.port".into(), "0".into()),
            ("http.host".into(), "127.0.0.1".into()),
            ("database.url".into(), self.database_url.clone()),
            ("database.schema".into(), self.schema(service)),
            ("database.max_connections".into(), "4".into()),
            ("kafka.brokers".into(), self.brokers.clone()),
            ("kafka.topic".into(), self.topic.clone()),
            ("kafka.dlq_topic".into(), self.dlq_topic.clone()),
            ("kafka.partitions".into(), "3".into()),
            (
                "kafka.group_id".into(),
                format!("xinfang-{service}-{}", self.id),
            ),
            ("kafka.relay_poll_ms".into(), "50".into()),
            ("kafka.max_attempts".into(), "3".into()),
            ("kafka.message_timeout_ms".into(), "10000".into()),
            ("auth.public_key_file".into(), DEV_PUBLIC_KEY.into()),
            ("http.workers".into(), "2".into()),
        ];
        if service == "intake" {
            o.push(("vault.key_file".into(), DEV_VAULT_KEY.into()));
            o.push(("vault.pseudonym_key_file".into(), DEV_PSEUDONYM_KEY.into()));
        }
        o
    }

    /// The service's settings for this context, with extra overrides.
    pub fn settings<X: DeserializeOwned + Validate>(
        &self,
        bin: &Binary,
        extra: &[(&str, &str)],
    ) -> anyhow::Result<Settings<X>> {
        let mut o = self.overrides(bin.name);
        o.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        Ok(bin.settings(&o)?)
    }

    /// Runs a built service in the background; returns its index in [`Ctx::svc`].
    pub fn spawn<H: Handler>(&mut self, name: &str, app: Application<H>) -> usize {
        let cancel = CancellationToken::new();
        let base_url = format!("http://127.0.0.1:{}", app.port());
        let pool = app.pool().clone();
        let clock = app.clock().clone();
        let join = tokio::spawn(app.run_until_stopped(cancel.clone()));
        self.running.push(Running {
            name: name.to_owned(),
            base_url,
            pool,
            clock,
            cancel,
            join: Some(join),
        });
        self.running.len() - 1
    }

    pub fn svc(&self, name: &str) -> &Running {
        self.running
            .iter()
            .rev()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("service {name} is not running in this context"))
    }

    pub fn svc_mut(&mut self, name: &str) -> &mut Running {
        self.running
            .iter_mut()
            .rev()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("service {name} is not running in this context"))
    }

    /// A signer with the development key (for tokens with custom claims).
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// A signed token for `roles` in `jurisdiction`.
    pub fn token(&self, roles: &[&str], unit: Option<&str>, jurisdiction: &str) -> String {
        self.signer
            .sign(&xf_auth::claims(
                "test-user",
                roles,
                unit,
                jurisdiction,
                3600,
            ))
            .unwrap_or_else(|e| panic!("cannot sign a test token: {e}"))
    }

    /// A pool on the test database (superuser), for raw checks.
    pub fn admin(&self) -> &PgPool {
        &self.admin
    }

    /// Stops every service and drops the schemas.
    pub async fn cleanup(mut self) {
        for r in &mut self.running {
            r.stop().await;
        }
        let _ = drop_schemas(&self.admin, &self.id).await;
        self.cleaned = true;
        // Topics are left to the broker: names are unique per test, and deleting a
        // topic while a fetch is in flight has crashed the development broker.
    }
}

/// The guard behind a test that ended without [`Ctx::cleanup`] (it panicked or
/// returned early): its services are told to stop and its schemas are dropped on a
/// connection of its own, from a thread of its own (the test's runtime may be the one
/// thread it has). A lock a stopped service still holds makes the drop give up after a
/// few seconds rather than hang the test; `make clean-test-schemas` removes what is left.
impl Drop for Ctx {
    fn drop(&mut self) {
        if self.cleaned {
            return;
        }
        for r in &self.running {
            r.cancel.cancel();
        }
        let url = self.database_url.clone();
        let id = self.id.clone();
        let dropped = std::thread::spawn(move || drop_schemas_blocking(&url, &id)).join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("test context {} left schemas behind", self.id);
        }
    }
}

fn drop_schemas_blocking(url: &str, id: &str) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(|c, _| {
                Box::pin(async move {
                    sqlx::query("SET lock_timeout = '3s'").execute(c).await?;
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        drop_schemas(&pool, id).await?;
        pool.close().await;
        Ok(())
    })
}

/// Drops every schema of the context `id` (`<id>_<service>`).
async fn drop_schemas(pool: &PgPool, id: &str) -> anyhow::Result<()> {
    let schemas: Vec<String> = sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE $1 || '\\_%'",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    for s in schemas {
        xf_store::drop_schema(pool, &s).await?;
    }
    Ok(())
}

/// The values the CHECK constraint `constraint` of `pool`'s schema allows — every
/// quoted literal of its definition, sorted — so a test can prove a Rust enum and the
/// column agree.
pub async fn check_values(pool: &PgPool, constraint: &str) -> Vec<String> {
    let def: Option<String> = sqlx::query_scalar(
        "SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c
           JOIN pg_namespace n ON n.oid = c.connamespace
          WHERE c.conname = $1 AND c.contype = 'c' AND n.nspname = current_schema()",
    )
    .bind(constraint)
    .fetch_optional(pool)
    .await
    .unwrap_or_else(|e| panic!("cannot read constraint {constraint}: {e}"));
    let def = def.unwrap_or_else(|| panic!("no CHECK constraint {constraint} in this schema"));
    let mut out: Vec<String> = def
        .split('\'')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Waits until every row of the outbox in `pool`'s schema is published.
pub async fn outbox_drained(pool: &PgPool, timeout: Duration) {
    eventually("the outbox drains", timeout, || async {
        let left: i64 =
            sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                .fetch_one(pool)
                .await
                .ok()?;
        (left == 0).then_some(())
    })
    .await;
}

/// Polls `f` until it returns Some, or fails after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A plain HTTP client.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_else(|e| panic!("http client: {e}"))
}

/// Sends `method` to `url` with a bearer token and an optional JSON body.
pub async fn send(
    method: &str,
    url: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> reqwest::Response {
    let c = http();
    let mut rb = match method {
        "GET" => c.get(url),
        "PUT" => c.put(url),
        "DELETE" => c.delete(url),
        "PATCH" => c.patch(url),
        _ => c.post(url),
    }
    .bearer_auth(token);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    rb.send()
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"))
}

/// Like [`send`], returning the status and the JSON body, and checking the house
/// rules on the way: every error is `application/problem+json`, never a 500.
pub async fn call(
    method: &str,
    url: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> (reqwest::StatusCode, serde_json::Value) {
    let resp = send(method, url, token, body).await;
    let status = resp.status();
    if status.is_client_error() || status.is_server_error() {
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        assert_eq!(ct, "application/problem+json", "{method} {url} → {status}");
    }
    let v = resp.json::<serde_json::Value>().await.unwrap_or_default();
    assert_ne!(
        status,
        reqwest::StatusCode::INTERNAL_SERVER_ERROR,
        "{method} {url}: {v}"
    );
    (status, v)
}

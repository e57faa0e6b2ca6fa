use std::future::Future;
use std::net::TcpListener;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use rdkafka::producer::{FutureProducer, Producer};
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tokio_util::sync::CancellationToken;
use tracing_actix_web::TracingLogger;
use xf_auth::Verifier;
use xf_bus::{Consumer, Handler, Outbox, Relay};
use xf_http::BodyLimit;

use crate::clock::Clock;
use crate::config::Settings;
use crate::http::{self, Readiness, Tasks};

type Routes = Arc<dyn Fn(&mut web::ServiceConfig) + Send + Sync>;

/// What a service plugs into the frame.
pub struct ServiceSpec<H: Handler> {
    /// Service name: intake, routing, supervision, scheduling, reporting.
    pub name: &'static str,
    /// The service's event handler (None for a service that consumes nothing).
    pub handler: Option<Arc<H>>,
    /// The service's routes; shared state goes in with `cfg.app_data`.
    pub routes: Routes,
    /// A task that runs beside the server until shutdown (e.g. a timer sweeper).
    pub background: Option<Background>,
}

/// A background task: given the shutdown token, runs until it fires.
pub type Background =
    Box<dyn FnOnce(CancellationToken) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

impl<H: Handler> ServiceSpec<H> {
    pub fn new(
        name: &'static str,
        handler: Option<Arc<H>>,
        routes: impl Fn(&mut web::ServiceConfig) + Send + Sync + 'static,
    ) -> Self {
        ServiceSpec {
            name,
            handler,
            routes: Arc::new(routes),
            background: None,
        }
    }

    /// Adds a task that runs beside the server and stops with it.
    pub fn with_background<F, Fut>(mut self, task: F) -> Self
    where
        F: FnOnce(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.background = Some(Box::new(move |c| Box::pin(task(c))));
        self
    }
}

/// Resources a service builds before its spec: the pool, the outbox, the clock.
#[derive(Clone)]
pub struct Parts {
    pub pool: PgPool,
    pub outbox: Outbox,
    pub clock: Clock,
    pub producer: FutureProducer,
    pub verifier: Verifier,
}

/// A built service: bound to its port, ready to run.
pub struct Application<H: Handler> {
    name: &'static str,
    port: u16,
    server: Server,
    relay: Relay,
    consumer: Option<Consumer<H>>,
    parts: Parts,
    kafka: xf_bus::KafkaSettings,
    background: Option<Background>,
    tasks: Tasks,
}

impl<H: Handler> Application<H> {
    /// Opens the pool, producer and verifier a service needs to build its spec.
    pub fn parts<X>(s: &Settings<X>) -> anyhow::Result<Parts> {
        let pool = xf_store::pool(&s.database)?;
        let producer = xf_bus::producer(&s.kafka)?;
        let verifier = Verifier::configure(
            &s.auth.public_key_file,
            s.auth.algorithm,
            s.auth.jwks_url.as_deref(),
            s.auth.issuer.as_deref(),
            s.auth.audience.as_deref(),
        )?;
        Ok(Parts {
            pool,
            outbox: Outbox::bounded(&s.kafka.topic, s.kafka.outbox_max_pending),
            clock: Clock::with_offset(chrono::Duration::seconds(s.clock.offset_secs)),
            producer,
            verifier,
        })
    }

    /// Migrates the schema, binds the port (0 picks a free one) and wires the relay and
    /// the consumer. Nothing runs until [`Application::run_until_stopped`].
    pub async fn build<X>(
        s: &Settings<X>,
        parts: Parts,
        migrator: Migrator,
        spec: ServiceSpec<H>,
    ) -> anyhow::Result<Self> {
        xf_store::migrate(&parts.pool, &s.database.schema, migrator).await?;
        if let Some(set) = parts.verifier.jwks() {
            match parts.verifier.prefetch().await {
                Ok(n) => {
                    tracing::info!(keys = n, url = set.url(), "identity provider keys fetched")
                }
                Err(e) => tracing::warn!(error = %e, "identity provider keys not fetched yet"),
            }
        }
        let listener = TcpListener::bind((s.http.host.as_str(), s.http.port))?;
        let port = listener.local_addr()?.port();
        let readiness = Readiness {
            pool: parts.pool.clone(),
            producer: parts.producer.clone(),
            topic: s.kafka.topic.clone(),
            tasks: Tasks::default(),
        };
        let tasks = readiness.tasks.clone();
        let verifier = parts.verifier.clone();
        let clock = parts.clock.clone();
        let pool = parts.pool.clone();
        let outbox = parts.outbox.clone();
        let limit = s.http.max_body_bytes;
        let routes = spec.routes.clone();
        let name = spec.name;
        let mut server = HttpServer::new(move || {
            let routes = routes.clone();
            App::new()
                .wrap(from_fn(http::refuse_nul))
                .wrap(from_fn(move |req, next| http::track(name, req, next)))
                .wrap(TracingLogger::<xf_telemetry::policy::RootSpan>::new())
                .app_data(web::Data::new(verifier.clone()))
                .app_data(web::Data::new(BodyLimit(limit)))
                .app_data(web::Data::new(clock.clone()))
                .app_data(web::Data::new(pool.clone()))
                .app_data(web::Data::new(outbox.clone()))
                .app_data(web::Data::new(readiness.clone()))
                .configure(http::extractor_errors)
                .configure(http::configure)
                .configure(move |cfg| routes(cfg))
                .default_service(web::to(xf_http::not_found))
        })
        .disable_signals()
        .shutdown_timeout(30);
        if s.http.workers > 0 {
            server = server.workers(s.http.workers);
        }
        let server = server.listen(listener)?.run();
        let relay = Relay::new(
            parts.pool.clone(),
            parts.producer.clone(),
            &s.database.schema,
            spec.name,
            &s.kafka,
        )
        .watching(parts.outbox.backlog());
        let consumer = match spec.handler {
            Some(h) => Some(Consumer::new(
                parts.pool.clone(),
                parts.producer.clone(),
                h,
                spec.name,
                &s.kafka,
            )?),
            None => None,
        };
        Ok(Application {
            name: spec.name,
            port,
            server,
            relay,
            consumer,
            parts,
            kafka: s.kafka.clone(),
            background: spec.background,
            tasks,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }
    pub fn pool(&self) -> &PgPool {
        &self.parts.pool
    }
    pub fn clock(&self) -> &Clock {
        &self.parts.clock
    }

    /// Runs the HTTP server, the relay and the consumer until `cancel` fires, then
    /// stops accepting, finishes in-flight work and flushes the producer.
    pub async fn run_until_stopped(self, cancel: CancellationToken) -> anyhow::Result<()> {
        let Application {
            name,
            server,
            relay,
            consumer,
            parts,
            kafka,
            background,
            tasks,
            ..
        } = self;
        let background_task = background.map(|b| {
            let guard = tasks.watch("background", cancel.clone());
            let run = b(cancel.clone());
            tokio::spawn(async move {
                let _guard = guard;
                run.await
            })
        });
        let handle = server.handle();
        let server_task = tokio::spawn(server);
        let relay_task = {
            let guard = tasks.watch("relay", cancel.clone());
            let run = relay.run(cancel.clone());
            tokio::spawn(async move {
                let _guard = guard;
                run.await
            })
        };
        let consumer_task = {
            let cancel = cancel.clone();
            // Only a service that consumes has a consumer to watch.
            let guard = consumer
                .is_some()
                .then(|| tasks.watch("consumer", cancel.clone()));
            tokio::spawn(async move {
                let _guard = guard;
                // Topics are created through the admin API; wait for the broker.
                let mut backoff = Duration::from_millis(200);
                loop {
                    match xf_bus::ensure_topics(&kafka).await {
                        Ok(()) => break,
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot create topics yet; retrying");
                            tokio::select! {
                                _ = cancel.cancelled() => return,
                                _ = tokio::time::sleep(backoff) => {}
                            }
                            backoff = (backoff * 2).min(Duration::from_secs(5));
                        }
                    }
                }
                if let Some(c) = consumer {
                    c.run(cancel).await;
                }
            })
        };
        tracing::info!(service = name, "started");
        cancel.cancelled().await;
        tracing::info!(service = name, "stopping");
        handle.stop(true).await;
        let _ = server_task.await;
        let _ = relay_task.await;
        let _ = consumer_task.await;
        if let Some(t) = background_task {
            let _ = t.await;
        }
        let producer = parts.producer.clone();
        let _ = tokio::task::spawn_blocking(move || producer.flush(Duration::from_secs(10))).await;
        parts.pool.close().await;
        tracing::info!(service = name, "stopped");
        Ok(())
    }
}

//! The test kit's own promises, against the real Postgres: a context that is dropped
//! without `cleanup` (its test panicked) leaves no schema behind, and every database
//! error a route can meet gets its one problem+json answer from `xf_store::problem`.

use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use xf_testkit::Ctx;

async fn schema_exists(ctx_admin: &sqlx::PgPool, name: &str) -> bool {
    sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
        .bind(name)
        .fetch_one(ctx_admin)
        .await
        .expect("catalog query")
}

#[tokio::test]
async fn a_panicking_test_leaves_no_schema_behind() {
    let watcher = Ctx::new().await.expect("context");
    let ctx = Ctx::new().await.expect("context");
    let schema = ctx.schema("intake");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE SCHEMA {schema}; CREATE TABLE {schema}.t (id int)"
    )))
    .execute(ctx.admin())
    .await
    .expect("create schema");
    assert!(schema_exists(watcher.admin(), &schema).await);

    let outcome = AssertUnwindSafe(async move {
        let _ctx = ctx;
        panic!("the test fails here");
    })
    .catch_unwind()
    .await;
    assert!(outcome.is_err(), "the body panicked");
    assert!(
        !schema_exists(watcher.admin(), &schema).await,
        "the dropped context removed {schema}"
    );
    watcher.cleanup().await;
}

#[tokio::test]
async fn database_errors_map_to_one_answer_each() {
    let ctx = Ctx::new().await.expect("context");
    let schema = ctx.schema("store");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE SCHEMA {schema};
         CREATE TABLE {schema}.parent (id int PRIMARY KEY);
         CREATE TABLE {schema}.t (
           id int PRIMARY KEY,
           state text NOT NULL CONSTRAINT t_state_check CHECK (state IN ('open', 'closed')),
           parent int REFERENCES {schema}.parent (id),
           short varchar(3));
         CREATE TABLE {schema}.slots (during int4range, EXCLUDE USING gist (during WITH &&));
         INSERT INTO {schema}.slots VALUES ('[1,5)')"
    )))
    .execute(ctx.admin())
    .await
    .expect("create tables");
    let run = |sql: String| {
        let pool = ctx.admin().clone();
        async move {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&pool)
                .await
                .expect_err("the statement is refused")
        }
    };
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {schema}.t (id, state) VALUES (1, 'open')"
    )))
    .execute(ctx.admin())
    .await
    .expect("a valid row");
    let zero = run("SELECT 1/0".to_owned()).await;
    assert_eq!(
        xf_store::problem(&zero).status,
        422,
        "division by zero is a data error"
    );

    let dup = run(format!(
        "INSERT INTO {schema}.t (id, state) VALUES (1, 'open')"
    ))
    .await;
    let p = xf_store::problem(&dup);
    assert_eq!((p.status, p.code), (409, "conflict"));

    let check = run(format!(
        "INSERT INTO {schema}.t (id, state) VALUES (2, 'lost')"
    ))
    .await;
    let p = xf_store::problem(&check);
    assert_eq!((p.status, p.code), (422, "validation_failed"));
    assert_eq!(p.errors[0].field, "t_state_check");

    let null = run(format!("INSERT INTO {schema}.t (id) VALUES (3)")).await;
    let p = xf_store::problem(&null);
    assert_eq!((p.status, p.errors[0].field.as_str()), (422, "state"));

    let fk = run(format!(
        "INSERT INTO {schema}.t (id, state, parent) VALUES (4, 'open', 9)"
    ))
    .await;
    assert_eq!(xf_store::problem(&fk).status, 422);

    let long = run(format!(
        "INSERT INTO {schema}.t (id, state, short) VALUES (5, 'open', 'abcd')"
    ))
    .await;
    assert_eq!(xf_store::problem(&long).status, 422);

    let overlap = run(format!("INSERT INTO {schema}.slots VALUES ('[3,8)')")).await;
    let p = xf_store::problem(&overlap);
    assert_eq!((p.status, p.code), (409, "conflict"));

    let syntax = run(format!("SELEKT * FROM {schema}.t")).await;
    assert_eq!(
        xf_store::problem(&syntax).status,
        500,
        "a broken query is our fault"
    );

    let lone = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&ctx.database_url)
        .await
        .expect("pool");
    lone.close().await;
    let gone = sqlx::query("SELECT 1")
        .execute(&lone)
        .await
        .expect_err("closed pool");
    let p = xf_store::problem(&gone);
    assert_eq!(
        (p.status, p.code, p.retry_after),
        (503, "unavailable", Some(1))
    );
    ctx.cleanup().await;
}

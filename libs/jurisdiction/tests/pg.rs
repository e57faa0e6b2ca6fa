//! `xf_jurisdiction::pg` against a real Postgres (`XINFANG_TEST_DATABASE_URL`, by
//! default the local trust-auth server). Each test works in a fresh schema created
//! from the routing migration and dropped at the end.

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU32, Ordering};

use futures::FutureExt;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use xf_jurisdiction::pg::{self, ImportStats, PgImportError};
use xf_jurisdiction::{Code, Tier, Tree};

const MIGRATION: &str = include_str!("../../../services/routing/migrations/1001_divisions.sql");

fn url() -> String {
    std::env::var("XINFANG_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn schema_name() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u32(N.fetch_add(1, Ordering::Relaxed));
    format!("t_{:012x}_div", h.finish() & 0xffff_ffff_ffff)
}

/// Runs `body` with a pool whose search path is a fresh schema holding the division
/// tables; the schema is dropped afterwards, also when `body` panics.
async fn with_schema<F, Fut>(body: F)
where
    F: FnOnce(PgPool) -> Fut,
    Fut: Future<Output = ()>,
{
    let opts: PgConnectOptions = url().parse().expect("database URL");
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(opts.clone())
        .await
        .expect("connect to the test database");
    let schema = schema_name();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .expect("create schema");
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(opts.options([("search_path", schema.as_str())]))
        .await
        .expect("connect with the schema");
    let outcome = AssertUnwindSafe(async {
        sqlx::raw_sql(MIGRATION)
            .execute(&pool)
            .await
            .expect("migration");
        body(pool.clone()).await;
    })
    .catch_unwind()
    .await;
    pool.close().await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE"
    )))
    .execute(&admin)
    .await
    .expect("drop schema");
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

fn code(s: &str) -> Code {
    Code::parse(s).expect("valid code")
}

async fn rows(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM divisions")
        .fetch_one(pool)
        .await
        .expect("count")
}

async fn stored_name(pool: &PgPool, c: &str) -> Option<String> {
    sqlx::query_scalar("SELECT name FROM divisions WHERE code = $1")
        .bind(c)
        .fetch_optional(pool)
        .await
        .expect("name")
}

#[tokio::test]
async fn replace_then_load_round_trips() {
    with_schema(|pool| async move {
        assert_eq!(pg::version(&pool).await.expect("version"), 0);
        assert!(pg::load(&pool).await.expect("load").is_none());

        let tree = Tree::fixture().expect("fixture");
        let stats = pg::replace(&pool, &tree).await.expect("replace");
        assert_eq!(
            stats,
            ImportStats {
                counties: 1,
                townships: 14,
                villages: 218,
                version: 1
            }
        );
        assert_eq!(rows(&pool).await, 233);
        let (tiers, parents): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE tier = 3), \
                    count(*) FILTER (WHERE parent = substr(code, 1, length(code) - 3)) \
             FROM divisions",
        )
        .fetch_one(&pool)
        .await
        .expect("columns");
        assert_eq!((tiers, parents), (218, 232));

        let (back, version) = pg::load(&pool).await.expect("load").expect("stored");
        assert_eq!(version, 1);
        assert_eq!(back.len(), tree.len());
        assert_eq!(back.count(Tier::County), 1);
        assert_eq!(back.count(Tier::Township), 14);
        assert_eq!(back.count(Tier::Village), 218);
        for d in tree.divisions() {
            assert_eq!(back.name_of(&d.code), Some(d.name.as_str()));
        }
        assert_eq!(back.children(&code("330122")).len(), 14);

        // Replacing again swaps the rows rather than adding to them.
        let again = pg::replace(&pool, &tree).await.expect("replace again");
        assert_eq!(again.version, 2);
        assert_eq!(rows(&pool).await, 233);
        assert_eq!(pg::version(&pool).await.expect("version"), 2);
    })
    .await;
}

#[tokio::test]
async fn names_with_copy_specials_survive() {
    with_schema(|pool| async move {
        let body = "code,name\n\
                    330122,\"tab\there\"\n\
                    330122001,\"two\nlines\"\n\
                    330122001001,\"back\\slash \\N\"\n";
        let tree = Tree::from_combined_csv(body.as_bytes()).expect("valid body");
        pg::replace(&pool, &tree).await.expect("replace");
        assert_eq!(
            stored_name(&pool, "330122001001").await.as_deref(),
            Some("back\\slash \\N")
        );
        let (back, _) = pg::load(&pool).await.expect("load").expect("stored");
        assert_eq!(back.name_of(&code("330122")), Some("tab\there"));
        assert_eq!(back.name_of(&code("330122001")), Some("two\nlines"));
        assert_eq!(back.name_of(&code("330122001001")), Some("back\\slash \\N"));
    })
    .await;
}

#[tokio::test]
async fn replace_refuses_a_tree_with_orphans() {
    with_schema(|pool| async move {
        let tree = Tree::fixture().expect("fixture");
        pg::replace(&pool, &tree).await.expect("replace");
        let partial = Tree::from_combined_csv_partial("code,name\n330122002999,x\n".as_bytes())
            .expect("valid partial body");
        let err = pg::replace(&pool, &partial)
            .await
            .expect_err("orphans refused");
        assert!(
            matches!(err, sqlx::Error::InvalidArgument(ref m) if m.contains("330122002")),
            "{err}"
        );
        assert_eq!(rows(&pool).await, 233);
        assert_eq!(pg::version(&pool).await.expect("version"), 1);
    })
    .await;
}

#[tokio::test]
async fn upsert_adds_and_renames() {
    with_schema(|pool| async move {
        // Into an empty table: every parent is in the tree itself.
        let tree = Tree::fixture().expect("fixture");
        let stats = pg::upsert(&pool, &tree).await.expect("upsert all");
        assert_eq!(
            (
                stats.counties,
                stats.townships,
                stats.villages,
                stats.version
            ),
            (1, 14, 218, 1)
        );
        assert_eq!(rows(&pool).await, 233);

        let patch = Tree::from_combined_csv_partial(
            "code,name\n\
             330122002,旧县新街道\n\
             330122002999,新村\n\
             330122999,新镇\n\
             330122999001,新镇一村\n"
                .as_bytes(),
        )
        .expect("valid patch");
        let stats = pg::upsert(&pool, &patch).await.expect("upsert patch");
        assert_eq!(
            stats,
            ImportStats {
                counties: 0,
                townships: 2,
                villages: 2,
                version: 2
            }
        );
        assert_eq!(rows(&pool).await, 236);
        let (back, version) = pg::load(&pool).await.expect("load").expect("stored");
        assert_eq!(version, 2);
        assert_eq!(back.name_of(&code("330122002")), Some("旧县新街道"));
        assert_eq!(back.children(&code("330122")).len(), 15);
        assert_eq!(
            back.children(&code("330122999"))
                .first()
                .map(|d| d.name.as_str()),
            Some("新镇一村")
        );
        let parent: Option<String> =
            sqlx::query_scalar("SELECT parent FROM divisions WHERE code = '330122999001'")
                .fetch_one(&pool)
                .await
                .expect("parent");
        assert_eq!(parent.as_deref(), Some("330122999"));
    })
    .await;
}

#[tokio::test]
async fn upsert_with_a_missing_parent_writes_nothing() {
    with_schema(|pool| async move {
        let tree = Tree::fixture().expect("fixture");
        pg::replace(&pool, &tree).await.expect("replace");
        let patch = Tree::from_combined_csv_partial(
            "code,name\n\
             330122002,改名街道\n\
             330122002998,新村\n\
             330122777001,无主村\n"
                .as_bytes(),
        )
        .expect("valid patch");
        match pg::upsert(&pool, &patch).await {
            Err(PgImportError::MissingParent { code: c, parent }) => {
                assert_eq!((c, parent), (code("330122777001"), code("330122777")));
            }
            other => panic!("expected a missing parent, got {other:?}"),
        }
        assert_eq!(rows(&pool).await, 233);
        assert_eq!(
            stored_name(&pool, "330122002").await.as_deref(),
            Some("旧县街道")
        );
        assert_eq!(stored_name(&pool, "330122002998").await, None);
        assert_eq!(pg::version(&pool).await.expect("version"), 1);
    })
    .await;
}

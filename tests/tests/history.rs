//! The demo's year of history (`make demo` runs the same code against the local
//! stack): cases received over the last twelve months through the real services, a
//! spike in one township, last month's cases handled and rated — and reporting's
//! answers: last month's top categories, the worst-ranked unit and why, the spike as a
//! hotspot.

use xf_auth::{KeyAlgorithm, Signer};
use xf_jurisdiction::{Tier, Tree};
use xf_testkit::Ctx;

#[tokio::test]
async fn a_year_of_history_shows_the_top_categories_the_worst_unit_and_the_spike() {
    let mut ctx = Ctx::new().await.expect("context");
    xf_e2e::start_all(&mut ctx).await.expect("stack starts");
    let tree = Tree::fixture().expect("fixture");
    let county = tree.of_tier(Tier::County)[0].code.to_string();
    let villages: Vec<String> = tree
        .of_tier(Tier::Village)
        .iter()
        .map(|v| v.code.to_string())
        .collect();
    let township = tree.of_tier(Tier::Township)[1].code.to_string();
    let signer = Signer::from_pem(xf_testkit::DEV_PRIVATE_PEM.as_bytes(), KeyAlgorithm::EdDSA)
        .expect("signer");
    let found = xf_e2e::demo_history::run(
        &xf_testkit::http(),
        &xf_e2e::demo_history::Urls {
            intake: ctx.svc("intake").base_url.clone(),
            routing: ctx.svc("routing").base_url.clone(),
            reporting: ctx.svc("reporting").base_url.clone(),
        },
        &signer,
        &xf_e2e::demo_history::Plan {
            county: &county,
            villages: &villages,
            spike_township: &township,
            history: 72,
            spike: 8,
            closed: 3,
            person: 7_000,
        },
    )
    .await
    .expect("the history loads");
    assert_eq!(found.registered, 80);
    assert!(!found.last_month_top.is_empty(), "{found:?}");
    assert!(found.worst_unit.is_some(), "{found:?}");
    assert!(
        found
            .worst_why
            .iter()
            .any(|w| w.starts_with("satisfaction_rate") || w.starts_with("repeat_after")),
        "{found:?}"
    );
    assert!(
        found
            .hotspots
            .iter()
            .any(|h| h["method"] == "ears_c2" && h["category"] == "environment"),
        "{found:?}"
    );
    ctx.cleanup().await;
}

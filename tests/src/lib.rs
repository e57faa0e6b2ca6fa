//! Cross-service support: start the whole stack in-process for end-to-end tests.

pub mod bench;
pub mod chaos;
pub mod demo_history;
pub mod demo_loop;
pub mod demo_scheduling;

use xf_testkit::Ctx;

/// Starts all five services in `ctx`, each in its own schema and consumer group.
pub async fn start_all(ctx: &mut Ctx) -> anyhow::Result<()> {
    start_all_with(ctx, &[]).await
}

/// Like [`start_all`], with the same extra settings for every service (for example
/// `auth.audience`).
pub async fn start_all_with(ctx: &mut Ctx, extra: &[(&str, &str)]) -> anyhow::Result<()> {
    start(ctx, extra, &[]).await
}

/// Like [`start_all`], with settings of intake's own (for example
/// `open311.api_keys_file`).
pub async fn start_all_with_intake(ctx: &mut Ctx, intake: &[(&str, &str)]) -> anyhow::Result<()> {
    start(ctx, &[], intake).await
}

/// Like [`start_all`], with `extra` settings for every service and `intake`'s own.
pub async fn start_all_configured(
    ctx: &mut Ctx,
    extra: &[(&str, &str)],
    intake: &[(&str, &str)],
) -> anyhow::Result<()> {
    start(ctx, extra, intake).await
}

async fn start(
    ctx: &mut Ctx,
    extra: &[(&str, &str)],
    intake: &[(&str, &str)],
) -> anyhow::Result<()> {
    // intake asks routing (the reply) and supervision (due dates): they start first.
    let s = ctx.settings::<xf_routing::Ext>(&xf_routing::binary(), extra)?;
    let app = xf_routing::build(s).await?;
    ctx.spawn("routing", app);
    let s = ctx.settings::<xf_supervision::Ext>(&xf_supervision::binary(), extra)?;
    let app = xf_supervision::build(s).await?;
    ctx.spawn("supervision", app);
    let token_file = peer_token_file(ctx)?;
    let (routing, supervision) = (
        ctx.svc("routing").base_url.clone(),
        ctx.svc("supervision").base_url.clone(),
    );
    let mut with_peers: Vec<(&str, &str)> = extra.iter().chain(intake).copied().collect();
    with_peers.extend([
        ("peers.routing_url", routing.as_str()),
        ("peers.supervision_url", supervision.as_str()),
        ("peers.token_file", token_file.as_str()),
        // Tests follow the citizen's view closely; the budget itself is tested in intake.
        ("citizen.rate_per_minute", "6000"),
    ]);
    let s = ctx.settings::<xf_intake::Ext>(&xf_intake::binary(), &with_peers)?;
    let app = xf_intake::build(s).await?;
    ctx.spawn("intake", app);
    let s = ctx.settings::<xf_scheduling::Ext>(&xf_scheduling::binary(), extra)?;
    let app = xf_scheduling::build(s).await?;
    ctx.spawn("scheduling", app);
    let s = ctx.settings::<xf_reporting::Ext>(&xf_reporting::binary(), extra)?;
    let app = xf_reporting::build(s).await?;
    ctx.spawn("reporting", app);
    Ok(())
}

/// The token intake reads replies from routing with: an overseer of the test county.
pub fn peer_token_file(ctx: &Ctx) -> anyhow::Result<String> {
    let token = ctx.token(&[xf_auth::roles::SUPERVISOR], None, "330122");
    let path = std::env::temp_dir().join(format!("xinfang-{}-peer.token", ctx.id));
    std::fs::write(&path, token)?;
    Ok(path.to_string_lossy().into_owned())
}

/// The five services, in flow order.
pub const SERVICES: [&str; 5] = [
    "intake",
    "routing",
    "supervision",
    "scheduling",
    "reporting",
];

/// A complete, valid registration body for `channel` (letter, visit, phone, online),
/// with a made-up petitioner numbered `n`: for tests, the demo and the load generator.
pub fn sample_case(
    channel: &str,
    code: &str,
    category: &str,
    summary: &str,
    n: usize,
) -> serde_json::Value {
    let petitioner = serde_json::json!({
        "name": format!("测试{n}号"),
        "gender": if n.is_multiple_of(2) { "female" } else { "male" },
        "age": 30 + (n % 50),
        "phone": format!("139{:08}", n % 100_000_000),
    });
    let mut body = serde_json::json!({
        "channel": channel,
        "jurisdiction_code": code,
        "category": category,
        "summary": summary,
        "petitioners": [petitioner],
    });
    match channel {
        "letter" => {
            body["letter"] = serde_json::json!({"received_on": chrono::Utc::now().date_naive(), "envelope_condition": "intact"});
        }
        "visit" => {
            body["visit"] = serde_json::json!({"receiving_staff": ["reception-1", "reception-2"]});
        }
        _ => {}
    }
    body
}

//! Cross-service support: start the whole stack in-process for end-to-end tests.

pub mod bench;
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

async fn start(
    ctx: &mut Ctx,
    extra: &[(&str, &str)],
    intake: &[(&str, &str)],
) -> anyhow::Result<()> {
    let own: Vec<(&str, &str)> = extra.iter().chain(intake).copied().collect();
    let s = ctx.settings::<xf_intake::Ext>(&xf_intake::binary(), &own)?;
    let app = xf_intake::build(s).await?;
    ctx.spawn("intake", app);
    let s = ctx.settings::<xf_routing::Ext>(&xf_routing::binary(), extra)?;
    let app = xf_routing::build(s).await?;
    ctx.spawn("routing", app);
    let s = ctx.settings::<xf_supervision::Ext>(&xf_supervision::binary(), extra)?;
    let app = xf_supervision::build(s).await?;
    ctx.spawn("supervision", app);
    let s = ctx.settings::<xf_scheduling::Ext>(&xf_scheduling::binary(), extra)?;
    let app = xf_scheduling::build(s).await?;
    ctx.spawn("scheduling", app);
    let s = ctx.settings::<xf_reporting::Ext>(&xf_reporting::binary(), extra)?;
    let app = xf_reporting::build(s).await?;
    ctx.spawn("reporting", app);
    Ok(())
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

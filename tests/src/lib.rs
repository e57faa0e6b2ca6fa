//! Cross-service support: start the whole stack in-process for end-to-end tests.

use xf_testkit::Ctx;

/// Starts all five services in `ctx`, each in its own schema and consumer group.
pub async fn start_all(ctx: &mut Ctx) -> anyhow::Result<()> {
    let s = ctx.settings::<xf_intake::Ext>(&xf_intake::binary(), &[])?;
    let app = xf_intake::build(s).await?;
    ctx.spawn("intake", app);
    let s = ctx.settings::<xf_routing::Ext>(&xf_routing::binary(), &[])?;
    let app = xf_routing::build(s).await?;
    ctx.spawn("routing", app);
    let s = ctx.settings::<xf_supervision::Ext>(&xf_supervision::binary(), &[])?;
    let app = xf_supervision::build(s).await?;
    ctx.spawn("supervision", app);
    let s = ctx.settings::<xf_scheduling::Ext>(&xf_scheduling::binary(), &[])?;
    let app = xf_scheduling::build(s).await?;
    ctx.spawn("scheduling", app);
    let s = ctx.settings::<xf_reporting::Ext>(&xf_reporting::binary(), &[])?;
    let app = xf_reporting::build(s).await?;
    ctx.spawn("reporting", app);
    Ok(())
}

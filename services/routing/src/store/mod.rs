//! routing's SQL: nothing else touches its schema.

pub mod cases;
pub mod catalog;
pub mod consultation;
pub mod places;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;
use xf_bus::Outbox;
use xf_events::{Payload, tier_of_code};

/// Puts one event about a case into the outbox, in the case's transaction.
pub async fn emit(
    outbox: &Outbox,
    tx: &mut PgConnection,
    case_id: Uuid,
    code: &str,
    at: DateTime<Utc>,
    payload: Payload,
) -> Result<(), sqlx::Error> {
    let env = xf_events::envelope(
        case_id,
        crate::SERVICE,
        tier_of_code(code),
        code,
        at,
        payload,
    );
    outbox.put(tx, &env).await
}

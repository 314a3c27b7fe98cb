//! Webhook deliveries: queued when a folder's analyses finish, claimed with a lease by the
//! delivery loop, retried with backoff, kept across restarts.

use uuid::Uuid;

use crate::dynq;

use crate::model::Delivery;
use crate::{Backend, Db, Result, StoreError, now};

/// A delivery's state, for inspection.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryState {
    pub id: Uuid,
    pub state: String,
    pub attempts: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
}

impl Db {
    /// Claims the next due delivery.
    pub async fn claim_delivery(&self, lease_s: f64) -> Result<Option<Delivery>> {
        let t = now();
        let lock = if self.backend() == Backend::Postgres { "for update skip locked" } else { "" };
        let sql = format!(
            "update webhook_deliveries set lease_until = $1, attempts = attempts + 1 where id = \
             (select id from webhook_deliveries where state = 'pending' and next_attempt_at <= $2 and \
             (lease_until is null or lease_until < $2) order by next_attempt_at, id limit 1 {lock}) \
             returning id, folder_id, url, body, attempts"
        );
        let row = dynq(sql.clone()).bind(t + lease_s).bind(t).fetch_optional(&self.pool).await?;
        match row {
            None => Ok(None),
            Some(r) => Ok(Some(Delivery {
                id: crate::model::id(&r, "id")?,
                folder_id: crate::model::id(&r, "folder_id")?,
                url: crate::model::s(&r, "url")?,
                body: crate::model::os(&r, "body")?,
                attempts: crate::model::i(&r, "attempts")?,
            })),
        }
    }

    /// Fixes the body of a delivery at its first attempt, so retries send the same event.
    pub async fn set_delivery_body(&self, id: Uuid, body: &str) -> Result<()> {
        sqlx::query("update webhook_deliveries set body = $2 where id = $1 and body is null")
            .bind(id.to_string())
            .bind(body)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn delivery_done(&self, id: Uuid, status: i64) -> Result<()> {
        sqlx::query(
            "update webhook_deliveries set state = 'delivered', last_status = $2, delivered_at = $3, lease_until = null, \
             last_error = null where id = $1",
        )
        .bind(id.to_string())
        .bind(status)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records a failed attempt: retried at `next_attempt_at`, or given up when `None`.
    pub async fn delivery_failed(
        &self,
        id: Uuid,
        status: Option<i64>,
        error: &str,
        next_attempt_at: Option<f64>,
    ) -> Result<()> {
        sqlx::query(
            "update webhook_deliveries set state = $2, last_status = $3, last_error = $4, next_attempt_at = $5, \
             lease_until = null where id = $1",
        )
        .bind(id.to_string())
        .bind(if next_attempt_at.is_some() { "pending" } else { "failed" })
        .bind(status)
        .bind(error)
        .bind(next_attempt_at.unwrap_or_else(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn deliveries_of_folder(&self, folder_id: Uuid) -> Result<Vec<DeliveryState>> {
        let rows = sqlx::query("select * from webhook_deliveries where folder_id = $1 order by time_created, id")
            .bind(folder_id.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(DeliveryState {
                    id: crate::model::id(r, "id")?,
                    state: crate::model::s(r, "state")?,
                    attempts: crate::model::i(r, "attempts")?,
                    last_status: crate::model::oi(r, "last_status")?,
                    last_error: crate::model::os(r, "last_error")?,
                })
            })
            .collect::<Result<Vec<_>>>()
            .map_err(|e: StoreError| e)
    }
}

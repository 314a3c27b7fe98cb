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
    pub url: String,
    pub state: String,
    pub attempts: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub time_created: f64,
    pub next_attempt_at: f64,
    pub delivered_at: Option<f64>,
    pub request_id: Option<String>,
}

/// The company of a folder and its own webhook secret.
#[derive(Clone, PartialEq)]
pub struct WebhookSigning {
    pub company_id: Option<Uuid>,
    pub secret: Option<String>,
}

impl std::fmt::Debug for WebhookSigning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSigning")
            .field("company_id", &self.company_id)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Queues a delivery of `folder`'s webhook to `url` in `tx`, due at once; answers its id (the
/// `X-Oz-Event-Id` of every attempt).
pub(crate) async fn queue_delivery(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    folder: Uuid,
    url: &str,
    t: f64,
) -> Result<Uuid> {
    let id = Uuid::new_v4();
    sqlx::query(
        "insert into webhook_deliveries (id, folder_id, url, state, attempts, next_attempt_at, time_created) \
         values ($1, $2, $3, 'pending', 0, $4, $4)",
    )
    .bind(id.to_string())
    .bind(folder.to_string())
    .bind(url)
    .bind(t)
    .execute(&mut **tx)
    .await?;
    Ok(id)
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
             returning id, folder_id, url, body, attempts, request_id"
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
                request_id: crate::model::os(&r, "request_id")?,
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

    /// Gives a claimed delivery back without counting an attempt, due again at `next_attempt_at`
    /// (its host had no free delivery slot).
    pub async fn delivery_deferred(&self, id: Uuid, next_attempt_at: f64) -> Result<()> {
        sqlx::query(
            "update webhook_deliveries set attempts = case when attempts > 0 then attempts - 1 else 0 end, \
             lease_until = null, next_attempt_at = $2 where id = $1 and state = 'pending'",
        )
        .bind(id.to_string())
        .bind(next_attempt_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Sets (or replaces) a company's webhook signing secret.
    pub async fn set_company_webhook_secret(&self, company_id: Uuid, secret: &str) -> Result<f64> {
        let t = now();
        sqlx::query(
            "insert into company_webhook_secrets (company_id, secret, time_updated) values ($1, $2, $3) \
             on conflict (company_id) do update set secret = excluded.secret, time_updated = excluded.time_updated",
        )
        .bind(company_id.to_string())
        .bind(secret)
        .bind(t)
        .execute(&self.pool)
        .await?;
        Ok(t)
    }

    /// Removes a company's webhook secret (its webhooks fall back to `OZ_WEBHOOK_SECRET`);
    /// `NotFound` when it had none.
    pub async fn delete_company_webhook_secret(&self, company_id: Uuid) -> Result<()> {
        let r = sqlx::query("delete from company_webhook_secrets where company_id = $1")
            .bind(company_id.to_string())
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    /// When a company's webhook secret was last set, if it has one (the secret itself is never
    /// read back through the API).
    pub async fn company_webhook_secret_time(&self, company_id: Uuid) -> Result<Option<f64>> {
        let row = sqlx::query("select time_updated from company_webhook_secrets where company_id = $1")
            .bind(company_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| crate::model::f(&r, "time_updated")).transpose()
    }

    /// How to sign a folder's webhook: its company and that company's secret, if any; `NotFound`
    /// when the folder is gone.
    pub async fn webhook_signing(&self, folder_id: Uuid) -> Result<WebhookSigning> {
        let row = sqlx::query(
            "select f.company_id as company_id, s.secret as secret from folders f \
             left join company_webhook_secrets s on s.company_id = f.company_id where f.id = $1",
        )
        .bind(folder_id.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok(WebhookSigning {
            company_id: crate::model::oid(&row, "company_id")?,
            secret: crate::model::os(&row, "secret")?,
        })
    }

    /// A folder's deliveries, oldest first.
    pub async fn deliveries_of_folder(&self, folder_id: Uuid) -> Result<Vec<DeliveryState>> {
        let rows = sqlx::query("select * from webhook_deliveries where folder_id = $1 order by time_created, id")
            .bind(folder_id.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(DeliveryState {
                    id: crate::model::id(r, "id")?,
                    url: crate::model::s(r, "url")?,
                    state: crate::model::s(r, "state")?,
                    attempts: crate::model::i(r, "attempts")?,
                    last_status: crate::model::oi(r, "last_status")?,
                    last_error: crate::model::os(r, "last_error")?,
                    time_created: crate::model::f(r, "time_created")?,
                    next_attempt_at: crate::model::f(r, "next_attempt_at")?,
                    delivered_at: crate::model::of(r, "delivered_at")?,
                    request_id: crate::model::os(r, "request_id")?,
                })
            })
            .collect::<Result<Vec<_>>>()
            .map_err(|e: StoreError| e)
    }
}

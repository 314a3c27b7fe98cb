//! Liveness challenges (issue 20): the sequences of actions issued to capture sessions. A row is
//! written when a challenge is issued and marked used, once, by the analysis that takes it; the
//! rules (who may use it, until when) are `oz_domain::challenge`'s. Expired rows are purged by the
//! lifecycle sweeper. `capture_folders` remembers which capture session (SDK session token)
//! uploaded a folder, so that it may read that folder back.

use oz_domain::challenge::{Action, ChallengeFacts};
use uuid::Uuid;

use crate::model::{f, id, of, s};
use crate::{Db, Result, StoreError};

/// An issued challenge.
#[derive(Debug, Clone, PartialEq)]
pub struct Challenge {
    pub id: Uuid,
    /// `None`: issued to a user of no company.
    pub company_id: Option<Uuid>,
    pub user_id: Uuid,
    pub actions: Vec<Action>,
    pub time_created: f64,
    pub expires_at: f64,
    pub used_at: Option<f64>,
}

impl Challenge {
    fn from_row(r: &sqlx::any::AnyRow) -> Result<Self> {
        let company = s(r, "company_id")?;
        let actions: Vec<String> = serde_json::from_str(&s(r, "actions")?)
            .map_err(|e| StoreError::Corrupt(format!("challenge actions: {e}")))?;
        let actions = actions
            .iter()
            .map(|a| Action::parse(a).ok_or_else(|| StoreError::Corrupt(format!("challenge action {a:?}"))))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            id: id(r, "id")?,
            company_id: if company.is_empty() {
                None
            } else {
                Some(company.parse().map_err(|_| StoreError::Corrupt(format!("challenge company {company:?}")))?)
            },
            user_id: id(r, "user_id")?,
            actions,
            time_created: f(r, "time_created")?,
            expires_at: f(r, "expires_at")?,
            used_at: of(r, "used_at")?,
        })
    }

    /// What `oz_domain::challenge::check_use` needs.
    #[must_use]
    pub fn facts(&self) -> ChallengeFacts {
        ChallengeFacts { company_id: self.company_id, expires_at: self.expires_at, used: self.used_at.is_some() }
    }
}

fn company_key(company_id: Option<Uuid>) -> String {
    company_id.map(|c| c.to_string()).unwrap_or_default()
}

impl Db {
    /// Stores a challenge issued now to `user_id` of `company_id`, valid `ttl_s` seconds.
    pub async fn create_challenge(
        &self,
        company_id: Option<Uuid>,
        user_id: Uuid,
        actions: &[Action],
        ttl_s: f64,
    ) -> Result<Challenge> {
        let t = crate::now();
        let names: Vec<&str> = actions.iter().map(|a| a.as_str()).collect();
        let c = Challenge {
            id: Uuid::new_v4(),
            company_id,
            user_id,
            actions: actions.to_vec(),
            time_created: t,
            expires_at: t + ttl_s,
            used_at: None,
        };
        sqlx::query(
            "insert into liveness_challenges (id, company_id, user_id, actions, time_created, expires_at) \
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(c.id.to_string())
        .bind(company_key(company_id))
        .bind(user_id.to_string())
        .bind(serde_json::Value::from(names).to_string())
        .bind(c.time_created)
        .bind(c.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(c)
    }

    /// One challenge, whoever it belongs to (the caller checks with `check_use`).
    pub async fn challenge(&self, challenge_id: Uuid) -> Result<Option<Challenge>> {
        let row = sqlx::query(
            "select id, company_id, user_id, actions, time_created, expires_at, used_at from liveness_challenges \
             where id = $1",
        )
        .bind(challenge_id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(Challenge::from_row).transpose()
    }

    /// Challenges of `company_id` issued and neither used nor expired at `now`: what the company
    /// holds open, for the limit on outstanding challenges.
    pub async fn open_challenges(&self, company_id: Option<Uuid>, now: f64) -> Result<i64> {
        let row = sqlx::query(
            "select count(*) as n from liveness_challenges where company_id = $1 and expires_at > $2 \
             and used_at is null",
        )
        .bind(company_key(company_id))
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        crate::model::i(&row, "n")
    }

    /// Marks the challenge used at `now`, if it is still unused and unexpired: true when this call
    /// took it. Of two concurrent calls exactly one gets true (one conditional update). The
    /// analysis that verifies it keeps its id in `confs`.
    pub async fn use_challenge(&self, challenge_id: Uuid, now: f64) -> Result<bool> {
        let done = sqlx::query(
            "update liveness_challenges set used_at = $2 where id = $1 and used_at is null and expires_at > $2",
        )
        .bind(challenge_id.to_string())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes challenges that expired before `before` (epoch seconds); the rows deleted.
    pub async fn purge_challenges(&self, before: f64) -> Result<u64> {
        let done = sqlx::query("delete from liveness_challenges where expires_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Records that the capture session `session_id` (the `jti` of an SDK session token) uploaded
    /// `folder_id`: that session may read the folder back (`GET /api/folders/{id}/`), and no
    /// other folder. The row goes with the folder.
    pub async fn bind_capture_folder(&self, folder_id: Uuid, session_id: Uuid) -> Result<()> {
        sqlx::query("insert into capture_folders (folder_id, session_id) values ($1, $2)")
            .bind(folder_id.to_string())
            .bind(session_id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The capture session that uploaded `folder_id`, if one did.
    pub async fn capture_session_of(&self, folder_id: Uuid) -> Result<Option<Uuid>> {
        let row = sqlx::query("select session_id from capture_folders where folder_id = $1")
            .bind(folder_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| id(&r, "session_id")).transpose()
    }
}

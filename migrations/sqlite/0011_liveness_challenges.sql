-- Liveness challenges (issue 20): a random sequence of actions issued for one capture session,
-- used by at most one QUALITY analysis before it expires (the analysis keeps the challenge's id
-- in its confs). company_id is '' for a user of no company (an ADMIN); actions is a JSON array of
-- action names in the order they are asked for.

create table liveness_challenges (
    id text primary key,
    company_id text not null default '',
    user_id text not null,
    actions text not null,
    time_created real not null,
    expires_at real not null,
    used_at real
);
create index liveness_challenges_company on liveness_challenges(company_id, expires_at);
create index liveness_challenges_expiry on liveness_challenges(expires_at);

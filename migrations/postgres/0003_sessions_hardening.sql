-- Accounts and sessions hardening (issue #6, section 5).

-- Emails are stored trimmed and lower-case, and unique whatever their case. If two existing
-- accounts differ only by case or surrounding spaces this migration stops with a unique-constraint
-- error: rename or delete one of them, then start again.
update users set email = lower(trim(email));
create unique index users_email_ci on users (lower(email));

-- A refresh chain ("family"): the session created at login and every pair refreshed from it share
-- the login session's id. Reusing a spent refresh token revokes the whole family.
alter table sessions add column family_id text;
update sessions set family_id = id where family_id is null;
create index sessions_family on sessions (family_id);

-- Refresh (expire) tokens already exchanged, by sha256, kept while their family has a session.
create table spent_refresh_tokens (
    expire_hash text primary key,
    family_id text not null,
    time_spent double precision not null
);
create index spent_refresh_tokens_family on spent_refresh_tokens (family_id);

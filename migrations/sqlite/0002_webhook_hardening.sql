-- Per-company webhook signing secrets (HMAC keys cannot be hashed: kept as given, never returned
-- by GET company). Removed with the company.
create table company_webhook_secrets (
    company_id text primary key references companies(id) on delete cascade,
    secret text not null,
    time_updated real not null
);

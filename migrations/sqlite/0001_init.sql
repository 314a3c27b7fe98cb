-- openoz schema, SQLite flavour. Portable types shared with the PostgreSQL schema:
-- ids are UUID strings (TEXT), times are UNIX epoch seconds (REAL/DOUBLE: Oz reports floats),
-- JSON documents are TEXT, flags are INTEGER 0/1 (sqlx's Any driver reads them the same way on both).

create table companies (
    id text primary key,
    name text not null,
    meta_data text not null default '{}',
    time_created real not null
);

create table users (
    id text primary key,
    email text not null unique,
    password_hash text not null,
    user_type text not null,
    company_id text references companies(id) on delete cascade,
    is_admin integer not null default 0,
    is_service integer not null default 0,
    can_start_quality integer not null default 1,
    can_start_biometry integer not null default 1,
    can_start_collection integer not null default 1,
    first_name text,
    last_name text,
    middle_name text,
    meta_data text not null default '{}',
    time_created real not null
);
create index users_company on users(company_id);

-- Tokens are stored as sha256 hashes: a leaked database does not leak live sessions.
create table sessions (
    id text primary key,
    user_id text not null references users(id) on delete cascade,
    access_hash text not null unique,
    expire_hash text not null unique,
    expire_at real not null,
    ttl_s real not null,
    -- the pair this one replaced at refresh; removed the first time this pair is used
    predecessor_id text,
    time_created real not null
);
create index sessions_user on sessions(user_id);

create table folders (
    id text primary key,
    company_id text,
    user_id text,
    resolution_endpoint text,
    resolution_status text not null,
    system_resolution text not null,
    resolution_comment text not null default '[]',
    operator_comment text,
    operator_status text,
    resolution_time real,
    resolution_author_id text,
    meta_data text not null default '{}',
    technical_meta_data text not null default '{}',
    time_created real not null,
    time_updated real not null
);
create index folders_company_time on folders(company_id, time_created);
create index folders_user_time on folders(user_id, time_created);
create index folders_time on folders(time_created);

create table media (
    id text primary key,
    folder_id text not null references folders(id) on delete cascade,
    company_id text,
    user_id text,
    media_type text not null,
    original_name text not null,
    file_name text not null,
    mime_type text not null,
    size integer not null,
    md5 text not null,
    info text not null,
    tags text not null default '[]',
    meta_data text not null default '{}',
    technical_meta_data text not null default '{}',
    -- for analysis outputs (best shots): the media they were made from and the analysis
    source_media_id text,
    analysis_id text,
    time_created real not null,
    time_updated real not null
);
create index media_folder on media(folder_id, time_created);

create table analyses (
    id text primary key,
    folder_id text not null references folders(id) on delete cascade,
    company_id text,
    user_id text,
    group_id text not null,
    type text not null,
    state text not null,
    resolution_status text not null,
    confs text not null default '{}',
    source_media text not null default '[]',
    results_data text,
    results_media text not null default '[]',
    error_code integer,
    error_message text,
    meta_data text not null default '{}',
    technical_meta_data text not null default '{}',
    time_created real not null,
    time_updated real not null
);
create index analyses_folder on analyses(folder_id, time_created);

-- The durable queue: one job per analysis. A job is claimed with a lease; a worker that dies
-- stops renewing it and the job is claimed again once the lease has passed.
create table jobs (
    id text primary key,
    analysis_id text not null references analyses(id) on delete cascade,
    state text not null,            -- queued | running | done | failed
    attempts integer not null default 0,
    run_after real not null,
    lease_until real,
    worker text,
    last_error text,
    time_created real not null,
    time_updated real not null
);
create index jobs_ready on jobs(state, run_after);

-- Webhook deliveries survive restarts; the id is the event id sent to the receiver.
create table webhook_deliveries (
    id text primary key,
    folder_id text not null,
    url text not null,
    body text,
    state text not null,            -- pending | delivered | failed
    attempts integer not null default 0,
    next_attempt_at real not null,
    lease_until real,
    last_error text,
    last_status integer,
    delivered_at real,
    time_created real not null
);
create index webhooks_due on webhook_deliveries(state, next_attempt_at);

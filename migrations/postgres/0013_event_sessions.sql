-- SDK telemetry sessions (spec §15: Oz's gw_logging_event_session / gw_logging_event_record):
-- a session per capture, its events in the order sent. Listed by GET /api/event_sessions/.
-- `capture_session` is the SDK session token (its jti) that created it, which may append to it.

create table event_sessions (
    id text primary key,
    company_id text,
    user_id text,
    capture_session text,
    meta_data text not null,
    events bigint not null,
    time_created double precision not null,
    time_updated double precision not null
);
create index event_sessions_company on event_sessions (company_id, time_created);
create index event_sessions_created on event_sessions (time_created);

create table event_records (
    session_id text not null references event_sessions(id) on delete cascade,
    seq bigint not null,
    timemark double precision not null,
    event text not null,
    data text not null,
    time_created double precision not null,
    primary key (session_id, seq)
);

-- Event sessions are capped per SDK session token (OZ_EVENT_SESSIONS_PER_TOKEN) and per company a
-- day (OZ_EVENT_SESSIONS_PER_DAY): the token count is read by capture_session.
create index event_sessions_capture on event_sessions (capture_session);

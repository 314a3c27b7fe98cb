-- Files and data lifecycle (issue 6, section 6).

-- Stored files are looked up by name when served (`GET /static/{file}`) and by the file sweeper.
create index media_file_name on media(file_name);

-- When a worker last started the job: analyses expire counting from here, not from creation,
-- so a queued backlog is not failed.
alter table jobs add column started_at real;
create index jobs_started on jobs(state, started_at);
-- Finished jobs are purged after OZ_JOB_RETENTION.
create index jobs_updated on jobs(state, time_updated);

-- Deliveries are removed with their folder and purged after OZ_WEBHOOK_RETENTION.
create index webhooks_folder on webhook_deliveries(folder_id);

-- Server-wide secrets generated at first start (the key that signs direct file links), shared by
-- every process on this database.
create table server_secrets (
    name text primary key,
    value text not null,
    time_created real not null
);

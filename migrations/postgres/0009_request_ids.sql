-- Request ids (issue 8, observability): the X-Request-Id of the HTTP request that queued a job,
-- so the worker that runs it (possibly in another process) logs the same `request_id`; and the
-- id carried on to the webhook delivery that job's result queued. NULL for older rows and for
-- work not started by a request.

alter table jobs add column request_id text;
alter table webhook_deliveries add column request_id text;

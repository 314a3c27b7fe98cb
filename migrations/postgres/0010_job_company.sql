-- Fair queue (issue 19): a job carries the company of its analysis's folder ('' for a folder of
-- no company: one group of its own), so a worker picks the company with the fewest running jobs,
-- then the one served longest ago, then its oldest job; and a company's queued-or-running jobs are
-- counted for OZ_COMPANY_QUEUE_LIMIT. Both without a join, on these two indexes.

alter table jobs add column company_id text not null default '';
update jobs set company_id = coalesce((select a.company_id from analyses a where a.id = jobs.analysis_id), '');
create index jobs_company on jobs(company_id, state);
create index jobs_company_started on jobs(company_id, started_at);

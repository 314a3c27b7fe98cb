-- Operator decisions (spec §3.1, §4.2, §8): an OPERATOR or CLIENT OPERATOR sets the final verdict of
-- a finished analysis; who decided, when and why are kept on the analysis, and every decision in
-- an audit trail (before, after, comment) that outlives later decisions.

alter table analyses add column resolution_operator text;
alter table analyses add column operator_comment text;
alter table analyses add column resolution_time real;

create table resolution_audit (
    id text primary key,
    analysis_id text not null,
    folder_id text not null,
    company_id text,
    user_id text not null,
    user_email text not null,
    before_status text not null,
    after_status text not null,
    comment text,
    time_created real not null
);
create index resolution_audit_analysis on resolution_audit(analysis_id, time_created);
create index resolution_audit_folder on resolution_audit(folder_id, time_created);
create index resolution_audit_company on resolution_audit(company_id, time_created);

-- From alerts to cases to escalations to filings, for the period.
with a as (
    select * from alerts where window_start >= $from_ts and window_start < $to_ts
)
select
    (select count(*) from a) as alerts,
    (select count(distinct case_id) from a) as cases,
    (select count(distinct a.case_id) from a join case_status l on l.case_id = a.case_id
      where l.decision = 'ESCALATE') as escalated,
    (select count(distinct case_id) from a where case_id in ($filed_cases)) as filed

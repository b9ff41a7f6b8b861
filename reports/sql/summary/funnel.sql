-- From alerts to cases to escalations to filings, for the period.
with a as (
    select * from alerts where window_start >= $from_ts and window_start < $to_ts
),
latest as (
    select case_id, decision,
           row_number() over (partition by case_id order by decided_at desc, decision_id desc) as rn
    from case_decisions
)
select
    (select count(*) from a) as alerts,
    (select count(distinct case_id) from a) as cases,
    (select count(distinct a.case_id) from a join latest l on l.case_id = a.case_id and l.rn = 1
      where l.decision = 'ESCALATE') as escalated,
    (select count(distinct case_id) from a where case_id in ($filed_cases)) as filed

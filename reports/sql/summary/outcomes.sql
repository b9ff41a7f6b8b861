-- Per rule: what officers decided about the cases its alerts are in (the latest decision
-- per case), and how many of those cases were filed. `$filed_cases` lists the cases in
-- filed suspicious-transaction reports, from the filing ledger.
with a as (
    select a.rule_id, a.case_id, l.decision
    from alerts a
    left join case_status l on l.case_id = a.case_id
    where a.window_start >= $from_ts and a.window_start < $to_ts
)
select
    rule_id,
    count(*) as alerts,
    sum(case when decision is null then 1 else 0 end) as undecided,
    sum(case when decision = 'FALSE_POSITIVE' then 1 else 0 end) as false_positive,
    sum(case when decision = 'NO_ACTION' then 1 else 0 end) as no_action,
    sum(case when decision = 'ESCALATE' then 1 else 0 end) as escalated,
    sum(case when case_id in ($filed_cases) then 1 else 0 end) as filed
from a
group by rule_id
order by rule_id

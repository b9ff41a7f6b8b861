-- Alerts by rule: how many, for how many subjects, how many snoozed
select
    pack,
    rule_id,
    severity,
    count(*) as alerts,
    count(distinct subject_id) as subjects,
    sum(case when status = 'SUPPRESSED' then 1 else 0 end) as suppressed,
    sum(txn_count) as transactions
from alerts
group by pack, rule_id, severity
order by pack, rule_id

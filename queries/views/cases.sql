-- One case per subject: its alerts, the rules that raised them, and how much is still open.
select
    case_id,
    subject_type,
    subject_id,
    count(*) as alerts,
    sum(case when status = 'OPEN' then 1 else 0 end) as open_alerts,
    count(distinct rule_id) as rules,
    array_to_string(array_agg(distinct rule_id), ', ') as rule_ids,
    max(case severity when 'critical' then 4 when 'high' then 3 when 'medium' then 2 else 1 end) as max_severity,
    min(window_start) as first_activity,
    max(window_end) as last_activity,
    sum(txn_count) as transactions
from alerts
group by case_id, subject_type, subject_id

-- Cases with alerts in the period, and the latest officer decision on each.
select
    a.case_id, a.subject_type, a.subject_id,
    count(*) as alerts,
    count(distinct a.rule_id) as rules,
    array_to_string(array_agg(distinct a.rule_id order by a.rule_id), ' ') as rule_ids,
    min(a.window_start) as first_activity,
    max(a.window_end) as last_activity,
    sum(a.txn_count) as transactions,
    max(l.decision) as decision,
    max(l.reason) as decision_reason,
    max(l.author) as decided_by,
    max(l.decided_at) as decided_at
from alerts a
left join case_status l on l.case_id = a.case_id
where a.window_start >= $from_ts and a.window_start < $to_ts
group by a.case_id, a.subject_type, a.subject_id
order by a.case_id

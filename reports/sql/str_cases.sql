-- Suspicious-transaction reports: the alerts in the period of every case whose latest
-- officer decision is ESCALATE, with the transactions behind them.
with escalated as (
    select
        a.case_id, a.subject_type, a.subject_id, a.alert_id, a.rule_id, a.rule_version,
        a.severity, a.figures, a.window_start, a.window_end, a.txn_ids,
        l.reason as decision_reason, l.author as decided_by
    from alerts a
    join case_status l on l.case_id = a.case_id and l.decision = 'ESCALATE'
    where a.window_start < $to_ts and a.window_end >= $from_ts
),
lineage as (
    select case_id, alert_id, unnest(txn_ids) as txn_id from escalated
)
select
    e.case_id, e.subject_type, e.subject_id, e.alert_id, e.rule_id, e.rule_version, e.severity,
    e.figures, e.window_start, e.window_end, e.decision_reason, e.decided_by,
    tp.*
from escalated e
join lineage l on l.alert_id = e.alert_id
join txn_parties tp on tp.txn_id = l.txn_id
order by e.case_id, tp.ts, tp.txn_id, e.alert_id

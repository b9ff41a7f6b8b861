-- Alerts whose activity starts in the period, with their lineage, for review outside custos.
select
    alert_id, case_id, rule_id, rule_version, pack, subject_type, subject_id,
    window_start, window_end, severity, score, status, suppression_id, figures,
    txn_count, txn_ids, first_run_id, last_run_id
from alerts
where window_start >= $from_ts and window_start < $to_ts
order by window_start, alert_id

-- Large-value transaction reports (goAML CTR, PBOC HVTR): every alert of the large-value rules raised in the
-- period (a reporting obligation, so snoozed alerts are reported too), with the
-- transactions behind it. `$rules` is the list of large-value rule ids.
with lv as (
    select alert_id, rule_id, subject_id, figures, window_start, window_end, txn_ids
    from alerts
    where rule_id in ($rules) and window_start >= $from_ts and window_start < $to_ts
),
lineage as (
    select alert_id, unnest(txn_ids) as txn_id from lv
)
select
    lv.alert_id, lv.rule_id, lv.subject_id, lv.figures, lv.window_start,
    tp.*
from lv
join lineage l on l.alert_id = lv.alert_id
join txn_parties tp on tp.txn_id = l.txn_id
-- A large-value alert covers one reporting day of the period, so its transactions do too:
-- saying so lets the scan skip every other day's partition.
where tp.report_date between $from and $to
order by lv.window_start, lv.subject_id, lv.rule_id, lv.alert_id, tp.ts, tp.txn_id

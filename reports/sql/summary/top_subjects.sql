-- The subjects with the most alerts in the period.
select
    subject_type, subject_id, case_id, count(*) as alerts,
    count(distinct rule_id) as rules,
    array_to_string(array_agg(distinct rule_id), ', ') as rule_ids,
    sum(txn_count) as transactions
from alerts
where window_start >= $from_ts and window_start < $to_ts
group by subject_type, subject_id, case_id
order by alerts desc, subject_id
limit 15

-- Alerts raised in the period per rule, with how many are open or snoozed, and the
-- reporting-currency value of the transactions behind them.
with a as (
    select * from alerts where window_start >= $from_ts and window_start < $to_ts
),
amounts as (
    select l.rule_id, cast(sum(t.amount_reporting) as decimal(22, 4)) as amount
    from (select rule_id, unnest(txn_ids) as txn_id from a) l
    join transactions t on t.txn_id = l.txn_id
    group by l.rule_id
)
select
    a.rule_id, a.pack, max(a.severity) as severity, count(*) as alerts,
    sum(case when a.status = 'OPEN' then 1 else 0 end) as open_alerts,
    sum(case when a.status = 'SUPPRESSED' then 1 else 0 end) as suppressed,
    count(distinct a.subject_id) as subjects,
    sum(a.txn_count) as transactions,
    max(m.amount) as amount
from a
left join amounts m on m.rule_id = a.rule_id
group by a.rule_id, a.pack
order by alerts desc, a.rule_id

/*---
id = "aml.aggregated_cash"
title = "Aggregated significant cash"
description = """
Cash deposits and withdrawals of one customer that add up to RMB 50,000 or more over 30 days
while no single day reaches it: many smaller cash movements that together are significant."""
regulation = "PBOC suspicious-transaction guidance (frequent cash just under reporting lines)"
source = "DOMAIN.md typologies (aggregated significant cash: sum of smaller cash transactions over 14 or 30 days >= T)"
severity = "medium"
subject_type = "customer"
typologies = ["aggregated_cash"]
owner = "compliance-engineering"
version = 1

[params.threshold]
type = "money"
default = "50000"
unit = "CNY"

[params.window]
type = "duration"
default = "29 days"
description = "Days before the current one in the rolling sum (29: a 30-day window)"
---*/
with cash as (
    select customer_id, txn_id, ts, report_date, amount_reporting
    from flows
    where cash and report_date between $from and $to
),
daily as (
    select customer_id, report_date, cast(sum(amount_reporting) as decimal(18, 4)) as day_total
    from cash
    group by customer_id, report_date
),
rolling as (
    select customer_id, report_date, day_total,
        cast(sum(day_total) over (partition by customer_id order by report_date
            range between $window preceding and current row) as decimal(18, 4)) as total,
        max(day_total) over (partition by customer_id order by report_date
            range between $window preceding and current row) as biggest_day
    from daily
),
hits as (
    select customer_id, report_date as end_date, total
    from rolling
    where total >= $threshold and biggest_day < $threshold
),
members as (
    select distinct c.customer_id, c.txn_id, c.ts, h.total
    from hits h
    join cash c on c.customer_id = h.customer_id
        and c.report_date <= h.end_date and c.report_date >= h.end_date - $window
)
select
    customer_id as subject_id,
    min(ts) as window_start,
    max(ts) as window_end,
    cast(max(total) as double) / cast($threshold as double) as score,
    array_agg(distinct txn_id) as txn_ids,
    max(total) as largest_30_day_total
from members
group by customer_id

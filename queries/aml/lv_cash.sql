/*---
id = "aml.lv_cash"
title = "Large-value cash"
description = """
Cash deposits (CASH_IN) or withdrawals (CASH_OUT) of one customer, on one reporting day, in one
direction, that reach RMB 50,000 (RMB cash, summed in RMB) or USD 10,000 (foreign-currency cash,
summed in USD equivalent at the day's rates). Either fires. A reporting obligation, not a
suspicion: every alert is a large-value transaction report to file."""
regulation = "PBOC Order 2016 No. 3 (large-value and suspicious transaction reporting), Art. 5: cash"
source = "Thresholds as reproduced in DOMAIN.md (two secondary sources agree)"
severity = "critical"
subject_type = "customer"
typologies = ["large_cash"]
owner = "compliance-engineering"
version = 1

[params.rmb_threshold]
type = "money"
default = "50000"
unit = "CNY"
description = "RMB cash per customer, day and direction (inclusive)"

[params.usd_threshold]
type = "money"
default = "10000"
unit = "USD"
description = "Foreign-currency cash in USD equivalent per customer, day and direction (inclusive)"
---*/
with cash as (
    select
        f.*,
        case when f.currency = 'USD' then f.amount
             else cast(f.amount_reporting / r.usd_rate as decimal(18, 4)) end as amount_usd
    from flows f
    left join usd_rates r on r.rate_date = f.report_date
    where f.cash and f.report_date between $from and $to
),
daily as (
    select
        customer_id, report_date, direction,
        cast(sum(case when currency = 'CNY' then amount else 0 end) as decimal(18, 4)) as rmb_total,
        cast(sum(case when currency <> 'CNY' then amount_usd else 0 end) as decimal(18, 4)) as usd_total,
        count(*) as txns,
        min(ts) as window_start,
        max(ts) as window_end,
        array_agg(txn_id) as txn_ids
    from cash
    group by customer_id, report_date, direction
)
select
    customer_id as subject_id, window_start, window_end,
    greatest(cast(rmb_total as double) / cast($rmb_threshold as double),
             cast(usd_total as double) / cast($usd_threshold as double)) as score,
    txn_ids, report_date, direction, rmb_total, usd_total, txns
from daily
where rmb_total >= $rmb_threshold or usd_total >= $usd_threshold

/*---
id = "aml.us_ctr"
title = "US currency transaction report"
description = """
Cash of one customer, on one reporting day, in one direction, whose USD equivalent (all
currencies converted at the day's rates) exceeds USD 10,000. Strictly greater, as the
regulation says. For institutions that also file to FinCEN."""
regulation = "31 CFR 1010.311 (currency transaction report)"
source = "DOMAIN.md reporting thresholds"
severity = "high"
subject_type = "customer"
typologies = []
owner = "compliance-engineering"
version = 1

[params.usd_threshold]
type = "money"
default = "10000"
unit = "USD"
description = "Cash in USD equivalent per customer, day and direction (exclusive)"
---*/
with cash as (
    select
        f.*,
        case when f.currency = 'USD' then f.amount
             else cast(f.amount_reporting / r.usd_rate as decimal(18, 4)) end as amount_usd
    from flows f
    join usd_rates r on r.rate_date = f.report_date
    where f.cash and f.report_date between $from and $to
),
daily as (
    select
        customer_id, report_date, direction,
        cast(sum(amount_usd) as decimal(18, 4)) as usd_total,
        count(*) as txns,
        min(ts) as window_start,
        max(ts) as window_end,
        array_agg(txn_id) as txn_ids
    from cash
    group by customer_id, report_date, direction
)
select
    customer_id as subject_id, window_start, window_end,
    cast(usd_total as double) / cast($usd_threshold as double) as score,
    txn_ids, report_date, direction, usd_total, txns
from daily
where usd_total > $usd_threshold

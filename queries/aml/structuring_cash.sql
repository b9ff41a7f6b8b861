/*---
id = "aml.structuring_cash"
title = "Structuring below the cash threshold"
description = """
At least three successful cash transactions of one customer (deposits or withdrawals) within
72 hours, each at or above 90% of the RMB cash reporting threshold and below it: amounts
chosen to stay just under the line that would make them reportable."""
regulation = "PBOC Order 2016 No. 3 (suspicious transactions: avoiding reporting thresholds)"
source = "DOMAIN.md typologies (structuring, Oracle FCCM / Tazama defaults); the exact semantics of the rule library issue"
severity = "high"
subject_type = "customer"
typologies = ["structuring"]
owner = "compliance-engineering"
version = 1

[params.threshold]
type = "money"
default = "50000"
unit = "CNY"
description = "The reporting threshold being avoided"

[params.band]
type = "decimal"
default = "0.9"
description = "Lower edge of the band below the threshold, as a share of it"

[params.min_count]
type = "count"
default = "3"
unit = "transactions"

[params.window]
type = "duration"
default = "72 hours"
---*/
with cash as (
    select customer_id, txn_id, ts, amount_reporting
    from flows
    where cash
      and report_date between $from and $to
      and amount_reporting >= cast($threshold * $band as decimal(18, 4))
      and amount_reporting < $threshold
),
counted as (
    select customer_id, ts,
        count(*) over (partition by customer_id order by ts range between $window preceding and current row) as n
    from cash
),
ends as (
    select distinct customer_id, ts as end_ts from counted where n >= $min_count
),
members as (
    select distinct c.customer_id, c.txn_id, c.ts, c.amount_reporting
    from cash c
    join ends e on e.customer_id = c.customer_id and c.ts between e.end_ts - $window and e.end_ts
)
select
    customer_id as subject_id,
    min(ts) as window_start,
    max(ts) as window_end,
    cast(count(*) as double) / $min_count as score,
    array_agg(txn_id) as txn_ids,
    count(*) as txns,
    cast(sum(amount_reporting) as decimal(18, 4)) as total
from members
group by customer_id

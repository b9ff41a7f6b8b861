/*---
id = "aml.pass_through"
title = "Rapid pass-through"
description = """
An inflow of at least CNY 5,000 to a personal account leaves again within 24 hours, keeping 90% to 100% of it. The account is a conduit."""
regulation = "PBOC suspicious-transaction guidance (funds in and out quickly)"
source = "DOMAIN.md typologies (rapid movement of funds: outflow within 10% of inflow in 24 h; with commission c around 10%)"
severity = "high"
subject_type = "account"
typologies = ["pass_through"]
owner = "compliance-engineering"
version = 1

[params.min_amount]
type = "money"
default = "5000"
unit = "CNY"

[params.window]
type = "duration"
default = "24 hours"

[params.min_ratio]
type = "decimal"
default = "0.9"
description = "Outflow at least this share of the inflow"

[params.max_ratio]
type = "decimal"
default = "1"
description = "Outflow at most this share of the inflow"
---*/
with t as (
    select txn_id, ts, payer_account as a, payee_account as b, amount_reporting as amt
    from transactions
    where status = 'SUCCESS' and txn_type in ('TRANSFER', 'CASH_IN', 'CASH_OUT', 'WITHDRAWAL')
      and report_date between $from and $to and amount_reporting >= $min_amount
),
personal as (
    select account_id from accounts where account_class in ('I', 'II', 'III')
),
pairs as (
    select i.b as account, i.txn_id as in_id, o.txn_id as out_id, i.ts as in_ts, o.ts as out_ts
    from t i
    join personal p on p.account_id = i.b
    join t o on o.a = i.b and o.ts > i.ts and o.ts <= i.ts + $window
        and o.amt >= cast(i.amt * $min_ratio as decimal(18, 4))
        and o.amt <= cast(i.amt * $max_ratio as decimal(18, 4))
)
select
    account as subject_id,
    min(in_ts) as window_start,
    max(out_ts) as window_end,
    cast(count(*) as double) as score,
    array_distinct(array_concat(array_agg(in_id), array_agg(out_id))) as txn_ids,
    count(*) as pairs
from pairs
group by account

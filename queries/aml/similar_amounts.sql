/*---
id = "aml.similar_amounts"
title = "Many similar amounts"
description = """
At least five transfers from one personal account within 24 hours whose amounts are all within
10% of one another: scripted payouts or splitting a sum into look-alike parts."""
regulation = "PBOC suspicious-transaction guidance"
source = "DOMAIN.md typologies (many similar amounts: >= 5 transactions within +-10% in 24 h)"
severity = "medium"
subject_type = "account"
typologies = ["similar_amounts"]
owner = "compliance-engineering"
version = 1

[params.min_count]
type = "count"
default = "5"

[params.window]
type = "duration"
default = "24 hours"

[params.spread]
type = "decimal"
default = "0.1"
description = "Largest relative distance from the anchor amount"

[params.min_amount]
type = "money"
default = "500"
unit = "CNY"
---*/
with t as (
    select t.txn_id, t.ts, t.payer_account, t.amount_reporting as amt
    from transfers t
    join accounts a on a.account_id = t.payer_account
    where t.report_date between $from and $to and t.amount_reporting >= $min_amount
      and a.account_class in ('I', 'II', 'III')
),
-- Each transfer under the key of its own time bin and of the next one: a window ending in
-- bin b starts in bin b or b - 1, so joining on (account, bin) pairs a transfer only with
-- its neighbours in time (see fan_out.sql).
binned as (
    select *, date_bin($window, ts) as bin from t
    union all
    select *, date_bin($window, ts) + $window as bin from t
),
anchored as (
    select x.payer_account, x.txn_id as anchor, y.txn_id, y.ts
    from t x
    join binned y on y.payer_account = x.payer_account and y.bin = date_bin($window, x.ts)
        and y.ts between x.ts - $window and x.ts
        and y.amt >= cast(x.amt * (1 - $spread) as decimal(18, 4))
        and y.amt <= cast(x.amt * (1 + $spread) as decimal(18, 4))
),
groups as (
    select payer_account, anchor from anchored group by payer_account, anchor having count(*) >= $min_count
),
members as (
    select distinct a.payer_account, a.txn_id, a.ts
    from anchored a
    join groups g on g.payer_account = a.payer_account and g.anchor = a.anchor
)
select
    payer_account as subject_id,
    min(ts) as window_start,
    max(ts) as window_end,
    cast(count(*) as double) / $min_count as score,
    array_agg(txn_id) as txn_ids,
    count(*) as txns
from members
group by payer_account

/*---
id = "aml.cycle"
title = "Funds travel in a cycle"
description = """
Transfers that leave an account and come back to it through two to four other accounts, each
hop within 48 hours of the previous one and keeping at least 80% of the amount: round-tripping
to fake turnover or layer funds. One alert per cycle, on the account it starts from (only
the first hop in time closes a cycle whose hops follow each other)."""
regulation = "PBOC suspicious-transaction guidance (circular transfers)"
source = "DOMAIN.md typologies (cycle A->B->C->A; IBM AMLSim cycle pattern)"
severity = "high"
subject_type = "account"
typologies = ["cycle"]
owner = "compliance-engineering"
version = 2

[params.min_amount]
type = "money"
default = "5000"
unit = "CNY"
description = "Smallest hop worth following"

[params.hop]
type = "duration"
default = "48 hours"
description = "Longest wait between two hops"

[params.min_ratio]
type = "decimal"
default = "0.8"
description = "Each hop keeps at least this share of the previous one"
[params.account_classes]
type = "text"
default = "I|II|III"
description = "Classes of the subject account, |-separated: personal accounts by default (company-to-company flows are business as usual)"
---*/
with t as (
    select txn_id, ts, payer_account as a, payee_account as b, amount_reporting as amt
    from transfers
    where report_date between $from and $to and amount_reporting >= $min_amount
),
-- Each transfer under the key of its own time bin and of the one before: a transfer within
-- one window after another lies in the same bin or the next, so joining on (account, bin)
-- pairs it only with its neighbours in time, not with every transfer of a busy account.
binned as (
    select *, date_bin($hop, ts) as bin from t
    union all
    select *, date_bin($hop, ts) - $hop as bin from t
),
hop2 as (
    select t1.a as start, t1.txn_id as i1, t2.txn_id as i2, t2.b as at, t1.ts as first_ts, t2.ts as last_ts, t2.amt as amt,
        t1.b as n1, t2.b as n2
    from t t1
    join binned t2 on t2.a = t1.b and t2.bin = date_bin($hop, t1.ts) and t2.ts > t1.ts and t2.ts <= t1.ts + $hop
        and t2.amt <= t1.amt and t2.amt >= cast(t1.amt * $min_ratio as decimal(18, 4))
    where t2.b <> t1.a
),
c3 as (
    select h.start, h.first_ts, t3.ts as last_ts, make_array(h.i1, h.i2, t3.txn_id) as txn_ids, 3 as accounts
    from hop2 h
    join t t3 on t3.a = h.at and t3.b = h.start and t3.ts > h.last_ts and t3.ts <= h.last_ts + $hop
        and t3.amt <= h.amt and t3.amt >= cast(h.amt * $min_ratio as decimal(18, 4))
),
hop3 as (
    select h.start, h.first_ts, t3.ts as last_ts, h.i1, h.i2, t3.txn_id as i3, t3.b as at, t3.amt as amt, h.n1, h.n2
    from hop2 h
    join t t3 on t3.a = h.at and t3.ts > h.last_ts and t3.ts <= h.last_ts + $hop
        and t3.amt <= h.amt and t3.amt >= cast(h.amt * $min_ratio as decimal(18, 4))
    where t3.b <> h.start and t3.b <> h.n1
),
c4 as (
    select h.start, h.first_ts, t4.ts as last_ts, make_array(h.i1, h.i2, h.i3, t4.txn_id) as txn_ids, 4 as accounts
    from hop3 h
    join t t4 on t4.a = h.at and t4.b = h.start and t4.ts > h.last_ts and t4.ts <= h.last_ts + $hop
        and t4.amt <= h.amt and t4.amt >= cast(h.amt * $min_ratio as decimal(18, 4))
),
c5 as (
    select h.start, h.first_ts, t5.ts as last_ts, make_array(h.i1, h.i2, h.i3, t4.txn_id, t5.txn_id) as txn_ids, 5 as accounts
    from hop3 h
    join t t4 on t4.a = h.at and t4.ts > h.last_ts and t4.ts <= h.last_ts + $hop
        and t4.amt <= h.amt and t4.amt >= cast(h.amt * $min_ratio as decimal(18, 4))
        and t4.b <> h.start and t4.b <> h.n1 and t4.b <> h.n2
    join t t5 on t5.a = t4.b and t5.b = h.start and t5.ts > t4.ts and t5.ts <= t4.ts + $hop
        and t5.amt <= t4.amt and t5.amt >= cast(t4.amt * $min_ratio as decimal(18, 4))
),
cycles as (
    select * from c3
    union all
    select * from c4
    union all
    select * from c5
)
select
    start as subject_id,
    first_ts as window_start,
    last_ts as window_end,
    cast(accounts as double) as score,
    txn_ids,
    accounts
from cycles
join accounts a on a.account_id = cycles.start
where array_has(string_to_array($account_classes, '|'), a.account_class)

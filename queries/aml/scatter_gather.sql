/*---
id = "aml.scatter_gather"
title = "Scatter-gather through intermediaries"
description = """
One account sends transfers to at least three intermediaries, each of which forwards at least
90% of what it received to one and the same account within 24 hours: funds split up to cross
accounts and gathered again."""
regulation = "PBOC suspicious-transaction guidance (layering)"
source = "DOMAIN.md typologies (scatter-gather; IBM AMLSim)"
severity = "high"
subject_type = "account"
typologies = ["scatter_gather"]
owner = "compliance-engineering"
version = 2

[params.min_amount]
type = "money"
default = "1000"
unit = "CNY"

[params.min_intermediaries]
type = "count"
default = "3"
unit = "accounts"

[params.hop]
type = "duration"
default = "24 hours"

[params.min_ratio]
type = "decimal"
default = "0.9"
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
legs as (
    select s.a as source, s.b as mid, g.b as sink, s.txn_id as out_id, g.txn_id as fwd_id, s.ts as out_ts, g.ts as fwd_ts
    from t s
    join binned g on g.a = s.b and g.bin = date_bin($hop, s.ts) and g.ts > s.ts and g.ts <= s.ts + $hop
        and g.amt <= s.amt and g.amt >= cast(s.amt * $min_ratio as decimal(18, 4))
    join accounts a on a.account_id = s.a
    where g.b <> s.a and array_has(string_to_array($account_classes, '|'), a.account_class)
)
select
    source as subject_id,
    min(out_ts) as window_start,
    max(fwd_ts) as window_end,
    cast(count(distinct mid) as double) / $min_intermediaries as score,
    array_distinct(array_concat(array_agg(out_id), array_agg(fwd_id))) as txn_ids,
    sink,
    count(distinct mid) as intermediaries
from legs
group by source, sink
having count(distinct mid) >= $min_intermediaries

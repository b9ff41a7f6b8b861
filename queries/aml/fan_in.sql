/*---
id = "aml.fan_in"
title = "Fan-in: many senders to one account"
description = """
An account receives successful transfers from at least five distinct senders within 24 hours
(convergence): collection for a mule, a scam, or an informal remitter."""
regulation = "PBOC suspicious-transaction guidance; FATF money-mule indicators"
source = "DOMAIN.md typologies (fan-in: >= 5 distinct senders in 24 h, IBM AMLSim / Tazama)"
severity = "medium"
subject_type = "account"
typologies = ["fan_in"]
owner = "compliance-engineering"
version = 2

[params.min_counterparties]
type = "count"
default = "5"
unit = "senders"

[params.window]
type = "duration"
default = "24 hours"
[params.account_classes]
type = "text"
default = "I|II|III"
description = "Classes of the subject account, |-separated: personal accounts by default (company-to-company flows are business as usual)"
---*/
with t as (
    select txn_id, ts, payer_account, payee_account
    from transfers
    where report_date between $from and $to
),
-- Each transfer under the key of its own time bin and of the next one: a window ending in
-- bin b starts in bin b or b - 1, so joining on (account, bin) pairs a transfer only with
-- its neighbours in time (see fan_out.sql).
binned as (
    select *, date_bin($window, ts) as bin from t
    union all
    select *, date_bin($window, ts) + $window as bin from t
),
windows as (
    select r.payee_account as account, r.ts as end_ts, count(distinct s.payer_account) as senders
    from t r
    join binned s on s.payee_account = r.payee_account and s.bin = date_bin($window, r.ts)
        and s.ts between r.ts - $window and r.ts
    group by r.payee_account, r.ts
),
members as (
    select distinct s.payee_account as account, s.txn_id, s.ts, s.payer_account
    from windows w
    join t s on s.payee_account = w.account and s.ts between w.end_ts - $window and w.end_ts
    join accounts a on a.account_id = w.account
    where w.senders >= $min_counterparties
      and array_has(string_to_array($account_classes, '|'), a.account_class)
)
select
    account as subject_id,
    min(ts) as window_start,
    max(ts) as window_end,
    cast(count(distinct payer_account) as double) / $min_counterparties as score,
    array_agg(txn_id) as txn_ids,
    count(distinct payer_account) as senders
from members
group by account

/*---
id = "aml.fan_out"
title = "Fan-out: one account to many receivers"
description = """
An account sends successful transfers to at least five distinct receivers within 8 hours
(divergence): distribution of proceeds, layering."""
regulation = "PBOC suspicious-transaction guidance"
source = "DOMAIN.md typologies (fan-out: one sender to >= 5 distinct receivers in 8 h, IBM AMLSim / Tazama)"
severity = "medium"
subject_type = "account"
typologies = ["fan_out"]
owner = "compliance-engineering"
version = 1

[params.min_counterparties]
type = "count"
default = "5"
unit = "receivers"

[params.window]
type = "duration"
default = "8 hours"
---*/
with t as (
    select txn_id, ts, payer_account, payee_account
    from transfers
    where report_date between $from and $to
),
-- Each transfer under the key of its own time bin and of the next one: a window ending in
-- bin b starts in bin b or b - 1, so joining on (account, bin) pairs a transfer only with
-- its neighbours in time. On the account alone, a sender with thousands of transfers would
-- pair each with all the others before the time condition dropped them.
binned as (
    select *, date_bin($window, ts) as bin from t
    union all
    select *, date_bin($window, ts) + $window as bin from t
),
windows as (
    select r.payer_account as account, r.ts as end_ts, count(distinct s.payee_account) as receivers
    from t r
    join binned s on s.payer_account = r.payer_account and s.bin = date_bin($window, r.ts)
        and s.ts between r.ts - $window and r.ts
    group by r.payer_account, r.ts
),
members as (
    select distinct s.payer_account as account, s.txn_id, s.ts, s.payee_account
    from windows w
    join t s on s.payer_account = w.account and s.ts between w.end_ts - $window and w.end_ts
    where w.receivers >= $min_counterparties
)
select
    account as subject_id,
    min(ts) as window_start,
    max(ts) as window_end,
    cast(count(distinct payee_account) as double) / $min_counterparties as score,
    array_agg(txn_id) as txn_ids,
    count(distinct payee_account) as receivers
from members
group by account

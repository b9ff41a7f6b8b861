/*---
id = "aml.dormant_reactivation"
title = "Dormant account reactivated"
description = """
An account with no transaction for at least 90 days moves at least CNY 10,000 within 14 days
of its first new transaction. Idle accounts that wake up with significant flows are bought,
rented or taken over."""
regulation = "PBOC suspicious-transaction guidance (sudden activity on dormant accounts)"
source = "DOMAIN.md typologies (dormant account reactivation: >= 90 days idle, then significant activity)"
severity = "medium"
subject_type = "account"
typologies = ["dormant_reactivation"]
owner = "compliance-engineering"
version = 2

[params.idle]
type = "duration"
default = "90 days"

[params.burst]
type = "duration"
default = "14 days"

[params.min_amount]
type = "money"
default = "10000"
unit = "CNY"
---*/
with own as (
    select account_id from accounts where account_class in ('AGENT', 'INTERNAL')
),
acts as (
    select payer_account as account_id, txn_id, ts, amount_reporting
    from transactions
    where status = 'SUCCESS' and report_date <= $to and payer_account not in (select account_id from own)
    union all
    select payee_account as account_id, txn_id, ts, amount_reporting
    from transactions
    where status = 'SUCCESS' and report_date <= $to and payee_account not in (select account_id from own)
),
-- A gap of at least `idle` between two consecutive events never falls inside one bin `idle`
-- wide, so it is the gap between the last event of a bin and the first of the account's
-- next busy bin. Comparing busy bins (a few per account) finds exactly the wakes that
-- `lag(ts)` over every event would, without sorting every event.
bins as (
    select account_id, min(ts) as first_ts, max(ts) as last_ts
    from acts
    group by account_id, date_bin($idle, ts)
),
lagged as (
    select account_id, first_ts, lag(last_ts) over (partition by account_id order by first_ts) as prev_ts
    from bins
),
wakes as (
    select account_id, first_ts as wake_ts, prev_ts
    from lagged
    where prev_ts is not null and prev_ts <= first_ts - $idle and first_ts >= cast($from as timestamp)
),
bursts as (
    select w.account_id, w.wake_ts, w.prev_ts, a.txn_id, a.ts, a.amount_reporting
    from wakes w
    join acts a on a.account_id = w.account_id and a.ts >= w.wake_ts and a.ts < w.wake_ts + $burst
)
select
    account_id as subject_id,
    min(ts) as window_start,
    max(ts) as window_end,
    cast(sum(amount_reporting) as double) / cast($min_amount as double) as score,
    array_agg(txn_id) as txn_ids,
    min(prev_ts) as last_before,
    cast(sum(amount_reporting) as decimal(18, 4)) as moved
from bursts
group by account_id, wake_ts
having cast(sum(amount_reporting) as decimal(18, 4)) >= $min_amount

/*---
id = "aml.new_account_activity"
title = "New account, high activity"
description = """
A personal account that moves RMB 50,000 or more (in and out together) within 30 days of being
opened: accounts opened to pass money through before anyone looks."""
regulation = "PBOC suspicious-transaction guidance (new accounts with large flows)"
source = "DOMAIN.md typologies (new account, high activity)"
severity = "medium"
subject_type = "account"
typologies = ["new_account_activity"]
owner = "compliance-engineering"
version = 1

[params.age]
type = "duration"
default = "30 days"

[params.min_amount]
type = "money"
default = "50000"
unit = "CNY"
---*/
with young as (
    select account_id, opened_at from accounts
    where account_class in ('I', 'II', 'III') and opened_at >= cast($from as timestamp) - $age
),
moves as (
    select y.account_id, y.opened_at, t.txn_id, t.ts, t.amount_reporting
    from transactions t
    join young y on y.account_id = t.payer_account
    where t.status = 'SUCCESS' and t.report_date between $from and $to and t.ts < y.opened_at + $age
    union all
    select y.account_id, y.opened_at, t.txn_id, t.ts, t.amount_reporting
    from transactions t
    join young y on y.account_id = t.payee_account
    where t.status = 'SUCCESS' and t.report_date between $from and $to and t.ts < y.opened_at + $age
)
select
    account_id as subject_id,
    min(ts) as window_start,
    max(ts) as window_end,
    cast(sum(amount_reporting) as double) / cast($min_amount as double) as score,
    array_agg(txn_id) as txn_ids,
    min(opened_at) as opened_at,
    cast(sum(amount_reporting) as decimal(18, 4)) as moved
from moves
group by account_id
having cast(sum(amount_reporting) as decimal(18, 4)) >= $min_amount

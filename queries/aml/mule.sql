/*---
id = "aml.mule"
title = "Mule: many small inbound transfers, then a cash-out"
description = """
An account receives small transfers (each under CNY 3,000) from at least eight distinct payers
within 72 hours and then withdraws at least 80% of them in cash: a collection account
cashing out for someone else."""
regulation = "PBOC suspicious-transaction guidance; FATF money-mule indicators"
source = "DOMAIN.md typologies (mule patterns: many small inbound from distinct payers, then a cash-out)"
severity = "high"
subject_type = "account"
typologies = ["mule"]
owner = "compliance-engineering"
version = 1

[params.max_inbound]
type = "money"
default = "3000"
unit = "CNY"

[params.min_payers]
type = "count"
default = "8"

[params.window]
type = "duration"
default = "72 hours"

[params.min_share]
type = "decimal"
default = "0.8"
description = "Cash-out at least this share of the inbound sum"
---*/
with inbound as (
    select payee_account as account, txn_id, ts, payer_account, amount_reporting as amt
    from transfers
    where amount_reporting < $max_inbound and report_date between $from and $to
),
cashout as (
    select payer_account as account, txn_id, ts, amount_reporting as amt
    from transactions
    where status = 'SUCCESS' and txn_type = 'CASH_OUT' and report_date between $from and $to
),
windows as (
    select c.account, c.txn_id as cash_id, c.ts as cash_ts, c.amt as cash_amt,
        count(distinct i.payer_account) as payers,
        cast(sum(i.amt) as decimal(18, 4)) as inflow,
        array_agg(i.txn_id) as ids,
        min(i.ts) as first_ts
    from cashout c
    join inbound i on i.account = c.account and i.ts between c.ts - $window and c.ts
    group by c.account, c.txn_id, c.ts, c.amt
)
select
    account as subject_id,
    first_ts as window_start,
    cash_ts as window_end,
    cast(payers as double) / $min_payers as score,
    array_append(ids, cash_id) as txn_ids,
    payers,
    inflow,
    cash_amt
from windows
where payers >= $min_payers and cash_amt >= cast(inflow * $min_share as decimal(18, 4))

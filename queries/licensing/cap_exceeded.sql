/*---
id = "licensing.cap_exceeded"
title = "Per-transaction cap of the licence exceeded"
description = """
A cross-border transaction above the per-transaction cap of the corridor's valid licence, in
the cap's currency (the transaction's own amount when the currencies agree, else converted
through the day's rates)."""
regulation = "Payment licensing per jurisdiction and corridor (PBOC payment licence; HK MSO; SG MPI; EU EMI passporting; US state MTLs)"
source = "DOMAIN.md (cross-border licensing checks); the institution's own licences table"
severity = "high"
subject_type = "account"
typologies = ["licence_cap"]
owner = "compliance-engineering"
version = 1
---*/
with x as (
    select txn_id, ts, report_date, payer_account, payer_country, payee_country, currency, amount,
        amount_reporting, fx_rate, settlement_currency
    from transactions
    where status = 'SUCCESS' and payer_country <> payee_country and report_date between $from and $to
),
capped as (
    select x.*, l.licence_id, l.max_txn_amount, l.cap_currency,
        case when l.cap_currency = x.currency then x.amount
             else cast(x.amount_reporting / r.rate as decimal(18, 4)) end as amount_in_cap
    from x
    join licences l on l.corridor_from = x.payer_country and l.corridor_to = x.payee_country
        and l.status = 'ACTIVE' and l.valid_from <= x.report_date
        and (l.valid_to is null or x.report_date <= l.valid_to)
        and l.max_txn_amount is not null and array_has(l.currencies, x.currency)
    left join fx_rates r on r.rate_date = x.report_date and r.currency = l.cap_currency
),
breaches as (
    select *, payer_country || '-' || payee_country || ' ' || licence_id as corridor
    from capped
    where amount_in_cap > max_txn_amount
)
select
    payer_account as subject_id,
    min(ts) as window_start,
    max(ts) as window_end,
    cast(count(*) as double) as score,
    array_agg(txn_id) as txn_ids,
    array_to_string(array_agg(distinct corridor), ',') as corridors,
    count(*) as txns
from breaches
group by payer_account

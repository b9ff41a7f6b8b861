/*---
id = "licensing.uncovered_corridor"
title = "Corridor not covered by any licence"
description = """
A cross-border transaction in a corridor (payer country to payee country) for which the
institution holds no licence at all."""
regulation = "Payment licensing per jurisdiction and corridor (PBOC payment licence; HK MSO; SG MPI; EU EMI passporting; US state MTLs)"
source = "DOMAIN.md (cross-border licensing checks); the institution's own licences table"
severity = "high"
subject_type = "account"
typologies = ["licence_uncovered_corridor"]
owner = "compliance-engineering"
version = 1
---*/
with x as (
    select txn_id, ts, report_date, payer_account, payer_country, payee_country, currency, amount,
        amount_reporting, fx_rate, settlement_currency
    from transactions
    where status = 'SUCCESS' and payer_country <> payee_country and report_date between $from and $to
),
corridors as (
    select distinct corridor_from, corridor_to from licences
),
breaches as (
    select x.*, x.payer_country || '-' || x.payee_country as corridor
    from x
    left join corridors c on c.corridor_from = x.payer_country and c.corridor_to = x.payee_country
    where c.corridor_from is null
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

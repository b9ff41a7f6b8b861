/*---
id = "licensing.licence_inactive"
title = "Licence expired or suspended on the day"
description = """
A cross-border transaction in a corridor whose licences were none of them active and valid on
the transaction's day: expired (past valid_to, whatever the status says), suspended or revoked."""
regulation = "Payment licensing per jurisdiction and corridor (PBOC payment licence; HK MSO; SG MPI; EU EMI passporting; US state MTLs)"
source = "DOMAIN.md (cross-border licensing checks); the institution's own licences table"
severity = "high"
subject_type = "account"
typologies = ["licence_expired", "licence_suspended"]
owner = "compliance-engineering"
version = 1
---*/
with x as (
    select txn_id, ts, report_date, payer_account, payer_country, payee_country, currency, amount,
        amount_reporting, fx_rate, settlement_currency
    from transactions
    where status = 'SUCCESS' and payer_country <> payee_country and report_date between $from and $to
),
status as (
    select x.txn_id,
        max(case when l.status = 'ACTIVE' and l.valid_from <= x.report_date
                  and (l.valid_to is null or x.report_date <= l.valid_to) then 1 else 0 end) as covered
    from x
    join licences l on l.corridor_from = x.payer_country and l.corridor_to = x.payee_country
    group by x.txn_id
),
breaches as (
    select x.*, x.payer_country || '-' || x.payee_country as corridor
    from x
    join status s on s.txn_id = x.txn_id
    where s.covered = 0
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

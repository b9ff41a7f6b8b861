/*---
id = "licensing.travel_rule_data"
title = "Cross-border transfer without originator or beneficiary data"
description = """
A cross-border transfer of USD 1,000 equivalent or more whose originator or beneficiary lacks
the data that must travel with it: a name, and a country of residence (or, for a business, of
registration), as recorded for the customer behind the account."""
regulation = "FATF Recommendation 16 (wire transfers); PBOC cross-border payment rules"
source = "DOMAIN.md (FATF R.16: cross-border >= USD/EUR 1,000 carry full originator and beneficiary data)"
severity = "medium"
subject_type = "account"
typologies = []
owner = "compliance-engineering"
version = 1

[params.usd_threshold]
type = "money"
default = "1000"
unit = "USD"
---*/
with x as (
    select t.txn_id, t.ts, t.payer_account, t.payee_account, t.payer_country || '-' || t.payee_country as corridor,
        case when t.currency = 'USD' then t.amount else cast(t.amount_reporting / r.usd_rate as decimal(18, 4)) end as amount_usd
    from transactions t
    join usd_rates r on r.rate_date = t.report_date
    where t.status = 'SUCCESS' and t.txn_type = 'TRANSFER' and t.payer_country <> t.payee_country
      and t.report_date between $from and $to
),
parties as (
    select a.account_id,
        c.full_name is not null and c.full_name <> '' and c.residence_country is not null as complete
    from accounts a
    join customers c on c.customer_id = a.customer_id
),
breaches as (
    select x.*
    from x
    left join parties o on o.account_id = x.payer_account
    left join parties b on b.account_id = x.payee_account
    where x.amount_usd >= $usd_threshold and (not coalesce(o.complete, false) or not coalesce(b.complete, false))
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

/*---
id = "aml.high_risk_geography"
title = "Counterparty in a FATF-listed jurisdiction"
description = """
Cross-border transactions of a customer whose other side is a country on the FATF lists in
force on the transaction's day (the latest plenary list dated on or before it): high-risk
jurisdictions subject to a call for action, and jurisdictions under increased monitoring."""
regulation = "FATF Recommendation 19 (higher-risk countries); PBOC enhanced due diligence"
source = "FATF public statements, as in the country_risk table (data/examples/country_risk.csv)"
severity = "high"
subject_type = "customer"
typologies = ["high_risk_geography"]
owner = "compliance-engineering"
version = 1
---*/
with x as (
    select customer_id, txn_id, ts, report_date, payer_country, payee_country
    from flows
    where cross_border and report_date between $from and $to
),
versions as (
    select distinct as_of from country_risk
),
in_force as (
    select x.txn_id, max(v.as_of) as as_of
    from x
    join versions v on v.as_of <= x.report_date
    group by x.txn_id
),
hits as (
    select distinct x.customer_id, x.txn_id, x.ts, r.iso2
    from x
    join in_force f on f.txn_id = x.txn_id
    join country_risk r on r.as_of = f.as_of and (r.iso2 = x.payer_country or r.iso2 = x.payee_country)
)
select
    customer_id as subject_id,
    min(ts) as window_start,
    max(ts) as window_end,
    cast(count(distinct txn_id) as double) as score,
    array_agg(distinct txn_id) as txn_ids,
    array_to_string(array_agg(distinct iso2), ',') as countries
from hits
group by customer_id

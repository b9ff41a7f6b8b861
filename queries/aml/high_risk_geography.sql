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
-- The list in force is a property of the day, not of the transaction: resolve it for the
-- days in range (dozens) and join the transactions to the day's listed countries by
-- equality, one join per side.
days as (
    select distinct report_date from transactions where report_date between $from and $to
),
in_force as (
    select d.report_date, max(v.as_of) as as_of
    from days d
    join versions v on v.as_of <= d.report_date
    group by d.report_date
),
listed as (
    select f.report_date, r.iso2
    from in_force f
    join country_risk r on r.as_of = f.as_of
),
hits as (
    select x.customer_id, x.txn_id, x.ts, l.iso2
    from x
    join listed l on l.report_date = x.report_date and l.iso2 = x.payer_country
    union
    select x.customer_id, x.txn_id, x.ts, l.iso2
    from x
    join listed l on l.report_date = x.report_date and l.iso2 = x.payee_country
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

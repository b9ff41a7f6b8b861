/*---
id = "licensing.fx_deviation"
title = "Applied FX rate deviates from the reference rate"
description = """
A transaction whose applied rate (settlement_amount = amount x fx_rate) is more than 2% away
from the reference cross rate of the day (fx_rates: currency and settlement currency to the
reporting currency). Mispriced conversions hide fees or move value."""
regulation = "FX pricing conditions of cross-border payment licences (SAFE/PBOC cross-border payment rules)"
source = "DOMAIN.md (FX rate applied deviating from the reference rate beyond a tolerance)"
severity = "medium"
subject_type = "account"
typologies = ["licence_fx_deviation"]
owner = "compliance-engineering"
version = 1

[params.tolerance]
type = "decimal"
default = "0.02"
description = "Largest accepted relative deviation"
---*/
with x as (
    select t.txn_id, t.ts, t.payer_account, t.payer_country, t.payee_country, t.fx_rate,
        case when t.currency = 'CNY' then 1.0 else cast(rc.rate as double) end as rate_ccy,
        case when t.settlement_currency = 'CNY' then 1.0 else cast(rs.rate as double) end as rate_settle
    from transactions t
    left join fx_rates rc on rc.rate_date = t.report_date and rc.currency = t.currency
    left join fx_rates rs on rs.rate_date = t.report_date and rs.currency = t.settlement_currency
    where t.status = 'SUCCESS' and t.fx_rate is not null and t.settlement_currency is not null
      and t.settlement_currency <> t.currency and t.report_date between $from and $to
),
breaches as (
    select *, abs(cast(fx_rate as double) / (rate_ccy / rate_settle) - 1.0) as deviation
    from x
    where rate_ccy is not null and rate_settle is not null
)
select
    payer_account as subject_id,
    min(ts) as window_start,
    max(ts) as window_end,
    max(deviation) as score,
    array_agg(txn_id) as txn_ids,
    count(*) as txns,
    round(max(deviation) * 100, 2) as max_deviation_pct
from breaches
where deviation > cast($tolerance as double)
group by payer_account

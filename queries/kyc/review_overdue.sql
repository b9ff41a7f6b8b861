/*---
id = "kyc.review_overdue"
title = "Periodic review overdue"
description = """
A customer transacts after the periodic KYC review fell due: last review (or onboarding, if
never reviewed) plus the cycle of its risk rating (high yearly, medium every two years, low
every three)."""
regulation = "Risk-based periodic review of customer due diligence (FATF Recommendation 10)"
source = "DOMAIN.md (common practice: high risk yearly, medium every 2 years, low every 3)"
severity = "medium"
subject_type = "customer"
typologies = ["kyc_review_overdue"]
owner = "compliance-engineering"
version = 2

[params.high_cycle]
type = "duration"
default = "365 days"

[params.medium_cycle]
type = "duration"
default = "730 days"

[params.low_cycle]
type = "duration"
default = "1095 days"
---*/
-- Customers whose review fell due before the period ended, then their transactions.
with due as (
    select customer_id, coalesce(last_review_at, onboarded_at) +
        case risk_rating when 'HIGH' then $high_cycle when 'MEDIUM' then $medium_cycle else $low_cycle end as due_at,
        risk_rating
    from customers
),
subjects as (
    select a.account_id, d.customer_id, d.due_at, d.risk_rating
    from due d
    join accounts a on a.customer_id = d.customer_id
    where d.due_at < cast($to as timestamp) + interval '1 days' and a.account_class not in ('AGENT', 'INTERNAL')
),
sides as (
    select s.*, t.txn_id, t.ts
    from transactions t
    join subjects s on s.account_id = t.payer_account
    where t.status = 'SUCCESS' and t.report_date between $from and $to
    union all
    select s.*, t.txn_id, t.ts
    from transactions t
    join subjects s on s.account_id = t.payee_account
    where t.status = 'SUCCESS' and t.report_date between $from and $to
),
gaps as (
    select * from sides where ts > due_at
)
select
    customer_id as subject_id,
    min(ts) as window_start,
    max(ts) as window_end,
    cast(count(*) as double) as score,
    array_agg(txn_id) as txn_ids,
    min(due_at) as review_due,
    min(risk_rating) as risk_rating
from gaps
group by customer_id

/*---
id = "kyc.shared_identity"
title = "One identity document behind several customers"
description = """
Customers who share an identity document number with another customer: one person holding
accounts under several identities, or identities lent to a mule ring."""
regulation = "PBOC customer due diligence rules (one real identity per customer)"
source = "DOMAIN.md typologies (mule patterns: one device or ID behind several accounts)"
severity = "high"
subject_type = "customer"
typologies = ["mule"]
owner = "compliance-engineering"
version = 2
---*/
with shared as (
    select id_number from customers
    where id_number is not null and id_number <> ''
    group by id_number
    having count(*) >= 2
),
subjects as (
    select a.account_id, c.customer_id, c.id_number
    from customers c
    join shared s on s.id_number = c.id_number
    join accounts a on a.customer_id = c.customer_id
),
holders as (
    select distinct customer_id, id_number from subjects
),
activity as (
    select s.customer_id, t.txn_id, t.ts
    from transactions t
    join subjects s on s.account_id = t.payer_account
    where t.status = 'SUCCESS' and t.report_date between $from and $to
    union all
    select s.customer_id, t.txn_id, t.ts
    from transactions t
    join subjects s on s.account_id = t.payee_account
    where t.status = 'SUCCESS' and t.report_date between $from and $to
)
select
    h.customer_id as subject_id,
    coalesce(min(a.ts), cast($from as timestamp)) as window_start,
    coalesce(max(a.ts), cast($to as timestamp)) as window_end,
    cast(count(a.txn_id) as double) as score,
    array_agg(a.txn_id) as txn_ids,
    h.id_number
from holders h
left join activity a on a.customer_id = h.customer_id
group by h.customer_id, h.id_number

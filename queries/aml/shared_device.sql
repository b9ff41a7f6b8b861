/*---
id = "aml.shared_device"
title = "One device behind several customers' accounts"
description = """
A device from which accounts of two or more different customers initiate transactions in the
period: one person operating other people's accounts. One alert per account on the device."""
regulation = "PBOC suspicious-transaction guidance; FATF money-mule indicators"
source = "DOMAIN.md typologies (mule patterns: one device or ID behind several accounts)"
severity = "medium"
subject_type = "account"
typologies = ["mule"]
owner = "compliance-engineering"
version = 1

[params.min_customers]
type = "count"
default = "2"
---*/
with initiated as (
    -- Who acted: the customer's side of top-ups and cash-ins is the payee.
    select t.txn_id, t.ts, t.device_id,
        case when t.txn_type in ('TOPUP', 'CASH_IN') then t.payee_account else t.payer_account end as account
    from transactions t
    where t.device_id is not null and t.txn_type <> 'REFUND' and t.report_date between $from and $to
),
owned as (
    select i.*, a.customer_id
    from initiated i
    join accounts a on a.account_id = i.account
    where a.account_class in ('I', 'II', 'III')
),
devices as (
    select device_id, count(distinct customer_id) as customers
    from owned
    group by device_id
    having count(distinct customer_id) >= $min_customers
)
-- From the shared devices (few) to their transactions, then the accounts: joining every
-- transaction to its account again would cost a second pass over all of them.
select
    o.account as subject_id,
    min(o.ts) as window_start,
    max(o.ts) as window_end,
    cast(max(d.customers) as double) as score,
    array_agg(o.txn_id) as txn_ids,
    o.device_id,
    max(d.customers) as customers_on_device
from devices d
join initiated o on o.device_id = d.device_id
join accounts a on a.account_id = o.account
where a.account_class in ('I', 'II', 'III')
group by o.account, o.device_id

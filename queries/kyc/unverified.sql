/*---
id = "kyc.unverified"
title = "Transacting while unverified"
description = """
A customer whose KYC status is not VERIFIED (UNVERIFIED or REJECTED) sends or receives money.
Every such transaction is listed."""
regulation = "PBOC customer due diligence rules (identify before transacting)"
source = "DOMAIN.md (KYC gaps)"
severity = "high"
subject_type = "customer"
typologies = ["kyc_unverified"]
owner = "compliance-engineering"
version = 2
---*/
-- The few customers with the gap first, then their transactions on either side: cheaper
-- than looking at every transaction's customer.
with subjects as (
    select a.account_id, c.customer_id, c.id_expiry, c.edd_completed_at
    from accounts a
    join customers c on c.customer_id = a.customer_id
    where a.account_class not in ('AGENT', 'INTERNAL') and c.kyc_status <> 'VERIFIED'
),
sides as (
    select s.*, t.txn_id, t.ts, t.report_date
    from transactions t
    join subjects s on s.account_id = t.payer_account
    where t.status = 'SUCCESS' and t.report_date between $from and $to
    union all
    select s.*, t.txn_id, t.ts, t.report_date
    from transactions t
    join subjects s on s.account_id = t.payee_account
    where t.status = 'SUCCESS' and t.report_date between $from and $to
),
gaps as (
    select customer_id, txn_id, ts from sides where true
)
select
    customer_id as subject_id,
    min(ts) as window_start,
    max(ts) as window_end,
    cast(count(*) as double) as score,
    array_agg(txn_id) as txn_ids,
    count(*) as txns
from gaps
group by customer_id

/*---
id = "kyc.foreign_card_no_passport"
title = "Foreign card without passport verification"
description = """
A customer whose account has a foreign card bound transacts without a verified passport on
record (identity document not a passport, or KYC not verified)."""
regulation = "PBOC rules for foreign-card binding (passport identification of overseas users)"
source = "DOMAIN.md (KYC gaps)"
severity = "high"
subject_type = "customer"
typologies = []
owner = "compliance-engineering"
version = 2
---*/
-- The few customers with the gap first, then their transactions on either side: cheaper
-- than looking at every transaction's customer.
with subjects as (
    select a.account_id, c.customer_id, c.id_expiry, c.edd_completed_at
    from accounts a
    join customers c on c.customer_id = a.customer_id
    where a.account_class not in ('AGENT', 'INTERNAL') and a.foreign_card_bound and (c.id_type is null or c.id_type <> 'PASSPORT' or c.kyc_status <> 'VERIFIED')
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

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
version = 1
---*/
with gaps as (
    select f.customer_id, f.txn_id, f.ts
    from flows f
    join customers c on c.customer_id = f.customer_id
    join accounts a on a.account_id = f.account_id
    where f.report_date between $from and $to
      and c.kyc_status <> 'VERIFIED'
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

/*---
id = "kyc.expired_id"
title = "Identity document expired"
description = """
A customer transacts after the expiry date of the identity document on file (the transaction's
reporting day is later than id_expiry)."""
regulation = "PBOC customer due diligence rules (valid identification)"
source = "DOMAIN.md (KYC gaps)"
severity = "high"
subject_type = "customer"
typologies = ["kyc_expired_id"]
owner = "compliance-engineering"
version = 1
---*/
with gaps as (
    select f.customer_id, f.txn_id, f.ts
    from flows f
    join customers c on c.customer_id = f.customer_id
    join accounts a on a.account_id = f.account_id
    where f.report_date between $from and $to
      and c.id_expiry is not null and f.report_date > c.id_expiry
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

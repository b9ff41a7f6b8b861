/*---
id = "kyc.pep_no_edd"
title = "PEP without enhanced due diligence"
description = """
A politically exposed person transacts before enhanced due diligence was completed, or with
none on record."""
regulation = "FATF Recommendation 12 (politically exposed persons)"
source = "DOMAIN.md (KYC gaps)"
severity = "high"
subject_type = "customer"
typologies = ["kyc_pep_no_edd"]
owner = "compliance-engineering"
version = 1
---*/
with gaps as (
    select f.customer_id, f.txn_id, f.ts
    from flows f
    join customers c on c.customer_id = f.customer_id
    join accounts a on a.account_id = f.account_id
    where f.report_date between $from and $to
      and c.pep and (c.edd_completed_at is null or f.ts < c.edd_completed_at)
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

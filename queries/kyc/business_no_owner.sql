/*---
id = "kyc.business_no_owner"
title = "Business without a beneficial owner"
description = """
A business customer with no beneficial owner on record sends or receives money."""
regulation = "PBOC beneficial ownership identification (2017 No. 235); FATF Recommendation 24"
source = "DOMAIN.md (KYC gaps)"
severity = "high"
subject_type = "customer"
typologies = ["kyc_business_no_owner"]
owner = "compliance-engineering"
version = 1
---*/
with gaps as (
    select f.customer_id, f.txn_id, f.ts
    from flows f
    join customers c on c.customer_id = f.customer_id
    join accounts a on a.account_id = f.account_id
    where f.report_date between $from and $to
      and c.customer_type = 'BUSINESS' and (c.beneficial_owner_id is null or c.beneficial_owner_id = '') and a.account_class not in ('AGENT', 'INTERNAL')
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

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
version = 1
---*/
with gaps as (
    select f.customer_id, f.txn_id, f.ts
    from flows f
    join customers c on c.customer_id = f.customer_id
    join accounts a on a.account_id = f.account_id
    where f.report_date between $from and $to
      and a.foreign_card_bound and (c.id_type is null or c.id_type <> 'PASSPORT' or c.kyc_status <> 'VERIFIED')
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

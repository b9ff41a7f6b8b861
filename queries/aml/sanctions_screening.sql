/*---
id = "aml.sanctions_screening"
title = "Customer name matches a sanctions list entry"
description = """
Customers whose name matches an entry of the sanctions list (OFAC SDN layout) with a score of
at least 0.70: names are normalised and folded across common romanisations (Mohammed/Muhammad,
Abdul/Abd Al, ou/u, y/i, ...), compared token by token in any order (Jaro-Winkler), so
reordered, transliterated, misspelt and shortened names are found while sharing a surname is
not enough. The alert names the best-matching entry and carries the customer's transactions
in the period."""
regulation = "Sanctions screening obligations (OFAC; PBOC/UN lists); FATF Recommendation 6"
source = "DOMAIN.md (common score threshold 0.70; users ask for phonetic and transliteration-aware matching)"
severity = "critical"
subject_type = "customer"
typologies = ["sanctions_hit"]
owner = "compliance-engineering"
version = 3

[params.min_score]
type = "decimal"
default = "0.70"
---*/
with c as (
    select customer_id, full_name, unnest(name_tokens(full_name)) as token from customers
),
s as (
    select ent_num, sdn_name, unnest(name_tokens(sdn_name)) as token from sanctions
),
pairs as (
    select distinct c.customer_id, c.full_name, s.ent_num, s.sdn_name
    from c
    join s on s.token = c.token
    where length(c.token) >= 3
),
scored as (
    select customer_id, full_name, ent_num, sdn_name, name_match(full_name, sdn_name) as score
    from pairs
),
best as (
    select *, row_number() over (partition by customer_id order by score desc, ent_num) as rank
    from scored
    where score >= cast($min_score as double)
),
-- The matched customers' accounts carry the match from here on. A left join keeps a listed
-- customer without accounts or activity too (with no transaction), and reads the scored
-- matches once: name scoring is the costly part of this rule.
hits as (
    select b.customer_id, b.score, b.full_name, b.sdn_name, b.ent_num, a.account_id
    from best b
    left join accounts a on a.customer_id = b.customer_id
    where b.rank = 1
),
sides as (
    select txn_id, ts, payer_account as account_id
    from transactions
    where status = 'SUCCESS' and report_date between $from and $to
    union all
    select txn_id, ts, payee_account as account_id
    from transactions
    where status = 'SUCCESS' and report_date between $from and $to
),
activity as (
    select h.customer_id, h.score, h.full_name, h.sdn_name, h.ent_num, t.txn_id, t.ts
    from hits h
    left join sides t on t.account_id = h.account_id
)
select
    customer_id as subject_id,
    coalesce(min(ts), cast($from as timestamp)) as window_start,
    coalesce(max(ts), cast($to as timestamp)) as window_end,
    score,
    array_agg(txn_id) as txn_ids,
    full_name as customer_name,
    sdn_name as listed_name,
    ent_num
from activity
group by customer_id, score, full_name, sdn_name, ent_num

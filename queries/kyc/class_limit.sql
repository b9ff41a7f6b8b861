/*---
id = "kyc.class_limit"
title = "Payment-account class limit exceeded"
description = """
Balance payments (PAYMENT transactions) beyond the limit of the account's class: class I
RMB 1,000 cumulative since opening, class II RMB 100,000 and class III RMB 200,000 per
calendar year. Counted over the warehouse's history; the log does not say how transfers were
funded, so only payments count. Lists the payments past the limit."""
regulation = "PBOC Announcement 2015 No. 43 (payment account classes)"
source = "DOMAIN.md reporting thresholds (news reports of the announcement)"
severity = "high"
subject_type = "account"
typologies = ["kyc_class_limit"]
owner = "compliance-engineering"
version = 2

[params.class_i]
type = "money"
default = "1000"
unit = "CNY since opening"

[params.class_ii]
type = "money"
default = "100000"
unit = "CNY per year"

[params.class_iii]
type = "money"
default = "200000"
unit = "CNY per year"
---*/
with payments as (
    select a.account_id, a.account_class, t.txn_id, t.ts, t.report_date, t.amount_reporting,
        case when a.account_class = 'I' then 0 else date_part('year', t.report_date) end as period
    from transactions t
    join accounts a on a.account_id = t.payer_account
    where t.status = 'SUCCESS' and t.txn_type = 'PAYMENT' and a.account_class in ('I', 'II', 'III')
      and t.report_date <= $to
),
limited as (
    select *,
        case account_class when 'I' then $class_i when 'II' then $class_ii else $class_iii end as class_limit
    from payments
),
-- Only an account and period whose payments add up to more than the limit can cross it, so
-- the running sum is kept for those alone (at 10M transactions, 12 thousand payments of
-- 6.6 million): the sort behind a running sum over every payment was most of the rule's time.
over_limit as (
    select account_id, period
    from limited
    group by account_id, period, class_limit
    having cast(sum(amount_reporting) as decimal(18, 4)) > class_limit
),
over as (
    select l.*,
        sum(l.amount_reporting) over (partition by l.account_id, l.period order by l.ts, l.txn_id
            rows between unbounded preceding and current row) as spent
    from limited l
    join over_limit o on o.account_id = l.account_id and o.period = l.period
)
select
    account_id as subject_id,
    min(ts) as window_start,
    max(ts) as window_end,
    cast(max(spent) as double) / cast(max(class_limit) as double) as score,
    array_agg(txn_id) as txn_ids,
    min(account_class) as account_class,
    cast(max(spent) as decimal(18, 4)) as spent
from over
where cast(spent as decimal(18, 4)) > class_limit and report_date >= $from
group by account_id, period

-- Every successful transaction twice: as an outflow of the payer's customer and an inflow of
-- the payee's. The institution's own accounts (AGENT, INTERNAL) are never a side.
-- transfer: every type but cash and refunds (PBOC large-value scope); cross_border: the
-- countries differ. Accounts and customers are joined to each other first, so that a
-- rule's filter on them (business customers, one account class) shrinks the side that is
-- built before the transactions are probed.
with parties as (
    select a.account_id, a.account_class, a.foreign_card_bound, c.customer_id, c.customer_type
    from accounts a
    join customers c on c.customer_id = a.customer_id
    where a.account_class not in ('AGENT', 'INTERNAL')
)
select
    t.txn_id, t.ts, t.report_date, t.txn_type, t.amount, t.currency, t.amount_reporting,
    t.payer_country, t.payee_country, t.payer_country <> t.payee_country as cross_border,
    t.txn_type in ('CASH_IN', 'CASH_OUT') as cash,
    t.txn_type not in ('CASH_IN', 'CASH_OUT', 'REFUND') as transfer,
    'out' as direction,
    p.account_id, p.account_class, p.customer_id, p.customer_type,
    t.payee_account as counterparty_account
from transactions t
join parties p on p.account_id = t.payer_account
where t.status = 'SUCCESS'
union all
select
    t.txn_id, t.ts, t.report_date, t.txn_type, t.amount, t.currency, t.amount_reporting,
    t.payer_country, t.payee_country, t.payer_country <> t.payee_country as cross_border,
    t.txn_type in ('CASH_IN', 'CASH_OUT') as cash,
    t.txn_type not in ('CASH_IN', 'CASH_OUT', 'REFUND') as transfer,
    'in' as direction,
    p.account_id, p.account_class, p.customer_id, p.customer_type,
    t.payer_account as counterparty_account
from transactions t
join parties p on p.account_id = t.payee_account
where t.status = 'SUCCESS'

-- Every successful transaction twice: as an outflow of the payer's customer and an inflow of
-- the payee's. The institution's own accounts (AGENT, INTERNAL) are never a side.
-- transfer: every type but cash and refunds (PBOC large-value scope); cross_border: the
-- countries differ.
select
    t.txn_id, t.ts, t.report_date, t.txn_type, t.amount, t.currency, t.amount_reporting,
    t.payer_country, t.payee_country, t.payer_country <> t.payee_country as cross_border,
    t.txn_type in ('CASH_IN', 'CASH_OUT') as cash,
    t.txn_type not in ('CASH_IN', 'CASH_OUT', 'REFUND') as transfer,
    'out' as direction,
    a.account_id, a.account_class, c.customer_id, c.customer_type,
    t.payee_account as counterparty_account
from transactions t
join accounts a on a.account_id = t.payer_account
join customers c on c.customer_id = a.customer_id
where t.status = 'SUCCESS' and a.account_class not in ('AGENT', 'INTERNAL')
union all
select
    t.txn_id, t.ts, t.report_date, t.txn_type, t.amount, t.currency, t.amount_reporting,
    t.payer_country, t.payee_country, t.payer_country <> t.payee_country as cross_border,
    t.txn_type in ('CASH_IN', 'CASH_OUT') as cash,
    t.txn_type not in ('CASH_IN', 'CASH_OUT', 'REFUND') as transfer,
    'in' as direction,
    a.account_id, a.account_class, c.customer_id, c.customer_type,
    t.payer_account as counterparty_account
from transactions t
join accounts a on a.account_id = t.payee_account
join customers c on c.customer_id = a.customer_id
where t.status = 'SUCCESS' and a.account_class not in ('AGENT', 'INTERNAL')

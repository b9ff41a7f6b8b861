-- Every transaction with both of its sides described: the account, the customer who holds
-- it and the merchant on it. Filings read transactions only through this view, so a
-- counterparty that is not in the reference data shows up as missing, never as dropped.
with parties as (
    select
        a.account_id, a.account_class, a.opened_at, a.status as account_status,
        a.currency as account_currency, a.home_country,
        c.customer_id, c.customer_type, c.full_name, c.date_of_birth, c.nationality,
        c.residence_country, c.id_type, c.id_number, c.id_expiry, c.verified_at,
        m.name as merchant_name
    from accounts a
    left join customers c on c.customer_id = a.customer_id
    left join merchants m on m.account_id = a.account_id
)
select
    t.txn_id, t.ts, t.report_date, t.txn_type, t.channel, t.amount, t.currency,
    t.amount_reporting, t.reporting_rate, t.payer_country, t.payee_country, t.status,
    t.payer_account, p.account_class as payer_class, p.opened_at as payer_opened_at,
    p.account_status as payer_account_status, p.account_currency as payer_account_currency,
    p.customer_id as payer_customer_id, p.customer_type as payer_customer_type,
    p.full_name as payer_name, p.date_of_birth as payer_dob, p.nationality as payer_nationality,
    p.residence_country as payer_residence, p.id_type as payer_id_type,
    p.id_number as payer_id_number, p.id_expiry as payer_id_expiry,
    p.verified_at as payer_verified_at, p.merchant_name as payer_merchant,
    t.payee_account, q.account_class as payee_class, q.opened_at as payee_opened_at,
    q.account_status as payee_account_status, q.account_currency as payee_account_currency,
    q.customer_id as payee_customer_id, q.customer_type as payee_customer_type,
    q.full_name as payee_name, q.date_of_birth as payee_dob, q.nationality as payee_nationality,
    q.residence_country as payee_residence, q.id_type as payee_id_type,
    q.id_number as payee_id_number, q.id_expiry as payee_id_expiry,
    q.verified_at as payee_verified_at, q.merchant_name as payee_merchant
from transactions t
left join parties p on p.account_id = t.payer_account
left join parties q on q.account_id = t.payee_account

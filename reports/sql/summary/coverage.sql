-- What was monitored in the period: transactions and the customers behind them.
with t as (
    select * from transactions where report_date between $from and $to
)
select
    (select count(*) from t) as transactions,
    (select count(*) from t where status = 'SUCCESS') as successful,
    (select cast(sum(amount_reporting) as decimal(22, 4)) from t where status = 'SUCCESS') as amount,
    (select count(distinct a.customer_id)
       from (select payer_account as account_id from t union select payee_account from t) x
       join accounts a on a.account_id = x.account_id
      where a.account_class not in ('AGENT', 'INTERNAL')) as customers_active,
    (select count(*) from customers) as customers_on_file,
    (select count(*) from accounts) as accounts_on_file

-- Successful volume per reporting day and currency, with the reporting-currency equivalent
select
    txn_date,
    currency,
    count(*) as txns,
    sum(amount) as amount,
    sum(amount_reporting) as amount_reporting
from transactions
where status = 'SUCCESS'
group by txn_date, currency
order by txn_date, currency

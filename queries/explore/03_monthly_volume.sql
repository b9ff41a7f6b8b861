-- Successful volume per month in the reporting currency, and how much of it crossed a border
select
    date_trunc('month', report_date) as month,
    count(*) as txns,
    sum(amount_reporting) as amount_reporting,
    sum(case when payer_country <> payee_country then 1 else 0 end) as cross_border_txns,
    round(100.0 * sum(case when payer_country <> payee_country then 1 else 0 end) / count(*), 2) as cross_border_pct
from transactions
where status = 'SUCCESS'
group by date_trunc('month', report_date)
order by month

-- Cross-border corridors (payer country -> payee country) and their share of value
with cross_border as (
    select payer_country, payee_country, amount_reporting
    from transactions
    where status = 'SUCCESS' and payer_country <> payee_country
)

select
    payer_country || '->' || payee_country as corridor,
    count(*) as txns,
    sum(amount_reporting) as amount_reporting
from cross_border
group by payer_country, payee_country
order by amount_reporting desc

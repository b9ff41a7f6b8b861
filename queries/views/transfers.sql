-- materialize
-- Successful person-to-person and company transfers, the edges of the payment graph that
-- fan-in, fan-out, cycles, scatter-gather and mule rules walk. Small (about one transaction
-- in eight) and read many times per run, so it is computed once per session.
select txn_id, ts, report_date, payer_account, payee_account, amount_reporting
from transactions
where status = 'SUCCESS' and txn_type = 'TRANSFER'

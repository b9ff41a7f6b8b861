-- The day's USD rate to the reporting currency: foreign-currency amounts are compared with
-- USD thresholds through it.
select rate_date, rate as usd_rate from fx_rates where currency = 'USD'

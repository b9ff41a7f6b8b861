-- The latest rule run that covers the whole period: the run a filing's alerts come from.
-- Its `rules` column holds every rule's version, file hash and parameters.
select run_id, started_at, from_date, to_date, input_version, rules
from rule_runs
where from_date <= $from and to_date >= $to
order by started_at desc, run_id desc
limit 1

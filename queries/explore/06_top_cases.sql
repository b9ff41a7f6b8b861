-- The ten cases (subjects) with the most rules firing: where an officer starts
select case_id, alerts, rules, rule_ids, transactions, first_activity, last_activity
from cases
order by rules desc, alerts desc, case_id
limit 10

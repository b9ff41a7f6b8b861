-- Snoozes in force at the end of the period.
select suppression_id, rule_id, subject_type, subject_id, reason, author, expires_on
from suppressions
where expires_on >= $to
order by expires_on, suppression_id

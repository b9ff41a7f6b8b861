-- The decision that stands on each decided case: its latest (`custos case escalate|close`).
-- Earlier decisions stay in case_decisions as the case's history.
select case_id, decision, reason, author, decided_at
from (
    select
        case_id, decision, reason, author, decided_at,
        row_number() over (partition by case_id order by decided_at desc, decision_id desc) as rn
    from case_decisions
) d
where rn = 1

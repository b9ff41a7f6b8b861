-- Why rows were rejected, with an example line of each reason
select
    table_name,
    reason,
    count(*) as rows_rejected,
    min(source_file || ':' || cast(line as varchar)) as first_at
from quarantine
group by table_name, reason
order by rows_rejected desc, reason

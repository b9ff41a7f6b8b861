-- Rejected rows by table and reason.
select table_name, reason, count(*) as rows
from quarantine
group by table_name, reason
order by rows desc, table_name, reason

-- Alerts per day of their window's start (reporting time zone is applied by the caller's
-- day bounds; the day here is the UTC date of the start).
select cast(window_start as date) as day, count(*) as alerts
from alerts
where window_start >= $from_ts and window_start < $to_ts
group by cast(window_start as date)
order by day

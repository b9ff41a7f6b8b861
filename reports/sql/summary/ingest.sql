-- Every file loaded, with its control totals: rows read = stored + quarantined.
select
    table_name, source_file, rows_read, rows_stored, rows_quarantined,
    rows_read = rows_stored + rows_quarantined as reconciles,
    started_at
from ingest_ledger
order by started_at, source_file

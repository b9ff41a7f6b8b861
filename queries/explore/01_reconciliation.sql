-- Control totals: every row read is stored or quarantined, per ingested file
select
    table_name,
    source_file,
    rows_read,
    rows_stored,
    rows_quarantined,
    rows_read = rows_stored + rows_quarantined as reconciles
from ingest_ledger
order by catalog_version

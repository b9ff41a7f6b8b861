//! Times the parse stage alone on a canonical transaction CSV: the csv crate's ByteRecord
//! loop with UTF-8 checks (custos's reader) against arrow-csv decoding every column as Utf8
//! (tokenizing plus building string arrays, no validation in either).

use std::sync::Arc;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: parse-stage FILE.csv")?;

    let start = Instant::now();
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_path(&path)?;
    let mut record = csv::ByteRecord::new();
    let (mut rows, mut bytes) = (0u64, 0usize);
    while reader.read_byte_record(&mut record)? {
        for field in record.iter() {
            bytes += std::str::from_utf8(field)?.len();
        }
        rows += 1;
    }
    let csv_secs = start.elapsed().as_secs_f64();
    println!("csv crate:  {rows} rows, {bytes} field bytes in {csv_secs:.2} s");

    let start = Instant::now();
    let file = std::fs::File::open(&path)?;
    let mut header = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(std::fs::File::open(&path)?), &mut header)?;
    let fields: Vec<arrow_schema::Field> =
        header.trim_end().split(',').map(|n| arrow_schema::Field::new(n, arrow_schema::DataType::Utf8, true)).collect();
    let schema = Arc::new(arrow_schema::Schema::new(fields));
    let reader = arrow_csv::ReaderBuilder::new(schema).with_header(true).with_batch_size(65_536).build(file)?;
    let mut arrow_rows = 0usize;
    for batch in reader {
        arrow_rows += batch?.num_rows();
    }
    let arrow_secs = start.elapsed().as_secs_f64();
    println!("arrow-csv:  {arrow_rows} rows in {arrow_secs:.2} s");
    Ok(())
}

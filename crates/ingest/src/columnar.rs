//! Checking a block of transaction records in typed code and building its stored rows'
//! columns directly, in the order they are written in.
//!
//! The row path ([`FileRun::process`]) turns every field into a [`Value`](crate::values::Value),
//! appends each to a builder in file order, and the writer then gathers every column again
//! in sorted order. At millions of rows that bookkeeping costs more than the checks. Here a
//! row's fields are checked straight from the block's bytes, only the typed values a column
//! needs are kept (instants, amounts, rates, and a number for each code such as a country),
//! and once the block's ids are claimed each column is built once, already sorted by day,
//! payer and instant.
//!
//! The fast checks accept a subset of what the row path accepts and compute the same values.
//! A row that fails any of them, or needs what they leave out (rounding an amount, an
//! unusual but valid timestamp), goes through the row path, which stores it or names its
//! first fault exactly as the one-thread reader does.

use std::sync::Arc;

use custos_model::{AMOUNT_PRECISION, AMOUNT_SCALE, FieldType, Origin, RATE_PRECISION, RATE_SCALE, Reason, Table};
use custos_warehouse::datafusion::arrow::array::{
    ArrayRef, Date32Array, Decimal128Array, DictionaryArray, RecordBatch, StringArray, TimestampMicrosecondArray,
    UInt8Array, new_null_array,
};
use custos_warehouse::datafusion::arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use custos_warehouse::datafusion::arrow::compute::cast;
use custos_warehouse::datafusion::arrow::datatypes::{DataType, Field, Schema, UInt8Type};
use custos_warehouse::datafusion::arrow::error::ArrowError;

use crate::Result;
use crate::ingest::{FileRun, LookedUp, Raw, reject};
use crate::parallel::{Block, Record};
use crate::sink::transaction_order;
use crate::values::{TS_MAX, TS_MIN};

/// What a field must be for the fast checks to pass it.
#[derive(Clone, Copy)]
enum Check {
    /// Any UTF-8 text.
    Text,
    Enum(&'static [&'static str]),
    Country,
    Currency,
    Mcc,
    Ip,
    /// Checked and kept by [`Plan::check`] itself (instants and decimals).
    Typed,
}

impl Check {
    /// The code of a non-empty field if it passes: for an enumeration the value's position
    /// in its list, for a country or currency code its letters in base 26; 0 for other
    /// checks. `None` if the field does not pass.
    fn code(self, f: &[u8]) -> Option<u16> {
        let letters = || f.iter().fold(0u16, |code, b| code * 26 + u16::from(b - b'A'));
        let ok = match self {
            Check::Enum(values) => return values.iter().position(|v| v.as_bytes() == f).map(|i| i as u16),
            Check::Country => custos_model::is_country(f),
            Check::Currency => custos_model::currency_minor_units(f).is_some(),
            Check::Text => f.is_ascii() || std::str::from_utf8(f).is_ok(),
            Check::Mcc => f.len() == 4 && f.iter().all(u8::is_ascii_digit),
            Check::Ip => std::str::from_utf8(f).is_ok_and(|s| s.parse::<std::net::IpAddr>().is_ok()),
            Check::Typed => return Some(0),
        };
        // Country and currency codes are two or three upper-case letters once they pass.
        match self {
            Check::Country | Check::Currency if ok => Some(letters()),
            _ => ok.then_some(0),
        }
    }

    /// The text of `code` (see [`Check::code`]), zero-padded to at least [`SHORT`] bytes,
    /// and its length.
    fn spelling(self, code: u16) -> ([u8; SHORT], usize) {
        let mut text = [0; SHORT];
        let letters = match self {
            Check::Enum(values) => {
                let value = enum_value(values, code);
                let len = value.len().min(SHORT);
                text[..len].copy_from_slice(&value[..len]);
                return (text, value.len());
            }
            Check::Country => 2,
            _ => 3,
        };
        let mut rest = code;
        for at in (0..letters).rev() {
            text[at] = b'A' + (rest % 26) as u8;
            rest /= 26;
        }
        (text, letters)
    }
}

/// A code column (see [`Check::code`]) spelt from the codes of its `rows` rows, row `i`'s
/// being `code(i)`; [`NO_CODE`] is null.
///
/// Every text is at most as long as the longest the check can spell, so the column's bytes
/// are sized once, and a short text is written as one fixed-size move: a code column takes
/// under half the instructions that appending text by text took.
fn spell(rows: usize, code: impl Fn(usize) -> u16, check: Check) -> Result<ArrayRef> {
    let longest = match check {
        Check::Enum(values) => values.iter().map(|v| v.len()).max().unwrap_or(0),
        Check::Country => 2,
        _ => 3,
    };
    let room = rows
        .checked_mul(longest)
        .and_then(|n| n.checked_add(SHORT))
        .filter(|n| i32::try_from(*n).is_ok())
        .ok_or_else(|| ArrowError::ComputeError("a block's texts exceed 2 GiB".into()))?;
    let mut values = vec![0u8; room];
    let mut offsets = Vec::with_capacity(rows + 1);
    offsets.push(0i32);
    // Whether some text is too long for one fixed-size move.
    let long = matches!(check, Check::Enum(values) if values.iter().any(|v| v.len() > SHORT));
    let (mut end, mut nulls) = (0usize, 0usize);
    // Few codes, long runs of the same one: spell each once per run.
    let mut last = (NO_CODE, [0; SHORT], 0);
    for i in 0..rows {
        let c = code(i);
        if c == NO_CODE {
            nulls += 1;
        } else {
            if c != last.0 {
                let (text, len) = check.spelling(c);
                last = (c, text, len);
            }
            match check {
                // An enumeration value longer than a short text is copied from the list itself.
                Check::Enum(values_of) if long && last.2 > SHORT => {
                    values[end..end + last.2].copy_from_slice(enum_value(values_of, c));
                }
                _ => values[end..end + SHORT].copy_from_slice(&last.1),
            }
            end += last.2;
        }
        // `end` is at most `room`, which fits in an i32.
        offsets.push(end as i32);
    }
    values.truncate(end);
    let nulls = (nulls > 0).then(|| NullBuffer::new(BooleanBuffer::collect_bool(rows, |i| code(i) != NO_CODE)));
    let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
    Ok(Arc::new(StringArray::try_new(
        offsets,
        Buffer::from_vec(values),
        nulls,
    )?))
}

/// A code column (see [`Check::code`]) as a dictionary: for row `i`, a one-byte key into
/// the spellings of the codes the rows use, in code order; [`NO_CODE`] is null. The
/// warehouse writes a dictionary column's Parquet pages from its keys, so no text is
/// spelt per row and no row's text is looked up again to encode it. Spelt as texts
/// instead (see [`spell`]) if the rows use more than 256 codes.
fn coded(rows: usize, code: impl Fn(usize) -> u16, check: Check) -> Result<ArrayRef> {
    let bound = match check {
        Check::Enum(values) => values.len(),
        Check::Country => 26 * 26,
        _ => 26 * 26 * 26,
    };
    let mut key_of = vec![u16::MAX; bound];
    let mut nulls = 0;
    for i in 0..rows {
        match key_of.get_mut(usize::from(code(i))) {
            Some(key) => *key = 0,
            None => nulls += 1,
        }
    }
    let mut spellings: Vec<Vec<u8>> = Vec::new();
    for (c, key) in key_of.iter_mut().enumerate() {
        if *key == 0 {
            *key = spellings.len() as u16;
            spellings.push(match check {
                Check::Enum(values) => enum_value(values, c as u16).to_vec(),
                _ => {
                    let (text, len) = check.spelling(c as u16);
                    text[..len].to_vec()
                }
            });
        }
    }
    if spellings.len() > 256 {
        return spell(rows, code, check);
    }
    let keys: Vec<u8> = (0..rows)
        .map(|i| key_of.get(usize::from(code(i))).map_or(0, |&k| k as u8))
        .collect();
    let nulls = (nulls > 0).then(|| NullBuffer::new(BooleanBuffer::collect_bool(rows, |i| code(i) != NO_CODE)));
    let values = StringArray::from_iter_values(spellings.iter().map(|s| String::from_utf8_lossy(s)));
    Ok(Arc::new(DictionaryArray::<UInt8Type>::try_new(
        UInt8Array::new(ScalarBuffer::from(keys), nulls),
        Arc::new(values),
    )?))
}

/// `batch` with every column in the type the table stores (dictionaries cast to texts).
pub(crate) fn as_stored(batch: &RecordBatch) -> Result<RecordBatch> {
    let schema = Table::Transactions.arrow_schema();
    let columns = (schema.fields().iter().zip(batch.columns()))
        .map(|(field, array)| cast(array, field.data_type()))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// `n` copies of `text` as a dictionary column of one value (a block's ingest id).
pub(crate) fn constant(text: &str, n: usize) -> Result<ArrayRef> {
    Ok(Arc::new(DictionaryArray::<UInt8Type>::try_new(
        UInt8Array::from(vec![0u8; n]),
        Arc::new(StringArray::from(vec![text])),
    )?))
}

/// The text of an enumeration's value `code` (empty for a code out of its list).
fn enum_value(values: &'static [&'static str], code: u16) -> &'static [u8] {
    values.get(usize::from(code)).map_or(&b""[..], |v| v.as_bytes())
}

/// How the fast checks read one file's records: where each column's field is, and what each
/// bound field must be.
pub(crate) struct Plan {
    /// Fields per record (the header's).
    fields: usize,
    /// The field bound to each table column.
    field_of: Vec<Option<usize>>,
    /// (field, required, check, code slot) for every bound input column.
    checks: Vec<(usize, bool, Check, Option<usize>)>,
    /// (column, code slot, check) of the code columns: a row keeps a small number for each
    /// (see [`Check::code`]) instead of its text, and the column is spelt from them.
    coded: Vec<(usize, usize, Check)>,
}

/// Code columns a row can keep numbers for.
const CODES: usize = 10;
/// The code of an empty (null) field.
const NO_CODE: u16 = u16::MAX;

impl Plan {
    /// The plan for a transaction file whose header `binding` maps fields onto columns;
    /// `None` if the table has a column the fast checks do not know (then every row takes
    /// the row path).
    pub(crate) fn new(binding: &[Option<usize>]) -> Option<Plan> {
        const { assert!(!Table::Transactions.trims_values() && Table::Transactions.null_tokens().is_empty()) };
        let columns = Table::Transactions.columns();
        let mut field_of = vec![None; columns.len()];
        for (k, col) in binding.iter().enumerate() {
            if let Some(col) = *col {
                field_of[col] = Some(k);
            }
        }
        let (mut checks, mut coded) = (Vec::new(), Vec::new());
        for (i, column) in columns.iter().enumerate() {
            // Columns whose values `check` keeps and `Checked::build` writes; a column added
            // to the table later takes the row path until it is taught here.
            let typed = matches!(column.name, "ts" | "amount" | "fx_rate" | "settlement_amount");
            if column.origin == Origin::Derived {
                let built = [
                    "txn_date",
                    "report_date",
                    "reporting_rate",
                    "amount_reporting",
                    "ingest_id",
                ];
                if !built.contains(&column.name) {
                    return None;
                }
                continue;
            }
            let check = match column.ty {
                FieldType::Text => Check::Text,
                FieldType::Enum(values) => Check::Enum(values),
                FieldType::Country => Check::Country,
                FieldType::Currency => Check::Currency,
                FieldType::Mcc => Check::Mcc,
                FieldType::Ip => Check::Ip,
                FieldType::Timestamp | FieldType::Amount | FieldType::Rate if typed => Check::Typed,
                FieldType::Timestamp
                | FieldType::Amount
                | FieldType::Rate
                | FieldType::Date
                | FieldType::Bool
                | FieldType::Int
                | FieldType::Float
                | FieldType::CurrencyList
                | FieldType::TextList => return None,
            };
            match field_of[i] {
                Some(k) => {
                    // Past CODES code columns, the rest are packed as texts.
                    let is_code = matches!(check, Check::Enum(_) | Check::Country | Check::Currency);
                    let slot = (is_code && coded.len() < CODES).then_some(coded.len());
                    if let Some(slot) = slot {
                        coded.push((i, slot, check));
                    }
                    checks.push((k, column.required, check, slot));
                }
                // A required column missing from the header fails every row in the row path.
                None if column.required => return None,
                None => {}
            }
        }
        Some(Plan {
            fields: binding.len(),
            field_of,
            checks,
            coded,
        })
    }

    /// The bytes of column `col` in record `r` (empty when the header lacks the column).
    pub(crate) fn text<'b>(&self, block: &'b Block, r: &Record, col: usize) -> &'b [u8] {
        match self.field_of[col] {
            Some(k) => block.field(r.first_field as usize + k),
            None => &[],
        }
    }

    /// Record `r`'s values if the fast checks pass it; `None` sends it to the row path.
    /// `looked_up` holds its id's fingerprint and what the warehouse's sets said.
    pub(crate) fn check(&self, run: &mut FileRun<'_>, block: &Block, r: &Record, looked_up: &LookedUp) -> Option<Row> {
        if r.fields as usize != self.fields {
            return None;
        }
        let mut codes = [NO_CODE; CODES];
        for &(k, required, check, slot) in &self.checks {
            let f = block.field(r.first_field as usize + k);
            if f.is_empty() {
                if required {
                    return None;
                }
                continue;
            }
            let code = check.code(f)?;
            if let Some(slot) = slot {
                codes[slot] = code;
            }
        }
        let c = &run.txn;
        let ts = parse_instant(self.text(block, r, c.ts))?;
        let currency = self.text(block, r, c.currency);
        let amount = fits_minor_units(
            parse_positive(self.text(block, r, c.amount), AMOUNT_SCALE, AMOUNT_PRECISION)?,
            currency,
        )?;
        let fx_rate = match self.text(block, r, c.fx_rate) {
            [] => None,
            text => Some(parse_positive(text, RATE_SCALE, RATE_PRECISION)?.0),
        };
        let settlement = match self.text(block, r, c.settlement_amount) {
            [] => None,
            text => {
                let code = self.text(block, r, c.settlement_currency);
                if code.is_empty() {
                    return None;
                }
                Some(fits_minor_units(
                    parse_positive(text, AMOUNT_SCALE, AMOUNT_PRECISION)?,
                    code,
                )?)
            }
        };
        if run.lookups.is_some_and(|l| l.accounts.is_some()) && looked_up.accounts_known != [true; 2] {
            return None;
        }
        let report_date = run.local_day(ts).ok()?;
        let rate = run.reporting_rate(currency, report_date).ok()?;
        let reporting = run.to_reporting(amount, rate).ok()?;
        if looked_up.id_stored {
            return None;
        }
        // Each value was checked to have at most 18 digits, so it fits in an i64: half the
        // memory to hold and to read back in sorted order. (One that did not fit would take
        // the row path.)
        let small = |v: i128| i64::try_from(v).ok();
        let fx_rate = match fx_rate {
            Some(v) => Some(small(v)?),
            None => None,
        };
        let settlement = match settlement {
            Some(v) => Some(small(v)?),
            None => None,
        };
        Some(Row {
            id: looked_up.id,
            codes,
            ts,
            amount: small(amount)?,
            fx_rate,
            settlement,
            report_date,
            rate: small(rate)?,
            reporting: small(reporting)?,
        })
    }
}

/// The typed values of a row the fast checks passed.
pub(crate) struct Row {
    id: u128,
    codes: [u16; CODES],
    ts: i64,
    amount: i64,
    fx_rate: Option<i64>,
    settlement: Option<i64>,
    report_date: i32,
    rate: i64,
    reporting: i64,
}

/// The rows of one block the fast checks passed, column by column, in file order.
pub(crate) struct Checked {
    /// Each row's record in the block.
    pub(crate) records: Vec<u32>,
    /// Each row's id fingerprint.
    pub(crate) ids: Vec<u128>,
    codes: Vec<[u16; CODES]>,
    ts: Vec<i64>,
    amount: Vec<i64>,
    fx_rate: Vec<Option<i64>>,
    settlement: Vec<Option<i64>>,
    report_date: Vec<i32>,
    rate: Vec<i64>,
    reporting: Vec<i64>,
}

impl Checked {
    /// Room for `rows` rows: the block's size is known, and growing ten columns by doubling
    /// would copy each of them about once more.
    pub(crate) fn with_capacity(rows: usize) -> Checked {
        Checked {
            records: Vec::with_capacity(rows),
            ids: Vec::with_capacity(rows),
            codes: Vec::with_capacity(rows),
            ts: Vec::with_capacity(rows),
            amount: Vec::with_capacity(rows),
            fx_rate: Vec::with_capacity(rows),
            settlement: Vec::with_capacity(rows),
            report_date: Vec::with_capacity(rows),
            rate: Vec::with_capacity(rows),
            reporting: Vec::with_capacity(rows),
        }
    }

    pub(crate) fn push(&mut self, record: u32, row: Row) {
        self.records.push(record);
        self.ids.push(row.id);
        self.codes.push(row.codes);
        self.ts.push(row.ts);
        self.amount.push(row.amount);
        self.fx_rate.push(row.fx_rate);
        self.settlement.push(row.settlement);
        self.report_date.push(row.report_date);
        self.rate.push(row.rate);
        self.reporting.push(row.reporting);
    }

    /// Counts the rows as read and stored in `run`, quarantines those at positions `taken`
    /// (their ids were claimed by earlier rows of the file), adds the others' amounts to the
    /// control totals and returns them as a batch in the order they are written in.
    pub(crate) fn settle(
        &self,
        run: &mut FileRun<'_>,
        plan: &Plan,
        block: &Block,
        taken: &[usize],
    ) -> Result<RecordBatch> {
        let n = self.records.len();
        run.rows_read += n as u64;
        run.rows_stored += (n - taken.len()) as u64;
        let mut keep = vec![true; n];
        for &k in taken {
            keep[k] = false;
            let r = &block.records[self.records[k] as usize];
            let id = String::from_utf8_lossy(plan.text(block, r, run.txn.txn_id));
            let detail = format!("{id:?} appears earlier in this file");
            let reject = reject(Some("txn_id"), Reason::DuplicateTxnId, detail);
            run.quarantine(r.line, reject, Raw::Range(r.start, r.end));
        }
        let kept: Vec<u32> = (0..n as u32).filter(|&k| keep[k as usize]).collect();
        self.add_totals(run, plan, block, &kept);
        self.build(run, plan, block, &kept)
    }

    /// Adds the amounts of the rows at positions `kept` to `run`'s control totals.
    fn add_totals(&self, run: &mut FileRun<'_>, plan: &Plan, block: &Block, kept: &[u32]) {
        // Few currencies, long runs: a short list beats a map lookup per row.
        let mut sums: Vec<(&[u8], i128)> = Vec::new();
        for &i in kept {
            let r = &block.records[self.records[i as usize] as usize];
            let currency = plan.text(block, r, run.txn.currency);
            let amount = i128::from(self.amount[i as usize]);
            match sums.iter_mut().find(|(c, _)| *c == currency) {
                Some((_, sum)) => *sum += amount,
                None => sums.push((currency, amount)),
            }
        }
        for (currency, sum) in sums {
            *run.amounts
                .entry(String::from_utf8_lossy(currency).into_owned())
                .or_default() += sum;
        }
    }

    /// The rows at positions `kept` as one batch in the order they are written in (day,
    /// payer, instant; ties in file order), every column built once.
    fn build(&self, run: &FileRun<'_>, plan: &Plan, block: &Block, kept: &[u32]) -> Result<RecordBatch> {
        let c = &run.txn;
        let day = |i: usize| self.ts[i].div_euclid(86_400_000_000) as i32;
        let record = |i: usize| &block.records[self.records[i] as usize];
        // Positions in `kept`, sorted.
        let order = transaction_order(kept.len(), |k| {
            let i = kept[k] as usize;
            (day(i), plan.text(block, record(i), c.payer), self.ts[i])
        });
        let rows = || order.iter().map(|&k| kept[k as usize] as usize);
        let schema = Table::Transactions.arrow_schema();
        // Texts are packed reading the block front to back once, each into the range of
        // sorted positions its row falls in; each range is then put in order on its own.
        let text_columns: Vec<(usize, usize)> = (0..schema.fields().len())
            .filter(|&col| schema.field(col).data_type() == &DataType::Utf8 && col != c.ingest_id)
            .filter(|&col| plan.coded.iter().all(|coded| coded.0 != col))
            .filter_map(|col| Some((col, plan.field_of[col]?)))
            .collect();
        let mut rank = vec![0u32; kept.len()];
        for (at, &k) in order.iter().enumerate() {
            rank[k as usize] = at as u32;
        }
        let mut texts = SortedTexts::new(kept.len(), text_columns.len(), RANGE_SHIFT);
        for (&i, &rank) in kept.iter().zip(&rank) {
            let r = record(i as usize);
            texts.push(
                rank,
                text_columns.iter().map(|&(_, k)| {
                    let k = r.first_field as usize + k;
                    (block.field(k).len(), block.tail(k))
                }),
            );
        }
        let texts = texts.finish()?;
        // Every code of a row in one read, in sorted order; each code column is spelt from it.
        let sorted_codes: Vec<[u16; CODES]> = if plan.coded.is_empty() {
            Vec::new()
        } else {
            rows().map(|i| self.codes[i]).collect()
        };
        let decimals = |values: Decimal128Array, precision: u8, scale: u32| -> Result<ArrayRef> {
            Ok(Arc::new(values.with_precision_and_scale(precision, scale as i8)?))
        };
        let required = |values: &[i64]| Decimal128Array::from_iter_values(rows().map(|i| i128::from(values[i])));
        // A column no row of the block fills (say, settlement amounts in a domestic log) is
        // made null at once: gathering it in sorted order reads scattered memory.
        let optional = |values: &[Option<i64>]| {
            if values.iter().all(Option::is_none) {
                Decimal128Array::new_null(order.len())
            } else {
                Decimal128Array::from_iter(rows().map(|i| values[i].map(i128::from)))
            }
        };
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
        for (col, field) in schema.fields().iter().enumerate() {
            let array: ArrayRef = if col == c.ts {
                Arc::new(TimestampMicrosecondArray::from_iter_values(rows().map(|i| self.ts[i])).with_timezone("UTC"))
            } else if col == c.amount {
                decimals(required(&self.amount), AMOUNT_PRECISION, AMOUNT_SCALE)?
            } else if col == c.fx_rate {
                decimals(optional(&self.fx_rate), RATE_PRECISION, RATE_SCALE)?
            } else if col == c.settlement_amount {
                decimals(optional(&self.settlement), AMOUNT_PRECISION, AMOUNT_SCALE)?
            } else if col == c.txn_date {
                Arc::new(Date32Array::from_iter_values(rows().map(day)))
            } else if col == c.report_date {
                Arc::new(Date32Array::from_iter_values(rows().map(|i| self.report_date[i])))
            } else if col == c.reporting_rate {
                decimals(required(&self.rate), RATE_PRECISION, RATE_SCALE)?
            } else if col == c.amount_reporting {
                decimals(required(&self.reporting), AMOUNT_PRECISION, AMOUNT_SCALE)?
            } else if col == c.ingest_id {
                constant(&run.ingest_id, order.len())?
            } else if let Some(at) = text_columns.iter().position(|t| t.0 == col) {
                Arc::clone(&texts[at])
            } else if let Some(&(_, slot, check)) = plan.coded.iter().find(|coded| coded.0 == col) {
                coded(sorted_codes.len(), |i| sorted_codes[i][slot], check)?
            } else if field.data_type() == &DataType::Utf8 {
                // An optional text column the header lacks.
                new_null_array(field.data_type(), order.len())
            } else {
                // Plan::new refuses a table with such a column.
                return Err(ArrowError::ComputeError(format!("no typed build for column {}", field.name())).into());
            };
            arrays.push(array);
        }
        // Code columns and the ingest id are dictionaries of the texts the table stores.
        let fields: Vec<Field> = (schema.fields().iter().zip(&arrays))
            .map(|(field, array)| Field::new(field.name(), array.data_type().clone(), field.is_nullable()))
            .collect();
        Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
    }
}

/// Rows per range of sorted positions in [`SortedTexts`], as a power of two: 16Ki rows'
/// texts stay in cache while the range is put in order.
const RANGE_SHIFT: u32 = 14;

/// Text columns put in sorted order in two cache-friendly steps. A row's sorted position
/// (its rank) is scattered anywhere in the block, so reading texts in sorted order from a
/// copy in file order misses the cache on almost every row, and at half a million rows
/// that is most of the cost of building a text column. Instead each row's texts are packed,
/// in file order, with the rows whose ranks fall in the same range; a range is small enough
/// to be put in order from cache.
struct SortedTexts {
    columns: usize,
    shift: u32,
    /// For each range of ranks, the rank of each of its rows, in file order.
    ranks: Vec<Vec<u32>>,
    /// For each range, the texts of each column, in the same order.
    packed: Vec<Vec<Packed>>,
}

impl SortedTexts {
    /// Room for `rows` rows of `columns` texts each, in ranges of 2^`shift` ranks.
    fn new(rows: usize, columns: usize, shift: u32) -> SortedTexts {
        let per_range = rows.min(1 << shift);
        let ranges = rows.div_ceil(1 << shift);
        SortedTexts {
            columns,
            shift,
            ranks: (0..ranges).map(|_| Vec::with_capacity(per_range)).collect(),
            packed: (0..ranges)
                .map(|_| (0..columns).map(|_| Packed::with_rows(per_range)).collect())
                .collect(),
        }
    }

    /// Adds the row whose sorted position is `rank` (ranks are `0..rows`, each given once),
    /// with each column's text as its length and the bytes that hold it (see [`TextBuf`]).
    fn push<'a>(&mut self, rank: u32, texts: impl Iterator<Item = (usize, &'a [u8])>) {
        let range = (rank >> self.shift) as usize;
        self.ranks[range].push(rank);
        for (packed, (len, from)) in self.packed[range].iter_mut().zip(texts) {
            packed.push(len, from);
        }
    }

    /// Each column as a string column in sorted order; an empty text is null.
    fn finish(&self) -> Result<Vec<ArrayRef>> {
        let rows: usize = self.ranks.iter().map(Vec::len).sum();
        let mut built: Vec<TextColumn> = (0..self.columns)
            .map(|c| TextColumn::with_capacity(rows, self.packed.iter().map(|p| p[c].bytes.len).sum()))
            .collect();
        let mut order = Vec::new();
        for (range, (ranks, packed)) in self.ranks.iter().zip(&self.packed).enumerate() {
            // The range holds exactly the ranks from `first` on, one row each.
            let first = range << self.shift;
            order.clear();
            order.resize(ranks.len(), 0u32);
            for (k, &rank) in ranks.iter().enumerate() {
                order[rank as usize - first] = k as u32;
            }
            for (column, packed) in built.iter_mut().zip(packed) {
                packed.gather_into(&order, column)?;
            }
        }
        built.into_iter().map(TextColumn::finish).collect()
    }
}

/// One text column of some rows, packed back to back in the order they were added.
struct Packed {
    bytes: TextBuf,
    /// Where each row's text ends in `bytes`.
    ends: Vec<u32>,
}

impl Packed {
    fn with_rows(rows: usize) -> Packed {
        Packed {
            bytes: TextBuf::with_capacity(rows * 10),
            ends: Vec::with_capacity(rows),
        }
    }

    /// Appends a text of `len` bytes; `from` holds it and whatever follows it in the block.
    fn push(&mut self, len: usize, from: &[u8]) {
        self.bytes.push(len, from);
        self.ends.push(self.bytes.len as u32);
    }

    /// Appends the texts at positions `order` to `column`.
    fn gather_into(&self, order: &[u32], column: &mut TextColumn) -> Result<()> {
        let (bytes, ends) = (&self.bytes.bytes, &self.ends);
        for &k in order {
            let k = k as usize;
            let start = if k == 0 { 0 } else { ends[k - 1] as usize };
            column.push(ends[k] as usize - start, &bytes[start..])?;
        }
        Ok(())
    }
}

/// A string column being built from texts copied as in [`TextBuf`]; an empty text is null.
struct TextColumn {
    values: TextBuf,
    offsets: Vec<i32>,
    valid: Vec<bool>,
}

impl TextColumn {
    fn with_capacity(rows: usize, bytes: usize) -> TextColumn {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        TextColumn {
            values: TextBuf::with_capacity(bytes),
            offsets,
            valid: Vec::with_capacity(rows),
        }
    }

    /// Appends the first `len` bytes of `from` as the next row (null when `len` is 0).
    fn push(&mut self, len: usize, from: &[u8]) -> Result<()> {
        self.values.push(len, from);
        self.valid.push(len > 0);
        let end = i32::try_from(self.values.len)
            .map_err(|_| ArrowError::ComputeError("a block's texts exceed 2 GiB".into()))?;
        self.offsets.push(end);
        Ok(())
    }

    fn finish(self) -> Result<ArrayRef> {
        let nulls = NullBuffer::from(self.valid);
        let nulls = (nulls.null_count() > 0).then_some(nulls);
        let offsets = OffsetBuffer::new(ScalarBuffer::from(self.offsets));
        let values = Buffer::from_vec(self.values.finish());
        Ok(Arc::new(StringArray::try_new(offsets, values, nulls)?))
    }
}

/// Texts up to this long are copied as one fixed-size move instead of a call to `memcpy`.
const SHORT: usize = 16;

/// Texts back to back in `bytes[..len]`; the rest is zeroed room, always at least [`SHORT`]
/// bytes, so that a short text is copied as one fixed-size move (its extra bytes land in the
/// room and are overwritten by the next text).
struct TextBuf {
    bytes: Vec<u8>,
    len: usize,
}

impl TextBuf {
    fn with_capacity(bytes: usize) -> TextBuf {
        TextBuf {
            bytes: vec![0; bytes + SHORT],
            len: 0,
        }
    }

    /// Appends the first `len` bytes of `from`.
    fn push(&mut self, len: usize, from: &[u8]) {
        let need = self.len + len.max(SHORT);
        if self.bytes.len() < need {
            self.bytes.resize(need.max(self.bytes.len() * 2), 0);
        }
        let room = &mut self.bytes[self.len..];
        match (from.first_chunk::<SHORT>(), room.first_chunk_mut::<SHORT>()) {
            (Some(text), Some(to)) if len <= SHORT => *to = *text,
            _ => copy_long(room, from, len),
        }
        self.len += len;
    }

    fn finish(mut self) -> Vec<u8> {
        self.bytes.truncate(self.len);
        self.bytes
    }
}

/// The copy of a text too long for one fixed-size move. Kept out of line: inlined, the
/// compiler merges both copies into one `memcpy` call of either size, the very call the
/// fixed-size move is there to avoid.
#[cold]
#[inline(never)]
fn copy_long(to: &mut [u8], from: &[u8], len: usize) {
    to[..len].copy_from_slice(&from[..len]);
}

/// `amount` if its decimals fit `currency`'s minor units without rounding (the row path
/// rounds or refuses the rest).
fn fits_minor_units((amount, digits): (i128, u32), currency: &[u8]) -> Option<i128> {
    let minor = custos_model::currency_minor_units(currency)?;
    (digits <= minor || amount % 10i128.pow(AMOUNT_SCALE - minor.min(AMOUNT_SCALE)) == 0).then_some(amount)
}

/// A plain positive decimal (`digits[.digits]`, no sign or exponent) scaled by 10^`scale`,
/// with how many fraction digits the text had; `None` for anything else, or when it has more
/// than `scale` decimals or does not fit `precision` digits.
fn parse_positive(text: &[u8], scale: u32, precision: u8) -> Option<(i128, u32)> {
    // More digits than this may not fit; the row path says why.
    if text.is_empty() || text.len() > 30 {
        return None;
    }
    let (mut value, mut fraction, mut point) = (0i128, 0u32, false);
    for &b in text {
        match b {
            b'0'..=b'9' => {
                value = value * 10 + i128::from(b - b'0');
                fraction += u32::from(point);
            }
            b'.' if !point => point = true,
            _ => return None,
        }
    }
    if text.len() == 1 && point || fraction > scale {
        return None;
    }
    let value = value * 10i128.pow(scale - fraction);
    (value > 0 && value.unsigned_abs() < 10u128.pow(u32::from(precision))).then_some((value, fraction))
}

/// An RFC 3339 instant in its common form, `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` with
/// at most nine fraction digits, as microseconds since the epoch; `None` for anything else
/// or out of range.
fn parse_instant(text: &[u8]) -> Option<i64> {
    let num = |from: usize, to: usize| -> Option<i64> {
        let mut v = 0;
        for &b in text.get(from..to)? {
            if !b.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(b - b'0');
        }
        Some(v)
    };
    if text.len() < 20 || text[4] != b'-' || text[7] != b'-' || text[10] != b'T' || text[13] != b':' || text[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut at = 19;
    let mut micros = 0;
    if text[at] == b'.' {
        let digits = text[at + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
        if !(1..=9).contains(&digits) {
            return None;
        }
        let nanos = num(at + 1, at + 1 + digits)? * 10i64.pow(9 - digits as u32);
        micros = nanos / 1000;
        at += 1 + digits;
    }
    let offset = match &text[at..] {
        b"Z" => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (h, m) = (num(at + 1, at + 3)?, num(at + 4, at + 6)?);
            if h > 23 || m > 59 {
                return None;
            }
            let seconds = h * 3600 + m * 60;
            if *sign == b'-' { -seconds } else { seconds }
        }
        _ => return None,
    };
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset;
    let instant = seconds * 1_000_000 + micros;
    (TS_MIN..TS_MAX).contains(&instant).then_some(instant)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (after Howard Hinnant's
/// `days_from_civil`, public domain).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let shifted_month = (month + 9) % 12;
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use custos_model::Reason;

    use custos_warehouse::datafusion::arrow::array::{Array, AsArray};

    use super::*;
    use crate::values::{Value, parse_value};

    /// Whatever the fast parser accepts, the row path accepts with the same instant.
    #[test]
    fn instants_agree_with_the_row_path() {
        let texts = [
            "2025-03-04T05:50:37+08:00",
            "2025-03-04T05:50:37Z",
            "2024-02-29T23:59:59.999999999-05:30",
            "2023-02-29T00:00:00Z",
            "2000-02-29T12:00:00.5+00:00",
            "1900-02-29T12:00:00Z",
            "1990-01-01T00:00:00Z",
            "1990-01-01T07:59:59+08:00",
            "2099-12-31T23:59:59.123456Z",
            "2100-01-01T00:00:00Z",
            "2025-13-01T00:00:00Z",
            "2025-04-31T00:00:00Z",
            "2025-04-30T24:00:00Z",
            "2025-04-30T23:60:00Z",
            "2025-04-30T23:59:60Z",
            "2025-04-30T23:59:59.Z",
            "2025-04-30T23:59:59.1234567891Z",
            "2025-04-30t23:59:59Z",
            "2025-04-30 23:59:59Z",
            "2025-04-30T23:59:59z",
            "2025-04-30T23:59:59+0800",
            "2025-04-30T23:59:59+24:00",
            "2025-04-30T23:59:59-00:00",
            "2025-04-30T23:59:59",
            "+2025-04-30T23:59:59Z",
            "2025-4-30T23:59:59Z",
            "2025-04-30T23:59:59.000001+14:00",
        ];
        let mut accepted = 0;
        for text in texts {
            let row = parse_value(FieldType::Timestamp, text, false);
            // Refusing is always safe (the row path decides); accepting must agree.
            if let Some(fast) = parse_instant(text.as_bytes()) {
                accepted += 1;
                assert_eq!(row, Ok(Value::Ts(fast)), "{text}");
            }
        }
        assert_eq!(accepted, 8);
        assert_eq!(parse_instant(b"2025-04-31T00:00:00Z"), None);
        assert_eq!(parse_instant(b"2100-01-01T00:00:00Z"), None);
    }

    /// Whatever the fast parser accepts, the row path accepts with the same value; and it
    /// accepts the common forms.
    #[test]
    fn decimals_agree_with_the_row_path() {
        let texts = [
            "3.89",
            "67.94",
            "1",
            "0.0001",
            ".5",
            "5.",
            "0",
            "0.00",
            "-1",
            "+1",
            "1e3",
            "1.23456",
            "1..2",
            ".",
            "99999999999999.9999",
            "100000000000000",
            "007.50",
            "1,5",
            " 1",
            "12345678901234567890123456789012",
        ];
        let mut accepted = 0;
        for text in texts {
            let row = parse_value(FieldType::Amount, text, false);
            match parse_positive(text.as_bytes(), AMOUNT_SCALE, AMOUNT_PRECISION) {
                Some((value, digits)) => {
                    accepted += 1;
                    assert_eq!(row, Ok(Value::Dec(value, digits)), "{text}");
                }
                None => assert!(row.is_err() || text.starts_with('+'), "{text} is refused"),
            }
        }
        assert_eq!(accepted, 8);
        assert_eq!(
            parse_value(FieldType::Amount, "1.23456", false).map_err(|e| e.0),
            Err(Reason::TooManyDecimals)
        );
    }

    #[test]
    fn minor_units() {
        assert_eq!(fits_minor_units((123_400, 2), b"CNY"), Some(123_400));
        assert_eq!(fits_minor_units((123_450, 3), b"CNY"), None);
        assert_eq!(fits_minor_units((123_400, 3), b"CNY"), Some(123_400));
        assert_eq!(fits_minor_units((10_000, 0), b"JPY"), Some(10_000));
        assert_eq!(fits_minor_units((15_000, 1), b"JPY"), None);
        assert_eq!(fits_minor_units((15_000, 1), b"XXX1"), None);
    }

    /// Short texts are copied as 16-byte moves whose extra bytes are overwritten; whatever
    /// the lengths, the buffer's growth, the order and the size of the ranges of ranks, each
    /// row of each column gets exactly its text at its sorted position.
    #[test]
    fn texts_land_in_sorted_order() {
        let texts: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"a".to_vec(),
            b"exactly-16-bytes".to_vec(),
            b"seventeen-bytes!!".to_vec(),
            "\u{e9} \u{fc}ber".as_bytes().to_vec(),
            b"x".repeat(100),
            b"".to_vec(),
            // Last, with fewer than 16 bytes after its start.
            b"end".to_vec(),
        ];
        let mut block = Vec::new();
        let mut starts = Vec::new();
        for text in &texts {
            starts.push(block.len());
            block.extend_from_slice(text);
        }
        // Row k (in file order) goes to sorted position rank[k]; the second column holds the
        // texts in reverse.
        let rank = [3u32, 7, 4, 2, 6, 1, 5, 0];
        let n = texts.len();
        for shift in [0, 1, 2, 14] {
            let mut sorted = SortedTexts::new(n, 2, shift);
            for (k, &rank) in rank.iter().enumerate() {
                let (a, b) = (k, n - 1 - k);
                sorted.push(
                    rank,
                    [
                        (texts[a].len(), &block[starts[a]..]),
                        (texts[b].len(), &block[starts[b]..]),
                    ]
                    .into_iter(),
                );
            }
            let columns = sorted.finish().unwrap();
            assert_eq!(columns.len(), 2);
            for (c, column) in columns.iter().enumerate() {
                let strings = column.as_string::<i32>();
                assert_eq!(strings.len(), n);
                for (k, &rank) in rank.iter().enumerate() {
                    let (i, text) = (rank as usize, &texts[if c == 0 { k } else { n - 1 - k }]);
                    if text.is_empty() {
                        assert!(strings.is_null(i), "shift {shift}, column {c}, row {i}");
                    } else {
                        assert_eq!(
                            strings.value(i).as_bytes(),
                            &text[..],
                            "shift {shift}, column {c}, row {i}"
                        );
                    }
                }
            }
        }
        // No rows: still one (empty) column each.
        let columns = SortedTexts::new(0, 3, RANGE_SHIFT).finish().unwrap();
        assert_eq!(columns.iter().map(|c| c.len()).collect::<Vec<_>>(), [0, 0, 0]);
    }

    /// A log with every column, or only the required ones, is checked on the fast path
    /// (were `Plan::new` to refuse it, every row would quietly take the row path).
    #[test]
    fn the_canonical_layouts_take_the_fast_path() {
        let inputs = |all: bool| -> Vec<Option<usize>> {
            let columns = Table::Transactions.columns().iter().enumerate();
            columns
                .filter(|(_, c)| c.origin == Origin::Input && (all || c.required))
                .map(|(i, _)| Some(i))
                .collect()
        };
        assert!(Plan::new(&inputs(true)).is_some());
        assert!(Plan::new(&inputs(false)).is_some());
    }

    /// A code column spells back exactly the texts whose codes it keeps.
    #[test]
    fn codes_spell_their_texts() {
        let enums = Check::Enum(&["PAYMENT", "A_VALUE_LONGER_THAN_16", "QR"]);
        for (check, texts) in [
            (enums, &["QR", "A_VALUE_LONGER_THAN_16", "PAYMENT", "QR"][..]),
            (Check::Country, &["CN", "HK", "US", "AD", "ZW"][..]),
            (Check::Currency, &["CNY", "HKD", "USD", "AED", "ZWG"][..]),
        ] {
            let codes: Vec<u16> = texts.iter().map(|t| check.code(t.as_bytes()).unwrap()).collect();
            // Nulls first, in the middle and last, and a column with none.
            let with_nulls: Vec<u16> = [NO_CODE]
                .into_iter()
                .chain(codes[..2].iter().copied())
                .chain([NO_CODE])
                .chain(codes[2..].iter().copied())
                .chain([NO_CODE])
                .collect();
            let array = spell(with_nulls.len(), |i| with_nulls[i], check).unwrap();
            // The dictionary of the same codes holds the same texts.
            let keyed = coded(with_nulls.len(), |i| with_nulls[i], check).unwrap();
            assert!(matches!(keyed.data_type(), DataType::Dictionary(..)));
            assert_eq!(&cast(&keyed, &DataType::Utf8).unwrap(), &array);
            let strings = array.as_string::<i32>();
            let spelt: Vec<Option<&str>> = strings.iter().collect();
            let expected: Vec<Option<&str>> = [None]
                .into_iter()
                .chain(texts[..2].iter().map(|t| Some(*t)))
                .chain([None])
                .chain(texts[2..].iter().map(|t| Some(*t)))
                .chain([None])
                .collect();
            assert_eq!(spelt, expected);
            let array = spell(codes.len(), |i| codes[i], check).unwrap();
            let strings = array.as_string::<i32>();
            assert_eq!(strings.null_count(), 0);
            assert_eq!(strings.iter().flatten().collect::<Vec<_>>(), texts);
        }
        assert_eq!(Check::Country.code(b"XX"), None);
        assert_eq!(Check::Currency.code(b"cny"), None);
        assert_eq!(enums.code(b"NFC"), None);
    }

    #[test]
    fn constant_texts() {
        let column = constant("ing-000001", 3).unwrap();
        let texts = cast(&column, &DataType::Utf8).unwrap();
        assert_eq!(
            texts.as_string::<i32>().iter().collect::<Vec<_>>(),
            [Some("ing-000001"); 3]
        );
        assert_eq!(column.null_count(), 0);
        assert_eq!(constant("x", 0).unwrap().len(), 0);
    }

    #[test]
    fn more_than_256_codes_are_spelt() {
        let codes: Vec<u16> = (0..300).collect();
        let column = coded(codes.len(), |i| codes[i], Check::Currency).unwrap();
        assert_eq!(column.data_type(), &DataType::Utf8);
        assert_eq!(column.as_string::<i32>().value(1), "AAB");
        let codes: Vec<u16> = (0..256).chain([NO_CODE]).collect();
        let column = coded(codes.len(), |i| codes[i], Check::Currency).unwrap();
        assert!(matches!(column.data_type(), DataType::Dictionary(..)));
        assert_eq!(column.null_count(), 1);
    }

    #[test]
    fn civil_days() {
        for (y, m, d) in [(1970, 1, 1), (2000, 2, 29), (2024, 12, 31), (1990, 1, 1), (2099, 3, 1)] {
            let date = chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
            assert_eq!(
                days_from_civil(i64::from(y), i64::from(m), i64::from(d)),
                i64::from(crate::values::date_to_days(date))
            );
        }
    }
}

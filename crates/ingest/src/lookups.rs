//! What transaction validation checks against the warehouse: known ids, accounts, FX rates.

use std::collections::HashMap;

use foldhash::fast::RandomState;

use custos_model::Table;
use custos_warehouse::datafusion::arrow::array::{Array, AsArray};
use custos_warehouse::datafusion::arrow::datatypes::{Date32Type, Decimal128Type};
use custos_warehouse::{Catalog, read_parquet_files};

use crate::Result;
use crate::ids::FingerprintSet;

/// A 128-bit fingerprint of an id's bytes (two 64-bit foldhash hashes with fixed seeds). Sets of
/// fingerprints instead of strings keep a 100M-transaction warehouse's id set at a few GB (see [`FingerprintSet`]) and
/// make each membership test one probe without following a pointer. Two distinct ids share a
/// fingerprint with odds of about 2^-128 per pair for ordinary ids; even then nothing is
/// lost: the second row is quarantined as a duplicate, where a person can see it.
pub(crate) fn fingerprint(id: &[u8]) -> u128 {
    use std::hash::BuildHasher;
    const A: foldhash::fast::FixedState = foldhash::fast::FixedState::with_seed(0x243f_6a88_85a3_08d3);
    const B: foldhash::fast::FixedState = foldhash::fast::FixedState::with_seed(0x1319_8a2e_0370_7344);
    (u128::from(A.hash_one(id)) << 64) | u128::from(B.hash_one(id))
}

/// The key of a currency code in [`Lookups::fx`] (codes are validated three-letter ASCII).
pub(crate) fn fx_key(code: impl AsRef<[u8]>) -> [u8; 3] {
    let b = code.as_ref();
    [
        b.first().copied().unwrap_or(0),
        b.get(1).copied().unwrap_or(0),
        b.get(2).copied().unwrap_or(0),
    ]
}

/// Reference state for validating transactions, loaded once per command.
pub(crate) struct Lookups {
    pub txn_ids: FingerprintSet,
    /// Fingerprints of known account ids; `None` while no accounts are loaded: then account
    /// ids are not checked.
    pub accounts: Option<FingerprintSet>,
    /// (reporting-zone date in days, currency) -> rate, scaled by 10^RATE_SCALE.
    pub fx: HashMap<(i32, [u8; 3]), i128, RandomState>,
}

impl Lookups {
    pub(crate) fn load(root: &std::path::Path, catalog: &Catalog) -> Result<Lookups> {
        let paths = |t: Table| catalog.files(t).iter().map(|f| root.join(&f.path)).collect::<Vec<_>>();
        let mut txn_ids = FingerprintSet::with_capacity(catalog.rows(Table::Transactions) as usize);
        for batch in read_parquet_files(&paths(Table::Transactions), Some(&["txn_id"]))? {
            for id in batch.column(0).as_string::<i32>().iter().flatten() {
                txn_ids.insert(fingerprint(id.as_bytes()));
            }
        }
        let account_files = paths(Table::Accounts);
        let accounts = if account_files.is_empty() {
            None
        } else {
            let mut set = FingerprintSet::default();
            for batch in read_parquet_files(&account_files, Some(&["account_id"]))? {
                for id in batch.column(0).as_string::<i32>().iter().flatten() {
                    set.insert(fingerprint(id.as_bytes()));
                }
            }
            Some(set)
        };
        let mut fx = HashMap::with_hasher(RandomState::default());
        for batch in read_parquet_files(&paths(Table::FxRates), Some(&["rate_date", "currency", "rate"]))? {
            let dates = batch.column(0).as_primitive::<Date32Type>();
            let currencies = batch.column(1).as_string::<i32>();
            let rates = batch.column(2).as_primitive::<Decimal128Type>();
            for i in 0..batch.num_rows() {
                if dates.is_valid(i) && currencies.is_valid(i) && rates.is_valid(i) {
                    fx.insert((dates.value(i), fx_key(currencies.value(i))), rates.value(i));
                }
            }
        }
        Ok(Lookups { txn_ids, accounts, fx })
    }
}

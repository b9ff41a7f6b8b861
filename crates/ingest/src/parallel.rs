//! Reading a canonical CSV transaction log on every core.
//!
//! The calling thread only reads: it hashes the file as it reads it (when asked) and cuts it
//! into blocks of whole records (field bytes back to back, with where each field ends).
//! Worker threads each take a block and do the rest: check every row (typed fast checks in
//! [`crate::columnar`], the row path for what they do not pass), claim the block's ids,
//! settle the block (rows whose id an earlier row claimed are quarantined), build its
//! columns in sorted order and write them as Parquet files in staging, handing each to the
//! syncing thread.
//!
//! The result equals reading on one thread: blocks claim their ids strictly in file order
//! (a block waits for its turn), so the first occurrence of an id is the one stored wherever
//! the blocks ran; counts and control totals are summed, and quarantined rows are put back in
//! file order by the caller.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use custos_warehouse::datafusion::arrow::array::RecordBatch;
use custos_warehouse::datafusion::arrow::compute::concat_batches;

use custos_model::Table;

use sha2::{Digest, Sha256};

use crate::columnar::{Checked, Plan, as_stored};
use crate::ids::FingerprintSet;
use crate::ingest::{FileRun, LookedUp};
use crate::lookups::fingerprint;
use crate::read::{FileHash, bind_header, csv_row, is_dos_eof};
use crate::sink::{SinkFile, Staging, write_chunk, write_sorted_chunk};
use crate::{Error, Result};

/// A block never holds more field bytes than this, so field offsets fit in `u32`.
const BLOCK_BYTES: usize = 256 << 20;

/// Records tokenized by the reading thread.
pub(crate) struct Block {
    seq: usize,
    /// Field bytes back to back in `data[..used]`; the rest is room the tokenizer writes into.
    data: Vec<u8>,
    used: usize,
    /// End of each field in `data`; a field starts where the one before it ends.
    ends: Vec<u32>,
    pub(crate) records: Vec<Record>,
}

/// One record of a block: its fields and where it is in the file.
pub(crate) struct Record {
    pub(crate) first_field: u32,
    pub(crate) fields: u32,
    pub(crate) line: u64,
    pub(crate) start: u64,
    pub(crate) end: u64,
}

impl Block {
    /// An empty block with room for `bytes` of fields (zeroed pages the kernel hands out on
    /// first touch, so unused room costs nothing).
    fn new(seq: usize, bytes: usize) -> Block {
        Block {
            seq,
            data: vec![0; bytes.max(1 << 16)],
            used: 0,
            ends: Vec::new(),
            records: Vec::new(),
        }
    }

    /// This block emptied to be filled again as block `seq`, keeping its room. Its pages
    /// stay faulted in: the kernel need not zero some 60 MB again for every block, and as
    /// the reader writes a block front to back, reused pages cost it no more than fresh ones.
    fn reuse(mut self, seq: usize) -> Block {
        self.seq = seq;
        self.used = 0;
        self.ends.clear();
        self.records.clear();
        self
    }

    /// Where field `k` of the block (counting every record's fields) starts in `data`.
    fn start(&self, k: usize) -> usize {
        if k == 0 { 0 } else { self.ends[k - 1] as usize }
    }

    /// Field `k` of the block.
    pub(crate) fn field(&self, k: usize) -> &[u8] {
        &self.data[self.start(k)..self.ends[k] as usize]
    }

    /// The block's bytes from the start of field `k` on (room included).
    pub(crate) fn tail(&self, k: usize) -> &[u8] {
        &self.data[self.start(k)..]
    }

    /// A record's fields back to back, and where each ends in them.
    fn record(&self, r: &Record) -> (&[u8], impl ExactSizeIterator<Item = usize>) {
        let first = r.first_field as usize;
        let ends = &self.ends[first..first + r.fields as usize];
        let from = self.start(first);
        let to = ends.last().map_or(from, |e| *e as usize);
        (&self.data[from..to], ends.iter().map(move |e| *e as usize - from))
    }
}

/// A CSV file cut into records by `csv_core`, which writes each record's fields straight
/// into a block (the csv crate's reader would copy them into a record of its own first).
/// Records, lines and byte positions are those of the csv crate: both run the same parser.
///
/// Plain records (see [`Records::next_plain`]: whole in the buffer, ending in `\n` or
/// `\r\n`, with no quote and no other carriage return) are cut without it, at commas found
/// eight bytes at a time: for them `csv_core`, which steps through every byte, would give
/// the same fields, lines and positions.
struct Records<'p> {
    path: &'p Path,
    file: File,
    parser: csv_core::Reader,
    input: Vec<u8>,
    /// `input[at..filled]` is read from the file and not yet parsed.
    at: usize,
    filled: usize,
    eof: bool,
    /// Bytes of the file the parser has taken.
    consumed: u64,
    /// End of each field of the record being read, from the record's start.
    ends: Vec<usize>,
    /// Where each field of a plain record ends in `input`.
    cuts: Vec<usize>,
    /// Whether plain records are cut without `csv_core`.
    cut_plain: bool,
    /// Whether they may be now: not before `csv_core` has read the first record, which may
    /// begin with a byte order mark only it strips.
    plain: bool,
    /// Whether `input[at..filled]` is known to hold no `\n`: then no record in it is plain
    /// until the next read.
    no_newline: bool,
    /// The SHA-256 of the bytes read so far and their count, when the file is hashed as it
    /// is read: each read is hashed while it is still in cache, and the file is read once.
    hash: Option<(Sha256, u64)>,
}

/// Where a record is in its file: its line, its first byte and the byte after it.
struct Place {
    line: u64,
    start: u64,
    end: u64,
}

impl<'p> Records<'p> {
    /// The records of `path`, hashing the file as it is read if `hash`.
    fn open(path: &'p Path, hash: bool) -> Result<Records<'p>> {
        let mut records = Records::with_buffer(path, 1 << 20, true)?;
        records.hash = hash.then(|| (Sha256::new(), 0));
        Ok(records)
    }

    /// Records read `bytes` of the file at a time, plain ones cut without `csv_core` if
    /// `cut_plain`.
    fn with_buffer(path: &'p Path, bytes: usize, cut_plain: bool) -> Result<Records<'p>> {
        Ok(Records {
            path,
            file: File::open(path).map_err(|e| Error::io(path, e))?,
            parser: csv_core::Reader::new(),
            input: vec![0; bytes.max(1)],
            at: 0,
            filled: 0,
            eof: false,
            consumed: 0,
            ends: vec![0; 64],
            cuts: Vec::new(),
            cut_plain,
            plain: false,
            no_newline: false,
            hash: None,
        })
    }

    /// The file's SHA-256 (hex) and size, once every byte of it is read; `None` if it was
    /// not hashed or not read to its end.
    fn digest(self) -> Option<FileHash> {
        let (hasher, bytes) = self.hash.filter(|_| self.eof)?;
        Some((custos_warehouse::hex(&hasher.finalize()), bytes))
    }

    /// Reads the next record into `block` (its fields after `block.used`, their ends onto
    /// `block.ends`); its place and number of fields, or `None` after the last record.
    fn next(&mut self, block: &mut Block) -> Result<Option<(Place, usize)>> {
        use csv_core::ReadRecordResult::{End, InputEmpty, OutputEndsFull, OutputFull, Record};
        if self.plain
            && let Some(plain) = self.next_plain(block)
        {
            return Ok(Some(plain));
        }
        let (line, start, base) = (self.parser.line(), self.consumed, block.used);
        let (mut written, mut fields) = (0, 0);
        loop {
            if self.at == self.filled && !self.eof {
                self.filled = read_some(&mut self.file, &mut self.input).map_err(|e| Error::io(self.path, e))?;
                if let Some((hasher, bytes)) = &mut self.hash {
                    hasher.update(&self.input[..self.filled]);
                    *bytes += self.filled as u64;
                }
                self.at = 0;
                self.eof = self.filled == 0;
                self.no_newline = false;
            }
            let (result, read, wrote, ended) = self.parser.read_record(
                &self.input[self.at..self.filled],
                &mut block.data[base + written..],
                &mut self.ends[fields..],
            );
            self.at += read;
            self.consumed += read as u64;
            written += wrote;
            fields += ended;
            match result {
                InputEmpty => {}
                OutputFull => block.data.resize(block.data.len() * 2, 0),
                OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                Record => break,
                End => return Ok(None),
            }
        }
        for end in &self.ends[..fields] {
            let end = u32::try_from(base + end).map_err(|_| {
                Error::io(
                    self.path,
                    std::io::Error::other(format!("line {line}: a record of more than 3 GiB")),
                )
            })?;
            block.ends.push(end);
        }
        block.used = base + written;
        let end = self.consumed;
        self.plain = self.cut_plain;
        Ok(Some((Place { line, start, end }, fields)))
    }

    /// The next record if it is plain: whole in `input[at..filled]`, ending in `\n` or
    /// `\r\n`, with no other `\r` and no `"` in it. In such a record `csv_core` ends a field
    /// at each comma and copies every other byte, so the fields are the record split at its
    /// commas. It stops after the `\r` of a `\r\n` (leaving the `\n` to the next record) and
    /// after a lone `\n`; so does this. `None` leaves the record to `csv_core`. Between
    /// records `csv_core` is in its end-of-record state or its after-`\r` state, and both
    /// treat every byte as its start state does (blank lines, any `\r` and `\n`, are
    /// skipped), so records cut here leave it ready for the next.
    fn next_plain(&mut self, block: &mut Block) -> Option<(Place, usize)> {
        if self.no_newline {
            return None;
        }
        let window = &self.input[self.at..self.filled];
        let skip = window.iter().position(|b| !matches!(b, b'\n' | b'\r'))?;
        let Some(mut len) = memchr::memchr(b'\n', &window[skip..]) else {
            // Searching the same bytes again for each record csv_core cuts from them (say,
            // of a file ending its lines in `\r` alone) would take time quadratic in them.
            self.no_newline = true;
            return None;
        };
        let from = self.at + skip;
        // The `\n` is taken with the record, or, after a `\r`, left to the next one.
        let mut newline = 1;
        if let Some(special) = memchr::memchr2(b'"', b'\r', &self.input[from..from + len]) {
            if special + 1 != len || self.input[from + special] != b'\r' {
                return None;
            }
            (len, newline) = (special, 0);
        }
        let text = &self.input[from..from + len];
        let base = block.used;
        // Field ends are kept as u32; csv_core's path reports a record past that.
        u32::try_from(base + len).ok()?;
        // Room for the fields and for a 16-byte move past the last of them.
        let room = base + len + 16;
        if block.data.len() < room {
            block.data.resize(room.max(block.data.len() * 2), 0);
        }
        // Where each field ends in `input` first, then the copies: done together, the copy
        // was not inlined and the loop cost about what csv_core does.
        self.cuts.clear();
        push_commas(text, from, &mut self.cuts);
        self.cuts.push(from + len);
        let (mut written, mut start) = (base, from);
        for &end in &self.cuts {
            copy_field(&mut block.data[written..], &self.input, start..end);
            written += end - start;
            block.ends.push(written as u32);
            start = end + 1;
        }
        block.used = written;
        let fields = self.cuts.len();
        let newlines = window[..skip].iter().filter(|b| **b == b'\n').count() + newline;
        let (line, start) = (self.parser.line(), self.consumed);
        self.parser.set_line(line + newlines as u64);
        // The record and its terminator, `\n` or `\r`.
        let taken = skip + len + 1;
        self.at += taken;
        self.consumed += taken as u64;
        Some((
            Place {
                line,
                start,
                end: self.consumed,
            },
            fields,
        ))
    }
}

/// Pushes `offset` plus the position of every comma in `text`, in order, onto `out`.
/// Eight bytes are looked at a time: a word's bytes that equal a comma are found with
/// integer arithmetic, and only those are visited. (`memchr`'s iterator costs a call per
/// comma, about as much as `csv_core` spends on a field.)
fn push_commas(text: &[u8], offset: usize, out: &mut Vec<usize>) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let (words, rest) = text.as_chunks::<8>();
    for (w, word) in words.iter().enumerate() {
        // Zero where a byte is a comma; then the high bit of exactly those bytes (the shorter
        // `(x - ONES) & !x & HIGH` would also flag a byte of 1 just above a zero one).
        let x = u64::from_le_bytes(*word) ^ (ONES * u64::from(b','));
        let mut found = !(((x & LOW7) + LOW7) | x) & HIGH;
        while found != 0 {
            out.push(offset + w * 8 + (found.trailing_zeros() / 8) as usize);
            found &= found - 1;
        }
    }
    let tail = offset + words.len() * 8;
    out.extend(
        rest.iter()
            .enumerate()
            .filter(|(_, b)| **b == b',')
            .map(|(i, _)| tail + i),
    );
}

/// Copies `src[from]` to the start of `dst`. Most fields are short: those are copied as one
/// 16-byte move when `src` has the bytes, and what lands past the field's end is scratch
/// (the next field or the block's room overwrites it). Up to 32 bytes (an RFC 3339 instant
/// is 20 to 32) two overlapping 16-byte moves do; only longer fields call `memcpy`. `dst`
/// has 16 bytes of room at least.
#[inline(always)]
fn copy_field(dst: &mut [u8], src: &[u8], from: std::ops::Range<usize>) {
    let n = from.len();
    if n <= 16 && from.start + 16 <= src.len() {
        dst[..16].copy_from_slice(&src[from.start..from.start + 16]);
    } else if (17..=32).contains(&n) {
        dst[..16].copy_from_slice(&src[from.start..from.start + 16]);
        dst[n - 16..n].copy_from_slice(&src[from.end - 16..from.end]);
    } else {
        dst[..n].copy_from_slice(&src[from]);
    }
}

/// Reads what is there into `buf` (0 at the end of the file), retrying when interrupted.
fn read_some(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match file.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Whose turn it is to claim ids, the ids claimed so far, and the first failure (which
/// stops every thread).
struct Claims {
    next: usize,
    ids: FingerprintSet,
    failure: Option<Error>,
}

struct Shared {
    claims: Mutex<Claims>,
    turn: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Claims> {
        // A thread that panicked holding the lock left the claims consistent: each update
        // happens after the only call that could panic.
        self.claims.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn failed(&self) -> bool {
        self.lock().failure.is_some()
    }

    fn fail(&self, e: Error) {
        self.lock().failure.get_or_insert(e);
        self.turn.notify_all();
    }

    /// Waits for block `seq`'s turn and claims its ids; `None` if another thread failed.
    fn claim(&self, seq: usize, ids: &[u128]) -> Option<Vec<usize>> {
        let mut claims = self.lock();
        while claims.next != seq && claims.failure.is_none() {
            claims = self.turn.wait(claims).unwrap_or_else(|e| e.into_inner());
        }
        if claims.failure.is_some() {
            return None;
        }
        let taken = claims.ids.claim_all(ids);
        claims.next += 1;
        drop(claims);
        self.turn.notify_all();
        Some(taken)
    }
}

/// Fails the run if its thread unwinds, so no other thread waits for a turn forever.
struct PanicGuard<'s>(&'s Shared);

impl Drop for PanicGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.fail(Error::io(
                Path::new("<ingest>"),
                std::io::Error::other("an ingest thread panicked"),
            ));
        }
    }
}

/// Reads `path` with `threads` workers, blocks of `chunk_rows` records; returns the files
/// written and, if `hash`, the file's SHA-256 and size, computed as the file is read. `run`
/// receives the workers' counts, quarantined rows and claimed ids.
pub(crate) fn read_csv(
    path: &Path,
    run: &mut FileRun<'_>,
    (chunk_rows, threads): (usize, usize),
    out: &Staging<'_>,
    hash: bool,
    progress: &mut dyn FnMut(u64),
) -> Result<(Vec<SinkFile>, Option<FileHash>)> {
    let mut records = Records::open(path, hash)?;
    let mut header = Block::new(0, 0);
    let Some((_, fields)) = records.next(&mut header)? else {
        return Err(Error::Header {
            path: path.to_path_buf(),
            detail: "the file is empty: no header line".into(),
        });
    };
    let names: Vec<String> = (0..fields)
        .map(|k| String::from_utf8_lossy(header.field(k)).into_owned())
        .collect();
    let binding = bind_header(path, run.table, &names)?;
    let id_fields = IdFields::new(&binding).ok_or_else(|| Error::Header {
        path: path.to_path_buf(),
        detail: "read on several threads, but not a transaction log".into(),
    })?;
    let plan = Plan::new(&binding);
    let shared = Shared {
        claims: Mutex::new(Claims {
            next: 0,
            ids: std::mem::take(&mut run.new_ids),
            failure: None,
        }),
        turn: Condvar::new(),
    };
    // A rendezvous channel: the reader fills the next block while each worker holds one.
    let (tx, rx) = sync_channel::<Block>(0);
    let rx = Arc::new(Mutex::new(rx));
    // Workers hand their blocks back to be filled again.
    let (back_tx, back_rx) = channel::<Block>();
    let workers: Vec<FileRun<'_>> = (0..threads.max(1)).map(|_| run.worker()).collect();
    let (read, done) = std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for (i, worker) in workers.into_iter().enumerate() {
            let (rx, back, shared, binding, id_fields, plan) = (
                Arc::clone(&rx),
                back_tx.clone(),
                &shared,
                &binding,
                &id_fields,
                plan.as_ref(),
            );
            let spawned = std::thread::Builder::new()
                .name(format!("custos-ingest-{i}"))
                .spawn_scoped(scope, move || {
                    work(worker, (&rx, &back), (binding, id_fields, plan), shared, out)
                });
            match spawned {
                Ok(h) => handles.push(h),
                Err(e) => shared.fail(Error::io(Path::new("<ingest>"), e)),
            }
        }
        // Only the workers hold the receiver now: if they all stop, sending fails.
        drop(rx);
        let read = if handles.is_empty() {
            Ok(())
        } else {
            tokenize(&mut records, chunk_rows, threads, (tx, back_rx), progress)
        };
        let done: Vec<_> = handles.into_iter().map(|h| h.join().ok().flatten()).collect();
        (read, done)
    });
    let claims = shared.claims.into_inner().unwrap_or_else(|e| e.into_inner());
    if let Some(e) = claims.failure {
        return Err(e);
    }
    read?;
    run.new_ids = claims.ids;
    let mut files = Vec::new();
    for (worker, written) in done.into_iter().flatten() {
        run.absorb(worker);
        files.extend(written);
    }
    Ok((files, records.digest()))
}

/// The reading thread: cuts the records after the header into blocks and sends them.
fn tokenize(
    records: &mut Records<'_>,
    chunk_rows: usize,
    threads: usize,
    (tx, back): (SyncSender<Block>, Receiver<Block>),
    progress: &mut dyn FnMut(u64),
) -> Result<()> {
    // Near the end of the file blocks are cut to a quarter, so the workers run out of work
    // together instead of one validating a whole block while the others wait.
    let file_len = records.file.metadata().map(|m| m.len()).unwrap_or(0);
    let (mut rows_per_block, mut block_from) = (chunk_rows, 0u64);
    // Room for a block's fields: a guess for the first block, then what the one before used.
    let mut block = Block::new(0, chunk_rows.saturating_mul(128));
    loop {
        let used_before = block.used;
        let Some((place, fields)) = records.next(&mut block)? else {
            break;
        };
        let first_field = block.ends.len() - fields;
        if block.records.is_empty() {
            block_from = place.start;
        }
        if is_dos_eof((first_field..block.ends.len()).map(|k| block.field(k))) {
            block.ends.truncate(first_field);
            block.used = used_before;
            continue;
        }
        if place.line.is_multiple_of(65_536) {
            progress(place.end);
        }
        block.records.push(Record {
            first_field: first_field as u32,
            fields: fields as u32,
            line: place.line,
            start: place.start,
            end: place.end,
        });
        if block.records.len() >= rows_per_block || block.used >= BLOCK_BYTES {
            if rows_per_block == chunk_rows {
                let block_span = place.end - block_from;
                if file_len.saturating_sub(place.end) < block_span.saturating_mul(threads as u64) {
                    rows_per_block = (chunk_rows / 4).max(1);
                }
            }
            // A block a worker handed back, or a new one sized after this one (an eighth more).
            let seq = block.seq + 1;
            let next = back
                .try_recv()
                .map(|b| b.reuse(seq))
                .unwrap_or_else(|_| Block::new(seq, block.used / block.records.len() * rows_per_block / 8 * 9));
            if tx.send(std::mem::replace(&mut block, next)).is_err() {
                // Every worker stopped; the failure they recorded is the error.
                return Ok(());
            }
        }
    }
    if !block.records.is_empty() {
        let _ = tx.send(block);
    }
    Ok(())
}

/// A worker: takes blocks until the reader is done; `None` if the run failed.
fn work<'a>(
    mut run: FileRun<'a>,
    (rx, back): (&Mutex<Receiver<Block>>, &Sender<Block>),
    (binding, id_fields, plan): (&[Option<usize>], &IdFields, Option<&Plan>),
    shared: &Shared,
    out: &Staging<'_>,
) -> Option<(FileRun<'a>, Vec<SinkFile>)> {
    let _guard = PanicGuard(shared);
    let mut files = Vec::new();
    let result = (|| -> Result<bool> {
        loop {
            let next = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
            let Ok(block) = next else { break };
            if shared.failed() {
                return Ok(false);
            }
            let Some(settled) = settle_block(&mut run, (block, back), (binding, id_fields, plan), shared)? else {
                return Ok(false);
            };
            files.extend(write_block(out, settled)?);
        }
        Ok(true)
    })();
    match result {
        Ok(true) => Some((run, files)),
        Ok(false) => None,
        Err(e) => {
            shared.fail(e);
            None
        }
    }
}

/// Where the fields the lookups read sit in a record of the file.
struct IdFields {
    fields: usize,
    id: usize,
    payer: usize,
    payee: usize,
}

impl IdFields {
    /// `None` if the header lacks one of the fields (then the file was refused already).
    fn new(binding: &[Option<usize>]) -> Option<IdFields> {
        let at = |name: &str| {
            let col = Table::Transactions.columns().iter().position(|c| c.name == name)?;
            binding.iter().position(|b| *b == Some(col))
        };
        Some(IdFields {
            fields: binding.len(),
            id: at("txn_id")?,
            payer: at("payer_account")?,
            payee: at("payee_account")?,
        })
    }

    /// The fingerprint of field `k` of record `r`; 0 when the record cannot be a row. A
    /// transaction field's text is its bytes, untrimmed (a field that is empty or not UTF-8
    /// fails its row before any lookup is used).
    fn fingerprint(&self, block: &Block, r: &Record, k: usize) -> u128 {
        const { assert!(!Table::Transactions.trims_values() && Table::Transactions.null_tokens().is_empty()) };
        if r.fields as usize != self.fields {
            return 0;
        }
        fingerprint(block.field(r.first_field as usize + k))
    }
}

/// Rows validated together: their lookups are made first, a group at a time, so the cache
/// misses of probing the warehouse's id and account sets overlap. Small enough that the
/// group's records are still in cache when they are validated.
const LOOKUP_GROUP: usize = 1024;

/// A block's stored rows, ready to be written.
struct Settled {
    seq: usize,
    batch: RecordBatch,
    /// Whether the rows are in the order they are written in already.
    sorted: bool,
}

/// Validates, claims and settles one block: its stored rows, or `None` if another thread
/// failed. Rows the fast checks pass are built column by column ([`Checked`]); the others
/// take the row path. Once read, the block goes `back` to the reader to be filled again.
fn settle_block(
    run: &mut FileRun<'_>,
    (block, back): (Block, &Sender<Block>),
    (binding, id_fields, plan): (&[Option<usize>], &IdFields, Option<&Plan>),
    shared: &Shared,
) -> Result<Option<Settled>> {
    let lookups = run.lookups;
    let stored_ids = lookups.map(|l| &l.txn_ids).filter(|ids| !ids.is_empty());
    let accounts = lookups.and_then(|l| l.accounts.as_ref());
    let (mut ids, mut parties) = (Vec::new(), Vec::new());
    let mut fast = Checked::with_capacity(if plan.is_some() { block.records.len() } else { 0 });
    // Records the row path stored, in file order (their rows wait in the run's builders).
    let mut slow_stored: Vec<u32> = Vec::new();
    for (g, group) in block.records.chunks(LOOKUP_GROUP).enumerate() {
        ids.clear();
        parties.clear();
        for r in group {
            ids.push(id_fields.fingerprint(&block, r, id_fields.id));
            parties.push(id_fields.fingerprint(&block, r, id_fields.payer));
            parties.push(id_fields.fingerprint(&block, r, id_fields.payee));
        }
        let stored = stored_ids.map(|set| set.contains_all(&ids));
        let known = accounts.map(|set| set.contains_all(&parties));
        for (i, r) in group.iter().enumerate() {
            let looked_up = LookedUp {
                id: ids[i],
                id_stored: stored.as_ref().is_some_and(|s| s[i]),
                accounts_known: known.as_ref().map_or([true; 2], |k| [k[2 * i], k[2 * i + 1]]),
            };
            let index = (g * LOOKUP_GROUP + i) as u32;
            if let Some(row) = plan.and_then(|p| p.check(run, &block, r, &looked_up)) {
                fast.push(index, row);
                continue;
            }
            let before = run.buffered;
            csv_row(
                run,
                block.record(r),
                binding,
                (r.line, r.start, r.end),
                Some(&looked_up),
            );
            if run.buffered > before {
                slow_stored.push(index);
            }
        }
    }
    let seq = block.seq;
    // The row path's stored rows, if any, wait in the run's builders.
    let slow = if slow_stored.is_empty() {
        None
    } else {
        Some(run.take_chunk()?)
    };
    let slow_ids = slow.as_ref().map_or(&[][..], |chunk| &chunk.ids[..]);
    let Some((taken_fast, taken_slow)) =
        claim_in_file_order(shared, seq, (&fast.records, &fast.ids), (&slow_stored, slow_ids))
    else {
        return Ok(None);
    };
    let fast_batch = match plan {
        Some(plan) if !fast.records.is_empty() => Some(fast.settle(run, plan, &block, &taken_fast)?),
        _ => None,
    };
    // The reader is gone only if the run stopped; then the block is simply dropped.
    let _ = back.send(block);
    let (batch, sorted) = match (fast_batch, slow) {
        (Some(batch), None) => (batch, true),
        (None, None) => (RecordBatch::new_empty(Table::Transactions.arrow_schema()), true),
        (fast_batch, Some(chunk)) => {
            let slow = run.settle(chunk, &taken_slow)?;
            match fast_batch {
                // The row path builds texts, not dictionaries: the two meet as texts.
                Some(batch) => (concat_batches(&slow.schema(), [&as_stored(&batch)?, &slow])?, false),
                None => (slow, false),
            }
        }
    };
    Ok(Some(Settled { seq, batch, sorted }))
}

/// Claims the ids of a block's stored rows in file order, merging the rows the fast checks
/// passed with those the row path stored (each given as their records, ascending, and their
/// ids): the positions, in each, of the rows whose id an earlier row claimed; `None` if
/// another thread failed.
fn claim_in_file_order(
    shared: &Shared,
    seq: usize,
    (fast, fast_ids): (&[u32], &[u128]),
    (slow, slow_ids): (&[u32], &[u128]),
) -> Option<(Vec<usize>, Vec<usize>)> {
    if slow.is_empty() {
        return Some((shared.claim(seq, fast_ids)?, Vec::new()));
    }
    let (mut merged, mut from) = (Vec::new(), Vec::new());
    let (mut a, mut b) = (0, 0);
    while a < fast.len() || b < slow.len() {
        if b == slow.len() || (a < fast.len() && fast[a] < slow[b]) {
            merged.push(fast_ids[a]);
            from.push((true, a));
            a += 1;
        } else {
            merged.push(slow_ids[b]);
            from.push((false, b));
            b += 1;
        }
    }
    let (fast_taken, slow_taken): (Vec<_>, Vec<_>) = shared
        .claim(seq, &merged)?
        .into_iter()
        .map(|k| from[k])
        .partition(|t| t.0);
    Some((
        fast_taken.into_iter().map(|t| t.1).collect(),
        slow_taken.into_iter().map(|t| t.1).collect(),
    ))
}

/// Sorts a settled block if need be and writes it to staging.
fn write_block(out: &Staging<'_>, settled: Settled) -> Result<Vec<SinkFile>> {
    let Settled { seq, batch, sorted } = settled;
    if custos_warehouse::failpoint_error(&format!("ingest-block-{seq}")) {
        return Err(Error::io(
            out.dir,
            std::io::Error::other(format!("failpoint ingest-block-{seq}")),
        ));
    }
    if sorted {
        write_sorted_chunk(out, seq, &batch)
    } else {
        write_chunk(out, seq, &batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every record of `path` as (line, start, end, fields), read `buffer` bytes at a time.
    fn cut(path: &Path, buffer: usize, plain: bool) -> Vec<(u64, u64, u64, Vec<Vec<u8>>)> {
        let mut records = Records::with_buffer(path, buffer, plain).expect("open");
        let mut block = Block::new(0, 0);
        let mut out = Vec::new();
        while let Some((place, fields)) = records.next(&mut block).expect("read") {
            let first = block.ends.len() - fields;
            let texts = (first..block.ends.len()).map(|k| block.field(k).to_vec()).collect();
            out.push((place.line, place.start, place.end, texts));
        }
        out
    }

    #[test]
    fn every_comma_is_found_once_in_order() {
        // `-` after a comma: the cheaper zero-byte test, (x - ONES) & !x & HIGH, also flags
        // a byte of 1 next to a zero, which a comma followed by `-` becomes.
        let text = b",a,,\xe2\x80\x9a,\xac,bcdefgh,ijklmno,,,,,,,,,,pq\x00,\xff,-12.50,-,-,abcdef,-";
        let expected: Vec<usize> = (0..text.len()).filter(|&i| text[i] == b',').collect();
        for from in 0..text.len() {
            let mut found = vec![7];
            push_commas(&text[from..], from, &mut found);
            let rest = expected.iter().copied().filter(|&i| i >= from);
            assert_eq!(found, [7].into_iter().chain(rest).collect::<Vec<_>>());
        }
    }

    #[test]
    fn plain_records_are_cut_as_csv_core_cuts_them() {
        let mut text = b"\xef\xbb\xbftxn_id,a,b\n".to_vec();
        let lines: [&[u8]; 20] = [
            b"T1,x,y\n",
            b"T2,,\n",
            b",\n",
            b"\n\n\r\n",
            b"T3,\"quoted, with a comma\",z\n",
            b"T4,\"two\nlines\",z\r\n",
            b"T5,crlf,end\r\n",
            b"T6,lone\rcarriage,return\n",
            b"T7,a field of more than sixteen bytes,\xe6\x94\xaf\xe4\xbb\x98\n",
            b"T7b,seventeen bytes..,2025-03-04T05:50:37+08:00,thirty-two bytes of text exactly,thirty-three bytes of plain text!\n",
            b"T8,\"a \"\"double\"\" quote\",q\n",
            b"T9,bare\"quote,q\n",
            b"\x1a\n",
            b"T10,many,,,,,,,,,,,,,,,,,,,,,fields\n",
            b"\r\n\nT11,after,blank lines\n",
            b"T12,crlf\r\n",
            b"T13,plain,after a crlf\n",
            b"T14,lone cr\r",
            b"T15,after a lone cr\n",
            b"T16,no,newline",
        ];
        for _ in 0..40 {
            for line in lines.iter().take(lines.len() - 1) {
                text.extend_from_slice(line);
            }
        }
        text.extend_from_slice(lines[lines.len() - 1]);
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("log.csv");
        std::fs::write(&path, &text).expect("write");
        let expected = cut(&path, 1 << 20, false);
        // A lone carriage return ends a record, blank lines make none.
        assert_eq!(expected.len(), 1 + 40 * 19 + 1);
        assert_eq!(expected[0].3[0], b"txn_id");
        assert_eq!(cut(&path, 1 << 20, true), expected);
        // Records that straddle reads of the file; csv_core strips a byte order mark only
        // when the first read holds all of it, so each size is held to csv_core at that size.
        for buffer in [1, 7, 64, 1000] {
            assert_eq!(
                cut(&path, buffer, true),
                cut(&path, buffer, false),
                "buffer of {buffer} bytes"
            );
        }
    }

    #[test]
    fn the_hash_taken_while_reading_is_the_files() {
        // Records that straddle reads, a quoted one, no newline at the end: every byte read
        // is hashed once, whichever path cuts the record.
        let mut text = b"txn_id,a\n".to_vec();
        for i in 0..500 {
            text.extend_from_slice(format!("T{i},\"q,{i}\"\r\nU{i},plain\n").as_bytes());
        }
        text.extend_from_slice(b"T-last,end");
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("log.csv");
        std::fs::write(&path, &text).expect("write");
        let whole = crate::read::hash_file(&path).expect("hash");
        assert_eq!(whole.1, text.len() as u64);
        for buffer in [1, 7, 1000, 1 << 20] {
            let mut records = Records::with_buffer(&path, buffer, true).expect("open");
            records.hash = Some((Sha256::new(), 0));
            let mut block = Block::new(0, 0);
            let mut count = 0;
            while records.next(&mut block).expect("read").is_some() {
                count += 1;
            }
            assert_eq!(count, 1 + 1000 + 1);
            assert_eq!(records.digest(), Some(whole.clone()), "buffer of {buffer} bytes");
        }
        // Stopped before the end, or not hashed: no digest, rather than a wrong one.
        let mut records = Records::open(&path, true).expect("open");
        records.next(&mut Block::new(0, 0)).expect("read");
        assert_eq!(records.digest(), None);
        let mut records = Records::open(&path, false).expect("open");
        while records.next(&mut Block::new(0, 0)).expect("read").is_some() {}
        assert_eq!(records.digest(), None);
    }
}

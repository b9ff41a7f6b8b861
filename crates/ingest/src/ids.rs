//! A set of 128-bit id fingerprints built for ingest's two hot checks: "is this id already
//! stored?" and "did an earlier row of this file claim it?".
//!
//! A fingerprint is already a uniform hash, so the set hashes nothing: it takes a slot from
//! the fingerprint's bits and probes linearly in one flat array. At 10M ids the array is far
//! bigger than any cache, so each check is a memory miss; [`FingerprintSet::claim_all`]
//! loads the slots of a group of ids before inserting them, so those misses overlap instead
//! of queueing one after another.

/// Slots are kept at most three quarters full: probe runs stay within a cache line or two
/// (four fingerprints fit in one), and 10M ids take 256 MiB.
const MAX_LOAD_NUM: usize = 3;
const MAX_LOAD_DEN: usize = 4;
/// How many ids [`FingerprintSet::claim_all`] loads ahead of inserting them.
const TOUCH_AHEAD: usize = 16;

/// Open-addressing set of nonzero `u128` fingerprints.
///
/// The zero fingerprint marks an empty slot, so it is stored as 1: two ids whose
/// fingerprints are 0 and 1 would count as one, at odds of 2^-127 per pair (and even then
/// nothing is lost: the second row is quarantined as a duplicate, where a person sees it).
#[derive(Default)]
pub(crate) struct FingerprintSet {
    slots: Vec<u128>,
    len: usize,
}

fn stored(fp: u128) -> u128 {
    fp.max(1)
}

/// `n` empty slots, every page of them written once now.
///
/// `vec![0; n]` would take fresh pages from the kernel untouched, and the first access to
/// each is then a probe's read, which maps the kernel's shared zero page; the insert that
/// follows must replace it with a private page and flush the stale mapping on the other
/// cores running this process (an interrupt to each). A 2M-row ingest spent 5% of its time
/// there. Written first, a page costs one ordinary fault.
fn written_zeros(n: usize) -> Vec<u128> {
    let mut slots = Vec::with_capacity(n);
    // An opaque zero, so the writes are not turned back into a zeroed allocation.
    slots.resize(n, std::hint::black_box(0));
    slots
}

impl FingerprintSet {
    /// A set that holds `n` fingerprints without growing.
    pub(crate) fn with_capacity(n: usize) -> FingerprintSet {
        let mut set = FingerprintSet::default();
        set.reserve(n);
        set
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn slot_of(&self, fp: u128) -> usize {
        // The high half: independent of the low half some callers already used.
        ((fp >> 64) as u64 as usize) & (self.slots.len() - 1)
    }

    /// Makes room for `extra` more fingerprints.
    pub(crate) fn reserve(&mut self, extra: usize) {
        // Always more slots than fingerprints: every probe run ends at an empty slot.
        let want = (self.len + extra) * MAX_LOAD_DEN / MAX_LOAD_NUM + 1;
        if want <= self.slots.len() {
            return;
        }
        let old = std::mem::replace(&mut self.slots, written_zeros(want.next_power_of_two()));
        self.len = 0;
        for fp in old.into_iter().filter(|fp| *fp != 0) {
            self.insert_stored(fp);
        }
    }

    /// Whether `fp` is in the set.
    pub(crate) fn contains(&self, fp: u128) -> bool {
        if self.slots.is_empty() {
            return false;
        }
        let fp = stored(fp);
        let mask = self.slots.len() - 1;
        let mut i = self.slot_of(fp);
        loop {
            match self.slots[i] {
                0 => return false,
                x if x == fp => return true,
                _ => i = (i + 1) & mask,
            }
        }
    }

    /// Adds `fp`; false if it was there already.
    pub(crate) fn insert(&mut self, fp: u128) -> bool {
        self.reserve(1);
        self.insert_stored(stored(fp))
    }

    fn insert_stored(&mut self, fp: u128) -> bool {
        let mask = self.slots.len() - 1;
        let mut i = self.slot_of(fp);
        loop {
            match self.slots[i] {
                0 => {
                    self.slots[i] = fp;
                    self.len += 1;
                    return true;
                }
                x if x == fp => return false,
                _ => i = (i + 1) & mask,
            }
        }
    }

    /// Inserts `fps` in order and returns the positions of those already present (in the
    /// set before, or earlier in `fps`): the first occurrence of an id claims it.
    pub(crate) fn claim_all(&mut self, fps: &[u128]) -> Vec<usize> {
        self.reserve(fps.len());
        let mut taken = Vec::new();
        for (g, group) in fps.chunks(TOUCH_AHEAD).enumerate() {
            self.touch(group);
            for (k, fp) in group.iter().enumerate() {
                if !self.insert_stored(stored(*fp)) {
                    taken.push(g * TOUCH_AHEAD + k);
                }
            }
        }
        taken
    }

    /// Whether each of `fps` is in the set, in order; the checks' cache misses overlap as in
    /// [`FingerprintSet::claim_all`].
    pub(crate) fn contains_all(&self, fps: &[u128]) -> Vec<bool> {
        if self.slots.is_empty() {
            return vec![false; fps.len()];
        }
        let mut found = Vec::with_capacity(fps.len());
        for group in fps.chunks(TOUCH_AHEAD) {
            self.touch(group);
            found.extend(group.iter().map(|fp| self.contains(*fp)));
        }
        found
    }

    /// Loads the home slot of every fingerprint of `group`: independent loads, so the CPU
    /// waits for their cache misses together, and the probes that follow find the lines in
    /// cache.
    fn touch(&self, group: &[u128]) {
        let touched = group
            .iter()
            .fold(0u128, |acc, fp| acc ^ self.slots[self.slot_of(stored(*fp))]);
        std::hint::black_box(touched);
    }

    /// Adds every fingerprint of `other`.
    pub(crate) fn absorb(&mut self, other: FingerprintSet) {
        if self.is_empty() {
            *self = other;
            return;
        }
        self.reserve(other.len);
        for fp in other.slots.into_iter().filter(|fp| *fp != 0) {
            self.insert_stored(fp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lookups::fingerprint;

    #[test]
    fn a_set_sized_for_none_or_one_still_answers() {
        for n in [0, 1, 2, 3] {
            let mut set = FingerprintSet::with_capacity(n);
            assert!(!set.contains(7));
            for i in 1..=n as u128 + 1 {
                assert!(set.insert(i << 64 | i));
                assert!(!set.contains(99));
            }
        }
    }

    #[test]
    fn first_occurrence_claims_the_id() {
        let mut set = FingerprintSet::with_capacity(2);
        assert!(set.insert(fingerprint(b"T0")));
        let fps: Vec<u128> = ["T1", "T0", "T2", "T1", "T3", "T2"]
            .iter()
            .map(|s| fingerprint(s.as_bytes()))
            .collect();
        // T0 was in the set before; T1 and T2 repeat within the batch.
        assert_eq!(set.claim_all(&fps), vec![1, 3, 5]);
        assert_eq!(set.len(), 4);
        assert!(set.contains(fingerprint(b"T3")));
        assert!(!set.contains(fingerprint(b"T4")));
        let probes: Vec<u128> = ["T3", "T4", "T0"].iter().map(|s| fingerprint(s.as_bytes())).collect();
        assert_eq!(set.contains_all(&probes), vec![true, false, true]);
        assert_eq!(FingerprintSet::default().contains_all(&probes), vec![false; 3]);
    }

    #[test]
    fn grows_without_losing_ids_and_treats_zero_as_an_id() {
        let mut set = FingerprintSet::default();
        assert!(!set.contains(0));
        // Equal high halves all start probing at one slot: long probe runs across growth.
        for i in 1..=2_000u128 {
            assert!(set.insert(i));
        }
        // Zero is stored as 1, which is already in.
        assert!(!set.insert(0));
        for i in 1..=2_000u128 {
            assert!(set.insert(i << 64));
        }
        assert_eq!(set.len(), 4_000);
        assert!((1..=2_000u128).all(|i| set.contains(i) && set.contains(i << 64)));
        let mut other = FingerprintSet::default();
        other.insert(u128::MAX);
        other.insert(5 << 64);
        set.absorb(other);
        assert_eq!(set.len(), 4_001);
        assert!(set.contains(u128::MAX));
    }
}

//! A small deterministic random number generator and weighted samplers.
//!
//! Output must be byte-identical on every machine and every build, so nothing here uses a
//! float: no `ln`, `exp` or `powf` (whose last bits differ between libm implementations),
//! only integer arithmetic. Streams are derived from the seed and a purpose label, so
//! adding a new use of randomness does not shift every other stream.

/// xoshiro256++ (Blackman and Vigna), seeded through SplitMix64.
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
}

/// One SplitMix64 step: also a good 64-bit hash of a counter.
pub fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a of a label: a stable stream name.
fn label_hash(label: &str) -> u64 {
    label.bytes().fold(0xCBF2_9CE4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3)
    })
}

impl Rng {
    /// The stream `label`/`index` of the generator seeded with `seed`.
    pub fn stream(seed: u64, label: &str, index: u64) -> Rng {
        let mut state = seed ^ label_hash(label).rotate_left(17) ^ index.wrapping_mul(0xD6E8_FEB8_6659_FD93);
        let s = [
            splitmix(&mut state),
            splitmix(&mut state),
            splitmix(&mut state),
            splitmix(&mut state),
        ];
        Rng { s }
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[0]
            .wrapping_add(self.s[3])
            .rotate_left(23)
            .wrapping_add(self.s[0]);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; the tiny bias is irrelevant here).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform index into a slice of length `n`.
    #[inline]
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// Uniform in `lo..hi` (`hi` excluded; returns `lo` when the range is empty).
    #[inline]
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below((hi - lo) as u64) as i64
    }

    /// True with probability `per_mille / 1000`.
    #[inline]
    pub fn chance(&mut self, per_mille: u32) -> bool {
        self.below(1000) < u64::from(per_mille)
    }

    /// A uniformly chosen element.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }
}

/// Walker's alias table over integer weights: O(1) sampling from a large distribution
/// (customers by activity, merchants by popularity).
#[derive(Debug, Clone, Default)]
pub struct Alias {
    prob: Vec<u32>,
    alias: Vec<u32>,
}

impl Alias {
    /// Builds the table. Weights must not all be zero.
    pub fn new(weights: &[u64]) -> Alias {
        let n = weights.len();
        let total: u128 = weights.iter().map(|&w| u128::from(w)).sum();
        if n == 0 || total == 0 {
            return Alias::default();
        }
        // Scaled so that the average bucket holds exactly `total`.
        let mut scaled: Vec<u128> = weights.iter().map(|&w| u128::from(w) * n as u128).collect();
        let mut prob = vec![u32::MAX; n];
        let mut alias: Vec<u32> = (0..n as u32).collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| scaled[i] < total);
        while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
            prob[s] = ((scaled[s] << 32) / total).min(u128::from(u32::MAX)) as u32;
            alias[s] = l as u32;
            scaled[l] -= total - scaled[s];
            if scaled[l] < total {
                large.pop();
                small.push(l);
            }
        }
        Alias { prob, alias }
    }

    /// The keep thresholds and aliases, for callers that store them beside their own data.
    pub fn into_parts(self) -> (Vec<u32>, Vec<u32>) {
        (self.prob, self.alias)
    }

    /// One outcome, with probability proportional to its weight.
    #[inline]
    pub fn sample(&self, rng: &mut Rng) -> usize {
        let r = rng.next_u64();
        let i = ((u128::from(r >> 32) * self.prob.len() as u128) >> 32) as usize;
        if (r as u32) < self.prob[i] {
            i
        } else {
            self.alias[i] as usize
        }
    }
}

/// A short weighted choice by cumulative weights (a handful of options).
#[derive(Debug, Clone)]
pub struct Choice<T: Copy> {
    cumulative: Vec<(u64, T)>,
}

impl<T: Copy> Choice<T> {
    /// Options with their relative weights.
    pub fn new(options: &[(u64, T)]) -> Choice<T> {
        let mut acc = 0;
        let cumulative = options
            .iter()
            .filter(|(w, _)| *w > 0)
            .map(|&(w, t)| {
                acc += w;
                (acc, t)
            })
            .collect();
        Choice { cumulative }
    }

    /// One option.
    #[inline]
    pub fn sample(&self, rng: &mut Rng) -> T {
        let total = self.cumulative.last().map_or(1, |c| c.0);
        let x = rng.below(total);
        let i = self.cumulative.partition_point(|(acc, _)| *acc <= x);
        self.cumulative[i.min(self.cumulative.len() - 1)].1
    }
}

/// A piecewise-uniform amount distribution in minor units: `(low, high, weight)` buckets.
/// Geometric bucket edges with falling weights give the heavy tail of payment amounts.
#[derive(Debug, Clone)]
pub struct Buckets {
    choice: Choice<(i64, i64)>,
}

impl Buckets {
    /// Buckets of `[low, high)` minor units with relative weights.
    pub fn new(buckets: &[(i64, i64, u64)]) -> Buckets {
        let options: Vec<(u64, (i64, i64))> = buckets.iter().map(|&(lo, hi, w)| (w, (lo, hi))).collect();
        Buckets {
            choice: Choice::new(&options),
        }
    }

    /// One amount.
    #[inline]
    pub fn sample(&self, rng: &mut Rng) -> i64 {
        let (lo, hi) = self.choice.sample(rng);
        rng.range(lo, hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4).map(|_| Rng::stream(7, "x", 0).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(Rng::stream(7, "x", 0).next_u64(), Rng::stream(7, "x", 1).next_u64());
        assert_ne!(Rng::stream(7, "x", 0).next_u64(), Rng::stream(7, "y", 0).next_u64());
        assert_ne!(Rng::stream(7, "x", 0).next_u64(), Rng::stream(8, "x", 0).next_u64());
    }

    #[test]
    fn alias_follows_weights() {
        let table = Alias::new(&[1, 0, 3, 6]);
        let mut rng = Rng::stream(1, "alias", 0);
        let mut counts = [0u32; 4];
        for _ in 0..100_000 {
            counts[table.sample(&mut rng)] += 1;
        }
        assert_eq!(counts[1], 0);
        for (i, expected) in [(0, 10_000), (2, 30_000), (3, 60_000)] {
            let c = i64::from(counts[i]);
            assert!((c - expected).abs() < 1_500, "outcome {i}: {c} vs {expected}");
        }
    }

    #[test]
    fn below_and_choice_stay_in_range() {
        let mut rng = Rng::stream(3, "r", 0);
        let choice = Choice::new(&[(1, 'a'), (0, 'b'), (2, 'c')]);
        for _ in 0..10_000 {
            assert!(rng.below(5) < 5);
            assert_ne!(choice.sample(&mut rng), 'b');
            let v = rng.range(10, 20);
            assert!((10..20).contains(&v));
        }
    }
}

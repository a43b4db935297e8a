//! A small ring of the last few values seen, for hints such as "this thread freed that block"
//! (`recent_frees`) or "that block was wholly resident" (`reuse`): a value found is forgotten, and
//! the oldest is overwritten first, so it costs a fixed few bytes and a short scan.

/// The last `N` values remembered. The `empty` value marks a free slot and is never found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recent<T, const N: usize> {
    values: [T; N],
    next: usize,
    empty: T,
}

impl<T: Copy + PartialEq, const N: usize> Recent<T, N> {
    /// A ring with nothing remembered; `empty` is the value no caller remembers.
    pub const fn new(empty: T) -> Self {
        Recent {
            values: [empty; N],
            next: 0,
            empty,
        }
    }

    /// Remembers `value`, forgetting the oldest if the ring is full.
    pub fn remember(&mut self, value: T) {
        self.values[self.next] = value;
        self.next = (self.next + 1) % N;
    }

    /// Whether `value` is remembered; forgets it.
    pub fn take(&mut self, value: T) -> bool {
        self.take_if(|v| *v == value).is_some()
    }

    /// The newest remembered value that `matches`, forgotten; never the empty value.
    pub fn take_if(&mut self, matches: impl Fn(&T) -> bool) -> Option<T> {
        let newest_first = (1..=N).map(|back| (self.next + N - back) % N);
        let at = newest_first
            .into_iter()
            .find(|at| self.values[*at] != self.empty && matches(&self.values[*at]))?;
        Some(std::mem::replace(&mut self.values[at], self.empty))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_found_once() {
        let mut recent = Recent::<usize, 8>::new(0);
        recent.remember(0x1000);
        recent.remember(0x2000);
        assert!(recent.take(0x1000));
        assert!(!recent.take(0x1000));
        assert!(recent.take(0x2000));
        assert!(!recent.take(0x3000));
        assert!(!recent.take(0), "the empty value is never found");
    }

    #[test]
    fn only_the_last_n_values_are_remembered() {
        let mut recent = Recent::<(usize, u64), 4>::new((0, 0));
        for i in 1..=5 {
            recent.remember((i << 20, 1 << 20));
        }
        assert!(
            !recent.take((1 << 20, 1 << 20)),
            "the oldest was overwritten"
        );
        assert!(!recent.take((2 << 20, 4096)), "the whole value must match");
        assert!(recent.take((2 << 20, 1 << 20)));
        assert!(recent.take((5 << 20, 1 << 20)));
    }

    #[test]
    fn take_if_finds_the_newest_match() {
        let mut recent = Recent::<(usize, u64), 4>::new((0, 0));
        recent.remember((1, 10));
        recent.remember((1, 20));
        assert_eq!(recent.take_if(|v| v.0 == 1), Some((1, 20)));
        assert_eq!(recent.take_if(|v| v.0 == 1), Some((1, 10)));
        assert_eq!(recent.take_if(|_| true), None, "empty slots never match");
    }
}

/// Sorted, non-overlapping, non-adjacent half-open byte ranges: what a file already has.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeSet {
    ranges: Vec<(u64, u64)>,
}

impl RangeSet {
    pub fn from_ranges(iter: impl IntoIterator<Item = (u64, u64)>) -> Self {
        let mut set = Self::default();
        for (s, e) in iter {
            set.insert(s, e);
        }
        set
    }

    pub fn insert(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        let (mut start, mut end) = (start, end);
        // Everything that touches or overlaps [start, end) merges into it.
        let first = self.ranges.partition_point(|&(_, e)| e < start);
        let mut last = first;
        while last < self.ranges.len() && self.ranges[last].0 <= end {
            start = start.min(self.ranges[last].0);
            end = end.max(self.ranges[last].1);
            last += 1;
        }
        self.ranges.splice(first..last, [(start, end)]);
    }

    pub fn covered(&self) -> u64 {
        self.ranges.iter().map(|(s, e)| e - s).sum()
    }

    pub fn ranges(&self) -> &[(u64, u64)] {
        &self.ranges
    }

    /// The gaps inside `[0, len)`.
    pub fn missing(&self, len: u64) -> Vec<(u64, u64)> {
        let mut gaps = Vec::new();
        let mut pos = 0;
        for &(s, e) in &self.ranges {
            if s >= len {
                break;
            }
            if s > pos {
                gaps.push((pos, s));
            }
            pos = pos.max(e);
        }
        if pos < len {
            gaps.push((pos, len));
        }
        gaps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_overlapping_and_adjacent_ranges() {
        let mut r = RangeSet::default();
        r.insert(10, 20);
        r.insert(30, 40);
        r.insert(20, 25);
        assert_eq!(r.ranges(), &[(10, 25), (30, 40)]);
        r.insert(5, 35);
        assert_eq!(r.ranges(), &[(5, 40)]);
        r.insert(50, 50);
        assert_eq!(r.covered(), 35);
        assert_eq!(r.missing(60), vec![(0, 5), (40, 60)]);
        assert_eq!(RangeSet::default().missing(3), vec![(0, 3)]);
        assert!(RangeSet::from_ranges([(0, 3)]).missing(3).is_empty());
    }
}

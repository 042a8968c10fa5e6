/// A satisfiable byte range, end exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ByteRange {
    pub start: u64,
    pub end: u64,
}

/// What S3 does with a `Range` header.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RangeAnswer {
    /// No (usable) range: the whole object with 200.
    Whole,
    /// 206 with this range.
    Partial(ByteRange),
    /// 416.
    Unsatisfiable,
}

/// Parses a single-range `bytes=` header as S3 does; multi-range and malformed headers
/// are ignored (whole object), ranges starting past the end are unsatisfiable.
pub(crate) fn parse_range(header: Option<&str>, len: u64) -> RangeAnswer {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeAnswer::Whole;
    };
    if spec.contains(',') {
        return RangeAnswer::Whole;
    }
    let Some((a, b)) = spec.split_once('-') else {
        return RangeAnswer::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    let range = if a.is_empty() {
        // Suffix range: the last N bytes.
        match b.parse::<u64>() {
            Ok(0) | Err(_) => return RangeAnswer::Unsatisfiable,
            Ok(n) => ByteRange {
                start: len.saturating_sub(n),
                end: len,
            },
        }
    } else {
        let Ok(start) = a.parse::<u64>() else {
            return RangeAnswer::Whole;
        };
        let end = if b.is_empty() {
            len
        } else {
            match b.parse::<u64>() {
                Ok(last) if last >= start => last.saturating_add(1).min(len),
                _ => return RangeAnswer::Whole,
            }
        };
        ByteRange { start, end }
    };
    if range.start >= len {
        RangeAnswer::Unsatisfiable
    } else {
        RangeAnswer::Partial(range)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(start: u64, end: u64) -> RangeAnswer {
        RangeAnswer::Partial(ByteRange { start, end })
    }

    #[test]
    fn ranges_as_s3_answers_them() {
        assert_eq!(parse_range(None, 10), RangeAnswer::Whole);
        assert_eq!(parse_range(Some("bytes=0-4"), 10), p(0, 5));
        assert_eq!(parse_range(Some("bytes=5-"), 10), p(5, 10));
        assert_eq!(parse_range(Some("bytes=5-100"), 10), p(5, 10));
        assert_eq!(parse_range(Some("bytes=-3"), 10), p(7, 10));
        assert_eq!(
            parse_range(Some("bytes=10-"), 10),
            RangeAnswer::Unsatisfiable
        );
        assert_eq!(parse_range(Some("bytes=0-"), 0), RangeAnswer::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=4-2"), 10), RangeAnswer::Whole);
        assert_eq!(parse_range(Some("bytes=0-1,4-5"), 10), RangeAnswer::Whole);
        assert_eq!(parse_range(Some("items=0-1"), 10), RangeAnswer::Whole);
    }
}

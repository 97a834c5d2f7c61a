package tracetree

import "slices"

// Interval is a half-open time interval [Start, End) in nanoseconds, on
// whatever scale the caller chose (Unix time, or time from a trace start).
type Interval struct{ Start, End int64 }

// SelfTime returns end−start minus the union of children clipped to
// [start, end), and 0 when end ≤ start. Children may overlap one another and
// may lie partly or wholly outside the span. children is sorted in place.
func SelfTime(start, end int64, children []Interval) int64 {
	if end <= start {
		return 0
	}
	sortByStart(children)
	return end - start - coveredSorted(start, end, children, nil)
}

// UnionLength returns the length of the union of ivals; empty and inverted
// intervals count nothing. ivals is sorted in place.
func UnionLength(ivals []Interval) int64 {
	sortByStart(ivals)
	const (
		lo = -1 << 63
		hi = 1<<63 - 1
	)
	return coveredSorted(lo, hi, ivals, nil)
}

// coveredSorted returns the length of the union of ivals, sorted by Start,
// clipped to [start, end), and appends to gaps (when not nil) the pieces of
// [start, end) that no interval covers, in time order. It is the one
// self-time computation: SelfTime, Tree.SelfTime and Tree.SelfIntervals all
// end here.
func coveredSorted(start, end int64, ivals []Interval, gaps *[]Interval) int64 {
	var covered int64
	pos := start // [start, pos) is accounted for
	for _, iv := range ivals {
		s, e := max(iv.Start, start), min(iv.End, end)
		if e <= s {
			continue
		}
		if s > pos {
			if gaps != nil {
				*gaps = append(*gaps, Interval{pos, s})
			}
			pos = s
		}
		if e > pos {
			covered += e - pos
			pos = e
		}
	}
	if gaps != nil && pos < end {
		*gaps = append(*gaps, Interval{pos, end})
	}
	return covered
}

// sortByStart sorts ivals by Start: insertion sort for the short lists most
// spans have, the library sort beyond.
func sortByStart(ivals []Interval) {
	if len(ivals) <= 16 {
		for i := 1; i < len(ivals); i++ {
			for j := i; j > 0 && ivals[j].Start < ivals[j-1].Start; j-- {
				ivals[j], ivals[j-1] = ivals[j-1], ivals[j]
			}
		}
		return
	}
	slices.SortFunc(ivals, func(a, b Interval) int {
		switch {
		case a.Start < b.Start:
			return -1
		case a.Start > b.Start:
			return 1
		}
		return 0
	})
}

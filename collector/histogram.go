package collector

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/stagescope/stagescope/spans/quantile"
)

// Durations are counted in a fixed log-scale histogram: bucket 0 holds
// everything under histMinNanos, bucket i ≥ 1 holds
// [histMinNanos·2^((i-1)/histPerOctave), histMinNanos·2^(i/histPerOctave)).
// Sixteen buckets per octave bound the relative error of a percentile at
// about ±2.2% (four, the first format, gave ±9%: dashboards showed p95 snapping
// between the same few values), and 514 buckets reach from 1 µs past an hour.
// Because the buckets are fixed, histograms of different minutes, runs and
// batches add up exactly.
const (
	histBuckets   = 514
	histPerOctave = 16
	histMinNanos  = 1000

	// histFormatV2 starts every encoded histogram of the current format. The
	// first format (4 buckets per octave) never starts with a zero byte:
	// its first index gap is at least 1.
	histFormatV2 = 0x00
	// v1PerOctave is the resolution of the first format, read for databases
	// written before the change.
	v1PerOctave = 4
)

type histogram [histBuckets]uint64

func histBucket(ns int64) int {
	if ns < histMinNanos {
		return 0
	}
	i := int(math.Log2(float64(ns)/histMinNanos)*histPerOctave) + 1
	return min(i, histBuckets-1)
}

func histUpper(i int) float64 { return histMinNanos * math.Exp2(float64(i)/histPerOctave) }

func (h *histogram) add(ns int64) { h[histBucket(ns)]++ }

func (h *histogram) merge(o *histogram) {
	for i, c := range o {
		h[i] += c
	}
}

func (h *histogram) total() uint64 {
	var n uint64
	for _, c := range h {
		n += c
	}
	return n
}

// quantile estimates the q-quantile (0 < q ≤ 1) as the geometric middle of
// the bucket that holds the value of nearest rank (package quantile, the one
// definition).
func (h *histogram) quantile(q float64) time.Duration {
	n := h.total()
	if n == 0 {
		return 0
	}
	rank := uint64(quantile.Rank(int(n), q))
	var cum uint64
	for i, c := range h {
		cum += c
		if cum >= rank {
			if i == 0 {
				return histMinNanos / 2
			}
			return time.Duration(math.Sqrt(histUpper(i-1) * histUpper(i)))
		}
	}
	return time.Duration(histUpper(histBuckets - 1))
}

// appendHist encodes the format byte, then the non-empty buckets as (index
// gap, count) uvarints.
func appendHist(b []byte, h *histogram) []byte {
	b = append(b, histFormatV2)
	prev := -1
	for i, c := range h {
		if c == 0 {
			continue
		}
		b = binary.AppendUvarint(b, uint64(i-prev))
		b = binary.AppendUvarint(b, c)
		prev = i
	}
	return b
}

// mergeHist adds an encoded histogram into h. Histograms of the first
// format are re-bucketed: each old bucket's count goes to the new bucket in
// the middle of its range.
func mergeHist(h *histogram, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if b[0] == histFormatV2 {
		return mergeBuckets(h, b[1:], histBuckets, func(i int) int { return i })
	}
	const ratio = histPerOctave / v1PerOctave
	return mergeBuckets(h, b, 128, func(i int) int {
		if i == 0 {
			return 0
		}
		return min(ratio*(i-1)+ratio/2+1, histBuckets-1)
	})
}

func mergeBuckets(h *histogram, b []byte, buckets int, to func(int) int) error {
	i := -1
	for len(b) > 0 {
		gap, n := binary.Uvarint(b)
		if n <= 0 {
			return fmt.Errorf("corrupt histogram: bad index")
		}
		b = b[n:]
		c, n := binary.Uvarint(b)
		if n <= 0 {
			return fmt.Errorf("corrupt histogram: bad count")
		}
		b = b[n:]
		if gap == 0 || gap > uint64(buckets) {
			return fmt.Errorf("corrupt histogram: index gap %d", gap)
		}
		i += int(gap)
		if i >= buckets {
			return fmt.Errorf("corrupt histogram: bucket %d out of range", i)
		}
		h[to(i)] += c
	}
	return nil
}

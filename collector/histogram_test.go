package collector

import (
	"encoding/binary"
	"math"
	"testing"
	"time"
)

func within(t *testing.T, what string, got, want time.Duration, rel float64) {
	t.Helper()
	if d := math.Abs(float64(got-want)) / float64(want); d > rel {
		t.Errorf("%s = %v, want %v ± %.1f%% (off by %.1f%%)", what, got, want, rel*100, d*100)
	}
}

func TestHistogramQuantilesAreWithinTwoPointFivePercent(t *testing.T) {
	var h histogram
	// 1 ms … 10 s in 1 ms steps: the q-quantile is q·10 s.
	for ms := int64(1); ms <= 10_000; ms++ {
		h.add(ms * int64(time.Millisecond))
	}
	for _, q := range []float64{0.5, 0.9, 0.95, 0.99} {
		within(t, "quantile", h.quantile(q), time.Duration(q*10_000)*time.Millisecond, 0.025)
	}
	var tiny histogram
	tiny.add(10)
	if got := tiny.quantile(0.5); got >= histMinNanos {
		t.Errorf("sub-microsecond value reported as %v", got)
	}
	var huge histogram
	huge.add(int64(5 * time.Hour))
	if got := huge.quantile(1); got < time.Hour {
		t.Errorf("5h value reported as %v", got)
	}
}

func TestHistogramEncodeMergeRoundTrip(t *testing.T) {
	var a, b, sum histogram
	for i := int64(1); i < 5000; i += 7 {
		a.add(i * 1013)
		b.add(i * 997_001)
	}
	for _, h := range []*histogram{&a, &b} {
		if err := mergeHist(&sum, appendHist(nil, h)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range sum {
		if sum[i] != a[i]+b[i] {
			t.Fatalf("bucket %d: %d after merge, want %d", i, sum[i], a[i]+b[i])
		}
	}
	var empty histogram
	if err := mergeHist(&empty, appendHist(nil, &histogram{})); err != nil || empty.total() != 0 {
		t.Fatalf("empty round trip: %v, %d", err, empty.total())
	}
}

// appendHistV1 writes the first format (4 buckets per octave, no format
// byte), as databases written before the change hold it.
func appendHistV1(values []int64) []byte {
	var old [128]uint64
	for _, ns := range values {
		i := 0
		if ns >= histMinNanos {
			i = min(int(math.Log2(float64(ns)/histMinNanos)*v1PerOctave)+1, 127)
		}
		old[i]++
	}
	var b []byte
	prev := -1
	for i, c := range old {
		if c == 0 {
			continue
		}
		b = binary.AppendUvarint(b, uint64(i-prev))
		b = binary.AppendUvarint(b, c)
		prev = i
	}
	return b
}

func TestHistogramReadsTheFirstFormat(t *testing.T) {
	var values []int64
	for ms := int64(1); ms <= 1000; ms++ {
		values = append(values, ms*int64(time.Millisecond))
	}
	var h histogram
	if err := mergeHist(&h, appendHistV1(values)); err != nil {
		t.Fatal(err)
	}
	if h.total() != 1000 {
		t.Fatalf("total %d, want 1000", h.total())
	}
	// The old format's own error bound (±9%) still holds after re-bucketing.
	within(t, "v1 p50", h.quantile(0.5), 500*time.Millisecond, 0.10)
	within(t, "v1 p99", h.quantile(0.99), 990*time.Millisecond, 0.10)
	// Old and new histograms of the same minute merge into one.
	var n histogram
	for _, v := range values {
		n.add(v)
	}
	if err := mergeHist(&h, appendHist(nil, &n)); err != nil || h.total() != 2000 {
		t.Fatalf("mixed merge: %v, total %d", err, h.total())
	}
}

func TestHistogramRejectsCorruptBlobs(t *testing.T) {
	for name, b := range map[string][]byte{
		"zero gap":        {histFormatV2, 0, 1},
		"gap past end":    {histFormatV2, 0xff, 0x7f, 1},
		"truncated":       {histFormatV2, 1},
		"bad uvarint":     {histFormatV2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"v1 out of range": {100, 1, 100, 1},
	} {
		var h histogram
		if err := mergeHist(&h, b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

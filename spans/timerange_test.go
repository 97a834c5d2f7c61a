package spans_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stagescope/stagescope/spans"
)

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 12, 4, 15, 30, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"now":                       now,
		" now-90m ":                 now.Add(-90 * time.Minute),
		"today":                     time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC),
		"yesterday":                 time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC),
		"2025-01-02":                time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC),
		"2025-01-02 15:04":          time.Date(2025, 1, 2, 15, 4, 0, 0, time.UTC),
		"2025-01-02T15:04:05":       time.Date(2025, 1, 2, 15, 4, 5, 0, time.UTC),
		"2025-01-02T15:04:05+02:00": time.Date(2025, 1, 2, 13, 4, 5, 0, time.UTC),
		"1735830245000":             time.Date(2025, 1, 2, 15, 4, 5, 0, time.UTC),
		"0":                         spans.EarliestTime,
	} {
		got, err := spans.ParseTime(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for in, want := range map[string]string{
		"last tuesday":         "is not a time (want RFC 3339",
		"now-soon":             "is not now-<duration>",
		"now--5m":              "is not now-<duration>",
		"2300-01-01T00:00:00Z": "is out of range: times run from 1970-01-01T00:00:00Z to 2262-04-11T23:47:16Z",
		"1969-12-31":           "is out of range",
		"9223372036855":        "9223372036855 is out of range",
		"now-876000h":          "is out of range",
		"":                     "is not a time",
	} {
		if _, err := spans.ParseTime(in, now); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseTime(%q) = %v, want an error with %q", in, err, want)
		}
	}
}

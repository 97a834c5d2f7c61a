package collector

import "time"

// SetAttrScanTime shortens the time an attribute-filtered list may spend
// opening traces, for a test; it returns the restore.
func SetAttrScanTime(d time.Duration) (restore func()) {
	old := attrScanTime
	attrScanTime = d
	return func() { attrScanTime = old }
}

package spans

import "fmt"

// Status is how a span ended. The names follow LlamaIndex's span exit/drop:
// a dropped span ended with an error.
type Status uint8

const (
	StatusUnset   Status = iota // still running, or ended without a verdict
	StatusOK                    // exited normally
	StatusError                 // dropped: ended with an error or a panic
	StatusDropped               // abandoned: cancelled or never finished (for example a stream closed early)
)

var statusNames = [...]string{"unset", "ok", "error", "dropped"}

// String returns the status name.
func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// ParseStatus is the inverse of String.
func ParseStatus(name string) (Status, error) {
	for i, n := range statusNames {
		if n == name {
			return Status(i), nil
		}
	}
	return StatusUnset, fmt.Errorf("unknown status %q", name)
}

// MarshalText implements encoding.TextMarshaler.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Status) UnmarshalText(b []byte) error {
	v, err := ParseStatus(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

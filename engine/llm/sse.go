package llm

import (
	"bufio"
	"bytes"
	"io"
)

// maxSSELine bounds one server-sent-events line.
const maxSSELine = 1 << 20

// sseReader reads the data of server-sent events: the "data:" lines of an
// event joined with newlines, event by event. Comments and other fields are
// skipped.
type sseReader struct {
	sc *bufio.Scanner
}

func newSSEReader(r io.Reader) *sseReader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxSSELine)
	return &sseReader{sc: sc}
}

// next returns the data of the next event, or io.EOF when the body ends.
func (r *sseReader) next() ([]byte, error) {
	var data []byte
	have := false
	for r.sc.Scan() {
		line := r.sc.Bytes()
		if len(line) == 0 {
			if have {
				return data, nil
			}
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		if string(field) != "data" {
			continue
		}
		value = bytes.TrimPrefix(value, []byte(" "))
		if have {
			data = append(data, '\n')
		}
		data = append(data, value...)
		have = true
	}
	if err := r.sc.Err(); err != nil {
		return nil, err
	}
	if have {
		return data, nil
	}
	return nil, io.EOF
}

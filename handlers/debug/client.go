package debug

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"

	"github.com/stagescope/stagescope/collector/otlpconv"
)

// maxSnapshotBytes bounds a snapshot a client reads (a full default ring of
// large spans stays well below it).
const maxSnapshotBytes = 512 << 20

// maxFrameBytes bounds one line of a stream.
const maxFrameBytes = 256 << 20

// Client talks to a debug endpoint.
type Client struct {
	base  *url.URL // ends in "/"
	token string
	http  *http.Client
}

// ErrAttached is returned by Stream when another client is attached.
var ErrAttached = errors.New("another client is attached to this program")

// ErrUnauthorized is returned when the endpoint refuses the token.
var ErrUnauthorized = errors.New("the debug endpoint refused the token")

// NewClient returns a client of the endpoint at rawURL (its index page, for
// example http://127.0.0.1:6060/debug/stagescope/); token may be "".
func NewClient(rawURL, token string) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http(s) URL of a debug endpoint", rawURL)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = Path
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	u.RawQuery, u.Fragment = "", ""
	return &Client{base: u, token: token, http: &http.Client{}}, nil
}

// URL returns the endpoint's index URL.
func (c *Client) URL() string { return c.base.String() }

func (c *Client) url(name string, q url.Values) string {
	u := *c.base
	u.Path += name
	u.RawQuery = q.Encode()
	return u.String()
}

func (c *Client) do(ctx context.Context, method, name string, q url.Values) (*http.Response, error) {
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(q.Encode())
		q = nil
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(name, q), body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the debug endpoint %s: %w", c.base, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, responseError(resp)
	}
	return resp, nil
}

// responseError turns a refusal into an error saying why.
func responseError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var ae apiError
	msg := strings.TrimSpace(string(b))
	if json.Unmarshal(b, &ae) == nil && ae.Error != "" {
		msg = ae.Error
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return fmt.Errorf("%w (%s)", ErrUnauthorized, msg)
	case http.StatusConflict:
		return fmt.Errorf("%w (%s)", ErrAttached, msg)
	}
	return fmt.Errorf("debug endpoint %s answered %s: %s", resp.Request.URL, resp.Status, msg)
}

// SnapshotInfo is what a snapshot's headers say.
type SnapshotInfo struct {
	Spans       int
	Overwritten uint64
	Taken       time.Time
	Window      time.Duration
	Reason      string
}

// Snapshot fetches the flight recorder's snapshot (frozen ≥ 0: that frozen
// snapshot instead).
func (c *Client) Snapshot(ctx context.Context, frozen int) (*coltracepb.ExportTraceServiceRequest, SnapshotInfo, error) {
	q := url.Values{}
	if frozen >= 0 {
		q.Set("frozen", strconv.Itoa(frozen))
	}
	resp, err := c.do(ctx, http.MethodGet, "snapshot", q)
	if err != nil {
		return nil, SnapshotInfo{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxSnapshotBytes+1))
	if err != nil {
		return nil, SnapshotInfo{}, fmt.Errorf("cannot read the snapshot: %w", err)
	}
	if len(b) > maxSnapshotBytes {
		return nil, SnapshotInfo{}, fmt.Errorf("the snapshot is larger than %d MiB", maxSnapshotBytes>>20)
	}
	req, err := otlpconv.DecodeProtobuf(b)
	if err != nil {
		return nil, SnapshotInfo{}, fmt.Errorf("cannot read the snapshot: %w", err)
	}
	var info SnapshotInfo
	info.Spans, _ = strconv.Atoi(resp.Header.Get("X-Stagescope-Spans"))
	info.Overwritten, _ = strconv.ParseUint(resp.Header.Get("X-Stagescope-Overwritten"), 10, 64)
	info.Taken, _ = time.Parse(time.RFC3339Nano, resp.Header.Get("X-Stagescope-Taken"))
	info.Window, _ = time.ParseDuration(resp.Header.Get("X-Stagescope-Window"))
	if r := resp.Header.Get("X-Stagescope-Reason"); r != "" {
		info.Reason, _ = strconv.Unquote(r)
	}
	return req, info, nil
}

// Stream attaches and calls fn with each frame (its OTLP decoded into req,
// nil for a frame without spans) until the stream ends: with a final frame
// (after Detach or forDur), which Stream returns with a nil error, or
// because ctx ended or the connection broke (an error). fn's error ends the
// stream too. forDur ≤ 0 streams until detached.
func (c *Client) Stream(ctx context.Context, forDur time.Duration, fn func(f Frame, req *coltracepb.ExportTraceServiceRequest) error) (Frame, error) {
	q := url.Values{}
	if forDur > 0 {
		q.Set("for", forDur.String())
	}
	resp, err := c.do(ctx, http.MethodGet, "stream", q)
	if err != nil {
		return Frame{}, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), maxFrameBytes)
	var last Frame
	for sc.Scan() {
		var f Frame
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			return last, fmt.Errorf("malformed stream frame after seq %d: %w", last.Seq, err)
		}
		if f.Seq != last.Seq+1 {
			return last, fmt.Errorf("stream frame %d follows %d: frames were lost", f.Seq, last.Seq)
		}
		var req *coltracepb.ExportTraceServiceRequest
		if len(f.OTLP) > 0 {
			if req, err = otlpconv.DecodeProtobuf(f.OTLP); err != nil {
				return last, fmt.Errorf("stream frame %d: %w", f.Seq, err)
			}
		}
		if err := fn(f, req); err != nil {
			return f, err
		}
		last = f
		if f.Final {
			return f, nil
		}
	}
	if err := sc.Err(); err != nil {
		return last, fmt.Errorf("the stream broke after frame %d: %w", last.Seq, err)
	}
	return last, fmt.Errorf("the stream ended after frame %d without a final frame (the program stopped or dropped the connection)", last.Seq)
}

// Detach asks the endpoint to end the attached stream cleanly.
func (c *Client) Detach(ctx context.Context) error {
	resp, err := c.do(ctx, http.MethodPost, "detach", url.Values{})
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// Dispatchers fetches the dispatcher tree.
func (c *Client) Dispatchers(ctx context.Context) (*Tree, error) {
	resp, err := c.do(ctx, http.MethodGet, "dispatchers", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var t Tree
	if err := json.NewDecoder(resp.Body).Decode(&t); err != nil {
		return nil, fmt.Errorf("cannot read the dispatcher tree: %w", err)
	}
	return &t, nil
}

// SampleFor sets the sampling of the dispatcher named name to fraction for
// dur.
func (c *Client) SampleFor(ctx context.Context, name string, fraction float64, dur time.Duration) (*SamplingAnswer, error) {
	resp, err := c.do(ctx, http.MethodPost, "sampling", url.Values{"dispatcher": {name},
		"fraction": {strconv.FormatFloat(fraction, 'g', -1, 64)}, "for": {dur.String()}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var a SamplingAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return nil, fmt.Errorf("cannot read the sampling answer: %w", err)
	}
	return &a, nil
}

package debug

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/stagescope/stagescope/collector/otlpconv"
	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/dispatcher/flight"
	"github.com/stagescope/stagescope/handlers/bearer"
	"github.com/stagescope/stagescope/spans"
)

// Path is where package defaultmux mounts the endpoint on
// http.DefaultServeMux.
const Path = "/debug/stagescope/"

// Defaults of the endpoint.
const (
	// DefaultMaxSampleFor bounds how long a client may change a
	// dispatcher's sampling.
	DefaultMaxSampleFor = time.Hour
	// DefaultFlushInterval is how often the stream sends what it has.
	DefaultFlushInterval = 100 * time.Millisecond
	// DefaultHeartbeat is the longest a stream stays silent: an empty frame
	// carries the counters and finds a closed connection.
	DefaultHeartbeat = time.Second
	// DefaultWriteTimeout is how long one frame may take to write before
	// the client counts as stuck and the stream ends.
	DefaultWriteTimeout = 10 * time.Second
	// DefaultDetachGrace is how long a stream ending on purpose keeps
	// taking spans that ended before its cutoff but were still being
	// handed over.
	DefaultDetachGrace = 250 * time.Millisecond
	// maxFrameSpans bounds one frame.
	maxFrameSpans = 2048
)

type config struct {
	rec           *flight.Recorder
	token         bearer.Token
	allowRemote   bool
	service       string
	maxSampleFor  time.Duration
	buffer        int
	flush, beat   time.Duration
	writeTimeout  time.Duration
	detachGrace   time.Duration
	onStreamEnded func(StreamEnd)
}

// Option configures Handler.
type Option func(*config)

// WithRecorder serves r instead of the Default recorder.
func WithRecorder(r *flight.Recorder) Option { return func(c *config) { c.rec = r } }

// WithToken requires "Authorization: Bearer <token>" on every request.
func WithToken(token string) Option { return func(c *config) { c.token = bearer.New(token) } }

// WithAllowRemote lets clients that are not on the loopback interface in
// (refused by default, as pprof should be). Use it with WithToken.
func WithAllowRemote() Option { return func(c *config) { c.allowRemote = true } }

// WithService names the program in the OTLP it serves (service.name);
// the executable's name by default.
func WithService(name string) Option { return func(c *config) { c.service = name } }

// WithMaxSampleFor bounds how long a sampling change may last
// (DefaultMaxSampleFor when d ≤ 0).
func WithMaxSampleFor(d time.Duration) Option { return func(c *config) { c.maxSampleFor = d } }

// WithStreamBuffer sets how many spans may wait for a slow client before
// they are dropped (flight.DefaultSubscriptionBuffer when n ≤ 0).
func WithStreamBuffer(n int) Option { return func(c *config) { c.buffer = n } }

// WithWriteTimeout sets how long one frame may take to reach a slow client
// before the stream gives up on it (DefaultWriteTimeout when d ≤ 0).
func WithWriteTimeout(d time.Duration) Option { return func(c *config) { c.writeTimeout = d } }

// WithOnStreamEnded calls f when a stream ends, with how and what it sent
// (for logs and tests).
func WithOnStreamEnded(f func(StreamEnd)) Option { return func(c *config) { c.onStreamEnded = f } }

var (
	defaultOnce sync.Once
	defaultRec  *flight.Recorder
)

// Default returns the process's flight recorder, attached to the root
// dispatcher's spans and events on first use and for good.
func Default() *flight.Recorder {
	defaultOnce.Do(func() {
		defaultRec = flight.New()
		dispatcher.Root().AddSpanHandler(defaultRec)
		dispatcher.Root().AddEventHandler(defaultRec)
	})
	return defaultRec
}

// server is the endpoint.
type server struct {
	config
	mu     sync.Mutex
	active *activeStream // the stream attached now, if any
}

// Handler returns the debug endpoint for any mux; it answers on the last
// element of the request path, so it may be mounted under any prefix
// (Path is the conventional one):
//
//	GET  …/             an index of what follows
//	GET  …/snapshot     the flight recorder's snapshot as OTLP (protobuf; OTLP/JSON
//	                    with ?format=json or Accept: application/json); ?frozen=N
//	                    serves the Nth frozen snapshot instead
//	GET  …/frozen       the frozen snapshots: when, why, how many spans (JSON)
//	GET  …/stream       a live stream of spans while connected (NDJSON frames, see
//	                    Frame); ?for=DURATION ends it by itself; one at a time
//	POST …/detach       ends the attached stream cleanly (a final frame follows)
//	GET  …/dispatchers  the dispatcher tree: handlers, sampling, spans in the window
//	POST …/sampling     dispatcher=NAME&fraction=F&for=DURATION: sampling of a
//	                    dispatcher for a bounded time
//
// Requests from other hosts than loopback are refused unless
// WithAllowRemote; a token (WithToken) is checked in constant time.
func Handler(opts ...Option) http.Handler {
	c := config{maxSampleFor: DefaultMaxSampleFor, flush: DefaultFlushInterval, beat: DefaultHeartbeat,
		writeTimeout: DefaultWriteTimeout, detachGrace: DefaultDetachGrace}
	for _, o := range opts {
		o(&c)
	}
	if c.rec == nil {
		c.rec = Default()
	}
	if c.service == "" {
		c.service = strings.TrimSuffix(filepath.Base(os.Args[0]), ".test")
	}
	if c.maxSampleFor <= 0 {
		c.maxSampleFor = DefaultMaxSampleFor
	}
	if c.writeTimeout <= 0 {
		c.writeTimeout = DefaultWriteTimeout
	}
	return &server{config: c}
}

// apiError is what every failure answers: {"error": "..."}.
type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, code int, format string, a ...any) {
	writeJSON(w, code, apiError{Error: fmt.Sprintf(format, a...)})
}

// loopback reports whether the request came from this machine.
func loopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.allowRemote && !loopback(r) {
		fail(w, http.StatusForbidden, "the stagescope debug endpoint answers loopback clients only (the program can allow others with debug.WithAllowRemote and a token)")
		return
	}
	if why := s.token.Check(r); why != "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="stagescope debug"`)
		fail(w, http.StatusUnauthorized, "%s", why)
		return
	}
	name := path.Base(r.URL.Path)
	if strings.HasSuffix(r.URL.Path, "/") {
		name = ""
	}
	method := http.MethodGet
	switch name {
	case "detach", "sampling":
		method = http.MethodPost
	}
	if r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
		w.Header().Set("Allow", method)
		fail(w, http.StatusMethodNotAllowed, "%s takes %s, not %s", r.URL.Path, method, r.Method)
		return
	}
	switch name {
	case "":
		s.index(w)
	case "snapshot":
		s.snapshot(w, r)
	case "frozen":
		s.frozen(w)
	case "stream":
		s.stream(w, r)
	case "detach":
		s.detach(w)
	case "dispatchers":
		s.dispatchers(w)
	case "sampling":
		s.sampling(w, r)
	default:
		fail(w, http.StatusNotFound, "no such debug page %q (see %s)", name, strings.TrimSuffix(r.URL.Path, name))
	}
}

func (s *server) index(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	st := s.rec.Stats()
	fmt.Fprintf(w, `stagescope debug endpoint of %s
flight recorder: %d spans recorded, ring of %d, window %v, %d frozen snapshots, attached: %v

snapshot     the last %v of spans as OTLP (?format=json; ?frozen=N)
frozen       snapshots frozen by triggers
stream       a live stream of spans (NDJSON frames; ?for=DURATION)
detach       POST: end the attached stream cleanly
dispatchers  the dispatcher tree with handlers, sampling and spans in the window
sampling     POST dispatcher=NAME&fraction=F&for=DURATION

Attach with: stagescope attach URL-of-this-page
`, s.service, st.SpansRecorded, st.Capacity, s.rec.Window(), st.Frozen, st.Subscribed, s.rec.Window())
}

// snapshot serves the current (or a frozen) snapshot as OTLP.
func (s *server) snapshot(w http.ResponseWriter, r *http.Request) {
	snap := s.rec.Snapshot()
	if v := r.URL.Query().Get("frozen"); v != "" {
		fr := s.rec.Frozen()
		i, err := strconv.Atoi(v)
		if err != nil || i < 0 || i >= len(fr) {
			fail(w, http.StatusNotFound, "no frozen snapshot %q: there are %d (0 to %d)", v, len(fr), len(fr)-1)
			return
		}
		snap = fr[i]
	}
	req := &coltracepb.ExportTraceServiceRequest{ResourceSpans: otlpconv.ToResourceSpans(snap.Spans, snap.Events, s.service)}
	h := w.Header()
	h.Set("X-Stagescope-Spans", strconv.Itoa(len(snap.Spans)))
	h.Set("X-Stagescope-Overwritten", strconv.FormatUint(snap.SpansOverwritten, 10))
	h.Set("X-Stagescope-Taken", snap.Taken.UTC().Format(time.RFC3339Nano))
	h.Set("X-Stagescope-Window", snap.Window.String())
	if snap.Reason != "" {
		h.Set("X-Stagescope-Reason", strconv.QuoteToASCII(snap.Reason))
	}
	h.Set("Cache-Control", "no-store")
	var (
		body []byte
		err  error
	)
	if r.URL.Query().Get("format") == "json" || strings.Contains(r.Header.Get("Accept"), "application/json") {
		h.Set("Content-Type", "application/json")
		body, err = otlpconv.EncodeJSON(req)
	} else {
		h.Set("Content-Type", "application/x-protobuf")
		body, err = proto.Marshal(req)
	}
	if err != nil {
		fail(w, http.StatusInternalServerError, "cannot encode the snapshot: %v", err)
		return
	}
	_, _ = w.Write(body)
}

// FrozenInfo describes one frozen snapshot.
type FrozenInfo struct {
	Index            int       `json:"index"`
	Taken            time.Time `json:"taken"`
	Reason           string    `json:"reason"`
	Spans            int       `json:"spans"`
	Events           int       `json:"events"`
	SpansOverwritten uint64    `json:"spans_overwritten"`
}

func (s *server) frozen(w http.ResponseWriter) {
	out := []FrozenInfo{}
	for i, f := range s.rec.Frozen() {
		out = append(out, FrozenInfo{Index: i, Taken: f.Taken, Reason: f.Reason, Spans: len(f.Spans), Events: len(f.Events), SpansOverwritten: f.SpansOverwritten})
	}
	writeJSON(w, http.StatusOK, out)
}

// DispatcherInfo describes one dispatcher of the tree.
type DispatcherInfo struct {
	Name          string    `json:"name"` // "" for the root
	Parent        string    `json:"parent,omitempty"`
	Propagate     bool      `json:"propagate"`
	SpanHandlers  []string  `json:"span_handlers"`  // Go types, in attach order
	EventHandlers []string  `json:"event_handlers"` // Go types
	Sampling      float64   `json:"sampling"`
	SamplingUntil time.Time `json:"sampling_until,omitzero"`
	// SpansInWindow and ErrorsInWindow count the spans this dispatcher made
	// that the flight recorder holds (those of the last Window).
	SpansInWindow  int `json:"spans_in_window"`
	ErrorsInWindow int `json:"errors_in_window"`
}

// Tree is the answer of /dispatchers.
type Tree struct {
	Service     string           `json:"service"`
	Window      time.Duration    `json:"window_ns"`
	Recorder    flight.Stats     `json:"recorder"`
	Dispatchers []DispatcherInfo `json:"dispatchers"`
}

func typeNames[H any](hs []H) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = fmt.Sprintf("%T", h)
	}
	return out
}

func (s *server) dispatchers(w http.ResponseWriter) {
	type count struct{ spans, errors int }
	counts := map[string]count{}
	for _, sp := range s.rec.Snapshot().Spans {
		c := counts[sp.Scope]
		c.spans++
		if sp.Status == spans.StatusError {
			c.errors++
		}
		counts[sp.Scope] = c
	}
	t := Tree{Service: s.service, Window: s.rec.Window(), Recorder: s.rec.Stats()}
	for _, d := range dispatcher.All() {
		f, until := d.Sampling()
		info := DispatcherInfo{Name: d.Name(), Propagate: d.Propagate(), SpanHandlers: typeNames(d.SpanHandlers()),
			EventHandlers: typeNames(d.EventHandlers()), Sampling: f, SamplingUntil: until,
			SpansInWindow: counts[d.Name()].spans, ErrorsInWindow: counts[d.Name()].errors}
		if p := d.Parent(); p != nil && d != dispatcher.Root() {
			info.Parent = p.Name()
		}
		t.Dispatchers = append(t.Dispatchers, info)
	}
	writeJSON(w, http.StatusOK, t)
}

// SamplingAnswer is the answer of /sampling.
type SamplingAnswer struct {
	Dispatcher string    `json:"dispatcher"`
	Fraction   float64   `json:"fraction"`
	Until      time.Time `json:"until"`
}

func (s *server) sampling(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		fail(w, http.StatusBadRequest, "cannot read the form: %v", err)
		return
	}
	name := r.Form.Get("dispatcher")
	if !r.Form.Has("dispatcher") {
		fail(w, http.StatusBadRequest, "dispatcher is missing (\"\" is the root)")
		return
	}
	var d *dispatcher.Dispatcher
	for _, x := range dispatcher.All() {
		if x.Name() == strings.Trim(name, ".") {
			d = x
		}
	}
	if d == nil {
		fail(w, http.StatusNotFound, "no dispatcher %q in this program (see dispatchers)", name)
		return
	}
	f, err := strconv.ParseFloat(r.Form.Get("fraction"), 64)
	if err != nil || f < 0 || f > 1 {
		fail(w, http.StatusBadRequest, "fraction must be a number from 0 to 1, not %q", r.Form.Get("fraction"))
		return
	}
	dur, err := time.ParseDuration(r.Form.Get("for"))
	if err != nil || dur <= 0 || dur > s.maxSampleFor {
		fail(w, http.StatusBadRequest, "for must be a duration above 0 and at most %v, not %q", s.maxSampleFor, r.Form.Get("for"))
		return
	}
	d.SampleFor(f, dur)
	got, until := d.Sampling()
	writeJSON(w, http.StatusOK, SamplingAnswer{Dispatcher: d.Name(), Fraction: got, Until: until})
}

// errClientGone ends a stream whose client stopped reading or left.
var errClientGone = errors.New("client gone")

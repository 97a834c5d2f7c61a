package dispatcher

import (
	"fmt"
	"log"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

var (
	handlerPanics atomic.Uint64
	reported      sync.Map // handler (or its type name when not comparable) → struct{}: report each once
	errorHandler  atomic.Pointer[func(error)]
)

// HandlerPanicError describes a panic recovered from a handler.
type HandlerPanicError struct {
	Handler string // the handler's Go type
	Call    string // SpanStarted, SpanEnded or HandleEvent
	Value   any    // what was passed to panic
}

func (e *HandlerPanicError) Error() string {
	return fmt.Sprintf("stagescope: handler %s panicked in %s: %v (recovered; the pipeline goes on)", e.Handler, e.Call, e.Value)
}

// SetErrorHandler sets where background errors (a panicking handler, once per
// handler) are reported. The default logs them with the standard logger.
// Passing nil restores the default.
func SetErrorHandler(f func(error)) {
	if f == nil {
		errorHandler.Store(nil)
		return
	}
	errorHandler.Store(&f)
}

// HandlerPanics returns how many handler panics have been recovered since the
// program started.
func HandlerPanics() uint64 { return handlerPanics.Load() }

func reportPanic(h any, call string, v any) {
	handlerPanics.Add(1)
	name := fmt.Sprintf("%T", h)
	// Report each handler once: by identity when it can be a map key
	// (pointer handlers, the usual case), else by its type.
	var key any = name
	if reflect.ValueOf(h).Comparable() { // the value, so an interface field holding a func does not count
		key = h
	}
	if _, seen := reported.LoadOrStore(key, struct{}{}); seen {
		return
	}
	err := &HandlerPanicError{Handler: name, Call: call, Value: v}
	if f := errorHandler.Load(); f != nil {
		(*f)(err)
		return
	}
	log.Print(err)
}

func safeStarted(h SpanHandler, s *spans.Span) {
	defer func() {
		if r := recover(); r != nil {
			reportPanic(h, "SpanStarted", r)
		}
	}()
	h.SpanStarted(s)
}

func safeEnded(h SpanHandler, s *spans.Span) {
	defer func() {
		if r := recover(); r != nil {
			reportPanic(h, "SpanEnded", r)
		}
	}()
	h.SpanEnded(s)
}

func safeEvent(h EventHandler, e event.Event) {
	defer func() {
		if r := recover(); r != nil {
			reportPanic(h, "HandleEvent", r)
		}
	}()
	h.HandleEvent(e)
}

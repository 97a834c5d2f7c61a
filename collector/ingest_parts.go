package collector

import (
	"context"

	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

// ingestInParts ingests a request larger than the queue (Ingest's
// all-or-nothing would refuse it forever) as consecutive parts of about a
// quarter of the queue, each committed in its own transaction(s) before the
// next is queued. A span's events travel in its part (a span with more
// events than the queue holds sends the excess in parts of their own,
// which a retry would store again). The first part is
// refused like any request when the queue is full (nothing was kept, the
// client retries); later parts wait for room. If a part fails after earlier
// ones were committed, the error goes back to the client, whose retry stores
// only the rest: the writer drops spans it has stored already.
func (c *Collector) ingestInParts(ctx context.Context, ss []spans.Span, evs []event.Record) (*ingestRequest, error) {
	part := max(c.cfg.queueSize/4, 2)
	key := func(t spans.TraceID, s spans.SpanID) spanKey { return spanKey{t, s} }
	// A span travels with its events, up to a part of the whole queue if it
	// has that many (the writer recognises a retried span's events only
	// next to the span); what a queue cannot hold goes last, on its own.
	most := c.cfg.queueSize - 1
	perSpan := make(map[spanKey]int, len(ss))
	for i := range evs {
		perSpan[key(evs[i].TraceID, evs[i].SpanID)]++
	}
	partOf := make(map[spanKey]int, len(ss))
	bounds := []int{0}
	size := 0
	for i := range ss {
		k := key(ss[i].TraceID, ss[i].SpanID)
		w := 1 + min(perSpan[k], most)
		if size > 0 && size+w > part {
			bounds = append(bounds, i)
			size = 0
		}
		size += w
		partOf[k] = len(bounds) - 1
	}
	bounds = append(bounds, len(ss))
	partEvs := make([][]event.Record, len(bounds)-1)
	var rest []event.Record
	for i := range evs {
		k := key(evs[i].TraceID, evs[i].SpanID)
		if p, ok := partOf[k]; ok && perSpan[k] > 0 {
			partEvs[p] = append(partEvs[p], evs[i])
			perSpan[k] = min(perSpan[k], most) - 1 // what the span may still bring
			continue
		}
		rest = append(rest, evs[i])
	}
	for len(rest) > 0 {
		n := min(len(rest), part)
		partEvs = append(partEvs, rest[:n])
		bounds = append(bounds, len(ss))
		rest = rest[n:]
	}
	// Put evs in part order, in place, so that each part is a slice of the
	// caller's evs: the writer reports duplicates by address.
	ordered := make([]event.Record, 0, len(evs))
	for _, pe := range partEvs {
		ordered = append(ordered, pe...)
	}
	copy(evs, ordered)
	ordered = nil

	all := &ingestRequest{}
	spansLeft, eventsLeft, e := len(ss), len(evs), 0
	for p := range partEvs {
		pss, pes := ss[bounds[p]:bounds[p+1]], evs[e:e+len(partEvs[p])]
		e += len(pes)
		req, err := c.ingestPart(ctx, pss, pes, p > 0)
		if err != nil {
			c.m.spansRefused.Add(uint64(spansLeft))
			c.m.eventsRefused.Add(uint64(eventsLeft))
			return all, err
		}
		all.merge(req)
		spansLeft -= len(pss)
		eventsLeft -= len(pes)
	}
	return all, nil
}

// ingestAll is Ingest: one request up to the queue's capacity, parts above.
func (c *Collector) ingestAll(ctx context.Context, ss []spans.Span, evs []event.Record) (*ingestRequest, error) {
	if len(ss)+len(evs) > c.cfg.queueSize {
		return c.ingestInParts(ctx, ss, evs)
	}
	return c.ingest(ctx, ss, evs)
}

// merge adds the duplicates the writer found in part to r.
func (r *ingestRequest) merge(part *ingestRequest) {
	for sp := range part.dupSpans {
		if r.dupSpans == nil {
			r.dupSpans = map[*spans.Span]bool{}
		}
		r.dupSpans[sp] = true
	}
	for ev := range part.dupEvents {
		if r.dupEvents == nil {
			r.dupEvents = map[*event.Record]bool{}
		}
		r.dupEvents[ev] = true
	}
}

// ingestPart is Ingest for one part; with wait, a full queue is waited out
// rather than refused.
func (c *Collector) ingestPart(ctx context.Context, ss []spans.Span, evs []event.Record, wait bool) (*ingestRequest, error) {
	for {
		changed := c.prog.changed()
		req, err := c.ingest(ctx, ss, evs)
		if err != ErrQueueFull || !wait {
			return req, err
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return req, ctx.Err()
		}
	}
}

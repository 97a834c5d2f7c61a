package spans

import (
	"context"
	"slices"
)

// Parent is anything that can be the parent of a new span: a live span of the
// dispatcher, a finished *Span, or a SpanContext parsed from another process.
type Parent interface {
	SpanContext() SpanContext
}

type parentKey struct{}
type tagsKey struct{}

// ContextWithParent returns a child of ctx whose spans will be children of p.
// Storing a pointer type costs one allocation (the context node) and no
// boxing.
func ContextWithParent(ctx context.Context, p Parent) context.Context {
	return context.WithValue(ctx, parentKey{}, p)
}

// ContextWithRemoteParent makes sc, typically from ParseTraceparent, the
// parent of spans started under the returned context.
func ContextWithRemoteParent(ctx context.Context, sc SpanContext) context.Context {
	sc.Remote = true
	return context.WithValue(ctx, parentKey{}, sc)
}

// ParentFromContext returns the parent stored in ctx, or nil.
func ParentFromContext(ctx context.Context) Parent {
	p, _ := ctx.Value(parentKey{}).(Parent)
	return p
}

// SpanContextFromContext returns the identity of the parent in ctx, or the
// zero SpanContext.
func SpanContextFromContext(ctx context.Context) SpanContext {
	if p := ParentFromContext(ctx); p != nil {
		return p.SpanContext()
	}
	return SpanContext{}
}

// WithTags returns a context whose spans and events carry tags, merged over
// the tags already in ctx (a key given again replaces the older value), in
// the spirit of LlamaIndex's instrument_tags.
func WithTags(ctx context.Context, tags ...Tag) context.Context {
	old := TagsFromContext(ctx)
	merged := make([]Tag, 0, len(old)+len(tags))
	merged = append(merged, old...)
	for _, t := range tags {
		if i := slices.IndexFunc(merged, func(m Tag) bool { return m.Key == t.Key }); i >= 0 {
			merged[i] = t
		} else {
			merged = append(merged, t)
		}
	}
	return context.WithValue(ctx, tagsKey{}, merged)
}

// TagsFromContext returns the tags scoped to ctx. The slice is shared: do not
// modify it.
func TagsFromContext(ctx context.Context) []Tag {
	t, _ := ctx.Value(tagsKey{}).([]Tag)
	return t
}

// ParentContext is a context node that carries P as the parent for new
// spans. A span implementation can embed one in its own allocation and hand
// out its address, saving the separate allocation ContextWithParent makes.
type ParentContext struct {
	context.Context
	P Parent
}

// Value answers the parent lookup itself and defers everything else to the
// wrapped context.
func (c *ParentContext) Value(key any) any {
	if key == (parentKey{}) {
		return c.P
	}
	return c.Context.Value(key)
}

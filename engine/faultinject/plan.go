package faultinject

import (
	"context"
	"errors"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/spans"
)

// SpanName is the name of the span a planted fault runs in.
const SpanName = "fault"

// DispatcherName is the dispatcher fault spans are reported through.
const DispatcherName = "engine.faultinject"

// KeyInjected is true on a fault span: its whole duration, and its error,
// were planted. Analysis shows such spans as injected and keeps them out of
// a stage's per-span statistics (they are part of the stage's cost per
// request). The stage span that received the fault carries
// spans.KeyFaultLatencyNanos and spans.KeyFaultError instead, so that it is
// not mistaken for a planted span itself.
const KeyInjected = spans.KeyFaultInjected

// Stages are the stages whose engine code calls Inject, where a Plan can
// plant faults:
//
//   - embed: every Embed call (the query's embedding, under the vector
//     retrieval);
//   - retrieve: the outermost retrieval of a query (the hybrid one; the
//     vector and BM25 retrievals inside it are not planted again);
//   - rerank, synth: every rerank and synthesize call;
//   - llm: every model call, inside each retry attempt, so planted errors
//     are retried;
//   - storage: every vector-store query, and every store file persisted or
//     loaded; a vector-store query has no span of its own, so there the
//     fault span is the only storage span;
//   - pool: every job of a worker pool, inside the job's span before the
//     job runs: the job holds its worker for the planted time, so the
//     latency shows as job run time and as queue wait for jobs queued
//     behind it. Only the outermost pool is planted.
var Stages = []spans.Stage{spans.StageEmbed, spans.StageRetrieve, spans.StageRerank, spans.StageSynth,
	spans.StageLLM, spans.StageStorage, spans.StagePool}

// Plan is the injectors planted per stage.
type Plan map[spans.Stage]*Injector

type planKey struct{}

// WithPlan returns a context carrying plan, for the stages that call Inject
// under it.
func WithPlan(ctx context.Context, plan Plan) context.Context {
	if len(plan) == 0 && PlanFromContext(ctx) == nil {
		return ctx
	}
	return context.WithValue(ctx, planKey{}, plan)
}

// PlanFromContext returns the plan ctx carries, or nil.
func PlanFromContext(ctx context.Context) Plan {
	p, _ := ctx.Value(planKey{}).(Plan)
	return p
}

// Inject applies the injector that the plan in ctx holds for stage, if any.
// Stage code calls it right after starting its span and uses the context it
// returns from then on.
//
// When the injector fires (the call drew a latency or an error) the fault
// runs in a span named SpanName, of the same stage, that is a child of the
// current span and carries KeyInjected; the current span, when it is of
// stage, gets spans.KeyFaultLatencyNanos and spans.KeyFaultError. When it
// does not fire, nothing is recorded.
//
// The context returned no longer plants stage, so that spans of the same
// stage nested inside (the vector and BM25 retrievals under a hybrid one, a
// pool run inside a pool job) are not planted twice for one call.
func Inject(ctx context.Context, stage spans.Stage) (context.Context, error) {
	plan := PlanFromContext(ctx)
	inj := plan[stage]
	if inj == nil {
		return ctx, nil
	}
	rest := make(Plan, len(plan)-1)
	for s, i := range plan {
		if s != stage {
			rest[s] = i
		}
	}
	ctx = context.WithValue(ctx, planKey{}, rest)
	return ctx, inj.inject(ctx, stage)
}

func (i *Injector) inject(ctx context.Context, stage spans.Stage) (err error) {
	d, fail := i.draw()
	if d <= 0 && !fail {
		return nil
	}
	parent := dispatcher.SpanFromContext(ctx)
	fctx, span := dispatcher.Get(DispatcherName).Start(ctx, SpanName, stage, spans.Bool(KeyInjected, true))
	defer span.Done(&err)
	slept, err := i.apply(fctx, span, d, fail)
	// Only the goroutine that owns the parent calls Inject, so reading its
	// record here is safe.
	if rec := parent.Record(); rec != nil && rec.Stage == stage {
		parent.SetAttributes(spans.Int64(spans.KeyFaultLatencyNanos, int64(slept)), spans.Bool(spans.KeyFaultError, errors.Is(err, ErrInjected)))
	}
	return err
}

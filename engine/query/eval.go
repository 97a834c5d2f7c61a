package query

import (
	"context"
	"fmt"

	"github.com/stagescope/stagescope/engine/corpus"
	"github.com/stagescope/stagescope/engine/retrieve"
)

// Evaluation is how well a retriever finds the expected documents of a
// labelled question set.
type Evaluation struct {
	K         int     // hits looked at per question
	Questions int     // questions asked
	Found     int     // questions whose expected document was in the top K
	HitRate   float64 // Found / Questions
	MRR       float64 // mean of 1/rank of the expected document (0 if absent)
}

func (e Evaluation) String() string {
	return fmt.Sprintf("hit rate@%d %.3f, MRR@%d %.3f over %d questions", e.K, e.HitRate, e.K, e.MRR, e.Questions)
}

// Evaluate asks r every question for its top k hits. A question counts as
// found when a hit belongs to (any node of) the expected document; its rank
// is the position of the first such hit.
func Evaluate(ctx context.Context, r retrieve.Retriever, questions []corpus.Question, k int) (Evaluation, error) {
	ev := Evaluation{K: k, Questions: len(questions)}
	var rr float64
	for _, q := range questions {
		hits, err := r.Retrieve(ctx, q.Query, k)
		if err != nil {
			return ev, fmt.Errorf("evaluating on %q: %w", q.Query, err)
		}
		for i, h := range hits {
			if h.DocID == q.ExpectedDocID {
				ev.Found++
				rr += 1 / float64(i+1)
				break
			}
		}
	}
	if ev.Questions > 0 {
		ev.HitRate = float64(ev.Found) / float64(ev.Questions)
		ev.MRR = rr / float64(ev.Questions)
	}
	return ev, nil
}

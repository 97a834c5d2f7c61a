package tokens

import (
	"errors"
	"fmt"
	"sync/atomic"
)

// ErrBudgetExceeded is wrapped by the error Budget.Spend returns when a
// spend would go over the budget.
var ErrBudgetExceeded = errors.New("token budget exceeded")

// Budget is a token allowance shared by the stages of a pipeline (or of a
// whole benchmark run). It is safe for concurrent use. A nil *Budget is
// unlimited.
type Budget struct {
	max  int64
	used atomic.Int64
}

// NewBudget returns a budget of maxTokens tokens; maxTokens ≤ 0 means no
// limit (spends are still counted).
func NewBudget(maxTokens int) *Budget { return &Budget{max: int64(maxTokens)} }

// Spend records n tokens. If that would take the budget over its maximum,
// nothing is recorded and the error (wrapping ErrBudgetExceeded) says how
// many tokens were asked for, used and allowed.
func (b *Budget) Spend(n int) error {
	if b == nil || n <= 0 {
		return nil
	}
	for {
		used := b.used.Load()
		next := used + int64(n)
		if b.max > 0 && next > b.max {
			return fmt.Errorf("%w: spending %d tokens would use %d of %d (%d remaining)", ErrBudgetExceeded, n, next, b.max, b.max-used)
		}
		if b.used.CompareAndSwap(used, next) {
			return nil
		}
	}
}

// Used returns the tokens spent so far.
func (b *Budget) Used() int {
	if b == nil {
		return 0
	}
	return int(b.used.Load())
}

// Max returns the budget's maximum (0: unlimited).
func (b *Budget) Max() int {
	if b == nil || b.max <= 0 {
		return 0
	}
	return int(b.max)
}

// Remaining returns the tokens left, or -1 when the budget is unlimited.
func (b *Budget) Remaining() int {
	if b == nil || b.max <= 0 {
		return -1
	}
	return int(b.max - b.used.Load())
}

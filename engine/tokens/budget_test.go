package tokens

import (
	"errors"
	"strings"
	"sync"
	"testing"
)

func TestBudget(t *testing.T) {
	b := NewBudget(100)
	if err := b.Spend(60); err != nil {
		t.Fatal(err)
	}
	err := b.Spend(50)
	if !errors.Is(err, ErrBudgetExceeded) {
		t.Fatalf("err = %v, want ErrBudgetExceeded", err)
	}
	for _, figure := range []string{"50", "110", "100", "40 remaining"} {
		if !strings.Contains(err.Error(), figure) {
			t.Errorf("error %q does not say %q", err, figure)
		}
	}
	if b.Used() != 60 || b.Remaining() != 40 || b.Max() != 100 {
		t.Errorf("used=%d remaining=%d max=%d, want 60 40 100", b.Used(), b.Remaining(), b.Max())
	}
	if err := b.Spend(40); err != nil {
		t.Fatal(err)
	}
	if b.Remaining() != 0 {
		t.Errorf("remaining = %d", b.Remaining())
	}

	unlimited := NewBudget(0)
	if err := unlimited.Spend(1 << 30); err != nil || unlimited.Remaining() != -1 || unlimited.Used() != 1<<30 {
		t.Errorf("unlimited budget: err=%v remaining=%d used=%d", err, unlimited.Remaining(), unlimited.Used())
	}
	var nilBudget *Budget
	if nilBudget.Spend(5) != nil || nilBudget.Used() != 0 {
		t.Error("nil budget must be an unlimited no-op")
	}
}

func TestBudgetConcurrentNeverOverspends(t *testing.T) {
	b := NewBudget(1000)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				if b.Spend(3) == nil {
					mu.Lock()
					ok++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if ok != 333 || b.Used() != 999 {
		t.Errorf("successful spends = %d, used = %d; want 333 and 999", ok, b.Used())
	}
}

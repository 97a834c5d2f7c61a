package retry_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stagescope/stagescope/engine/retry"
)

func ExampleDo() {
	errBusy := errors.New("server busy")
	answer, err := retry.Do(context.Background(), "ask", func(ctx context.Context, attempt int) (string, error) {
		if attempt < 3 {
			return "", errBusy
		}
		return fmt.Sprintf("answered on attempt %d", attempt), nil
	}, retry.WithMaxTries(5), retry.WithMinBackoff(time.Millisecond))
	fmt.Println(answer, err)

	_, err = retry.Do(context.Background(), "ask", func(ctx context.Context, attempt int) (string, error) {
		return "", errBusy
	}, retry.WithMaxTries(2), retry.WithMinBackoff(time.Millisecond))
	fmt.Println(err, errors.Is(err, errBusy))
	// Output:
	// answered on attempt 3 <nil>
	// retry ask: gave up after 2 attempts: server busy true
}

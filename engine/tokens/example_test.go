package tokens_test

import (
	"errors"
	"fmt"

	"github.com/stagescope/stagescope/engine/tokens"
)

func ExampleForModel() {
	enc, err := tokens.ForModel("gpt-4o")
	if err != nil {
		panic(err)
	}
	fmt.Println(enc.Name(), enc.Count("hello world"))
	// Output: o200k_base 2
}

func ExampleBudget() {
	b := tokens.NewBudget(10)
	fmt.Println(b.Spend(8))
	err := b.Spend(5)
	fmt.Println(errors.Is(err, tokens.ErrBudgetExceeded))
	fmt.Println(err)
	// Output:
	// <nil>
	// true
	// token budget exceeded: spending 5 tokens would use 13 of 10 (2 remaining)
}

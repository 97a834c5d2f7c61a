package bench

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteTable prints results as an aligned table, one row per configuration,
// with a star on the Pareto front (p95 latency against MRR).
func WriteTable(w io.Writer, results []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "top_k\ttop_n\tmode\tworkers\tp50 ms\tp95 ms\tp99 ms\tq/s\tprompt tok\tcompl tok\thit rate\tMRR\terrors\tfront\trun\t")
	for _, r := range results {
		front := ""
		if r.OnFront {
			front = "*"
		}
		run := r.RunID
		if run == "" {
			run = "-"
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%d\t%.2f\t%.2f\t%.2f\t%.1f\t%d\t%d\t%.3f\t%.3f\t%d\t%s\t%s\t\n",
			r.Config.TopK, r.Config.TopN, r.Config.Mode, r.Config.Workers,
			ms(r.P50), ms(r.P95), ms(r.P99), r.Throughput, r.PromptTokens, r.CompletionTokens,
			r.HitRate, r.MRR, r.Errors, front, run)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("bench: cannot write the table: %w", err)
	}
	return nil
}

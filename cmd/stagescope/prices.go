package main

import (
	"flag"
	"os"

	"github.com/stagescope/stagescope/collector/analysis"
)

// pricesFlag is --prices: a JSON price table added to the built-in one.
type pricesFlag struct{ path string }

func (p *pricesFlag) register(fs *flag.FlagSet) {
	fs.StringVar(&p.path, "prices", env("", "STAGESCOPE_PRICES"),
		"JSON `file` of model prices added to the built-in table, e.g. {\"my-model\": {\"prompt_per_mtok\": 2.5, \"completion_per_mtok\": 10}} (US dollars per million tokens) [STAGESCOPE_PRICES]")
}

// table reads the file; nil (the built-in table) without --prices. A file
// that cannot be read or parsed is a usage error of cmd.
func (p *pricesFlag) table(cmd string) (map[string]analysis.Price, error) {
	if p.path == "" {
		return nil, nil
	}
	f, err := os.Open(p.path)
	if err != nil {
		return nil, usagef(cmd, "--prices: %v", err)
	}
	defer f.Close()
	t, err := analysis.ReadPrices(f)
	if err != nil {
		return nil, usagef(cmd, "--prices %s: %v", p.path, err)
	}
	return t, nil
}

// options is the table as analysis options.
func (p *pricesFlag) options(cmd string) ([]analysis.Option, error) {
	t, err := p.table(cmd)
	if err != nil || t == nil {
		return nil, err
	}
	return []analysis.Option{analysis.WithPriceTable(t)}, nil
}

package faultinject

import (
	"math"
	"math/rand/v2"
	"time"
)

// Distribution is a latency distribution. Sample must not return a negative
// duration.
type Distribution interface {
	Sample(r *rand.Rand) time.Duration
}

// Constant always returns d.
func Constant(d time.Duration) Distribution { return constant(d) }

type constant time.Duration

func (c constant) Sample(*rand.Rand) time.Duration { return max(0, time.Duration(c)) }

// Uniform returns latencies evenly spread over [lo, hi].
func Uniform(lo, hi time.Duration) Distribution {
	if hi < lo {
		lo, hi = hi, lo
	}
	return uniform{lo: max(0, lo), hi: max(0, hi)}
}

type uniform struct{ lo, hi time.Duration }

func (u uniform) Sample(r *rand.Rand) time.Duration {
	return u.lo + time.Duration(r.Int64N(int64(u.hi-u.lo)+1))
}

// Normal returns latencies from a normal distribution, clamped at zero.
func Normal(mean, stddev time.Duration) Distribution { return normal{mean: mean, stddev: stddev} }

type normal struct{ mean, stddev time.Duration }

func (n normal) Sample(r *rand.Rand) time.Duration {
	return max(0, n.mean+time.Duration(r.NormFloat64()*float64(n.stddev)))
}

// LogNormal returns latencies whose logarithm is normal: median is the
// distribution's median and sigma the standard deviation of the logarithm.
// It has the long right tail of real service latencies (sigma 0.5 puts p99
// at about 3.2× the median).
func LogNormal(median time.Duration, sigma float64) Distribution {
	return logNormal{mu: math.Log(float64(max(1, median))), sigma: sigma}
}

type logNormal struct{ mu, sigma float64 }

func (l logNormal) Sample(r *rand.Rand) time.Duration {
	v := math.Exp(l.mu + l.sigma*r.NormFloat64())
	if v > math.MaxInt64/2 {
		v = math.MaxInt64 / 2
	}
	return time.Duration(v)
}

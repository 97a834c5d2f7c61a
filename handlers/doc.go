// Package handlers serves stagescope over HTTP with Echo: the JSON API of
// the dashboard, OTLP/HTTP ingest, a live stream of new traces, Prometheus
// metrics and the embedded dashboard itself.
//
// The API reads a collector.Source: the SQLite store, or a Jaeger query
// service (jaeger.NewSource). Answers say which: /api/health's source, the
// report's and comparison's sample (source, method), and the coverage of
// answers computed from traces (a service's, or any of a source without
// rollups: how many traces, read how). Over a source other than the store,
// POST /v1/traces answers 404 (spans go to that source's collectors) and a
// source that does not answer is a 502 with its cause.
//
// Routes (all errors are JSON objects {"error": "..."} with a clear message):
//
//	GET  /                      the dashboard (package web)
//	GET  /assets/*              its scripts, styles and the vendored chart library
//	GET  /api/health            liveness and collector counters (never needs a token)
//	POST /api/session           exchanges the token for a session cookie (for the dashboard)
//	GET  /api/services          the services whose traces started in from/to, with counts
//	GET  /api/traces            search: from, to, service, stage, status, min_duration,
//	                            max_duration, name, attr=key=value, run, cursor, limit; a filter no
//	                            index answers examines at most collector.TraceScanBudget
//	                            traces, then answers partial with scanned_to and a
//	                            next_cursor that continues the search. status is the
//	                            root span's (error: the request failed, the rule of
//	                            every error count); with_errors: a span failed anywhere.
//	                            sort=start|duration|spans (- for descending) sorts the
//	                            window server-side, over its newest TraceScanBudget
//	                            traces when it holds more (then partial on every page)
//	GET  /api/traces/:id        one trace: spans with depth, self time, critical-path
//	                            flags, events, tokens; and its critical path (service:
//	                            404 unless the trace has a span of it)
//	GET  /api/stages            per-stage breakdown over from/to (or one run), of one
//	                            service with service (computed from its traces)
//	GET  /api/timeseries        end-to-end percentiles, throughput, errors, drops,
//	                            per-stage self time and p95, and tokens and cost (priced
//	                            when read) per step; service as for stages
//	GET  /api/report            the bottleneck report over a sample of traces (the
//	                            filters of /api/traces)
//	GET  /api/compare           two windows (base_from, base_to, cand_from, cand_to)
//	                            or two runs (base_run, cand_run) side by side, of one
//	                            service with service: per stage a Mann–Whitney test and
//	                            an effect-size floor (regressed only when significant
//	                            and the p50 or p95 moved by max(10 %, 1 ms)), a typical
//	                            trace of each side, and for two runs the settings that
//	                            differ between their configs
//	GET  /api/runs              benchmark runs with their summaries and sweep ids
//	GET  /api/live              Server-Sent Events: one "trace" event per new trace
//	                            (of one service with service)
//	GET  /metrics               Prometheus text format
//	POST /v1/traces             OTLP/HTTP ingest (the collector's handler)
//
// Security. The command line binds 127.0.0.1 by default (DefaultAddr), so
// nothing is exposed beyond the machine unless asked for. With WithToken,
// ingest, the API and /metrics need "Authorization: Bearer <token>" (compared
// in constant time); the dashboard trades the token once for an HttpOnly,
// SameSite=Strict session cookie that is accepted on GET requests only, so a
// cross-site form cannot ingest. Request bodies are limited
// (WithMaxBodyBytes, 413 beyond), requests carry a deadline
// (WithRequestTimeout; the live stream ends with the server instead), every
// query parameter is validated before it reaches the store (400 with a
// message naming the parameter), the store uses parameterised SQL only, and
// every response carries security headers, among them a
// Content-Security-Policy that allows scripts from the server's own origin
// only (no inline script) and forbids framing.
//
// The package must not read flags or environment variables, write SQL, or
// listen on a socket by itself: cmd/stagescope does the wiring and owns the
// listener.
package handlers

// Package deploytest starts stagescope's reference deployment (tools/deploy)
// as real processes for tests: one Jaeger v2 storage process (the
// remote_storage extension over Badger), collector instances writing through
// it with the spanmetrics connector, a Jaeger query service, and Debian's
// Prometheus scraping the collectors — each on free loopback ports with its
// own temporary directory, configured by the shipped files. It is test
// infrastructure, in the spirit of net/http/httptest; nothing in
// stagescope's product code imports it.
//
// A test that needs the deployment:
//
//	d, err := deploytest.StartFromEnv(deploytest.Options{})
//	d = deploytest.Need(t, d, err) // skips, or fails under STAGESCOPE_REQUIRE_ALL=1
//	defer d.Stop()
//	// send OTLP/HTTP to d.Collectors[i].OTLPHTTP (SendSDKTraffic sends an
//	// OTel SDK client's), read traces from d.QueryURL (/api/v3) and stage
//	// aggregates from d.Prometheus.URL (collector/prom); d.Logs() on failure.
//
// The binaries come from STAGESCOPE_JAEGER_BIN and STAGESCOPE_PROMETHEUS_BIN,
// which .ci/run sets.
package deploytest

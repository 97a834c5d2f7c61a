// Package deploytest starts stagescope's reference deployment (tools/deploy)
// as real processes for tests: one Jaeger v2 storage process (the
// remote_storage extension over Badger), collector instances writing through
// it with the spanmetrics connector, a Jaeger query service, and Debian's
// Prometheus scraping the collectors — each on free loopback ports with its
// own temporary directory, configured by the shipped files. It is test
// infrastructure, in the spirit of net/http/httptest; nothing in
// stagescope's product code imports it.
package deploytest

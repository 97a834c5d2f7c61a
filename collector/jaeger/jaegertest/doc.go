// Package jaegertest starts a real Jaeger v2 process for tests: all-in-one
// with in-memory storage, OTLP/HTTP and Thrift-over-HTTP receivers and the
// query API, each on a free loopback port so that several test packages can
// run their own at once. It is test infrastructure, in the spirit of
// net/http/httptest; nothing in stagescope's product code imports it.
package jaegertest

package jaeger

import (
	"fmt"
	"net/url"
	"strings"
)

// otlpTracesURL turns an OTLP endpoint into the URL spans are posted to.
// Following the OTLP exporter conventions, an endpoint without a path is a
// base URL and gets /v1/traces appended; one with a path is used as it is.
// An endpoint without a scheme is taken as plain http.
func otlpTracesURL(endpoint string) (string, error) {
	if endpoint == "" {
		endpoint = DefaultOTLPEndpoint
	}
	u, err := parseEndpoint(endpoint)
	if err != nil {
		return "", err
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
	}
	return u.String(), nil
}

// thriftURL turns a collector address into the Thrift-over-HTTP URL: an
// address without a path gets /api/traces.
func thriftURL(endpoint string) (string, error) {
	if endpoint == "" {
		endpoint = DefaultThriftEndpoint
	}
	u, err := parseEndpoint(endpoint)
	if err != nil {
		return "", err
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/api/traces"
	}
	return u.String(), nil
}

func parseEndpoint(endpoint string) (*url.URL, error) {
	if !strings.Contains(endpoint, "://") {
		endpoint = "http://" + endpoint
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("invalid Jaeger endpoint %q: %w", endpoint, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("invalid Jaeger endpoint %q: scheme must be http or https", endpoint)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("invalid Jaeger endpoint %q: no host", endpoint)
	}
	return u, nil
}

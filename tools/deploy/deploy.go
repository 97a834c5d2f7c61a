// Package deploy holds stagescope's reference deployment for fleets (see
// README.md in this folder): the configurations of Jaeger v2's roles — the
// storage process, the collectors with the spanmetrics connector, the query
// service — and of the Prometheus that scrapes the collectors. They are
// embedded here so that the end-to-end harness (deploytest) runs exactly the
// files a user copies.
package deploy

import _ "embed"

// The configurations, as shipped. Jaeger's take their addresses from
// STAGESCOPE_* environment variables (each file lists them); Prometheus'
// names its targets literally.
var (
	//go:embed collector.yaml
	CollectorConfig string
	//go:embed storage.yaml
	StorageConfig string
	//go:embed query.yaml
	QueryConfig string
	//go:embed prometheus.yml
	PrometheusConfig string
)

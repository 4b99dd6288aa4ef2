// Builds Prometheus (cmd/prometheus) from its module: its own go.mod has exclude directives, so
// `go install pkg@version` refuses it; as a dependency of this module it builds.
module catga.dev/tools/prometheus

go 1.24.9

require github.com/prometheus/prometheus v0.309.1

// Command etcd is the etcd server of go.etcd.io/etcd/server/v3 at the version go.mod pins (the one
// the Kubernetes release in tools/kube is tested with), built by scripts/tools.sh into bin/etcd.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }

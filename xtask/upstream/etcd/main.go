// Command etcd wraps upstream etcdmain so that `go build` can produce a
// pinned etcd server from the module proxy alone.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }

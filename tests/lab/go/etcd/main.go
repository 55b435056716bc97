// etcd 3.6 for the lab, built from the pinned server module (distribution packages are too old).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }

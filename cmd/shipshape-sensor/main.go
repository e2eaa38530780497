// Command shipshape-sensor traces an application inside a container for
// "shipshape slim". It must be built statically (CGO_ENABLED=0); shipshape
// builds it on demand when its own binary is not static.
package main

import (
	"os"

	"github.com/shipshape-dev/shipshape/internal/slim/sensor"
)

func main() { os.Exit(sensor.Main(os.Args[1:])) }

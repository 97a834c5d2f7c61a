// Package defaultmux mounts stagescope's debug endpoint on
// http.DefaultServeMux at debug.Path (/debug/stagescope/) when imported,
// as net/http/pprof does for profiles, with the process's flight recorder
// (debug.Default) attached to the root dispatcher:
//
//	import _ "github.com/stagescope/stagescope/handlers/debug/defaultmux"
//
// It answers loopback clients only and asks for no token; mount
// debug.Handler yourself for other settings.
package defaultmux

import (
	"net/http"

	"github.com/stagescope/stagescope/handlers/debug"
)

func init() { http.Handle(debug.Path, debug.Handler()) }

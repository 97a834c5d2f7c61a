package jaegertest

// FreeAddr reserves a free loopback address (host:port) for a test server;
// the listener is closed at once, so another process may in theory take it
// first. Other process harnesses (tools/deploy/deploytest) use it too.
func FreeAddr() (string, error) { return freeAddr() }

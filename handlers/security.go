package handlers

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
)

// ContentSecurityPolicy is sent with every response. Scripts, styles and
// connections are allowed from the server's own origin only, so no inline
// script or injected markup can run; the page may not be framed.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// securityHeaders sets the security headers before the handler runs, so
// errors, static files and streams all carry them.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		if p := c.Request().URL.Path; strings.HasPrefix(p, "/api/") || p == "/metrics" || p == "/v1/traces" {
			h.Set("Cache-Control", "no-store")
		}
		return next(c)
	}
}

// hostGuard refuses requests whose Host is a name this server was not told
// it answers to, and state-changing requests from another origin. A page
// that rebinds its own DNS name to 127.0.0.1 (DNS rebinding) reaches a
// loopback server with its name in Host, so it is refused; IP literals and
// localhost are always allowed (no DNS is involved), and WithAllowedHosts
// adds names ("*" turns the check off).
type hostGuard struct {
	any   bool
	names map[string]bool
}

func newHostGuard(hosts []string) *hostGuard {
	g := &hostGuard{names: map[string]bool{}}
	for _, h := range hosts {
		h = normalHost(h)
		if h == "*" {
			g.any = true
		}
		if h != "" {
			g.names[h] = true
		}
	}
	return g
}

// normalHost is the host of a Host header or address, lower case, without
// port, brackets or trailing dot.
func normalHost(h string) string {
	h = strings.TrimSpace(h)
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.TrimSuffix(strings.ToLower(strings.Trim(h, "[]")), ".")
}

func (g *hostGuard) allowed(host string) bool {
	h := normalHost(host)
	return g.any || h == "localhost" || strings.HasSuffix(h, ".localhost") || net.ParseIP(h) != nil || g.names[h]
}

func (g *hostGuard) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if !g.allowed(r.Host) {
			return &apiError{status: http.StatusMisdirectedRequest,
				msg: fmt.Sprintf("host %q is not served here (a DNS rebinding guard): use an IP address or localhost, or start the server with --allow-host %s", truncate(r.Host, 64), truncate(normalHost(r.Host), 64))}
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if o := r.Header.Get("Origin"); o != "" {
				u, err := url.Parse(o)
				if err != nil || !strings.EqualFold(u.Host, r.Host) {
					return &apiError{status: http.StatusForbidden, msg: fmt.Sprintf("cross-origin request from %q refused", truncate(o, 64))}
				}
			}
		}
		return next(c)
	}
}

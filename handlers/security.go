package handlers

import (
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

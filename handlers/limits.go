package handlers

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// bodyLimit reads at most max bytes of a request body; a larger body (by
// Content-Length or by what arrives) gets 413 before any handler sees it.
// The body is buffered, which every route wants anyway (JSON needs it
// whole). OTLP ingest is left alone: its handler reads the body only after
// admission control, enforces the same limit itself and answers in the
// request's format.
func bodyLimit(max int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if r.Body == nil || r.Body == http.NoBody || r.Method == http.MethodGet || r.Method == http.MethodHead || r.URL.Path == otlpPath {
				return next(c)
			}
			tooLarge := &apiError{status: http.StatusRequestEntityTooLarge,
				msg: fmt.Sprintf("request body too large: the limit is %d bytes", max)}
			if r.ContentLength > max {
				return tooLarge
			}
			b, err := io.ReadAll(io.LimitReader(r.Body, max+1))
			if err != nil {
				return badRequest("cannot read request body: %v", err)
			}
			if int64(len(b)) > max {
				return tooLarge
			}
			r.Body = io.NopCloser(bytes.NewReader(b))
			r.ContentLength = int64(len(b))
			return next(c)
		}
	}
}

// requestTimeout gives each request a deadline, which store queries honour.
// The live stream is exempt: it lasts as long as the client or the server.
func requestTimeout(d time.Duration) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if c.Request().URL.Path == "/api/live" {
				return next(c)
			}
			ctx, cancel := context.WithTimeout(c.Request().Context(), d)
			defer cancel()
			c.SetRequest(c.Request().WithContext(ctx))
			return next(c)
		}
	}
}

package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/stagescope/stagescope/collector"
)

// ErrorBody is the JSON form of every error response.
type ErrorBody struct {
	Error string `json:"error"`
}

// apiError is an error with the HTTP status it maps to and a message safe to
// show the client.
type apiError struct {
	status int
	msg    string
	err    error // the cause, logged and not shown
}

func (e *apiError) Error() string { return e.msg }
func (e *apiError) Unwrap() error { return e.err }

// badRequest reports an invalid parameter or body.
func badRequest(format string, args ...any) error {
	return &apiError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// storeError maps a store error: not found stays 404, a deadline becomes
// 504, anything else is a 500 whose detail is logged rather than shown.
func storeError(what string, err error) error {
	switch {
	case errors.Is(err, collector.ErrNotFound):
		return &apiError{status: http.StatusNotFound, msg: what + " not found", err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{status: http.StatusGatewayTimeout, msg: "request timed out while reading " + what, err: err}
	case errors.Is(err, context.Canceled):
		return &apiError{status: 499, msg: "request cancelled", err: err}
	case errors.Is(err, collector.ErrUnavailable):
		// A remote source (Jaeger) down or slow: say so, it is not our fault.
		return &apiError{status: http.StatusBadGateway, msg: "cannot read " + what + ": " + err.Error(), err: err}
	case errors.Is(err, collector.ErrClosed):
		return &apiError{status: http.StatusServiceUnavailable, msg: "the store is closed", err: err}
	}
	return &apiError{status: http.StatusInternalServerError, msg: "cannot read " + what, err: err}
}

// errorHandler writes every error as {"error": "..."} with its status.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, msg := http.StatusInternalServerError, "internal error"
	var ae *apiError
	var he *echo.HTTPError
	switch {
	case errors.As(err, &ae):
		status, msg = ae.status, ae.msg
	case errors.As(err, &he):
		status = he.Code
		if m, ok := he.Message.(string); ok {
			msg = m
		} else {
			msg = http.StatusText(he.Code)
		}
		switch status {
		case http.StatusNotFound:
			msg = "no such route: " + c.Request().Method + " " + c.Request().URL.Path
		case http.StatusMethodNotAllowed:
			msg = "method " + c.Request().Method + " not allowed on " + c.Request().URL.Path
		}
	}
	if status >= 500 {
		if o, ok := s.src.(interface{ Observe(error) error }); ok {
			o.Observe(err) // a corrupt page turns the store unhealthy
		}
		cause := err
		if ae != nil && ae.err != nil {
			cause = ae.err // what the client was not shown
		}
		s.cfg.logger.Error("request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "status", status, "msg", msg, "err", cause)
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	_ = c.JSON(status, ErrorBody{Error: msg})
}

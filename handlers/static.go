package handlers

import (
	"errors"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/stagescope/stagescope/web"
)

// started is the modification time of the embedded files (they change only
// with the binary).
var started = time.Now()

var dashboard = web.FS()

// index serves the dashboard's page. It is never cached, so a new binary's
// scripts are picked up on reload.
func (s *Server) index(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-cache")
	return serveFile(c, web.IndexFile)
}

// asset serves one embedded file under /assets/.
func (s *Server) asset(c echo.Context) error {
	name := c.Param("*")
	clean := path.Clean("/" + name)[1:]
	if clean == "" || clean != name || strings.Contains(name, "\\") || !fs.ValidPath(clean) || clean == web.IndexFile {
		return &apiError{status: http.StatusNotFound, msg: "no such asset: " + truncate(name, 128)}
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return serveFile(c, clean)
}

func serveFile(c echo.Context, name string) error {
	f, err := dashboard.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &apiError{status: http.StatusNotFound, msg: "no such asset: " + truncate(name, 128)}
		}
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.IsDir() {
		return &apiError{status: http.StatusNotFound, msg: "no such asset: " + truncate(name, 128)}
	}
	rs, ok := f.(io.ReadSeeker)
	if !ok {
		return errors.New("embedded file is not seekable")
	}
	if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
		c.Response().Header().Set("Content-Type", ct)
	}
	http.ServeContent(c.Response(), c.Request(), name, started, rs)
	return nil
}

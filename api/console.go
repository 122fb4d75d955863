package api

import (
	"embed"
	"io/fs"
	"path"
	"strings"

	"github.com/valyala/fasthttp"
)

// The web console: a single-page app embedded in the binary (console/),
// served at /console without authentication (it holds no data; every call
// it makes goes to /v1 with the user's token, and the server enforces the
// roles there). Preact and htm are vendored as plain ES modules
// (console/vendor.sh), so nothing is fetched from elsewhere and nothing is
// built. The Content-Security-Policy allows scripts, styles and requests
// from this origin only: no inline script, no eval, no other host; frames
// only from console.frame_ancestors (a customer portal embedded in the
// operator's app).

//go:embed console/index.html console/app.js console/style.css console/vendor/*.js
var consoleFS embed.FS

// consoleTypes are the media types of the files console/ holds.
var consoleTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
}

// consoleRoutes are the console's routes (404 unless console.enabled).
func (s *Server) consoleRoutes() []route {
	return []route{
		{"GET", "/console", rolePublic, s.consoleFile},
		{"GET", "/console/{file}", rolePublic, s.consoleFile},
		{"GET", "/console/vendor/{file}", rolePublic, s.consoleFile},
	}
}

// consoleCSP is the console's Content-Security-Policy.
func (s *Server) consoleCSP() string {
	fa := "'none'"
	if len(s.cfg.Console.FrameAncestors) > 0 {
		fa = strings.Join(s.cfg.Console.FrameAncestors, " ")
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
		"font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors " + fa
}

// consoleFile serves /console (the page), /console/<file> and
// /console/vendor/<file> (its scripts and styles); a name without an
// extension is the page too.
func (s *Server) consoleFile(ctx *fasthttp.RequestCtx, _ *Principal) error {
	if !s.cfg.Console.Enabled {
		return errNotFound("route")
	}
	name, _ := ctx.UserValue("file").(string)
	if strings.HasPrefix(string(ctx.Path()), "/console/vendor/") {
		name = "vendor/" + name
	}
	ext := path.Ext(name)
	if name == "" || ext == "" || ext == ".html" {
		name = "index.html"
	}
	b, err := fs.ReadFile(consoleFS, "console/"+path.Clean("/" + name)[1:])
	if err != nil {
		return errNotFound("console file")
	}
	h := &ctx.Response.Header
	h.Set("Content-Security-Policy", s.consoleCSP())
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if len(s.cfg.Console.FrameAncestors) == 0 {
		h.Set("X-Frame-Options", "DENY") // for browsers without frame-ancestors
	}
	h.Set("Cache-Control", "no-cache")
	h.SetContentType(consoleTypes[path.Ext(name)])
	ctx.SetBody(b)
	return nil
}

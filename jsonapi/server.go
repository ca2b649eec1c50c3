// Package jsonapi is the JSON side of lms (API.md): an http.Handler that
// serves /api/v1 over an Engine for any CMS or script, and the OpenAPI 3.1
// document that is its contract (openapi.json, served at
// /api/v1/openapi.json and rendered at /api/docs).
//
// It is thin: every rule lives in the Engine, the handlers decode, call
// one Engine method and encode. Credentials come in the headers (a client's
// API token as Bearer, its XML-RPC password as Basic, the operator's admin
// secret as Bearer), so they are checked before a byte of the body is
// read; checks go through the guard shared with the XML-RPC front door
// (internal/guard: failures throttled per client id and per address, body
// bytes decoded at once bounded). Every error is an RFC 9457 problem.
package jsonapi

import (
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/guard"
)

// Config configures a Server. The zero value is ready to use.
type Config struct {
	// Guard is the protection shared with the other front door (body
	// budgets and limits, credential throttles). Default: a guard of its
	// own with guard's defaults (16 MiB bodies, 32 MiB decoded at once).
	Guard *guard.Guard
	// BodyTimeout is how long a request body may take to arrive once its
	// credentials are checked. Default 30 s; negative: no limit.
	BodyTimeout time.Duration
	// RemoteAddr returns the source address of a request, for the
	// throttles and budgets. Default: the host of r.RemoteAddr (an IPv6
	// address by its /64 prefix). Behind a reverse proxy, return the
	// address it forwards.
	RemoteAddr func(r *http.Request) string
	// Logger receives a line per answer 500 and per throttled address.
	// Default: discarded.
	Logger *slog.Logger
}

// Server is the JSON API as an http.Handler for the paths under /api/.
type Server struct {
	e     *lms.Engine
	cfg   Config
	guard *guard.Guard
	log   *slog.Logger
	mux   *http.ServeMux
}

// New returns the Server of e.
func New(e *lms.Engine, cfg Config) *Server {
	if cfg.Guard == nil {
		cfg.Guard = guard.New(guard.Config{})
	}
	if cfg.BodyTimeout == 0 {
		cfg.BodyTimeout = 30 * time.Second
	}
	if cfg.RemoteAddr == nil {
		cfg.RemoteAddr = guard.SourceKey
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{e: e, cfg: cfg, guard: cfg.Guard, log: cfg.Logger, mux: http.NewServeMux()}
	s.routes()
	return s
}

func guardAddr(r *http.Request, cfg Config) string { return cfg.RemoteAddr(r) }

// routes registers every path of API.md that this package serves.
func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /api/v1/openapi.json", serveDocument)
	m.HandleFunc("GET /api/docs", serveDocs)

	m.Handle("POST /api/v1/admin/clients", s.admin(s.createClient))
	m.Handle("GET /api/v1/admin/clients", s.admin(s.listClients))
	m.Handle("GET /api/v1/admin/clients/{id}", s.admin(s.getClientAdmin))
	m.Handle("PATCH /api/v1/admin/clients/{id}", s.admin(s.patchClientAdmin))
	m.Handle("DELETE /api/v1/admin/clients/{id}", s.admin(s.deleteClient))

	m.Handle("GET /api/v1/client", s.client(s.getClient))
	m.Handle("PATCH /api/v1/client", s.client(s.patchClient))
	m.Handle("POST /api/v1/client/tokens", s.client(s.createToken))
	m.Handle("GET /api/v1/client/tokens", s.client(s.listTokens))
	m.Handle("DELETE /api/v1/client/tokens/{name}", s.client(s.revokeToken))
	m.Handle("POST /api/v1/client/webhook/secret", s.client(s.rotateSecret))
	m.Handle("POST /api/v1/client/webhook/test", s.client(s.testWebhook))
	m.Handle("GET /api/v1/webhook/deliveries", s.client(s.deliveries))

	m.Handle("PUT /api/v1/sources/{source_id}", s.client(s.putSource))
	m.Handle("GET /api/v1/sources/{source_id}", s.client(s.getSource))
	m.Handle("DELETE /api/v1/sources/{source_id}", s.client(s.deleteSource))
	m.Handle("GET /api/v1/sources", s.client(s.listSources))

	m.Handle("PUT /api/v1/links", s.client(s.putLinks))
	m.Handle("DELETE /api/v1/links", s.client(s.deleteLinks))
	m.Handle("GET /api/v1/links", s.client(s.listLinks))
	m.Handle("POST /api/v1/links/query", s.client(s.queryLinks))
	m.Handle("POST /api/v1/sync", s.client(s.sync))

	m.Handle("GET /api/v1/links/history", s.client(s.linkHistory))
	m.Handle("POST /api/v1/links/recheck", s.client(s.recheck))
	m.Handle("POST /api/v1/links/ignore", s.client(s.ignore))
	m.Handle("DELETE /api/v1/links/ignore", s.client(s.unignore))
	m.Handle("GET /api/v1/report", s.client(s.report))
}

// ServeHTTP implements http.Handler. Unknown paths and methods get
// problems too.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := s.mux.Handler(r); pattern == "" {
		allow := s.allowed(r)
		if allow == "" {
			writeProblem(w, newProblem(http.StatusNotFound, "There is no such path in the API; see /api/v1/openapi.json."))
			return
		}
		w.Header().Set("Allow", allow)
		writeProblem(w, newProblem(http.StatusMethodNotAllowed, "The path answers "+allow+"."))
		return
	}
	s.mux.ServeHTTP(w, r)
}

// allowed returns the methods the path of r answers, comma-separated; ""
// if it is not a path of the API.
func (s *Server) allowed(r *http.Request) string {
	var out string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, p := s.mux.Handler(probe); p != "" {
			if out != "" {
				out += ", "
			}
			out += m
		}
	}
	return out
}

// clientFunc is a handler of a client's path: id is the authenticated
// client. It returns nil once it has answered, or what went wrong.
type clientFunc func(w http.ResponseWriter, r *http.Request, id string) error

// adminFunc is a handler of an operator's path; a is what the checked
// admin secret allows.
type adminFunc func(w http.ResponseWriter, r *http.Request, a lms.Admin) error

func (s *Server) client(h clientFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := s.authClient(r)
		if err == nil {
			err = h(w, r, id)
		}
		s.fail(w, r, err)
	})
}

func (s *Server) admin(h adminFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, err := s.authAdmin(r)
		if err == nil {
			err = h(w, r, a)
		}
		s.fail(w, r, err)
	})
}

// fail answers err, if any, as a problem.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if err == nil {
		return
	}
	p := problemOf(err)
	switch p.Status {
	case http.StatusTooManyRequests:
		if p.retryAfter > 0 {
			break // a cap of the Engine's (re-checks), not the guard's throttle
		}
		p.retryAfter = s.guard.RetryAfter()
		if !s.guard.Throttle.Hold(r.Context()) {
			w.Header().Set("Connection", "close")
		}
	case http.StatusInternalServerError:
		s.log.Error("JSON API answer failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeProblem(w, p)
}

// Error makes a problem an error, so that handlers return it.
func (p *problem) Error() string { return p.Title + ": " + p.Detail }

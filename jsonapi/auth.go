package jsonapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/linkmonitor/lms"
)

// credentials are what the Authorization header carries.
type credentials struct {
	bearer   string // a Bearer credential: an API token or the admin secret
	id, pass string // Basic: a client id and its XML-RPC password
	basic    bool
}

func readCredentials(r *http.Request) (credentials, *problem) {
	h := r.Header.Get("Authorization")
	scheme, rest, _ := strings.Cut(h, " ")
	rest = strings.TrimSpace(rest)
	switch {
	case h == "":
		return credentials{}, unauthorized("Send an API token as \"Authorization: Bearer <token>\", or the client id and password as HTTP Basic.")
	case strings.EqualFold(scheme, "Bearer") && rest != "":
		return credentials{bearer: rest}, nil
	case strings.EqualFold(scheme, "Basic"):
		id, pw, ok := r.BasicAuth()
		if ok {
			return credentials{id: id, pass: pw, basic: true}, nil
		}
	}
	return credentials{}, unauthorized("The Authorization header is neither Bearer nor HTTP Basic credentials.")
}

func unauthorized(detail string) *problem {
	p := newProblem(http.StatusUnauthorized, detail)
	p.challenge = true
	return p
}

// checkClient authenticates c as a client through the guard: a token by
// the client it names, Basic by its id.
func (s *Server) checkClient(ctx context.Context, addr string, c credentials) (string, error) {
	if c.basic {
		err := s.guard.Throttle.Check(ctx, addr, "client\x00"+c.id, c.pass, func() error { return s.e.Authenticate(ctx, c.id, c.pass) })
		return c.id, err
	}
	id, ok := lms.TokenClient(c.bearer)
	if !ok {
		return "", lms.ErrUnauthorized
	}
	err := s.guard.Throttle.Check(ctx, addr, "client\x00"+id, c.bearer, func() error {
		_, err := s.e.AuthenticateToken(ctx, c.bearer)
		return err
	})
	return id, err
}

// checkAdmin checks c as the admin secret through the guard.
func (s *Server) checkAdmin(ctx context.Context, addr string, c credentials) (lms.Admin, error) {
	var a lms.Admin
	if c.basic {
		return a, lms.ErrUnauthorized
	}
	err := s.guard.Throttle.Check(ctx, addr, "admin", c.bearer, func() (err error) {
		a, err = s.e.Admin(c.bearer)
		return err
	})
	return a, err
}

// authClient returns the id of the client the request authenticates as.
// The operator's secret names no client: 403.
func (s *Server) authClient(r *http.Request) (string, error) {
	c, p := readCredentials(r)
	if p != nil {
		return "", p
	}
	addr := s.cfg.RemoteAddr(r)
	id, err := s.checkClient(r.Context(), addr, c)
	if err == nil {
		return id, nil
	}
	if errors.Is(err, lms.ErrUnauthorized) {
		if _, isToken := lms.TokenClient(c.bearer); !c.basic && !isToken && isNil(s.checkAdmin(r.Context(), addr, c)) {
			return "", newProblem(http.StatusForbidden, "The admin secret names no client: the operator's paths are under /api/v1/admin/.")
		}
		return "", unauthorized("The credentials are wrong, or the token was revoked.")
	}
	return "", err
}

func isNil(_ lms.Admin, err error) bool { return err == nil }

// authAdmin returns what the admin secret the request carries allows. A
// client's own credentials are not enough: 403.
func (s *Server) authAdmin(r *http.Request) (lms.Admin, error) {
	c, p := readCredentials(r)
	if p != nil {
		return lms.Admin{}, p
	}
	addr := s.cfg.RemoteAddr(r)
	a, err := s.checkAdmin(r.Context(), addr, c)
	if err == nil {
		return a, nil
	}
	if errors.Is(err, lms.ErrUnauthorized) {
		_, isToken := lms.TokenClient(c.bearer)
		if c.basic || isToken {
			if _, cerr := s.checkClient(r.Context(), addr, c); cerr == nil {
				return lms.Admin{}, newProblem(http.StatusForbidden, "A client may not use the operator's paths.")
			}
		}
		return lms.Admin{}, unauthorized("The admin secret is wrong.")
	}
	return lms.Admin{}, err
}

package xmlrpcapi

// The RPCs: one method each, named in Server.table.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/validate"
)

// argument helpers

func want(args []any, lo, hi int) error {
	if len(args) < lo || len(args) > hi {
		if lo == hi {
			return paramErr("want %d arguments, got %d", lo, len(args))
		}
		return paramErr("want %d to %d arguments, got %d", lo, hi, len(args))
	}
	return nil
}

func str(args []any, i int, name string) (string, error) {
	s, ok := args[i].(string)
	if !ok {
		return "", paramErr("argument %d (%s) must be a string, got %s", i+1, name, typeName(args[i]))
	}
	return s, nil
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "nil"
	case string:
		return "string"
	case int64:
		return "int"
	case bool:
		return "boolean"
	case float64:
		return "double"
	case []any:
		return "array"
	case map[string]any:
		return "struct"
	case []byte:
		return "base64"
	case time.Time:
		return "dateTime"
	}
	return fmt.Sprintf("%T", v)
}

// urlList reads an array of at most MaxURLs URL strings. Elements that are
// not strings are dropped like invalid URL strings.
func (s *Server) urlList(args []any, i int) ([]string, error) {
	arr, ok := args[i].([]any)
	if !ok {
		return nil, paramErr("argument %d must be an array of URL strings, got %s", i+1, typeName(args[i]))
	}
	if len(arr) > s.cfg.MaxURLs {
		return nil, paramErr("at most %d URLs per call, got %d", s.cfg.MaxURLs, len(arr))
	}
	out := make([]string, 0, len(arr))
	for _, v := range arr {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out, nil
}

// clientErr gives a not-found error of the Engine the client's text.
func clientErr(id string, err error) error {
	return show(err, lms.ErrNotFound, "client %.40q not found", id)
}

// client checks the number of arguments of a client's call and returns the
// client id its credentials (args[0:2]) proved: authorize checked them
// before the method runs.
func (s *Server) client(ctx context.Context, args []any, lo, hi int) (string, error) {
	if err := want(args, lo, hi); err != nil {
		return "", err
	}
	c, ok := callerOf(ctx)
	if !ok || c.client == "" {
		return "", fmt.Errorf("xmlrpcapi: client credentials not checked: %w", lms.ErrUnauthorized)
	}
	return c.client, nil
}

// admin checks the number of arguments of an admin's call and returns what
// its admin secret (args[0]) allows: authorize checked it before the method
// runs.
func (s *Server) admin(ctx context.Context, args []any, lo, hi int) (lms.Admin, error) {
	if err := want(args, lo, hi); err != nil {
		return lms.Admin{}, err
	}
	c, ok := callerOf(ctx)
	if !ok || c.admin == (lms.Admin{}) {
		return lms.Admin{}, fmt.Errorf("xmlrpcapi: admin secret not checked: %w", lms.ErrUnauthorized)
	}
	return c.admin, nil
}

// clientURLs returns the client id and the URL strings of (id, pw, urls)
// arguments.
func (s *Server) clientURLs(ctx context.Context, args []any) (string, []string, error) {
	id, err := s.client(ctx, args, 3, 3)
	if err != nil {
		return "", nil, err
	}
	urls, err := s.urlList(args, 2)
	if err != nil {
		return "", nil, err
	}
	return id, urls, nil
}

// namedMethod returns the method named by the single argument of the
// system.method* introspection calls.
func (s *Server) namedMethod(args []any) (method, error) {
	if err := want(args, 1, 1); err != nil {
		return method{}, err
	}
	n, err := str(args, 0, "method name")
	if err != nil {
		return method{}, err
	}
	m, ok := s.methods[n]
	if !ok {
		return method{}, noMethod(n)
	}
	return m, nil
}

// table names every RPC with its help text, signature (return type, then
// argument types) and how many leading params are credentials; the methods
// themselves follow, one per RPC.
func (s *Server) table() map[string]method {
	return map[string]method{
		"checkConnection":        {"Check credentials; returns the protocol version (2).", "int string string", s.checkConnection, 2},
		"registerURLs":           {"Register URLs for the client; returns [url, state, reason] for each already checked URL, in input order.", "array string string array", s.registerURLs, 2},
		"unregisterURLs":         {"Unregister URLs for the client; unknown URLs are ignored.", "boolean string string array", s.unregisterURLs, 2},
		"getClientNotifications": {"Whether notifications (and syncs) are on for the client.", "boolean string string", s.getClientNotifications, 2},
		"setClientNotifications": {"Switch notifications (and syncs) on or off; nothing pending is lost.", "nil string string boolean", s.setClientNotifications, 2},
		"forceSynchronization":   {"Ask for a full sync of the client at the next syncer tick.", "nil string string", s.forceSynchronization, 2},
		"getInfoFrameURL":        {"The URL of the server's alerts page (no credentials checked).", "string string string", s.getInfoFrameURL, 0},
		"registerClient":         {"Register a client (admin secret required); the password is mailed to the contact.", "boolean string string string string string [string]", s.registerClient, 1},
		"getURLStates":           {"Full details of the given URLs: url, state, reason, code, last_checked, last_changed, final_url, permanent_redirect, response_time_ms.", "array string string array", s.getURLStates, 2},
		"listURLs":               {"All URLs registered by the client.", "array string string", s.listURLs, 2},
		"listClients":            {"All clients with their state counts (admin secret required).", "array string", s.listClients, 1},
		"removeClient":           {"Remove a client with its subscriptions (admin secret required).", "boolean string string", s.removeClient, 1},
		"system.listMethods":     {"The names of all methods.", "array", s.listMethods, 0},
		"system.methodHelp":      {"Help text of a method.", "string string", s.methodHelp, 0},
		"system.methodSignature": {"Signature of a method: return type, then argument types.", "array string", s.methodSignature, 0},
		"system.multicall":       {"Run several calls in one request: [{methodName, params}] → [[result] or fault struct].", "array array", s.multicall, 0},
	}
}

func (s *Server) checkConnection(ctx context.Context, a []any) (any, error) {
	if _, err := s.client(ctx, a, 2, 2); err != nil {
		return nil, err
	}
	return ProtocolVersion, nil
}

func (s *Server) registerURLs(ctx context.Context, a []any) (any, error) {
	id, urls, err := s.clientURLs(ctx, a)
	if err != nil {
		return nil, err
	}
	ups, err := s.e.RegisterURLs(ctx, id, urls)
	if err != nil {
		return nil, clientErr(id, err)
	}
	return triples(ups), nil
}

func (s *Server) unregisterURLs(ctx context.Context, a []any) (any, error) {
	id, urls, err := s.clientURLs(ctx, a)
	if err != nil {
		return nil, err
	}
	return true, clientErr(id, s.e.UnregisterURLs(ctx, id, urls))
}

func (s *Server) getClientNotifications(ctx context.Context, a []any) (any, error) {
	id, err := s.client(ctx, a, 2, 2)
	if err != nil {
		return nil, err
	}
	on, err := s.e.Notifications(ctx, id)
	return on, clientErr(id, err)
}

func (s *Server) setClientNotifications(ctx context.Context, a []any) (any, error) {
	id, err := s.client(ctx, a, 3, 3)
	if err != nil {
		return nil, err
	}
	on, err := boolean(a[2])
	if err != nil {
		return nil, err
	}
	return nil, clientErr(id, s.e.SetNotifications(ctx, id, on))
}

func (s *Server) forceSynchronization(ctx context.Context, a []any) (any, error) {
	id, err := s.client(ctx, a, 2, 2)
	if err != nil {
		return nil, err
	}
	return nil, clientErr(id, s.e.ForceSync(ctx, id))
}

func (s *Server) getInfoFrameURL(_ context.Context, a []any) (any, error) {
	if err := want(a, 0, 2); err != nil {
		return nil, err
	}
	return s.e.InfoFrameURL(), nil
}

func (s *Server) registerClient(ctx context.Context, a []any) (any, error) {
	adm, err := s.admin(ctx, a, 5, 6)
	if err != nil {
		return nil, err
	}
	var f [6]string
	names := []string{"admin secret", "client id", "callback URL", "contact name", "contact e-mail", "password"}
	for i := range a {
		v, err := str(a, i, names[i])
		if err != nil {
			return nil, err
		}
		f[i] = v
	}
	_, err = adm.RegisterClient(ctx, lms.Registration{ID: f[1], CallbackURL: f[2], ContactName: f[3], ContactEmail: f[4], Password: f[5]})
	// The Engine validates; an id or callback URL it refuses comes back as
	// an InputError whose text says which is wrong.
	var in *lms.InputError
	if errors.As(err, &in) {
		return nil, paramErr("%s", in.Problem)
	}
	err = show(err, lms.ErrExists, "client %.40q already exists", f[1])
	err = show(err, lms.ErrInvalid, "the contact e-mail (an address of at most 254 bytes), the contact name (one line of at most 256 bytes) or the password (8 to 72 bytes) is not accepted")
	return true, err
}

func (s *Server) getURLStates(ctx context.Context, a []any) (any, error) {
	id, urls, err := s.clientURLs(ctx, a)
	if err != nil {
		return nil, err
	}
	ls, err := s.e.LinkStates(ctx, id, urls)
	if err != nil {
		return nil, clientErr(id, err)
	}
	out := make([]any, len(ls))
	for i, l := range ls {
		out[i] = linkStruct(l)
	}
	return out, nil
}

func (s *Server) listURLs(ctx context.Context, a []any) (any, error) {
	id, err := s.client(ctx, a, 2, 2)
	if err != nil {
		return nil, err
	}
	ls, err := s.e.ClientLinks(ctx, id, lms.Page{})
	if err != nil {
		return nil, clientErr(id, err)
	}
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.URL
	}
	return out, nil
}

func (s *Server) listClients(ctx context.Context, a []any) (any, error) {
	if _, err := s.admin(ctx, a, 1, 1); err != nil {
		return nil, err
	}
	cs, err := s.e.Clients(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(cs))
	for i, c := range cs {
		out[i] = clientStruct(c)
	}
	return out, nil
}

func (s *Server) removeClient(ctx context.Context, a []any) (any, error) {
	adm, err := s.admin(ctx, a, 2, 2)
	if err != nil {
		return nil, err
	}
	id, err := str(a, 1, "client id")
	if err != nil {
		return nil, err
	}
	if err := validate.ClientID(id); err != nil {
		return nil, paramErr("%v", err)
	}
	return true, clientErr(id, adm.RemoveClient(ctx, id))
}

func (s *Server) listMethods(_ context.Context, a []any) (any, error) {
	if err := want(a, 0, 0); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(s.methods))
	for n := range s.methods {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, nil
}

func (s *Server) methodHelp(_ context.Context, a []any) (any, error) {
	m, err := s.namedMethod(a)
	if err != nil {
		return nil, err
	}
	return m.help, nil
}

func (s *Server) methodSignature(_ context.Context, a []any) (any, error) {
	m, err := s.namedMethod(a)
	if err != nil {
		return nil, err
	}
	return []any{strings.Fields(m.signature)}, nil
}

func (s *Server) multicall(ctx context.Context, a []any) (any, error) {
	if err := want(a, 1, 1); err != nil {
		return nil, err
	}
	calls, ok := a[0].([]any)
	if !ok {
		return nil, paramErr("argument must be an array of call structs")
	}
	if len(calls) > s.cfg.MaxCalls {
		return nil, paramErr("at most %d calls per system.multicall, got %d", s.cfg.MaxCalls, len(calls))
	}
	out := make([]any, len(calls))
	for i, c := range calls {
		out[i] = s.multicallOne(ctx, c)
	}
	return out, nil
}

func (s *Server) multicallOne(ctx context.Context, c any) any {
	fault := func(err error) any {
		status, code, msg := wireError(err)
		if status != http.StatusOK {
			code = status
		}
		return Struct{{"faultCode", code}, {"faultString", msg}}
	}
	m, ok := c.(map[string]any)
	name, ok1 := m["methodName"].(string)
	params, ok2 := m["params"].([]any)
	if !ok || !ok1 || !ok2 {
		return fault(paramErr("each call must be a struct with methodName and params"))
	}
	if name == "system.multicall" {
		return fault(paramErr("system.multicall cannot be nested"))
	}
	v, err := s.call(ctx, name, params)
	if err != nil {
		return fault(err)
	}
	return []any{v}
}

func boolean(v any) (bool, error) {
	switch v := v.(type) {
	case bool:
		return v, nil
	case int64:
		return v != 0, nil
	}
	return false, paramErr("want a boolean, got %s", typeName(v))
}

func triples(ups []lms.Update) [][]string {
	out := make([][]string, len(ups))
	for i, u := range ups {
		out[i] = []string{u.URL, string(u.State), u.Reason}
	}
	return out
}

func linkStruct(l lms.Link) Struct {
	u := l.Update()
	s := Struct{
		{"url", l.URL}, {"state", string(u.State)}, {"reason", u.Reason}, {"code", l.Code},
		{"final_url", l.FinalURL}, {"permanent_redirect", l.Permanent},
		{"response_time_ms", int(min(l.ResponseTime.Milliseconds(), math.MaxInt32))},
	}
	if !l.LastChecked.IsZero() {
		s = append(s, Member{"last_checked", l.LastChecked})
	}
	if !l.LastChanged.IsZero() {
		s = append(s, Member{"last_changed", l.LastChanged})
	}
	return s
}

func clientStruct(c lms.Client) Struct {
	s := Struct{
		{"id", c.ID}, {"contact_name", c.ContactName}, {"contact_email", c.ContactEmail},
		{"callback_url", c.CallbackURL}, {"notifications", c.Notify}, {"notify_failures", c.NotifyFailures},
		{"links", c.Counts.Total()},
	}
	for _, st := range lms.States() {
		s = append(s, Member{"links_" + strings.ReplaceAll(string(st), " ", "_"), c.Counts.Get(st)})
	}
	if !c.LastSync.IsZero() {
		s = append(s, Member{"last_sync", c.LastSync})
	}
	return s
}

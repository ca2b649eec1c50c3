// Package pgtest runs throwaway PostgreSQL servers for tests: initdb into a
// temporary directory, postgres on a free port of 127.0.0.1 (and a socket in
// that directory), stopped and removed at the end. It uses the binaries of
// the machine's PostgreSQL (/usr/lib/postgresql/*/bin, the newest version);
// PostgreSQL refuses to run as root, so a test running as root runs the
// server as the user postgres.
//
// When PostgreSQL is not installed the tests that ask for it are skipped,
// unless LMS_REQUIRE_POSTGRES=1 is set (CI sets it): then they fail.
//
// A test binary shares one server between its tests when its TestMain calls
// Main; each Start then creates a fresh schema on it (in milliseconds,
// where a database takes half a second), which the DSN selects through
// search_path:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestX(t *testing.T) { dsn := pgtest.Start(t); … }
//
// New starts a server of a test's own (for restarts, or durable settings);
// Launch starts one outside of tests (benchmark commands).
package pgtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// RequireEnv is the variable that turns a missing PostgreSQL from a skip
// into a failure.
const RequireEnv = "LMS_REQUIRE_POSTGRES"

// Config shapes a server of New.
type Config struct {
	// Durable keeps PostgreSQL's defaults (fsync, synchronous commit, full
	// page writes), for benchmarks; by default they are off, which makes
	// tests several times faster and loses nothing a test needs.
	Durable bool
	// Settings are more "name=value" server settings.
	Settings []string
}

// Server is one running PostgreSQL server.
type Server struct {
	bin     string
	dir     string // the temporary directory: data/ and the socket
	port    int
	cred    *syscall.Credential
	cfg     Config
	mu      sync.Mutex
	proc    *process
	dbs     atomic.Int64
	logTail *tail
}

// process is a running postgres and what its start left.
type process struct {
	cmd  *exec.Cmd
	done chan error // receives Wait's result, then is closed
}

// shared is the server of the test binary, when Main started one. Tests of
// one binary run in one process, so this is the one place where sharing
// the server can live.
var shared struct {
	mu     sync.Mutex
	srv    *Server
	err    error
	inMain bool
}

// Main runs the tests of a binary with one shared server (started by the
// first Start) and stops that server before exiting.
func Main(m *testing.M) {
	shared.mu.Lock()
	shared.inMain = true
	shared.mu.Unlock()
	code := m.Run()
	shared.mu.Lock()
	if shared.srv != nil {
		_ = shared.srv.stop()
		_ = os.RemoveAll(shared.srv.dir)
	}
	shared.mu.Unlock()
	os.Exit(code)
}

// Start returns the DSN of a fresh, empty schema for t (the only one on
// the DSN's search_path), dropped when t ends. It is on the binary's shared
// server when TestMain calls Main, else on a server of t's own.
func Start(t testing.TB) string {
	t.Helper()
	bin := binDir(t)
	shared.mu.Lock()
	if !shared.inMain {
		shared.mu.Unlock()
		return New(t, Config{}).CreateSchema(t)
	}
	if shared.srv == nil && shared.err == nil {
		shared.srv, shared.err = start(bin, Config{})
	}
	srv, err := shared.srv, shared.err
	shared.mu.Unlock()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return srv.CreateSchema(t)
}

// New starts a server of t's own, stopped and removed when t ends.
func New(t testing.TB, cfg Config) *Server {
	t.Helper()
	srv, err := start(binDir(t), cfg)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.stop(); err != nil {
			t.Errorf("pgtest: stop: %v", err)
		}
		_ = os.RemoveAll(srv.dir)
	})
	return srv
}

// Launch starts a server for a program that is not a test (a benchmark
// command); Close stops it.
func Launch(cfg Config) (*Server, error) {
	bin, err := findBin()
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	return start(bin, cfg)
}

// Close stops a server of Launch and removes its directory.
func (s *Server) Close() error {
	err := s.stop()
	return errors.Join(err, os.RemoveAll(s.dir))
}

// NewDatabase creates the database name (kept until the server is closed)
// and returns its DSN.
func (s *Server) NewDatabase(name string) (string, error) {
	if err := s.exec(fmt.Sprintf("CREATE DATABASE %s", pgx.Identifier{name}.Sanitize())); err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	return s.DSN(name), nil
}

// binDir returns the directory of the newest installed PostgreSQL's
// binaries, or ends t (skip or fail, see RequireEnv).
func binDir(t testing.TB) string {
	t.Helper()
	if d, err := findBin(); err == nil {
		return d
	} else if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("pgtest: %v (and %s=1)", err, RequireEnv)
	} else {
		t.Skipf("pgtest: %v; set %s=1 to fail instead", err, RequireEnv)
	}
	return ""
}

func findBin() (string, error) {
	ms, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(ms) == 0 {
		return "", errors.New("no PostgreSQL in /usr/lib/postgresql/*/bin (apt-get install postgresql)")
	}
	version := func(p string) int {
		n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
		return n
	}
	slices.SortFunc(ms, func(a, b string) int { return version(b) - version(a) })
	return filepath.Dir(ms[0]), nil
}

// credential returns whom to run the server as: nil for the current user,
// the user postgres when running as root.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root and there is no user postgres to run the server as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func start(bin string, cfg Config) (*Server, error) {
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, dir: dir, cred: cred, cfg: cfg, logTail: &tail{}}
	fail := func(err error) (*Server, error) {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fail(err)
		}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", s.dataDir(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("initdb: %v\n%s", err, out))
	}
	// A port found free may be taken before postgres binds it: try again.
	for attempt := 0; ; attempt++ {
		if s.port, err = freePort(); err != nil {
			return fail(err)
		}
		if err = s.launch(); err == nil {
			return s, nil
		}
		if attempt == 3 {
			return fail(err)
		}
	}
}

func (s *Server) dataDir() string { return filepath.Join(s.dir, "data") }

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// launch starts postgres and waits until it accepts connections (it says so
// in its log).
func (s *Server) launch() error {
	args := []string{"-D", s.dataDir(), "-p", strconv.Itoa(s.port), "-k", s.dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200", "-c", "logging_collector=off"}
	if !s.cfg.Durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	for _, kv := range s.cfg.Settings {
		args = append(args, "-c", kv)
	}
	cmd := exec.Command(filepath.Join(s.bin, "postgres"), args...)
	// SIGQUIT (immediate shutdown) if the test binary dies without
	// stopping it. The signal follows the thread that started the child,
	// so that thread stays locked to the goroutine that waits for it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGQUIT}
	logs, w, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = io.Discard, w
	p := &process{cmd: cmd, done: make(chan error, 1)}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := cmd.Start()
		_ = w.Close() // the server's processes hold the write end
		if err != nil {
			_ = logs.Close()
			started <- err
			close(p.done)
			return
		}
		started <- nil
		p.done <- cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	ready := make(chan struct{})
	go func() {
		defer logs.Close()
		s.logTail.read(logs, "database system is ready to accept connections", ready)
	}()
	select {
	case <-ready:
	case err := <-p.done:
		return fmt.Errorf("postgres exited at start (%v):\n%s", err, s.logTail.String())
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		<-p.done
		return fmt.Errorf("postgres not ready within 30 s:\n%s", s.logTail.String())
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	return nil
}

// stop shuts the server down (fast shutdown: sessions are ended).
func (s *Server) stop() error {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
		return nil
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Signal(syscall.SIGQUIT)
		<-p.done
		return errors.New("postgres did not stop within 20 s after SIGINT")
	}
}

// Stop stops the server; Restart starts it again.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if err := s.stop(); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
}

// Restart stops the server and starts it again on the same port and data.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop(t)
	s.Start(t)
}

// Start starts a stopped server again on the same port and data.
func (s *Server) Start(t testing.TB) {
	t.Helper()
	if err := s.launch(); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
}

// CPUTime returns the processor time (user and system) the running server's
// processes have used so far: the postmaster, its live children and those
// it has reaped (Linux /proc).
func (s *Server) CPUTime() (time.Duration, error) {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil {
		return 0, errors.New("pgtest: the server is not running")
	}
	pid := p.cmd.Process.Pid
	total, err := procCPU(pid, true)
	if err != nil {
		return 0, err
	}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		child, _ := strconv.Atoi(filepath.Base(d))
		if ppid, err := procPPID(child); err == nil && ppid == pid {
			if t, err := procCPU(child, false); err == nil {
				total += t
			}
		}
	}
	return total, nil
}

// Freeze stops the running server (SIGSTOP to the postmaster, then to each
// of its children: the backends of existing connections are processes of
// their own, in the test binary's process group): it keeps its sockets, so
// clients still connect and send, as to a server stuck on a disk or cut off,
// but nothing answers. Thaw resumes it. A test that freezes a server of New
// should thaw it before it ends (the stop at its end waits for a frozen
// server for 20 s, then kills it).
func (s *Server) Freeze() error { return s.signalAll(syscall.SIGSTOP) }

// Thaw resumes a server that Freeze stopped.
func (s *Server) Thaw() error { return s.signalAll(syscall.SIGCONT) }

// signalAll sends sig to the postmaster first (a stopped postmaster forks no
// new backend), then to every child of it.
func (s *Server) signalAll(sig syscall.Signal) error {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil {
		return errors.New("pgtest: the server is not running")
	}
	pid := p.cmd.Process.Pid
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("pgtest: %v to the postmaster: %w", sig, err)
	}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		child, _ := strconv.Atoi(filepath.Base(d))
		if ppid, err := procPPID(child); err == nil && ppid == pid {
			// A child may have exited since the listing.
			if err := syscall.Kill(child, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
				return fmt.Errorf("pgtest: %v to backend %d: %w", sig, child, err)
			}
		}
	}
	return nil
}

// procStat returns the fields of /proc/PID/stat after the command name.
func procStat(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return nil, fmt.Errorf("pgtest: /proc/%d/stat: no command", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return nil, fmt.Errorf("pgtest: /proc/%d/stat: %d fields", pid, len(f))
	}
	return f, nil
}

func procPPID(pid int) (int, error) {
	f, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(f[1])
}

// procCPU is the process's utime + stime (and its reaped children's,
// when children is set). The kernel counts in ticks of 1/100 s
// (USER_HZ, which Linux fixes at 100).
func procCPU(pid int, children bool) (time.Duration, error) {
	f, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	fields := []int{11, 12} // utime, stime (fields 14 and 15 of stat)
	if children {
		fields = append(fields, 13, 14) // cutime, cstime
	}
	var ticks int64
	for _, i := range fields {
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, err
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// SocketDir is the directory of the server's Unix socket.
func (s *Server) SocketDir() string { return s.dir }

// DSN returns the URL of database db on the server (as the superuser
// postgres, without password).
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", s.Addr(), db)
}

// CreateDB creates a fresh database, dropped when t ends, and returns its
// DSN.
func (s *Server) CreateDB(t testing.TB) string {
	t.Helper()
	name := s.create(t, "CREATE DATABASE %s", "DROP DATABASE IF EXISTS %s WITH (FORCE)")
	return s.DSN(name)
}

// CreateSchema creates a fresh schema in the database postgres, dropped
// when t ends, and returns a DSN whose search_path is that schema alone.
func (s *Server) CreateSchema(t testing.TB) string {
	t.Helper()
	name := s.create(t, "CREATE SCHEMA %s", "DROP SCHEMA IF EXISTS %s CASCADE")
	return s.DSN("postgres") + "&search_path=" + name
}

// create runs the statement create with a fresh name (its %s) and, when t
// ends and the server still runs, drop with it; it returns the name.
func (s *Server) create(t testing.TB, create, drop string) string {
	t.Helper()
	name := fmt.Sprintf("t%d", s.dbs.Add(1))
	if err := s.exec(fmt.Sprintf(create, name)); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		s.mu.Lock()
		running := s.proc != nil
		s.mu.Unlock()
		if running {
			_ = s.exec(fmt.Sprintf(drop, name))
		}
	})
	return name
}

func (s *Server) exec(sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	_, err = c.Exec(ctx, sql)
	return err
}

// tail keeps the last lines of the server's log and signals when a line
// containing a marker was seen.
type tail struct {
	mu       sync.Mutex
	lines    []string
	watchers []logWatch
}

// logWatch is a channel to close when a line containing text is logged.
type logWatch struct {
	text string
	seen chan struct{}
}

// WatchLog returns a channel that is closed when the server logs a line
// containing text, from now on: a signal of what only the server sees,
// such as a session waiting for a lock (log_lock_waits=on, with a short
// deadlock_timeout, in Config.Settings).
func (s *Server) WatchLog(text string) <-chan struct{} {
	w := logWatch{text: text, seen: make(chan struct{})}
	s.logTail.mu.Lock()
	s.logTail.watchers = append(s.logTail.watchers, w)
	s.logTail.mu.Unlock()
	return w.seen
}

func (l *tail) read(r io.Reader, marker string, seen chan<- struct{}) {
	sc := bufio.NewScanner(r)
	signalled := false
	for sc.Scan() {
		line := sc.Text()
		l.mu.Lock()
		l.lines = append(l.lines, line)
		if len(l.lines) > 50 {
			l.lines = l.lines[len(l.lines)-50:]
		}
		l.watchers = slices.DeleteFunc(l.watchers, func(w logWatch) bool {
			if strings.Contains(line, w.text) {
				close(w.seen)
				return true
			}
			return false
		})
		l.mu.Unlock()
		if !signalled && strings.Contains(line, marker) {
			signalled = true
			close(seen)
		}
	}
}

func (l *tail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

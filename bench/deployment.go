package main

// The lmsd processes of the ten-million workload (tenmillion.go): started,
// awaited, stopped, killed, and their CPU time.

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/linkmonitor/lms/internal/lmsdproc"
)

// deployment is the lmsd processes of the workload.
type deployment struct {
	bin, dir, dsn string
	procs         []*lmsdProc
}

// lmsdProc is one lmsd process and its start arguments.
type lmsdProc struct {
	name  string
	args  []string
	cmd   *exec.Cmd
	ready string // the -ready-file
	addr  string
}

// start starts the lmsd process name with args.
func (d *deployment) start(name string, args ...string) error {
	p := &lmsdProc{name: name, args: args}
	d.procs = append(d.procs, p)
	return d.run(p)
}

func (d *deployment) run(p *lmsdProc) error {
	p.ready = filepath.Join(d.dir, "ready-"+p.name+"-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	p.addr = ""
	p.cmd = exec.Command(d.bin, append([]string{"-addr", "127.0.0.1:0", "-ready-file", p.ready, "-store", "postgres", "-dsn", d.dsn,
		"-admin-secret", "bench", "-allow-private", "-mail-dir", filepath.Join(d.dir, "mail"), "-log-level", "warn",
		"-process-id", p.name}, p.args...)...)
	p.cmd.Stderr = os.Stderr
	return p.cmd.Start()
}

// ready waits for every process to listen.
func (d *deployment) ready() error {
	for _, p := range d.procs {
		if p.addr != "" {
			continue
		}
		addr, err := lmsdproc.WaitReady(p.ready, 2*time.Minute)
		if err != nil {
			return err
		}
		p.addr = addr
	}
	return nil
}

// apiURLs returns the XML-RPC endpoints of the API processes.
func (d *deployment) apiURLs() []string {
	var out []string
	for _, p := range d.procs {
		if slices.Contains(p.args, "none") {
			out = append(out, "http://"+p.addr+"/")
		}
	}
	return out
}

// stop sends SIGTERM to every process, waits for them to exit, and
// returns how long each took, by name.
func (d *deployment) stop() (map[string]time.Duration, error) {
	t0 := time.Now()
	for _, p := range d.procs {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	took := map[string]time.Duration{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs []error
	for _, p := range d.procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := p.cmd.Wait()
			mu.Lock()
			defer mu.Unlock()
			took[p.name] = time.Since(t0).Round(time.Millisecond)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s on SIGTERM: %w", p.name, err))
			}
		}()
	}
	wg.Wait()
	return took, errors.Join(errs...)
}

// kill ends the processes still running.
func (d *deployment) kill() {
	for _, p := range d.procs {
		if p.cmd != nil && p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
	}
}

// cpu returns the CPU time so far of the processes whose name starts with
// prefix.
func (d *deployment) cpu(prefix string) time.Duration {
	var t time.Duration
	for _, p := range d.procs {
		if len(p.name) >= len(prefix) && p.name[:len(prefix)] == prefix {
			c, _ := procCPU(p.cmd.Process.Pid)
			t += c
		}
	}
	return t
}

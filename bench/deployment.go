package main

// The lmsd processes of the ten-million workload (tenmillion.go): started,
// awaited, stopped, killed, restarted, and their CPU time.

import (
	"context"
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
	"github.com/linkmonitor/lms/pgstore"
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

// restart stops every process (SIGTERM), starts them again, and prints how
// long they took to listen and to write their first result.
func restart(st *pgstore.Store, d *deployment) error {
	ctx := context.Background()
	t0 := time.Now()
	took, err := d.stop()
	if err != nil {
		return err
	}
	stopped := time.Since(t0)
	c, err := st.LinkCounts(ctx)
	if err != nil {
		return err
	}
	unknown := c.Unknown
	if unknown == 0 {
		// Every link has been checked (a load stopped small): no first
		// result would show.
		fmt.Printf("Restart of all %d processes: SIGTERM to every exit %v (%v); not started again: every link had been checked, so the first result after a start would not show.\n\n",
			len(d.procs), stopped.Round(time.Millisecond), took)
		return nil
	}
	t1 := time.Now()
	for _, p := range d.procs {
		if err := d.run(p); err != nil {
			return err
		}
	}
	if err := d.ready(); err != nil {
		return err
	}
	listening := time.Since(t1)
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(10 * time.Millisecond) {
		c, err := st.LinkCounts(ctx)
		if err != nil {
			return err
		}
		if c.Unknown < unknown {
			break
		}
		if time.Now().After(deadline) {
			return errors.New("no result written within 5 min of the restart")
		}
	}
	fmt.Printf("Restart of all %d processes: SIGTERM to every exit %v (%v); start to every process listening %v, **to the first result written %v**.\n\n",
		len(d.procs), stopped.Round(time.Millisecond), took, listening.Round(time.Millisecond), time.Since(t1).Round(time.Millisecond))
	_, err = d.stop()
	return err
}

package main

// The farm child: the parent re-runs its own executable with -farm-child
// (and the farmSpec flags), so that the farm's CPU and memory are not
// counted as the benchmark's. They speak a line protocol over the child's
// stdin and stdout:
//
//	child → parent  READY {"HTTP":[base…],"FTP":[base…]}   once, when every host listens
//	parent → child  DUMP
//	child → parent  DUMP {"<base>":[unix nanoseconds…],…}  every request so far, per host
//
// The child stops when its stdin closes; the parent also kills it.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/linkmonitor/lms/internal/farm"
)

// farmSpec is the farm a workload asks for; the child gets it as flags.
type farmSpec struct {
	hosts   int           // HTTP hosts
	ftp     int           // FTP hosts, on the addresses after the HTTP ones
	latency time.Duration // of every answer
	first   int           // index of the first address (farm.Addr)
}

// args are the child's command line for s.
func (s farmSpec) args() []string {
	return []string{"-farm-child", "-hosts", strconv.Itoa(s.hosts), "-ftp", strconv.Itoa(s.ftp), "-latency", s.latency.String(), "-first", strconv.Itoa(s.first)}
}

// runFarm is the child's side: it starts the farm, says READY and answers
// DUMP until stdin closes.
func runFarm(s farmSpec) {
	f, err := farm.Start(s.hosts, farm.Options{Latency: s.latency, FirstAddr: s.first, FTP: s.ftp})
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	var bases struct{ HTTP, FTP []string }
	for _, h := range f.Hosts {
		bases.HTTP = append(bases.HTTP, h.Base)
	}
	for _, h := range f.FTPHosts {
		bases.FTP = append(bases.FTP, h.Base)
	}
	b, _ := json.Marshal(bases)
	fmt.Printf("READY %s\n", b)
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if sc.Text() == "DUMP" {
			out := make(map[string][]int64, len(f.Hosts))
			for _, h := range slices.Concat(f.Hosts, f.FTPHosts) {
				for _, r := range h.Requests() {
					out[h.Base] = append(out[h.Base], r.At.UnixNano())
				}
			}
			b, _ := json.Marshal(out)
			fmt.Printf("DUMP %s\n", b)
		}
	}
}

// farmProc is the parent's handle on the farm child.
type farmProc struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Reader
	Bases []string // HTTP hosts
	// FTPBases are the FTP hosts: /200/p0 … /200/p999 exist.
	FTPBases []string
}

// startFarm starts the child for s and waits for its READY line.
func startFarm(s farmSpec) (*farmProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, s.args()...)
	in, _ := cmd.StdinPipe()
	outp, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &farmProc{cmd: cmd, in: in, out: bufio.NewReaderSize(outp, 1<<20)}
	line, err := p.out.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "READY ") {
		p.stop()
		return nil, fmt.Errorf("farm did not start: %q %v", line, err)
	}
	var bases struct{ HTTP, FTP []string }
	if err := json.Unmarshal([]byte(line[len("READY "):]), &bases); err != nil {
		p.stop()
		return nil, fmt.Errorf("farm's READY line: %w", err)
	}
	p.Bases, p.FTPBases = bases.HTTP, bases.FTP
	return p, nil
}

// dump returns every host's request times.
func (p *farmProc) dump() (map[string][]time.Time, error) {
	if _, err := io.WriteString(p.in, "DUMP\n"); err != nil {
		return nil, err
	}
	line, err := p.out.ReadString('\n')
	if err != nil {
		return nil, err
	}
	var raw map[string][]int64
	if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "DUMP ")), &raw); err != nil {
		return nil, err
	}
	out := make(map[string][]time.Time, len(raw))
	for h, ns := range raw {
		for _, n := range ns {
			out[h] = append(out[h], time.Unix(0, n))
		}
	}
	return out, nil
}

// stop ends the child and waits for it.
func (p *farmProc) stop() {
	_ = p.in.Close()
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
}

//go:build linux

// The browser test is Linux-only: waiting for Chromium's helper processes
// relies on a child subreaper and process groups (see startBrowser).

package main

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// chromium returns the browser's path, or skips the test without one.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium (.ci/run installs Debian's chromium)")
	return ""
}

// TestAdminInBrowser drives the admin pages in headless Chromium: log in,
// add a client, see it listed, open its links.
func TestAdminInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	bin := chromium(t)
	h, e := testHandler(t)
	srv := httptest.NewServer(h)
	defer srv.Close()

	ctx := startBrowser(t, bin)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+secret))
	var listed, linksPage, errText string
	var shot []byte
	err := chromedp.Run(ctx,
		network.Enable(),
		network.SetExtraHTTPHeaders(network.Headers{"Authorization": auth}),
		chromedp.Navigate(srv.URL+"/admin"),
		chromedp.WaitVisible(`#clients`, chromedp.ByQuery),
		chromedp.Click(`a.button`, chromedp.ByQuery),
		chromedp.WaitVisible(`input[name=id]`, chromedp.ByQuery),
		// A mistake first: the form comes back with the error.
		chromedp.SendKeys(`input[name=id]`, "plone-site", chromedp.ByQuery),
		chromedp.SendKeys(`input[name=contact_name]`, "Jane Doe", chromedp.ByQuery),
		chromedp.SendKeys(`input[name=contact_email]`, "jane@site.example", chromedp.ByQuery),
		chromedp.SendKeys(`input[name=callback_url]`, "ftp://wrong.example/", chromedp.ByQuery),
		chromedp.Submit(`form`, chromedp.ByQuery),
		chromedp.WaitVisible(`#error`, chromedp.ByQuery),
		chromedp.Text(`#error`, &errText, chromedp.ByQuery),
		chromedp.SetValue(`input[name=callback_url]`, "http://site.example/portal_linkchecker/database", chromedp.ByQuery),
		chromedp.Submit(`form`, chromedp.ByQuery),
		chromedp.WaitVisible(`.flash`, chromedp.ByQuery),
		chromedp.Text(`#clients`, &listed, chromedp.ByQuery),
	)
	require.NoError(t, err)
	require.Contains(t, errText, "callback URL")
	require.Contains(t, listed, "plone-site")
	require.Contains(t, listed, "jane@site.example")

	_, err = e.RegisterURLs(context.Background(), "plone-site", []string{"http://a.example/page", "mailto:x@example.org"})
	require.NoError(t, err)
	err = chromedp.Run(ctx,
		chromedp.Click(`#clients a`, chromedp.ByQuery),
		chromedp.WaitVisible(`#links`, chromedp.ByQuery),
		chromedp.Text(`#links`, &linksPage, chromedp.ByQuery),
		chromedp.FullScreenshot(&shot, 100),
	)
	require.NoError(t, err)
	require.Contains(t, linksPage, "http://a.example/page")
	require.Contains(t, linksPage, "mailto:x@example.org")
	require.True(t, strings.Count(linksPage, "unknown") >= 2)
	if dir := os.Getenv("LMS_SCREENSHOT_DIR"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, "admin-client.png"), shot, 0o644)
	}
}

// startBrowser starts headless Chromium with a fresh profile in t.TempDir
// and returns its chromedp context. When the test ends, the browser and
// every helper process it forked (zygotes, renderers, the GPU, network and
// storage services) are stopped and waited for before the profile is
// removed: Chromium's helpers outlive the main process and keep writing
// into the profile, which made the TempDir cleanup fail at random with
// "directory not empty".
//
// Chromium runs in its own process group, and the test process is a child
// subreaper while it runs, so orphaned helpers become its children instead
// of init's and can be waited for (wait4 on the group) rather than polled.
// The crash handlers Chromium starts leave the group (setsid) and write
// only under $HOME/.config/chromium; they exit on their own once the
// browser is gone.
func startBrowser(t *testing.T, bin string) context.Context {
	t.Helper()
	profile := t.TempDir() // registered first, so removed last
	setSubreaper(t, true)
	t.Cleanup(func() { setSubreaper(t, false) })

	var cmd *exec.Cmd // set by chromedp's Allocate, within Run below
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile), chromedp.WindowSize(1200, 900),
		chromedp.ModifyCmdFunc(func(c *exec.Cmd) {
			// chromedp's default on Linux (Pdeathsig), plus a process
			// group of its own that the helpers inherit.
			c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
			cmd = c
		}),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // returns once the main process has been waited for
		if cmd == nil || cmd.Process == nil {
			return // never started
		}
		pgid := cmd.Process.Pid
		if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			t.Errorf("killing the browser's process group %d: %v", pgid, err)
		}
		for {
			_, err := syscall.Wait4(-pgid, nil, syscall.WALL, nil)
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			if errors.Is(err, syscall.ECHILD) {
				break // no member of the group is left
			}
			if err != nil {
				t.Errorf("waiting for the browser's process group %d: %v", pgid, err)
				break
			}
		}
		// Every member was a child of this process (the main one, or an
		// orphan adopted by the subreaper), so the group must be gone.
		if err := syscall.Kill(-pgid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("browser process group %d still has members after the wait (kill 0: %v)", pgid, err)
		}
	})
	// Start the browser now rather than in the test's first Run.
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	return ctx
}

// setSubreaper makes the test process a child subreaper (on) or not.
func setSubreaper(t *testing.T, on bool) {
	t.Helper()
	const prSetChildSubreaper = 36 // PR_SET_CHILD_SUBREAPER, <linux/prctl.h>
	v := uintptr(0)
	if on {
		v = 1
	}
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, v, 0); errno != 0 {
		t.Fatalf("prctl(PR_SET_CHILD_SUBREAPER, %d): %v", v, errno)
	}
}

package main

import (
	"context"
	"encoding/base64"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

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

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1200, 900),
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
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

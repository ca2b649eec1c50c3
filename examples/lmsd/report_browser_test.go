//go:build linux

package main

import (
	"context"
	"encoding/base64"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/memstore"
)

// screenshotDir is where the browser tests write their screenshots:
// $LMS_SCREENSHOTS when set (to look at them), else a temporary directory.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("LMS_SCREENSHOTS"); d != "" {
		require.NoError(t, os.MkdirAll(d, 0o755))
		return d
	}
	return t.TempDir()
}

// reportSite is a client "plone-site" with pages, links in every state, a
// history and a few days of counts, for the report pages.
func reportSite(t *testing.T) (*lms.Engine, string) {
	t.Helper()
	ctx := context.Background()
	st := memstore.New()
	e, err := lms.New(st, lms.Config{AdminSecret: secret, Components: lms.RunChecker, NoArchive: true,
		Mailer: lms.MailerFunc(func(context.Context, lms.Message) error { return nil })})
	require.NoError(t, err)
	const pw = "correct horse battery staple"
	_, err = e.RegisterClient(ctx, secret, lms.Registration{ID: "plone-site", Password: pw, ContactEmail: "jane@site.example", CallbackURL: "http://site.example/db"})
	require.NoError(t, err)
	pages := []lms.Source{
		{SourceRef: lms.SourceRef{ID: "about", Title: "About us", EditURL: "http://site.example/about/edit", Owner: "jane@site.example"},
			Links: []string{"https://partner.example/team", "https://old-news.example/2019/article", "https://www.example.org/"}},
		{SourceRef: lms.SourceRef{ID: "events", Title: "Events <2026>", EditURL: "http://site.example/events/edit", Owner: "tom@site.example"},
			Links: []string{"https://tickets.example/gala", "https://slow.example/program", "https://www.example.org/"}},
	}
	for _, p := range pages {
		_, _, err := e.PutSource(ctx, "plone-site", p)
		require.NoError(t, err)
	}
	now := time.Now().UTC()
	day := now.Truncate(24 * time.Hour)
	rec := func(at time.Time, url string, s lms.State, reason string, code, failures int) {
		t.Helper()
		require.NoError(t, st.RecordResults(ctx, []lms.Outcome{{URL: url, Result: lms.Result{State: s, Reason: reason, Code: code}, Failures: failures, Checked: at, NextDue: now.Add(time.Hour)}}))
	}
	// Six days ago everything worked; then links broke, one by one.
	for _, u := range []string{"https://partner.example/team", "https://old-news.example/2019/article", "https://www.example.org/", "https://tickets.example/gala", "https://slow.example/program"} {
		rec(day.AddDate(0, 0, -6).Add(9*time.Hour), u, lms.StateOK, "OK", 200, 0)
	}
	record := func(d int) {
		_, err := st.RecordDailyCounts(ctx, day.AddDate(0, 0, -d))
		require.NoError(t, err)
	}
	record(6)
	record(5)
	rec(day.AddDate(0, 0, -4).Add(10*time.Hour), "https://old-news.example/2019/article", lms.StateTemporary, "The site did not answer in time.", 0, 1)
	record(4)
	rec(day.AddDate(0, 0, -3).Add(10*time.Hour), "https://old-news.example/2019/article", lms.StateUnavailable, "The page does not exist (404).", 404, 2)
	rec(day.AddDate(0, 0, -3).Add(11*time.Hour), "https://slow.example/program", lms.StateTemporary, "The site did not answer in time.", 0, 1)
	record(3)
	record(2)
	rec(day.AddDate(0, 0, -1).Add(8*time.Hour), "https://tickets.example/gala", lms.StateUnavailable, "The site's name does not exist.", 0, 2)
	record(1)
	return e, pw
}

// TestReportInBrowser drives the editors' report pages in headless
// Chromium through lmsd's handler: sign in, filter, open a link, press
// re-check and ignore, see the chart; the screenshots are written to
// $LMS_SCREENSHOTS (or a temporary directory) to be looked at.
func TestReportInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	bin := chromium(t)
	e, pw := reportSite(t)
	h, _, err := newHandlers(e, handlerConfig{secret: secret, log: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()
	dir := screenshotDir(t)

	ctx := startBrowser(t, bin)
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	var loginErr, allLinks, broken, flash1, flash2, ignored, chartTitle, state string
	var chartBars int
	var listShot, filteredShot, linkShot, ignoredShot []byte
	err = chromedp.Run(ctx,
		chromedp.Navigate(srv.URL+"/report/"),
		chromedp.WaitVisible(`#signin`, chromedp.ByQuery), // sent to the sign-in page
		// A wrong password first: the form says so, without saying which part.
		chromedp.SendKeys(`input[name=id]`, "plone-site", chromedp.ByQuery),
		chromedp.SendKeys(`input[name=password]`, "wrong", chromedp.ByQuery),
		chromedp.Click(`#signin`, chromedp.ByQuery),
		chromedp.WaitVisible(`#error`, chromedp.ByQuery),
		chromedp.Text(`#error`, &loginErr, chromedp.ByQuery),
		chromedp.SetValue(`input[name=password]`, pw, chromedp.ByQuery),
		chromedp.Click(`#signin`, chromedp.ByQuery),
		chromedp.WaitVisible(`#links`, chromedp.ByQuery),
		chromedp.Text(`#links`, &allLinks, chromedp.ByQuery),
		chromedp.TextContent(`#chart-title`, &chartTitle, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll("#chart g").length`, &chartBars),
		chromedp.FullScreenshot(&listShot, 100),
		// Filter: the broken links.
		chromedp.SetValue(`select[name=state]`, "unavailable", chromedp.ByQuery),
		chromedp.Submit(`#filters`, chromedp.ByQuery),
		chromedp.WaitVisible(`#links`, chromedp.ByQuery),
		chromedp.Text(`#links`, &broken, chromedp.ByQuery),
		chromedp.FullScreenshot(&filteredShot, 100),
	)
	require.NoError(t, err)
	require.Contains(t, loginErr, "not right")
	for _, u := range []string{"https://partner.example/team", "https://old-news.example/2019/article", "https://tickets.example/gala", "https://slow.example/program"} {
		require.Contains(t, allLinks, u)
	}
	require.Contains(t, allLinks, "Events <2026>")
	require.Contains(t, chartTitle, "Link states of plone-site")
	require.Equal(t, 7, chartBars, "six recorded days and today")
	require.Contains(t, broken, "old-news.example")
	require.Contains(t, broken, "tickets.example")
	require.NotContains(t, broken, "partner.example")
	require.NotContains(t, broken, "slow.example")

	err = chromedp.Run(ctx,
		chromedp.Click(`a.detail[href*="old-news"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#history`, chromedp.ByQuery),
		chromedp.Text(`#state`, &state, chromedp.ByQuery),
		chromedp.FullScreenshot(&linkShot, 100),
		chromedp.Click(`#recheck`, chromedp.ByQuery),
		chromedp.WaitVisible(`#flash`, chromedp.ByQuery),
		chromedp.Text(`#flash`, &flash1, chromedp.ByQuery),
		chromedp.Click(`#ignore`, chromedp.ByQuery),
		chromedp.WaitVisible(`#ignored`, chromedp.ByQuery),
		chromedp.Text(`#flash`, &flash2, chromedp.ByQuery),
		chromedp.Text(`#ignored`, &ignored, chromedp.ByQuery),
		chromedp.FullScreenshot(&ignoredShot, 100),
	)
	require.NoError(t, err)
	require.Equal(t, "unavailable", state)
	require.Contains(t, flash1, "checked again")
	require.Contains(t, flash2, "ignored until its state changes")
	require.Contains(t, ignored, "ignored until its state changes")
	il, err := e.ClientLink(context.Background(), "plone-site", "https://old-news.example/2019/article")
	require.NoError(t, err)
	require.Equal(t, lms.IgnoredUntilChanged, il.Mode)
	require.False(t, il.NextDue.After(time.Now()), "the re-check made the link due")

	// The operator's view of the client: the chart and the delivery health.
	_, err = e.Store().UpdateClient(context.Background(), "plone-site", func(c *lms.Client) error {
		c.NotifyFailures, c.NextNotify = 3, time.Now().Add(4*time.Minute)
		c.LastNotifyError = `Post "http://site.example/db": dial tcp 192.0.2.1:80: connect: connection refused`
		return nil
	})
	require.NoError(t, err)
	var health string
	var adminShot []byte
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+secret))
	err = chromedp.Run(ctx,
		network.Enable(),
		network.SetExtraHTTPHeaders(network.Headers{"Authorization": auth}),
		chromedp.Navigate(srv.URL+"/admin/clients/plone-site"),
		chromedp.WaitVisible(`#health`, chromedp.ByQuery),
		chromedp.Text(`#health`, &health, chromedp.ByQuery),
		chromedp.FullScreenshot(&adminShot, 100),
	)
	require.NoError(t, err)
	require.Contains(t, health, "XML-RPC callback")
	require.Contains(t, health, "Webhook")
	require.Contains(t, health, "The site refused the connection")

	for name, shot := range map[string][]byte{"report-list.png": listShot, "report-filtered.png": filteredShot, "report-link.png": linkShot, "report-link-ignored.png": ignoredShot, "admin-client-health.png": adminShot} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), shot, 0o644))
	}
	t.Logf("screenshots in %s", dir)
	if !strings.HasPrefix(dir, os.TempDir()) {
		t.Logf("look at them: %s/report-*.png", dir)
	}
}

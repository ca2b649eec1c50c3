package xmlrpcapi_test

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/kolo/xmlrpc"
	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/xmlrpcapi"
)

const peerPassword = "peer-password"

// bigLinks is how many links the peer adds for client id "big": an answer
// of about 60 MiB.
const bigLinks = 960_000

// linksPeer starts testdata/links_server.py, a Python XML-RPC server that
// sends untyped strings, and returns its URL.
func linksPeer(t *testing.T) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 to act as an independent XML-RPC peer")
	}
	cmd := exec.Command(py, "testdata/links_server.py", peerPassword, fmt.Sprint(bigLinks))
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		require.NoError(t, stdin.Close()) // the peer exits at the end of its input
		require.NoError(t, cmd.Wait())
	})
	port, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	return "http://127.0.0.1:" + strings.TrimSpace(port) + "/RPC2"
}

// TestListLinksUntyped: untyped values are strings, byte for byte;
// non-strings are dropped; faults, MaxLinks and MaxResponseBytes fail the
// call with errors that say so.
func TestListLinksUntyped(t *testing.T) {
	url := linksPeer(t)
	ctx := context.Background()
	c := xmlrpcapi.NewCallbackClient(xmlrpcapi.CallbackConfig{AllowPrivate: true})
	defer c.Close()
	links, err := c.ListLinks(ctx, lms.Endpoint{ClientID: "small", Password: peerPassword, URL: url})
	require.NoError(t, err)
	require.Equal(t, []string{"http://a.example/page", " http://spaced.example/ ", "http://a.example/page",
		"http://ex.example/über", "", "junk &<>"}, links)

	_, err = c.ListLinks(ctx, lms.Endpoint{ClientID: "small", Password: "wrong", URL: url})
	require.ErrorContains(t, err, "unauthorized", "a fault fails the call")

	few := xmlrpcapi.NewCallbackClient(xmlrpcapi.CallbackConfig{AllowPrivate: true, MaxLinks: 3})
	defer few.Close()
	_, err = few.ListLinks(ctx, lms.Endpoint{ClientID: "small", Password: peerPassword, URL: url})
	require.ErrorContains(t, err, "more than 3 (CallbackConfig.MaxLinks)")
	require.ErrorIs(t, err, lms.ErrTooLarge, "the syncer tells the contact")

	small := xmlrpcapi.NewCallbackClient(xmlrpcapi.CallbackConfig{AllowPrivate: true, MaxResponseBytes: 100})
	defer small.Close()
	_, err = small.ListLinks(ctx, lms.Endpoint{ClientID: "small", Password: peerPassword, URL: url})
	require.ErrorContains(t, err, "over 100 bytes (CallbackConfig.MaxResponseBytes)")
	require.ErrorIs(t, err, lms.ErrTooLarge)

	// kolo/xmlrpc, for the record, cannot read this answer.
	kc, err := xmlrpc.NewClient(url, nil)
	require.NoError(t, err)
	defer kc.Close()
	var reply []any
	require.Error(t, kc.Call("xmlrpc_getAllLinks", []any{"small", peerPassword}, &reply))
}

// TestListLinksLarge: a 60 MiB answer is decoded into its strings with
// about 1× its size allocated, and concurrent syncs wait for
// MaxConcurrentLists slots.
func TestListLinksLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("a 60 MiB answer")
	}
	url := linksPeer(t)
	ctx := context.Background()
	c := xmlrpcapi.NewCallbackClient(xmlrpcapi.CallbackConfig{AllowPrivate: true, MaxConcurrentLists: 2})
	defer c.Close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	links, err := c.ListLinks(ctx, lms.Endpoint{ClientID: "big", Password: peerPassword, URL: url})
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	require.Len(t, links, 6+bigLinks)
	require.Equal(t, "http://host-000999.example.org/some/page/959999.html", links[len(links)-1])
	answer := 0
	for _, l := range links {
		answer += len(l) + len("<value></value>\n")
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("answer %.1f MiB, allocated %.1f MiB (%.2f×)", float64(answer)/(1<<20), float64(alloc)/(1<<20), float64(alloc)/float64(answer))
	require.Greater(t, answer, 58<<20)
	require.Less(t, float64(alloc), 1.5*float64(answer), "decoding allocated more than 1.5× the answer")

	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			_, err := c.ListLinks(ctx, lms.Endpoint{ClientID: "small", Password: peerPassword, URL: url})
			require.NoError(t, err)
		})
	}
	wg.Wait()
	kc, err := xmlrpc.NewClient(url, nil)
	require.NoError(t, err)
	defer kc.Close()
	var most int
	require.NoError(t, kc.Call("maxConcurrent", nil, &most))
	require.Equal(t, 2, most, "xmlrpc_getAllLinks calls at once")
}

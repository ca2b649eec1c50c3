package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms/boltstore"
)

// TestDamagedBoltFile: lmsd refuses a damaged -db with one line that names
// the file and says what to do, and leaves the file as it was.
func TestDamagedBoltFile(t *testing.T) {
	good := filepath.Join(t.TempDir(), "good.db")
	s, err := boltstore.Open(good, boltstore.Options{})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	store, err := os.ReadFile(good)
	require.NoError(t, err)
	ps := os.Getpagesize()

	cases := map[string][]byte{
		"empty":             {},
		"garbage":           bytes.Repeat([]byte("this is not a bolt file\n"), 1000),
		"truncated":         store[:ps+100],
		"zeroed meta page":  append(make([]byte, ps), store[ps:]...),
		"zeroed data pages": append(bytes.Clone(store[:2*ps]), make([]byte, len(store)-2*ps)...),
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "lms.db")
			require.NoError(t, os.WriteFile(db, content, 0o600))
			// Cancelled: were the file accepted, lmsd would stop at once
			// instead of serving.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			err := run(ctx, []string{"-addr", "127.0.0.1:0", "-db", db, "-admin-secret", secret}, func(string) string { return "" }, io.Discard)
			require.Error(t, err)
			require.ErrorIs(t, err, boltstore.ErrDamaged)
			msg := err.Error()
			t.Log(msg)
			require.Contains(t, msg, db)
			require.NotContains(t, msg, "\n", "one line")
			require.True(t, strings.Contains(msg, "restore it from a backup") || strings.Contains(msg, "remove it"), msg)
			after, err := os.ReadFile(db)
			require.NoError(t, err)
			require.Equal(t, content, after, "the file was modified")
		})
	}
}

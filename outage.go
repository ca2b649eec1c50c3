package lms

import (
	"context"

	"github.com/linkmonitor/lms/internal/outage"
)

// newOutageGuard returns the "is it us?" guard (internal/outage) of cfg,
// asking probe when it suspects an outage.
func newOutageGuard(cfg Config, probe func(ctx context.Context, rawURL string) bool) *outage.Guard {
	return outage.New(outage.Config{
		Window: cfg.OutageWindow, MinHosts: cfg.OutageMinHosts, Ratio: cfg.OutageRatio, Probes: cfg.OutageProbes,
		Now: cfg.Now, Logger: cfg.Logger, Probe: probe,
	})
}

// guardCheck is what the outage guard sees of a check of l that found res.
func guardCheck(l Link, res Result) outage.Check {
	return outage.Check{
		URL: l.URL, Host: l.Host, WasOK: l.State == StateOK, NetworkError: res.NetworkError,
		OK: res.State == StateOK, Answered: res.State != StateUnknown && res.State != StateUnsupported,
	}
}

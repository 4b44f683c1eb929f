// Package health derives the memory server's readiness from its backend: a
// background prober pings the Store every health-check period under its own
// timeout, with hysteresis (FailureThreshold consecutive failures make the
// server unready, one success makes it ready again). It serves /livez (never
// touches the database), /readyz (JSON verdict with pool stats) and the
// Prometheus metrics of DESIGN section 4.
//
// A saturated pool (callers waiting for a connection) is reported but never
// makes the server unready by itself: readiness that fails under load turns a
// busy database into a full outage.
package health

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/memory-operator/memory-operator/server/memory"
)

// Verdicts reported by /readyz.
const (
	VerdictStarting     = "starting"
	VerdictReady        = "ready"
	VerdictUnready      = "unready"
	VerdictShuttingDown = "shutting-down"
)

// Config configures a Prober.
type Config struct {
	// Period between probes (pool.healthCheckPeriod). Required.
	Period time.Duration
	// Timeout of one probe; zero or more than Period means Period.
	Timeout time.Duration
	// FailureThreshold consecutive failures make the server unready
	// (readiness.failureThreshold); at least 1.
	FailureThreshold int
}

// Status is the prober's current view, the body of /readyz.
type Status struct {
	Backend             string           `json:"backend"`
	Ready               bool             `json:"ready"`
	Verdict             string           `json:"verdict"`
	BackendUp           bool             `json:"backendUp"`
	ConsecutiveFailures int              `json:"consecutiveFailures"`
	FailureThreshold    int              `json:"failureThreshold"`
	LastError           string           `json:"lastError,omitempty"`
	LastProbe           time.Time        `json:"lastProbe,omitzero"`
	LastProbeSeconds    float64          `json:"lastProbeDurationSeconds"`
	Pool                memory.PoolStats `json:"pool"`
	Saturated           bool             `json:"saturated"`
}

// opening is implemented by a Store that opens its backend in the
// background (server/store/deferred): while Opening reports true the verdict
// is "starting", with the reason in lastError.
type opening interface{ Opening() bool }

// Prober checks a Store in the background.
type Prober struct {
	store memory.Store
	cfg   Config
	log   *slog.Logger

	mu           sync.Mutex
	ready        bool
	up           bool
	probed       bool
	shuttingDown bool
	failures     int
	lastErr      string
	lastProbe    time.Time
	lastDur      time.Duration
}

// NewProber returns a Prober; call Run to start probing. Until the first
// probe succeeds the server is not ready.
func NewProber(store memory.Store, cfg Config, log *slog.Logger) (*Prober, error) {
	if cfg.Period <= 0 {
		return nil, fmt.Errorf("health: the probe period must be positive, got %s", cfg.Period)
	}
	if cfg.FailureThreshold < 1 {
		return nil, fmt.Errorf("health: the failure threshold must be at least 1, got %d", cfg.FailureThreshold)
	}
	if cfg.Timeout <= 0 || cfg.Timeout > cfg.Period {
		cfg.Timeout = cfg.Period
	}
	return &Prober{store: store, cfg: cfg, log: log}, nil
}

// Run probes at once and then every Period until ctx ends.
func (p *Prober) Run(ctx context.Context) {
	t := time.NewTicker(p.cfg.Period)
	defer t.Stop()
	for {
		p.ProbeOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ProbeOnce runs one probe now and updates the verdict.
func (p *Prober) ProbeOnce(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	start := time.Now()
	err := p.store.Ping(pctx)
	cancel()
	dur := time.Since(start)
	if ctx.Err() != nil {
		return // shutting down: not the backend's fault
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.probed = true
	p.lastProbe, p.lastDur = start, dur
	wasReady := p.ready
	if err == nil {
		p.up, p.failures, p.lastErr, p.ready = true, 0, "", true
	} else {
		p.up = false
		p.failures++
		p.lastErr = err.Error()
		if p.failures >= p.cfg.FailureThreshold {
			p.ready = false
		}
	}
	switch {
	case wasReady && !p.ready:
		p.log.Error("backend unhealthy: reporting unready", "backend", p.store.Backend(), "consecutiveFailures", p.failures, "err", p.lastErr)
	case !wasReady && p.ready:
		p.log.Info("backend healthy: reporting ready", "backend", p.store.Backend())
	case err != nil:
		p.log.Warn("backend probe failed", "backend", p.store.Backend(), "consecutiveFailures", p.failures, "threshold", p.cfg.FailureThreshold, "err", p.lastErr)
	}
}

func (p *Prober) storeOpening() bool {
	o, ok := p.store.(opening)
	return ok && o.Opening()
}

// SetShuttingDown makes the server unready for good (SIGTERM).
func (p *Prober) SetShuttingDown() {
	p.mu.Lock()
	p.shuttingDown = true
	p.mu.Unlock()
}

// Ready is the current verdict.
func (p *Prober) Ready() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ready && !p.shuttingDown
}

// BackendUp reports whether the last probe succeeded.
func (p *Prober) BackendUp() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.up
}

// Status returns the full view, pool statistics included.
func (p *Prober) Status() Status {
	stats := p.store.Stats()
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Status{
		Backend: p.store.Backend(), Ready: p.ready && !p.shuttingDown, BackendUp: p.up,
		ConsecutiveFailures: p.failures, FailureThreshold: p.cfg.FailureThreshold,
		LastError: p.lastErr, LastProbe: p.lastProbe, LastProbeSeconds: p.lastDur.Seconds(),
		Pool: stats, Saturated: stats.Saturated(),
	}
	switch {
	case p.shuttingDown:
		s.Verdict = VerdictShuttingDown
	case !p.probed || p.storeOpening():
		s.Verdict = VerdictStarting
	case p.ready:
		s.Verdict = VerdictReady
	default:
		s.Verdict = VerdictUnready
	}
	return s
}

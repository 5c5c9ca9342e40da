package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"xlb/config"
)

// ErrNotFound is returned for an API call naming a service or real that the
// configuration does not have.
var ErrNotFound = errors.New("not found")

// ErrInvalid is returned for an API call with a value out of range.
var ErrInvalid = errors.New("invalid")

// Reconciler owns the inputs of the desired state (configuration and
// overrides) and applies every change to the backend, one at a time.
type Reconciler struct {
	backend Backend
	log     *slog.Logger

	mu        sync.Mutex // serialises changes and Apply
	cfg       *config.Config
	overrides Overrides
	health    Health
	hooks     Hooks
	state     State
	applied   time.Time
}

// NewReconciler returns a Reconciler for cfg that writes to backend.
// Nothing is written until Reconcile.
func NewReconciler(cfg *config.Config, backend Backend, logger *slog.Logger) *Reconciler {
	return &Reconciler{backend: backend, log: logger, cfg: cfg, overrides: Overrides{}, health: Health{}}
}

// Reconcile recomputes the desired state and applies it.
func (r *Reconciler) Reconcile(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reconcileLocked(ctx)
}

func (r *Reconciler) reconcileLocked(ctx context.Context) error {
	st, err := Desired(r.cfg, r.inputs())
	if err != nil {
		return err
	}
	r.logQuorum(st)
	r.state = st
	r.applied = time.Now()
	return r.backend.Apply(ctx, st)
}

// inputs gathers what Desired reads besides the configuration.
func (r *Reconciler) inputs() Inputs {
	return Inputs{Overrides: r.overrides, Health: r.health, Quorum: r.state.QuorumStates()}
}

// Hooks are called when the reconciler decides a change that the world
// outside the data plane hears of (scripts, e-mail). They run with the
// reconciler's lock held, so they must not block or call back into it:
// queue the work.
type Hooks struct {
	// QuorumChanged is called with a service whose quorum state changed
	// (svc.QuorumUp is the new one); a new service is not a change.
	QuorumChanged func(svc Service)
}

// SetHooks installs h for the changes that follow.
func (r *Reconciler) SetHooks(h Hooks) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hooks = h
}

// logQuorum logs each service whose quorum state changes from the last
// desired state (a service that is new starts without a message) and
// calls the QuorumChanged hook.
func (r *Reconciler) logQuorum(st State) {
	for _, svc := range st.Services {
		old, ok := r.state.Service(svc.Key)
		if !ok || old.QuorumUp == svc.QuorumUp {
			continue
		}
		msg := "quorum lost"
		if svc.QuorumUp {
			msg = "quorum gained"
		}
		r.log.Info(msg, "service", svc.Key.String(), "quorum", svc.Quorum, "hysteresis", svc.Hysteresis,
			"sorry_server_active", svc.SorryOnly)
		if r.hooks.QuorumChanged != nil {
			r.hooks.QuorumChanged(svc)
		}
	}
}

// SetHealth records real a of service k's health and applies the change
// when it changes the desired state's inputs.
func (r *Reconciler) SetHealth(ctx context.Context, k ServiceKey, a netip.AddrPort, h RealHealth) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.health[k][a]; ok && old == h {
		return nil
	}
	r.health.Set(k, a, h)
	return r.reconcileLocked(ctx)
}

// SeedHealth replaces the health the next computation starts from, without
// applying it: before the first Reconcile, so reals under alpha start down.
func (r *Reconciler) SeedHealth(h Health) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.health = h
}

// SetConfig replaces the configuration (a reload) and applies it.
// Overrides of reals that still exist are kept; the others are dropped
// and logged.
func (r *Reconciler) SetConfig(ctx context.Context, cfg *config.Config) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, err := Desired(cfg, r.inputs())
	if err != nil {
		return err
	}
	for _, gone := range r.overrides.Prune(st) {
		r.log.Info("weight override dropped: real no longer configured", "real", gone)
	}
	r.health.Prune(st)
	r.cfg = cfg
	return r.reconcileLocked(ctx)
}

// SetWeight overrides the weight of real a of service k and returns once
// the backend has written it.
func (r *Reconciler) SetWeight(ctx context.Context, k ServiceKey, a netip.AddrPort, w int) error {
	if w < 0 || w > MaxWeight {
		return fmt.Errorf("%w: weight: want 0..%d, got %d", ErrInvalid, MaxWeight, w)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	svc, ok := r.state.Service(k)
	if !ok {
		return fmt.Errorf("%w: service %s is not configured", ErrNotFound, k)
	}
	if _, ok := svc.Real(a); !ok {
		return fmt.Errorf("%w: service %s has no real server %s", ErrNotFound, k, a)
	}
	r.overrides.Set(k, a, w)
	r.log.Info("weight override", "service", k.String(), "real", a.String(), "weight", w)
	return r.reconcileLocked(ctx)
}

// Snapshot returns the last desired state and what the backend observes.
func (r *Reconciler) Snapshot() (State, map[ServiceKey]ServiceObservation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state, r.backend.Observe()
}

// Reasons returns the backend's named packet counters.
func (r *Reconciler) Reasons() (map[string]uint64, error) { return r.backend.Reasons() }

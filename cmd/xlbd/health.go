package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"xlb/config"
	"xlb/controlplane"
	"xlb/controlplane/alert"
	"xlb/controlplane/api"
	"xlb/health"
	"xlb/internal/script"
)

const (
	// notifyTimeout bounds notify_up/notify_down and quorum_up/quorum_down
	// scripts: keepalived gives them none, but a hung one must not pile up.
	notifyTimeout = time.Minute
	// queuedJobs bounds quorum scripts and smtp alerts waiting to run;
	// more are dropped (and logged) rather than block the reconciler or
	// the Monitor.
	queuedJobs = 64
)

// healthRunner joins the health Monitor to the reconciler: check results
// become RealHealth of every service their virtual_server stands for, and
// the reconciler's quorum changes run quorum_up / quorum_down; both send
// the smtp_alert the configuration asks for.
type healthRunner struct {
	mon  *health.Monitor
	rec  *controlplane.Reconciler
	log  *slog.Logger
	jobs chan func(context.Context)

	mu   sync.Mutex
	plan controlplane.HealthPlan
	// user and group run quorum scripts (global_defs script_user).
	user, group string
	mailer      alert.Mailer
}

func newHealthRunner(rec *controlplane.Reconciler, log *slog.Logger) *healthRunner {
	h := &healthRunner{rec: rec, log: log, jobs: make(chan func(context.Context), queuedJobs)}
	h.mon = health.New(health.Config{
		Logger:   log,
		Jitter:   0.1,
		Notifier: health.NotifierFunc(h.runNotify),
		OnChange: h.onChange,
	})
	rec.SetHooks(controlplane.Hooks{QuorumChanged: h.quorumChanged})
	return h
}

// setPlan gives the Monitor a configuration's checks (at start and on
// reload), with global_defs' script user and mail settings; checks that
// keep their identity keep their state.
func (h *healthRunner) setPlan(plan controlplane.HealthPlan, g config.GlobalDefs) error {
	h.mu.Lock()
	h.plan = plan
	h.user, h.group = g.ScriptUser, g.ScriptGroup
	h.mailer = controlplane.Mailer(g)
	h.mu.Unlock()
	return h.mon.Update(plan.Services)
}

// queue runs job on the runner's worker, or drops it (logged as what)
// when too many wait.
func (h *healthRunner) queue(what string, job func(context.Context)) {
	select {
	case h.jobs <- job:
	default:
		h.log.Warn(what + " dropped: too many queued")
	}
}

// mail sends msg if mail is set up, from the worker.
func (h *healthRunner) mail(m alert.Mailer, msg alert.Message) {
	if !m.Enabled() {
		return
	}
	h.queue("smtp alert", func(ctx context.Context) {
		if err := m.Send(ctx, msg); err != nil {
			h.log.Warn("smtp alert", "subject", msg.Subject, "err", err)
		}
	})
}

// setActive passes ha_suspend's word on each service to the Monitor.
func (h *healthRunner) setActive(active map[string]bool) {
	for name, on := range active {
		h.mon.SetActive(name, on)
	}
}

// Run runs the checks and the quorum scripts until ctx ends.
func (h *healthRunner) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return h.mon.Run(ctx) })
	g.Go(func() error {
		for {
			select {
			case <-ctx.Done():
				return nil
			case job := <-h.jobs:
				job(ctx)
			}
		}
	})
	return g.Wait()
}

// checks is the Monitor's state in the API's schema.
func (h *healthRunner) checks() api.Checks { return controlplane.ChecksView(h.mon.Snapshot()) }

func (h *healthRunner) onChange(ev health.Event) {
	if ev.IsQuorum() {
		return // the reconciler decides quorum, overrides included
	}
	h.mu.Lock()
	keys := h.plan.Keys[ev.Service]
	alerts, mailer := h.plan.Alerts[ev.Service][ev.Real], h.mailer
	h.mu.Unlock()
	if !ev.Initial || !ev.Health.Up {
		state := "down"
		if ev.Health.Up {
			state = "up"
		}
		h.log.Info("real server "+state, "service", ev.Service, "real", ev.Real.String(),
			"weight", ev.Health.Weight, "reason", ev.Health.Reason)
	}
	// A real's first result is no change: keepalived mails only changes.
	if alerts && ev.UpChanged {
		state := map[bool]string{true: "UP", false: "DOWN"}[ev.Health.Up]
		body := fmt.Sprintf("=> %s <=", ev.Health.Reason)
		h.mail(mailer, mailer.RealServer(ev.Real.String(), ev.Service, state, body))
	}
	rh := controlplane.RealHealth{Up: ev.Health.Up, Reason: ev.Health.Reason,
		Weight: ev.Health.Weight, HasWeight: ev.Health.HasWeight}
	for _, k := range keys {
		if err := h.rec.SetHealth(context.Background(), k, ev.Real, rh); err != nil {
			h.log.Error("apply health change", "service", k.String(), "real", ev.Real.String(), "err", err)
		}
	}
}

func (h *healthRunner) quorumChanged(svc controlplane.Service) {
	line, what := svc.QuorumDownScript, "quorum_down"
	if svc.QuorumUp {
		line, what = svc.QuorumUpScript, "quorum_up"
	}
	h.mu.Lock()
	alerts, mailer, user, group := h.plan.QuorumAlerts[svc.Key], h.mailer, h.user, h.group
	h.mu.Unlock()
	if alerts {
		state, body := "DOWN", "=> lost quorum <="
		if svc.QuorumUp {
			state, body = "UP", "=> gained quorum <="
		}
		h.mail(mailer, mailer.VirtualServer(svc.Key.String(), state, body))
	}
	argv, err := script.SplitWords(line)
	if err != nil || len(argv) == 0 {
		return
	}
	c := script.Command{Argv: argv, User: user, Group: group, Timeout: notifyTimeout, KillGrace: controlplane.ScriptKillGrace}
	h.queue(what+" script of "+svc.Key.String(), func(ctx context.Context) {
		if err := runScript(ctx, "quorum script", c); err != nil {
			h.log.Warn("script failed", "err", err)
		}
	})
}

func (h *healthRunner) runNotify(ctx context.Context, n health.Notification) error {
	return runScript(ctx, "notify script", script.Command{Argv: n.Command.Argv, User: n.Command.User,
		Group: n.Command.Group, Timeout: notifyTimeout, KillGrace: controlplane.ScriptKillGrace})
}

// runScript runs one notify or quorum script and says how it failed, if
// it did.
func runScript(ctx context.Context, what string, c script.Command) error {
	res, err := script.Run(ctx, c)
	switch {
	case err != nil:
		err = fmt.Errorf("%s %v: %w", what, c.Argv, err)
	case res.TimedOut:
		err = fmt.Errorf("%s %v: timed out", what, c.Argv)
	case res.ExitCode != 0:
		err = fmt.Errorf("%s %v: exit %d", what, c.Argv, res.ExitCode)
	}
	return err
}

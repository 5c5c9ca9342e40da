package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"sync"

	"golang.org/x/sync/errgroup"

	"xlb/config"
	"xlb/controlplane"
	"xlb/controlplane/alert"
	"xlb/controlplane/api"
	"xlb/internal/script"
	"xlb/vrrp"
	"xlb/vrrp/router"
	"xlb/vrrp/track"
)

// queuedNotifies bounds VRRP notify scripts and alerts waiting to run; a
// transition beyond it is logged and its scripts dropped rather than hold
// up the state machines.
const queuedNotifies = 256

// vrrpRunner runs the configuration's VRRP instances: the router, the
// watchers of what they track, their notify scripts and e-mail alerts, and
// ha_suspend of the health checks.
type vrrpRunner struct {
	r      *router.Router
	w      *track.Watcher
	plan   controlplane.VRRPPlan
	vips   map[string][]netip.Addr
	mailer alert.Mailer
	hr     *healthRunner
	log    *slog.Logger
	jobs   chan func(context.Context)
	// user and group run notify scripts (global_defs script_user).
	user, group string

	mu      sync.Mutex
	masters map[string]bool
	hplan   controlplane.HealthPlan
}

// newVRRPRunner builds the VRRP side of cfg; nil when cfg has no
// vrrp_instance.
func newVRRPRunner(cfg *config.Config, hp controlplane.HealthPlan, hr *healthRunner, log *slog.Logger) (*vrrpRunner, error) {
	plan, diags, err := controlplane.VRRPConfig(cfg)
	for _, d := range diags {
		log.Warn(d.Msg, "at", d.Pos.String()+d.Pos.Includes())
	}
	if err != nil {
		return nil, err
	}
	if len(plan.Options.Instances) == 0 {
		hr.setActive(controlplane.HASuspendActive(hp, nil, nil))
		return nil, nil
	}
	v := &vrrpRunner{plan: plan, vips: controlplane.InstanceVIPs(plan), mailer: controlplane.Mailer(cfg.Global),
		hr: hr, log: log, jobs: make(chan func(context.Context), queuedNotifies),
		masters: map[string]bool{}, hplan: hp}
	opts := plan.Options
	opts.Logger, opts.Notify = log, v.notify
	if v.r, err = router.New(opts); err != nil {
		return nil, err
	}
	if err := controlplane.VRRPNotifySecurity(cfg, plan); err != nil {
		return nil, err
	}
	v.user, v.group = cfg.Global.ScriptUser, cfg.Global.ScriptGroup
	to, err := controlplane.VRRPTrackOptions(cfg, plan)
	if err != nil {
		return nil, err
	}
	to.Runner, to.Notify = controlplane.ScriptRunner{}, v.tracked
	if v.w, err = track.New(to, log); err != nil {
		return nil, err
	}
	// Until an instance reports MASTER, none is: ha_suspend services whose
	// VIP VRRP carries wait.
	hr.setActive(controlplane.HASuspendActive(hp, v.vips, nil))
	return v, nil
}

// Run runs the instances until ctx ends; they then send priority 0 and
// release their addresses, and the last notifications run.
func (v *vrrpRunner) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return v.w.Run(ctx) })
	// The router stops last of all, on ctx; its STOP notifications still
	// reach the queue, which drains with a fresh context.
	g.Go(func() error {
		err := v.r.Run(ctx)
		close(v.jobs)
		return err
	})
	g.Go(func() error {
		for job := range v.jobs {
			job(context.WithoutCancel(ctx))
		}
		return nil
	})
	return g.Wait()
}

func (v *vrrpRunner) status() api.VRRP { return controlplane.VRRPView(v.r.Status()) }

// setHealthPlan follows a reload's health checks for ha_suspend.
func (v *vrrpRunner) setHealthPlan(hp controlplane.HealthPlan) {
	v.mu.Lock()
	v.hplan = hp
	active := controlplane.HASuspendActive(hp, v.vips, v.masters)
	v.mu.Unlock()
	v.hr.setActive(active)
}

// tracked forwards a watcher's event to the instances that track it.
func (v *vrrpRunner) tracked(ev track.Event) {
	for _, u := range controlplane.VRRPTrackEvent(v.plan, ev) {
		if err := v.r.SetTracked(u.Target, u.Name, u.Track); err != nil {
			v.log.Warn("tracked object", "target", u.Target, "name", u.Name, "err", err)
		}
	}
}

// notify hears every transition, in order: it updates ha_suspend at once
// and queues the scripts and the e-mail.
func (v *vrrpRunner) notify(n vrrp.Notification) {
	v.log.Info("vrrp "+n.Type, "name", n.Name, "state", n.State.String(), "priority", n.Priority, "reason", n.Reason)
	if n.Type == "INSTANCE" {
		v.mu.Lock()
		v.masters[n.Name] = n.State == vrrp.StateMaster
		active := controlplane.HASuspendActive(v.hplan, v.vips, v.masters)
		v.mu.Unlock()
		v.hr.setActive(active)
	}
	job := func(ctx context.Context) { v.runNotify(ctx, n) }
	select {
	case v.jobs <- job:
	default:
		v.log.Warn("vrrp notify scripts dropped: too many queued", "name", n.Name, "state", n.State.String())
	}
}

// runNotify runs keepalived's notify_STATE script, then the generic notify
// with TYPE NAME STATE PRIORITY, then sends the smtp_alert.
func (v *vrrpRunner) runNotify(ctx context.Context, n vrrp.Notification) {
	lines := v.plan.Notify[n.Name]
	state := n.State.String()
	specific := map[string]string{"MASTER": lines.Master, "BACKUP": lines.Backup, "FAULT": lines.Fault, "STOP": lines.Stop}[state]
	run := func(line string, extra ...string) {
		argv, err := script.SplitWords(line)
		if err != nil || len(argv) == 0 {
			return
		}
		argv = append(argv, extra...)
		if err := runScript(ctx, "vrrp notify script", script.Command{Argv: argv, User: v.user, Group: v.group,
			Timeout: notifyTimeout, KillGrace: controlplane.ScriptKillGrace}); err != nil {
			v.log.Warn("script failed", "err", err)
		}
	}
	run(specific)
	if n.Type == "GROUP" {
		run(lines.Any, n.Type, n.Name, state)
	} else {
		run(lines.Any, n.Type, n.Name, state, strconv.Itoa(n.Priority))
	}
	if !v.plan.SMTPAlert[n.Name] || !v.mailer.Enabled() {
		return
	}
	body := fmt.Sprintf("=> VRRP %s %s entering %s state (priority %d): %s <=", n.Type, n.Name, state, n.Priority, n.Reason)
	msg := v.mailer.VRRPInstance(n.Name, state, body)
	if n.Type == "GROUP" {
		msg = v.mailer.VRRPGroup(n.Name, state, body)
	}
	if err := v.mailer.Send(ctx, msg); err != nil {
		v.log.Warn("smtp alert", "name", n.Name, "err", err)
	}
}

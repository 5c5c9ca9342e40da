package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sync/errgroup"

	"xlb/config"
	"xlb/controlplane"
	"xlb/controlplane/neigh"
	"xlb/maps"
)

// run is the daemon: it returns when ctx ends (SIGTERM, SIGINT) after
// detaching the program and removing its pins and socket.
func run(ctx context.Context, s settings, log *slog.Logger) error {
	cfg, err := loadConfigLogged(log, s.Config, s.ConfigID)
	if err != nil {
		return err
	}
	if err := controlplane.CheckXDPConfig(cfg); err != nil {
		return err
	}
	warnForwarding(cfg, log)

	// keepalived's lvs_timeouts set IPVS's timeouts; here they are the
	// connection table's, fixed at load (zero: IPVS's defaults).
	timeouts := cfg.Global.LVSTimeouts
	dp, err := maps.Open(maps.Options{
		PinDir:           s.BPFFS,
		MaxServices:      s.MaxServices,
		MaxReals:         s.MaxReals,
		ConnTableSize:    s.ConnTableSize,
		PersistTableSize: s.PersistTableSize,
		NATTableSize:     s.NATTableSize,
		FNATTableSize:    s.FNATTableSize,
		TCPTimeout:       timeouts.TCP,
		TCPFinTimeout:    timeouts.TCPFin,
		UDPTimeout:       timeouts.UDP,
		Logger:           log,
		// IPVS uses one sysctl per scheduler for both.
		LocalityExpiration: s.LBLCExpiration,
		LocalityShrink:     s.LBLCExpiration,
	})
	if err != nil {
		return err
	}
	defer func() {
		if err := dp.Close(); err != nil {
			log.Error("close data plane", "err", err)
		}
		log.Info("data plane detached and unpinned", "bpffs", s.BPFFS)
	}()
	for _, ifname := range s.Interfaces {
		// Attach logs the mode it got (native, or the generic fallback).
		if _, err := dp.Attach(ifname); err != nil {
			return err
		}
	}

	nb := neigh.New(log)
	backend, err := controlplane.NewXDP(dp, nb, s.MaglevSize, log)
	if err != nil {
		return err
	}
	backend.SetConnTimeouts(controlplane.ConnTimeouts{TCP: timeouts.TCP, TCPFin: timeouts.TCPFin, UDP: timeouts.UDP})
	rec := controlplane.NewReconciler(cfg, backend, log)
	plan, err := healthPlan(cfg, s, log)
	if err != nil {
		return err
	}
	hr := newHealthRunner(rec, log)
	if err := hr.setPlan(plan, cfg.Global); err != nil {
		return err
	}
	rec.SeedHealth(controlplane.AlphaHealth(plan))
	vr, err := newVRRPRunner(cfg, plan, hr, log)
	if err != nil {
		return err
	}

	// abort stops the goroutines started so far when start-up fails.
	ctx, abort := context.WithCancel(ctx)
	defer abort()
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return nb.Run(ctx) })
	g.Go(func() error { return hr.Run(ctx) })
	g.Go(func() error { return resyncConnCounts(ctx, backend, log) })
	if vr != nil {
		g.Go(func() error { return vr.Run(ctx) })
	}
	startupFailed := func(err error) error {
		abort()
		return errors.Join(err, g.Wait())
	}

	if err := firstReconcile(ctx, rec, backend, nb, s.ResolveTimeout, log); err != nil {
		return startupFailed(err)
	}
	l, err := controlplane.Listen(s.Socket)
	if err != nil {
		return startupFailed(err)
	}
	log.Info("xlbd ready", "socket", s.Socket, "config", s.Config)
	srv := controlplane.NewServer(rec, log)
	srv.SetChecks(hr.checks)
	if vr != nil {
		srv.SetVRRP(vr.status)
	}
	g.Go(func() error { return srv.Serve(ctx, l) })
	g.Go(func() error { return reconcileLoop(ctx, s, timeouts, rec, nb, hr, vr, vrrpSection(cfg), log) })
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// firstReconcile writes the first desired state, waiting a bounded time for
// the kernel to resolve real servers' MACs: the API opens only after this,
// so a client that sees the socket sees a working data plane.
func firstReconcile(ctx context.Context, rec *controlplane.Reconciler, backend *controlplane.XDP,
	nb *neigh.Table, timeout time.Duration, log *slog.Logger) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	for {
		if err := rec.Reconcile(ctx); err != nil {
			return fmt.Errorf("first reconcile: %w", err)
		}
		if backend.Unresolved() == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			st, obs := rec.Snapshot()
			for _, svc := range st.Services {
				for a, ro := range obs[svc.Key].Reals {
					if ro.State == controlplane.RealUnresolved {
						log.Warn("real server left out of the table: MAC not resolved",
							"service", svc.Key.String(), "real", a.String(), "reason", ro.Reason)
					}
				}
			}
			return nil
		case <-nb.Changed():
		case <-poll.C:
		}
	}
}

// reconcileLoop reloads on SIGHUP and re-applies when a neighbour changes.
func reconcileLoop(ctx context.Context, s settings, timeouts config.LVSTimeouts, rec *controlplane.Reconciler,
	nb *neigh.Table, hr *healthRunner, vr *vrrpRunner, vrrpNow string, log *slog.Logger) error {
	path := s.Config
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
			log.Info("reloading configuration", "config", path)
			cfg, err := loadConfigLogged(log, path, s.ConfigID)
			if err != nil {
				log.Error("reload rejected: the previous configuration keeps serving", "config", path)
				continue
			}
			if err := controlplane.CheckXDPConfig(cfg); err != nil {
				log.Error("reload rejected: the previous configuration keeps serving", "config", path, "err", err)
				continue
			}
			plan, err := healthPlan(cfg, s, log)
			if err != nil {
				log.Error("reload rejected: the previous configuration keeps serving", "config", path, "err", err)
				continue
			}
			if cfg.Global.LVSTimeouts != timeouts {
				log.Warn("lvs_timeouts changed: the connection table keeps the old ones until xlbd restarts",
					"config", path)
			}
			if err := rec.SetConfig(ctx, cfg); err != nil {
				log.Error("reload applied with errors", "err", err)
				continue
			}
			if err := hr.setPlan(plan, cfg.Global); err != nil {
				log.Error("reload: health checks not updated", "err", err)
			}
			if vr != nil {
				vr.setHealthPlan(plan)
			}
			if vrrpSection(cfg) != vrrpNow {
				// Restarting instances would send priority 0 and move
				// every VIP: VRRP keeps the configuration it started with.
				log.Warn("VRRP configuration changed: it takes effect when xlbd restarts", "config", path)
			}
			log.Info("configuration reloaded", "config", path)
		case <-nb.Changed():
			if err := rec.Reconcile(ctx); err != nil {
				log.Error("reconcile after neighbour change", "err", err)
			}
		}
	}
}

// connResyncInterval is how often the per-real connection counts are
// rebuilt from the connection tables (lc, wlc, sed and nq read them).
const connResyncInterval = 5 * time.Second

// resyncConnCounts keeps the data plane's per-real connection counts true:
// flows the LRU evicted, or that expired without another packet, are
// otherwise never taken off.
func resyncConnCounts(ctx context.Context, backend *controlplane.XDP, log *slog.Logger) error {
	t := time.NewTicker(connResyncInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			expired, err := backend.ResyncConnCounts()
			if err != nil {
				log.Warn("resync connection counts", "err", err)
				continue
			}
			log.Debug("connection counts resynced", "expired_flows", expired)
		}
	}
}

// warnForwarding says when NAT or FNAT services are configured but the kernel does
// not forward: the data plane hands it packets whose next hop it has not
// resolved yet, and LVS's NAT needs forwarding on too.
func warnForwarding(cfg *config.Config, log *slog.Logger) {
	need := map[string]bool{}
	for _, vs := range cfg.VirtualServers {
		if vs.Kind == config.KindNAT || vs.Kind == config.KindFNAT {
			path := "/proc/sys/net/ipv4/ip_forward"
			if vs.Addr.Is6() {
				path = "/proc/sys/net/ipv6/conf/all/forwarding"
			}
			need[path] = true
		}
	}
	for path := range need {
		if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) == "0" {
			log.Warn("lb_kind NAT and FNAT services need IP forwarding: it is off", "sysctl", path)
		}
	}
}

// routeIface names the interface the kernel's route to addr leaves by.
func routeIface(addr netip.Addr) (string, error) {
	routes, err := netlink.RouteGet(addr.AsSlice())
	if err != nil {
		return "", fmt.Errorf("route to %s: %w", addr, err)
	}
	if len(routes) == 0 {
		return "", fmt.Errorf("no route to %s", addr)
	}
	link, err := netlink.LinkByIndex(routes[0].LinkIndex)
	if err != nil {
		return "", fmt.Errorf("route to %s: %w", addr, err)
	}
	return link.Attrs().Name, nil
}

// vrrpSection is what of a configuration VRRP runs on, as JSON (which
// leaves out positions), for telling whether a reload changed it.
func vrrpSection(cfg *config.Config) string {
	b, err := json.Marshal([]any{cfg.Instances, cfg.SyncGroups, cfg.Scripts, cfg.TrackFiles, cfg.TrackProcesses,
		cfg.Global.McastGroup4, cfg.Global.McastGroup6, cfg.Global.VRRPVersion, cfg.Global.Garp})
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// healthPlan builds the configuration's health checks, logging what is
// not run.
func healthPlan(cfg *config.Config, s settings, log *slog.Logger) (controlplane.HealthPlan, error) {
	slowStart := s.SlowStart
	plan, warnings, err := controlplane.HealthChecksWith(cfg, controlplane.HealthOptions{ViaVIP: s.CheckViaVIP, Iface: routeIface})
	for _, w := range warnings {
		log.Warn(w)
	}
	for i := range plan.Services {
		for j := range plan.Services[i].Reals {
			plan.Services[i].Reals[j].SlowStart = slowStart
		}
	}
	return plan, err
}

// loadConfigLogged reads the configuration, logging each diagnostic with
// its FILE:LINE:COL.
func loadConfigLogged(log *slog.Logger, path, configID string) (*config.Config, error) {
	cfg, warnings, err := config.LoadWithOptions(path, config.Options{ConfigID: configID})
	for _, d := range warnings {
		log.Warn(d.Msg, "at", d.Pos.String()+d.Pos.Includes())
	}
	if err != nil {
		var list config.ErrorList
		if errors.As(err, &list) {
			for _, d := range list {
				log.Error(d.Msg, "at", d.Pos.String()+d.Pos.Includes())
			}
			return nil, fmt.Errorf("%s: %d errors in configuration", path, len(list))
		}
		return nil, err
	}
	return cfg, nil
}

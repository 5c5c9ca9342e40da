package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"xlb/e2e/lab"
)

// Limits the demo holds xlb to.
const (
	minConnections = 1000 // per round, for the z-scores to mean something
	maxZ           = 4.0  // |z| beyond this is a 1-in-15000 event per real
	clientDeadline = 60 * time.Second
)

type demo struct {
	xlbd, xlbctl, config string
	self                 string // this binary: serve and client run it
	name                 string
	count                int
	out                  io.Writer
	log                  *slog.Logger

	step     int
	problems []string
}

func demoCmd(log *slog.Logger) *cobra.Command {
	d := &demo{out: os.Stdout, log: log}
	cmd := &cobra.Command{
		Use:   "demo --xlbd bin/xlbd --xlbctl bin/xlbctl --config testdata/demo/keepalived.conf",
		Short: "build the lab, balance connections with xlbd, drain a real, tear down",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if d.count < minConnections {
				return fmt.Errorf("count: want at least %d, got %d", minConnections, d.count)
			}
			return d.verdict(d.run(cmd.Context()))
		},
	}
	f := cmd.Flags()
	f.StringVar(&d.xlbd, "xlbd", "bin/xlbd", "xlbd binary")
	f.StringVar(&d.xlbctl, "xlbctl", "bin/xlbctl", "xlbctl binary")
	f.StringVar(&d.config, "config", "testdata/demo/keepalived.conf", "keepalived.conf for xlbd")
	f.StringVar(&d.name, "name", "", "namespace prefix (default xlb-<random>)")
	f.IntVar(&d.count, "count", 1200, "connections per round")
	return cmd
}

func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.out, format+"\n", args...)
}

func (d *demo) next(title string) {
	d.step++
	d.say("\n=== %d. %s", d.step, title)
}

func (d *demo) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	d.problems = append(d.problems, msg)
	d.say("FAIL: %s", msg)
}

func (d *demo) run(ctx context.Context) (err error) {
	if d.self, err = os.Executable(); err != nil {
		return err
	}
	d.next("Build the lab: a bridge in its own namespace; client, lb and three reals on it")
	l, err := lab.New(ctx, lab.Options{Name: d.name, Logger: d.log})
	if err != nil {
		return err
	}
	defer func() {
		d.next("Tear down: stop every process by PID, delete the namespaces")
		if cerr := l.Close(); cerr != nil {
			err = errors.Join(err, cerr)
			return
		}
		d.say("nothing left behind: %d namespaces deleted", len(l.Namespaces()))
	}()
	d.say("  %-7s %-22s %-14s %s", "node", "netns", "address", "mac")
	for _, n := range append([]lab.Node{l.Client, l.LB}, l.Reals...) {
		d.say("  %-7s %-22s %-14s %s", n.Role, n.NS, n.Addr, n.MAC)
	}
	d.say("VIP %s is on lb's eth0 (lb answers ARP for it) and on every real's lo (arp_ignore=1, arp_announce=2).", lab.VIP)
	if len(l.Reals) < 3 {
		return errors.New("the demo needs three reals")
	}

	d.next("Start an HTTP server on port 80 in every real; it answers with its name and the client it saw")
	if err := l.StartServers(ctx, d.self); err != nil {
		return err
	}
	d.say("r1..r3 answer on their own addresses.")

	d.next("Start xlbd in lb (XDP on eth0, direct routing)")
	dm, err := l.StartDaemon(ctx, lab.DaemonOptions{XLBD: d.xlbd, XLBCtl: d.xlbctl, Config: d.config})
	if err != nil {
		return err
	}
	d.say("xlbd pid %d ready: socket %s, pins %s", dm.Proc.PID(), dm.Socket, dm.BPFFS)
	defer func() {
		if (err != nil && !errors.Is(err, context.Canceled)) || len(d.problems) > 0 {
			d.say("\n--- xlbd log (last 30 lines) ---\n%s", dm.Tail(30))
		}
	}()
	d.showServices(ctx, dm)

	service := netip.AddrPortFrom(lab.VIP, 80).String() + "/tcp"
	d.next(fmt.Sprintf("Round 1: %d new TCP connections from the client to http://%s/", d.count, lab.VIP))
	if err := d.round(ctx, l, dm, ""); err != nil {
		return err
	}

	drain := l.Reals[2]
	d.next(fmt.Sprintf("Drain %s: xlbctl weight %s %s:80 0", drain.Role, service, drain.Addr))
	if err := dm.SetWeight(ctx, service, netip.AddrPortFrom(drain.Addr, 80), 0); err != nil {
		return err
	}
	d.say("weight set; the maps are written.")
	d.showServices(ctx, dm)

	d.next(fmt.Sprintf("Round 2: %d new connections; %s must get none, the others split by weight", d.count, drain.Role))
	if err := d.round(ctx, l, dm, drain.Role); err != nil {
		return err
	}

	d.next("Stop xlbd with SIGTERM: it detaches and removes its pins")
	if err := dm.Stop(); err != nil {
		d.fail("%v", err)
	} else if _, err := os.Stat(dm.BPFFS); !errors.Is(err, os.ErrNotExist) {
		d.fail("pins still at %s after SIGTERM", dm.BPFFS)
	} else {
		d.say("xlbd exited 0; %s is gone.", dm.BPFFS)
	}

	return nil
}

// verdict prints the outcome once everything is torn down and turns
// failed checks into the command's error, so the exit status tells.
func (d *demo) verdict(err error) error {
	switch {
	case errors.Is(err, context.Canceled):
		d.say("\nRESULT: INTERRUPTED — everything torn down")
		return err
	case err != nil:
		d.say("\nRESULT: ERROR — %v", err)
		return err
	case len(d.problems) > 0:
		d.say("\nRESULT: FAIL")
		for _, p := range d.problems {
			d.say("  - %s", p)
		}
		return fmt.Errorf("%d check(s) failed", len(d.problems))
	}
	d.say("\nRESULT: PASS — every share within %.0f standard deviations of its weight, every real saw the client's own address, the drained real got no new connection.", maxZ)
	return nil
}

// showServices prints xlbctl's own view, as an operator would see it.
func (d *demo) showServices(ctx context.Context, dm *lab.Daemon) {
	d.say("$ xlbctl --socket %s services", dm.Socket)
	res, err := dm.Ctl(ctx, "services")
	switch {
	case err != nil:
		d.fail("xlbctl services: %v", err)
	case res.Code != 0:
		d.fail("xlbctl services: exit %d: %s", res.Code, strings.TrimSpace(res.Stderr))
	default:
		d.say("%s", strings.TrimRight(res.Stdout, "\n"))
	}
}

// round measures one round of connections and checks it against the
// weights xlbd reports. drained names a real that must get nothing.
func (d *demo) round(ctx context.Context, l *lab.Lab, dm *lab.Daemon, drained string) error {
	svcs, err := dm.Services(ctx)
	if err != nil {
		return err
	}
	svc, ok := lab.FindService(svcs, lab.VIP, 80)
	if !ok {
		return fmt.Errorf("xlbd reports no service %s:80", lab.VIP)
	}
	weights, names, err := l.Weights(svc)
	if err != nil {
		return err
	}

	rep, err := l.Measure(ctx, d.self, lab.ClientOptions{
		URL: fmt.Sprintf("http://%s/", lab.VIP), Count: d.count, Timeout: clientDeadline,
	})
	if err != nil {
		return err
	}
	d.say("%d connections in %.1f s, %d failed", rep.Requests, float64(rep.ElapsedMS)/1000, rep.Errors)
	rows := lab.Compare(weights, names, rep.Counts())
	if err := lab.WriteTable(d.out, rows); err != nil {
		return err
	}

	if rep.Errors > 0 {
		d.fail("%d connections failed; first: %s", rep.Errors, rep.FirstError)
	}
	if rep.OK() < minConnections {
		d.fail("only %d connections answered, want at least %d", rep.OK(), minConnections)
	}
	for _, r := range rows {
		if math.Abs(r.Z) > maxZ {
			d.fail("%s: %d connections, expected %.0f (z %+.2f, limit ±%.0f)", r.Name, r.Count, r.P*float64(rep.OK()), r.Z, maxZ)
		}
	}
	for _, r := range rows {
		s := rep.Servers[r.Name]
		if s == nil {
			continue
		}
		switch {
		case !slices.Equal(s.Peers, []netip.Addr{lab.ClientAddr}):
			d.fail("%s saw clients %v, want only %s", r.Name, s.Peers, lab.ClientAddr)
		case s.Translated > 0:
			d.fail("%s saw a rewritten source port on %d connections", r.Name, s.Translated)
		default:
			d.say("%s saw the client's own address %s (and its source port) on all %d connections", r.Name, lab.ClientAddr, s.Count)
		}
	}
	if drained != "" {
		got := rep.Counts()[drained]
		if got > 0 {
			d.fail("%s has weight 0 but got %d new connections", drained, got)
		} else {
			d.say("%s got 0 new connections.", drained)
		}
		var live []string
		for _, r := range rows {
			if r.Name != drained && r.Weight > 0 {
				live = append(live, fmt.Sprintf("%s %d", r.Name, r.Count))
			}
		}
		d.say("the rest split %s (weights %s).", strings.Join(live, " : "), weightRatio(rows, drained))
	}
	return nil
}

func weightRatio(rows []lab.Row, drained string) string {
	var w []string
	for _, r := range rows {
		if r.Name != drained && r.Weight > 0 {
			w = append(w, fmt.Sprint(r.Weight))
		}
	}
	return strings.Join(w, ":")
}

package e2e

import (
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"xlb/controlplane/api"
	"xlb/e2e/lab"
)

// Configurations of the NAT tests.
const (
	natConfig    = "../testdata/e2e/nat.conf"
	nat6Config   = "../testdata/e2e/nat6.conf"
	natUDPConfig = "../testdata/e2e/nat-udp.conf"
)

// startNATLab builds a NAT lab (the reals behind the load balancer's
// eth1, listening on lab.NATPort) and runs xlbd on both of the load
// balancer's interfaces with config.
func startNATLab(t *testing.T, ctx context.Context, config string) (*lab.Lab, *lab.Daemon) {
	t.Helper()
	l := newLab(t, ctx, "xlbt-", lab.Options{Mode: lab.NAT})
	d := startNATDaemon(t, ctx, l, config)
	// The lab turned forwarding on, and xlbd found the reals behind eth1.
	tail := d.Tail(200)
	if strings.Contains(tail, "need IP forwarding") {
		t.Errorf("xlbd says forwarding is off in the NAT lab:\n%s", tail)
	}
	if !strings.Contains(tail, "interface faces NAT reals") || !strings.Contains(tail, "eth1") {
		t.Errorf("xlbd did not mark eth1 as facing the NAT reals:\n%s", tail)
	}
	return l, d
}

// startNATDaemon starts the NAT lab l's servers (on lab.NATPort) and
// xlbd on both of the load balancer's interfaces with config; a failed
// test shows xlbd's log and reasons.
func startNATDaemon(t *testing.T, ctx context.Context, l *lab.Lab, config string) *lab.Daemon {
	t.Helper()
	if err := l.StartNATServers(ctx, bin.xlblab); err != nil {
		t.Fatal(err)
	}
	d, err := l.StartDaemonOn(ctx, l.LB, lab.DaemonOptions{XLBD: bin.xlbd, XLBCtl: bin.xlbctl, Config: config, Ready: 45 * time.Second}, "-i", "eth1")
	if err != nil {
		t.Fatal(err) // the error carries the log tail
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("xlbd log of lab %s (last 40 lines):\n%s", l.Name, d.Tail(40))
			if r, err := d.Ctl(context.Background(), "reasons"); err == nil {
				t.Logf("xlbctl reasons:\n%s", r.Stdout)
			}
		}
	})
	return d
}

// checkNATService fails unless xlbd serves just vip:80 over protocol as
// NAT with three active reals of the lab on lab.NATPort.
func checkNATService(t *testing.T, ctx context.Context, l *lab.Lab, d *lab.Daemon, vip netip.Addr, protocol string) {
	t.Helper()
	checkService(t, ctx, d, vip, protocol, "NAT")
	svcs, err := d.Services(ctx)
	if err != nil {
		t.Fatal(err)
	}
	svc, _ := lab.FindService(svcs, vip, 80)
	for _, r := range svc.Reals {
		if _, err := l.RealOf(r); err != nil {
			t.Error(err)
		}
		if r.Port != lab.NATPort {
			t.Errorf("real %s: port %d, want %d", r.Address, r.Port, lab.NATPort)
		}
	}
}

// checkNATCounters checks what the data plane counted for rep's round
// on vip:80: replies came back through the load balancer (out_packets of
// the service and of every real that answered, at least one per answered
// connection) and were translated there (reply_* reasons), and nothing
// arrived malformed.
func checkNATCounters(t *testing.T, ctx context.Context, l *lab.Lab, d *lab.Daemon, vip netip.Addr, rep lab.Report) {
	t.Helper()
	res, err := d.Ctl(ctx, "services", "--stats", "-o", "json")
	if err != nil || res.Code != 0 {
		t.Fatalf("xlbctl services --stats: %v (exit %d): %s", err, res.Code, res.Stderr)
	}
	var st api.Services
	if err := json.Unmarshal([]byte(res.Stdout), &st); err != nil {
		t.Fatalf("decode xlbctl services --stats: %v\n%s", err, res.Stdout)
	}
	svc, ok := lab.FindService(st.Services, vip, 80)
	if !ok {
		t.Fatalf("xlbctl services --stats lists no %s port 80:\n%s", vip, res.Stdout)
	}
	answered := uint64(rep.OK())
	t.Logf("service %s:80: %d packets in, %d out (%d bytes) for %d answered", vip, svc.Packets, svc.OutPackets, svc.OutBytes, answered)
	if svc.Packets < answered || svc.OutPackets < answered || svc.OutBytes == 0 {
		t.Errorf("service counted %d packets in, %d out (%d bytes), want at least %d each way",
			svc.Packets, svc.OutPackets, svc.OutBytes, answered)
	}
	counts := rep.Counts()
	for _, r := range svc.Reals {
		node, err := l.RealOf(r)
		if err != nil {
			t.Error(err)
			continue
		}
		if n := uint64(counts[node.Role]); r.OutPackets < n {
			t.Errorf("real %s answered %d times but its out counter says %d packets", r.Address, n, r.OutPackets)
		}
	}

	res, err = d.Ctl(ctx, "reasons", "-o", "json")
	if err != nil || res.Code != 0 {
		t.Fatalf("xlbctl reasons: %v (exit %d): %s", err, res.Code, res.Stderr)
	}
	var r api.Reasons
	if err := json.Unmarshal([]byte(res.Stdout), &r); err != nil {
		t.Fatalf("decode xlbctl reasons: %v\n%s", err, res.Stdout)
	}
	var replies uint64
	for name, v := range r.Reasons {
		if strings.HasPrefix(name, "reply_") {
			replies += v
		}
	}
	t.Logf("reasons: %v", r.Reasons)
	if replies < answered {
		t.Errorf("reply_* reasons sum to %d, want at least the %d answers", replies, answered)
	}
	if r.Reasons["drop_malformed"] != 0 {
		t.Errorf("reasons drop_malformed = %d, want 0", r.Reasons["drop_malformed"])
	}
}

// TestNAT serves the demo's weights with lb_kind NAT: the client
// connects to VIP:80, xlbd rewrites the destination to a real behind the
// load balancer on port 8080 and the reals' replies, which route back
// through the load balancer, to VIP:80 again. Every connection must be
// answered (so the replies were translated: the client's TCP would not
// take a segment from a real's address), spread 3:2:1, and each real must
// see the client's own address and port: NAT keeps the source.
func TestNAT(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	l, d := startNATLab(t, ctx, natConfig)
	checkNATService(t, ctx, l, d, lab.VIP, "tcp")
	rep := measureVIP(t, ctx, l, d, lab.VIP, lab.ClientAddr)
	checkNATCounters(t, ctx, l, d, lab.VIP, rep)
	// Full-sized segments both ways: the rewritten checksums must hold
	// for them too (the data plane updates them incrementally).
	checkLarge(t, l, lab.VIP, lab.ClientAddr)
}

// TestNATIPv6 is TestNAT for an IPv6 VIP and IPv6 reals.
func TestNATIPv6(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	l, d := startNATLab(t, ctx, nat6Config)
	checkNATService(t, ctx, l, d, lab.VIP6, "tcp")
	rep := measureVIP(t, ctx, l, d, lab.VIP6, lab.ClientAddr6)
	checkNATCounters(t, ctx, l, d, lab.VIP6, rep)
	checkLarge(t, l, lab.VIP6, lab.ClientAddr6)
}

// TestNATUDP serves a UDP echo service with lb_kind NAT: each datagram
// from a new client socket is a new flow, spread 3:2:1; the answer must
// come back from VIP:80 (the client's connected socket takes nothing
// else) and name the client's own address and port.
func TestNATUDP(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	l, d := startNATLab(t, ctx, natUDPConfig)
	checkNATService(t, ctx, l, d, lab.VIP, "udp")
	rep := measureWith(t, ctx, l, d, lab.VIP, lab.ClientAddr, func() (lab.Report, error) {
		return lab.UDPRound(l.Client, netip.AddrPortFrom(lab.VIP, 80), connections, 2*time.Second)
	})
	checkNATCounters(t, ctx, l, d, lab.VIP, rep)
}

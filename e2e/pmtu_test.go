package e2e

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"

	"xlb/controlplane/api"
	"xlb/e2e/lab"
	"xlb/internal/nsrun"
	"xlb/internal/testutil"
)

// pmtuPrefix starts the namespace names of this file's labs.
const pmtuPrefix = "xi-"

// pmtuPostSize is the body TestTunnelPTB posts: 256 KiB, about 180
// full-sized segments, every one of which must have fitted after the PTB.
const pmtuPostSize = 256 << 10

// readReasons returns xlbd's reasons (xlbctl reasons -o json).
func readReasons(t *testing.T, ctx context.Context, d *lab.Daemon) map[string]uint64 {
	t.Helper()
	res, err := d.Ctl(ctx, "reasons", "-o", "json")
	if err != nil {
		t.Fatalf("xlbctl reasons: %v (exit %d): %s", err, res.Code, res.Stderr)
	}
	var r api.Reasons
	if err := json.Unmarshal([]byte(res.Stdout), &r); err != nil {
		t.Fatalf("decode xlbctl reasons: %v\n%s", err, res.Stdout)
	}
	return r.Reasons
}

// TestTunnelPTB runs a TUN service whose load balancer and reals have an
// MTU of 1500, as the client has: the client's full-sized segments do not
// fit once encapsulated. xlbd answers the first such segment with ICMP
// fragmentation needed (IPv4, MTU 1480) or Packet Too Big (IPv6, IP6IP6:
// 1460); the client lowers its path MTU and a 256 KiB POST gets through.
// The client's route cache must hold the MTU it was told.
func TestTunnelPTB(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		config  string
		vip     netip.Addr
		from    netip.Addr
		wantMTU string
	}{
		{"ipv4", tunConfig, lab.VIP, lab.ClientAddr, "mtu 1480"},
		{"ipv6", tun6Config, lab.VIP6, lab.ClientAddr6, "mtu 1460"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			l, d := startLabOpts(t, ctx, lab.Options{Name: testutil.UniqueName(pmtuPrefix), Mode: lab.TUN, PathMTU: 1500}, tc.config)
			checkKind(t, ctx, d, tc.vip, "TUN")
			name, peer, err := lab.Post(l.Client, netip.AddrPortFrom(tc.vip, 80), pmtuPostSize, 30*time.Second)
			if err != nil {
				t.Fatalf("POST 256 KiB to %s: %v; reasons %v", tc.vip, err, readReasons(t, ctx, d))
			}
			if peer.Addr().Unmap() != tc.from {
				t.Errorf("%s saw the POST from %s, want %s", name, peer, tc.from)
			}
			r := readReasons(t, ctx, d)
			t.Logf("reasons: %v", r)
			if r["tun_ptb_sent"] == 0 {
				t.Errorf("reasons tun_ptb_sent = 0, want at least one PTB")
			}
			if r["drop_tun_too_big"] != 0 {
				t.Errorf("reasons drop_tun_too_big = %d, want 0", r["drop_tun_too_big"])
			}
			out, err := exec.CommandContext(ctx, "ip", "-n", l.Client.NS, "route", "get", tc.vip.String()).CombinedOutput()
			if err != nil {
				t.Fatalf("ip route get %s: %v: %s", tc.vip, err, out)
			}
			if !strings.Contains(string(out), tc.wantMTU) {
				t.Errorf("client's route to %s = %q, want it to hold %q (the PTB's)", tc.vip, out, tc.wantMTU)
			}
		})
	}
}

// icmpSeen counts, per real, ICMP fragmentation-needed messages whose
// quote names the flow VIP:80 -> client:port.
type icmpSeen struct {
	mu  sync.Mutex
	got map[string]int
}

// TestICMPToReal serves the demo's VIP (DR, and TUN with the reals'
// decapsulators) and makes one connection, then sends, from the client's
// namespace with a raw socket, an ICMP fragmentation needed to the VIP
// that quotes that connection's reply (VIP:80 -> client:port), as a
// router on the way back would. xlbd must send it to the real that served
// the connection, and to no other: each real listens with a raw ICMP
// socket (in TUN mode behind its decapsulator).
func TestICMPToReal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		mode   lab.Mode
		config string
	}{
		{"dr", lab.DR, demoConfig},
		{"tun", lab.TUN, tunConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			l, d := startLabOpts(t, ctx, lab.Options{Name: testutil.UniqueName(pmtuPrefix), Mode: tc.mode}, tc.config)
			checkICMPToReal(t, ctx, l, d)
		})
	}
}

// checkICMPToReal is TestICMPToReal's body for one lab.
func checkICMPToReal(t *testing.T, ctx context.Context, l *lab.Lab, d *lab.Daemon) {
	t.Helper()
	// One raw socket per real, opened in its namespace before anything
	// is sent.
	conns := make(map[string]*icmp.PacketConn)
	for _, r := range l.Reals {
		err := nsrun.DoNamed(r.NS, func() error {
			c, err := icmp.ListenPacket("ip4:icmp", "0.0.0.0")
			conns[r.Role] = c
			return err
		})
		if err != nil {
			t.Fatalf("listen for icmp in %s: %v", r.Role, err)
		}
		t.Cleanup(func() { conns[r.Role].Close() })
	}

	name, peer, err := lab.Post(l.Client, netip.AddrPortFrom(lab.VIP, 80), 0, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("connection from %s served by %s", peer, name)

	seen := &icmpSeen{got: make(map[string]int)}
	var wg sync.WaitGroup
	deadline := time.Now().Add(3 * time.Second)
	for role, c := range conns {
		wg.Go(func() {
			seen.read(role, c, peer.Port(), deadline)
		})
	}
	msg := fragNeeded(t, lab.VIP, peer.Addr().Unmap(), peer.Port(), 1400)
	err = nsrun.DoNamed(l.Client.NS, func() error {
		c, err := icmp.ListenPacket("ip4:icmp", "0.0.0.0")
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.WriteTo(msg, &net.IPAddr{IP: lab.VIP.AsSlice()})
		return err
	})
	if err != nil {
		t.Fatalf("send icmp from the client: %v", err)
	}
	wg.Wait()

	want := map[string]int{name: 1}
	if len(seen.got) != 1 || seen.got[name] != 1 {
		t.Errorf("fragmentation needed reached %v, want %v", seen.got, want)
	}
	if r := readReasons(t, ctx, d); r["icmp_to_real"] != 1 {
		t.Errorf("reasons icmp_to_real = %d, want 1; reasons %v", r["icmp_to_real"], r)
	}
}

// read counts on c, until deadline, the fragmentation-needed messages
// that quote a packet from port 80 to port.
func (s *icmpSeen) read(role string, c *icmp.PacketConn, port uint16, deadline time.Time) {
	if err := c.SetReadDeadline(deadline); err != nil {
		return
	}
	buf := make([]byte, 1500)
	for {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			return // the deadline
		}
		m, err := icmp.ParseMessage(1, buf[:n])
		if err != nil || m.Type != ipv4.ICMPTypeDestinationUnreachable || m.Code != 4 {
			continue
		}
		du, ok := m.Body.(*icmp.DstUnreach)
		if !ok || len(du.Data) < 24 {
			continue
		}
		hl := int(du.Data[0]&0x0f) * 4
		if len(du.Data) < hl+4 || binary.BigEndian.Uint16(du.Data[hl:]) != 80 || binary.BigEndian.Uint16(du.Data[hl+2:]) != port {
			continue
		}
		s.mu.Lock()
		s.got[role]++
		s.mu.Unlock()
	}
}

// fragNeeded returns an ICMP fragmentation needed (RFC 1191) with
// next-hop MTU mtu that quotes a reply from vip:80 to client:port: an
// IPv4 header and a TCP header.
func fragNeeded(t *testing.T, vip, client netip.Addr, port uint16, mtu uint16) []byte {
	t.Helper()
	iph := &ipv4.Header{Version: 4, Len: ipv4.HeaderLen, TotalLen: ipv4.HeaderLen + 20, TTL: 63, Protocol: 6,
		Flags: ipv4.DontFragment, Src: vip.AsSlice(), Dst: client.AsSlice()}
	quote, err := iph.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// x/net writes TotalLen in host order on some platforms (its
	// Marshal follows the raw socket's convention): put it on the wire's.
	binary.BigEndian.PutUint16(quote[2:], ipv4.HeaderLen+20)
	binary.BigEndian.PutUint16(quote[10:], 0)
	binary.BigEndian.PutUint16(quote[10:], ^testutil.OnesSum(quote))
	tcp := make([]byte, 20)
	binary.BigEndian.PutUint16(tcp[0:], 80)
	binary.BigEndian.PutUint16(tcp[2:], port)
	tcp[12], tcp[13] = 0x50, 0x18
	quote = append(quote, tcp...)
	b, err := (&icmp.Message{Type: ipv4.ICMPTypeDestinationUnreachable, Code: 4, Body: &icmp.DstUnreach{Data: quote}}).Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	binary.BigEndian.PutUint16(b[6:], mtu)
	binary.BigEndian.PutUint16(b[2:], 0)
	binary.BigEndian.PutUint16(b[2:], ^testutil.OnesSum(b))
	return b
}

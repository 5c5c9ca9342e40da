package packet

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"xlb/internal/testutil"
)

// update makes TestCapture run keepalived and rewrite the goldens:
//
//	go test ./vrrp/packet -run TestCapture -update
//
// Review the diff before committing: the goldens are what TestGolden trusts.
var update = flag.Bool("update", false, "capture advertisements from keepalived into "+goldenDir)

// keepalived is Debian's 2.2.7, which the goldens come from.
const keepalived = "/usr/sbin/keepalived"

// captureCase is one keepalived configuration to capture an advertisement
// from, and the advertisement that configuration should produce.
type captureCase struct {
	name    string
	comment string
	v6      bool // the master sends from fe80::1, not 198.18.0.1
	// instance is the body of the vrrp_instance block, past state and
	// interface.
	instance string
	opts     goldenOpts
	want     Advertisement
}

var captureCases = []captureCase{{
	name:    "v2-ipv4-noauth",
	comment: "VRRPv2 (keepalived's default) over IPv4 multicast, no authentication, two VIPs",
	instance: `version 2
	virtual_router_id 51
	priority 200
	advert_int 1
	virtual_ipaddress {
		198.18.1.10/32
		198.18.1.11/32
	}`,
	want: Advertisement{Version: 2, VRID: 51, Priority: 200, Interval: time.Second,
		Addrs: []netip.Addr{netip.MustParseAddr("198.18.1.10"), netip.MustParseAddr("198.18.1.11")}},
}, {
	name:    "v2-ipv4-pass-short",
	comment: "VRRPv2 PASS authentication with a password under 8 bytes: zero padded",
	instance: `version 2
	virtual_router_id 7
	priority 100
	advert_int 2
	authentication {
		auth_type PASS
		auth_pass pw
	}
	virtual_ipaddress {
		198.18.1.20/32
	}`,
	want: Advertisement{Version: 2, VRID: 7, Priority: 100, Interval: 2 * time.Second,
		Addrs:    []netip.Addr{netip.MustParseAddr("198.18.1.20")},
		AuthType: AuthTypePass, AuthData: AuthPass("pw")},
}, {
	name:    "v2-ipv4-pass-long",
	comment: "VRRPv2 PASS authentication with an 11-byte password: keepalived keeps the first 8",
	instance: `version 2
	virtual_router_id 8
	priority 150
	advert_int 1
	authentication {
		auth_type PASS
		auth_pass secret12345
	}
	virtual_ipaddress {
		198.18.1.21/32
	}`,
	want: Advertisement{Version: 2, VRID: 8, Priority: 150, Interval: time.Second,
		Addrs:    []netip.Addr{netip.MustParseAddr("198.18.1.21")},
		AuthType: AuthTypePass, AuthData: [8]byte([]byte("secret12"))},
}, {
	name:    "v3-ipv4",
	comment: "VRRPv3 over IPv4 multicast: the checksum covers the pseudo-header",
	instance: `version 3
	virtual_router_id 52
	priority 120
	advert_int 1
	virtual_ipaddress {
		198.18.1.30/32
	}`,
	want: Advertisement{Version: 3, VRID: 52, Priority: 120, Interval: time.Second,
		Addrs: []netip.Addr{netip.MustParseAddr("198.18.1.30")}},
}, {
	name:    "v3-ipv4-centiseconds",
	comment: "VRRPv3 with advert_int 0.1: 10 centiseconds on the wire, three VIPs",
	instance: `version 3
	virtual_router_id 53
	priority 254
	advert_int 0.1
	virtual_ipaddress {
		198.18.1.40/32
		198.18.1.41/32
		198.18.1.42/32
	}`,
	want: Advertisement{Version: 3, VRID: 53, Priority: 254, Interval: 100 * time.Millisecond,
		Addrs: []netip.Addr{netip.MustParseAddr("198.18.1.40"), netip.MustParseAddr("198.18.1.41"),
			netip.MustParseAddr("198.18.1.42")}},
}, {
	name:    "v3-ipv4-unicast",
	comment: "VRRPv3 to a unicast peer: the pseudo-header names the peer",
	instance: `version 3
	virtual_router_id 54
	priority 110
	advert_int 1
	unicast_src_ip 198.18.0.1
	unicast_peer {
		198.18.0.2
	}
	virtual_ipaddress {
		198.18.1.50/32
	}`,
	want: Advertisement{Version: 3, VRID: 54, Priority: 110, Interval: time.Second,
		Addrs: []netip.Addr{netip.MustParseAddr("198.18.1.50")}},
}, {
	name:    "v3-ipv4-unicast-old-checksum",
	comment: "VRRPv3 to a unicast peer with old_unicast_checksum: the pseudo-header names 224.0.0.18",
	instance: `version 3
	virtual_router_id 55
	priority 110
	advert_int 1
	unicast_src_ip 198.18.0.1
	unicast_peer {
		198.18.0.2
	}
	old_unicast_checksum
	virtual_ipaddress {
		198.18.1.51/32
	}`,
	opts: goldenOpts{OldUnicastChecksum: true},
	want: Advertisement{Version: 3, VRID: 55, Priority: 110, Interval: time.Second,
		Addrs: []netip.Addr{netip.MustParseAddr("198.18.1.51")}},
}, {
	name:    "v3-ipv6",
	comment: "VRRPv3 over IPv6 from the link-local address to ff02::12, two VIPs",
	v6:      true,
	instance: `version 3
	virtual_router_id 56
	priority 130
	advert_int 1
	virtual_ipaddress {
		2001:db8:1::10/128
		2001:db8:1::11/128
	}`,
	want: Advertisement{Version: 3, VRID: 56, Priority: 130, Interval: time.Second,
		Addrs: []netip.Addr{netip.MustParseAddr("2001:db8:1::10"), netip.MustParseAddr("2001:db8:1::11")}},
}}

// TestCapture runs keepalived as master for each case in a namespace,
// captures its first advertisement with tcpdump in a peer namespace and
// writes it to goldenDir. It does nothing without -update.
func TestCapture(t *testing.T) {
	if !*update {
		t.Skip("regenerates goldens; run with -update")
	}
	testutil.RequireRoot(t)
	for _, c := range captureCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			g := capture(t, c)
			raw, err := json.MarshalIndent(g, "", "\t")
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(goldenDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(goldenDir, c.name+".json"), append(raw, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func capture(t *testing.T, c captureCase) golden {
	master, peer := testutil.NetNS(t), testutil.NetNS(t)
	testutil.Veth(t, master, "eth0", peer, "eth0")
	if c.v6 {
		// A fixed link-local source in place of the MAC-derived one keeps
		// the golden the same from run to run; nodad makes it usable at once.
		master.MustRun(t, "ip", "link", "set", "eth0", "down")
		master.MustRun(t, "ip", "link", "set", "eth0", "addrgenmode", "none")
		master.MustRun(t, "ip", "link", "set", "eth0", "up")
		master.MustRun(t, "ip", "addr", "add", "fe80::1/64", "dev", "eth0", "nodad")
	} else {
		master.MustRun(t, "ip", "addr", "add", "198.18.0.1/24", "dev", "eth0")
		peer.MustRun(t, "ip", "addr", "add", "198.18.0.2/24", "dev", "eth0")
	}

	dir := t.TempDir()
	conf := fmt.Sprintf("global_defs {\n\trouter_id xlb-golden\n}\n\nvrrp_instance golden {\n\tstate MASTER\n\tinterface eth0\n\t%s\n}\n", c.instance)
	confPath := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}

	// tcpdump first, so keepalived's first advertisement is caught; it
	// stops after one packet or when the context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pcap := filepath.Join(dir, "vrrp.pcap")
	dumpErr := &signalWriter{match: []byte("listening on"), ch: make(chan struct{})}
	dump := exec.CommandContext(ctx, "ip", "netns", "exec", peer.Name, "tcpdump", "-i", "eth0", "-n",
		"-U", "-Z", "root", "-c", "1", "-w", pcap, "ip proto 112 or ip6 proto 112")
	dump.Stderr = dumpErr
	if err := dump.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-dumpErr.ch:
	case <-ctx.Done():
		t.Fatalf("tcpdump did not start: %s", dumpErr.String())
	}

	stop := startKeepalived(t, master, dir, confPath)
	err := dump.Wait()
	stop()
	if err != nil {
		t.Fatalf("tcpdump: %v: %s", err, dumpErr.String())
	}
	raw, err := os.ReadFile(pcap)
	if err != nil {
		t.Fatal(err)
	}
	ip, err := firstPacket(raw)
	if err != nil {
		t.Fatalf("%s: %v", pcap, err)
	}
	return golden{Comment: c.comment, Config: conf, Src: ip.src, Dst: ip.dst, TTL: ip.ttl,
		Opts: c.opts, Data: ip.payload, Want: toGolden(c.want)}
}

// startKeepalived runs keepalived in the foreground in ns and returns a
// function that stops it: SIGTERM, then SIGKILL to its process group (the
// VRRP child included) if it has not exited within 5 s.
func startKeepalived(t *testing.T, ns *testutil.NS, dir, conf string) (stop func()) {
	var out bytes.Buffer
	cmd := exec.Command("ip", "netns", "exec", ns.Name, keepalived, "-n", "-l", "-D", "-P", "-f", conf,
		"-p", filepath.Join(dir, "keepalived.pid"), "-r", filepath.Join(dir, "vrrp.pid"),
		"-c", filepath.Join(dir, "checkers.pid"), "-b", filepath.Join(dir, "bfd.pid"))
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
		// The group may still hold the VRRP child; it is gone already when
		// the parent exited cleanly, so the error is not interesting.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		if t.Failed() {
			t.Logf("keepalived output:\n%s", out.String())
		}
	}
	t.Cleanup(stop)
	return stop
}

// signalWriter collects a command's output and closes ch once match has
// been written. exec writes from its own goroutine, hence the lock.
type signalWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	match []byte
	ch    chan struct{}
	done  bool
}

func (s *signalWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.buf.Write(p)
	if !s.done && bytes.Contains(s.buf.Bytes(), s.match) {
		s.done = true
		close(s.ch)
	}
	return n, err
}

func (s *signalWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// capturedIP is the part of a captured IP packet a golden keeps.
type capturedIP struct {
	src, dst netip.Addr
	ttl      int
	payload  []byte
}

// firstPacket decodes the first Ethernet frame of a classic pcap file
// and returns its IP header fields and payload.
func firstPacket(raw []byte) (capturedIP, error) {
	const globalLen, recordLen, ethLen = 24, 16, 14
	if len(raw) < globalLen+recordLen {
		return capturedIP{}, errors.New("no packet in capture")
	}
	var bo binary.ByteOrder = binary.LittleEndian
	switch binary.LittleEndian.Uint32(raw) {
	case 0xa1b2c3d4, 0xa1b23c4d:
	default:
		bo = binary.BigEndian
	}
	if lt := bo.Uint32(raw[20:]); lt != 1 {
		return capturedIP{}, fmt.Errorf("link type %d, want 1 (Ethernet)", lt)
	}
	n := int(bo.Uint32(raw[globalLen+8:]))
	frame := raw[globalLen+recordLen:]
	if n > len(frame) || n < ethLen {
		return capturedIP{}, fmt.Errorf("record of %d bytes, file has %d", n, len(frame))
	}
	frame = frame[:n]
	ethType, p := binary.BigEndian.Uint16(frame[12:]), frame[ethLen:]
	switch {
	case ethType == 0x0800 && len(p) >= 20:
		ihl, total := int(p[0]&0x0f)*4, int(binary.BigEndian.Uint16(p[2:]))
		if p[9] != Protocol || total > len(p) || ihl > total {
			return capturedIP{}, fmt.Errorf("not a whole VRRP IPv4 packet: % x", p)
		}
		return capturedIP{src: netip.AddrFrom4([4]byte(p[12:16])), dst: netip.AddrFrom4([4]byte(p[16:20])),
			ttl: int(p[8]), payload: p[ihl:total]}, nil
	case ethType == 0x86dd && len(p) >= 40:
		plen := int(binary.BigEndian.Uint16(p[4:]))
		if p[6] != Protocol || 40+plen > len(p) {
			return capturedIP{}, fmt.Errorf("not a whole VRRP IPv6 packet: % x", p)
		}
		return capturedIP{src: netip.AddrFrom16([16]byte(p[8:24])), dst: netip.AddrFrom16([16]byte(p[24:40])),
			ttl: int(p[7]), payload: p[40 : 40+plen]}, nil
	}
	return capturedIP{}, fmt.Errorf("ethertype %#04x: %s", ethType, strings.TrimSpace(fmt.Sprintf("% x", frame)))
}

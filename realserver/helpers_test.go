package realserver

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"xlb/bpf/decap"
	"xlb/internal/testutil"
)

// Lab addresses: lb (the sender) and the real share a veth; clients and
// VIPs are elsewhere.
var (
	lb4   = netip.MustParseAddr("198.18.0.1")
	real4 = netip.MustParseAddr("198.18.0.2")
	vip4  = netip.MustParseAddr("198.18.0.100")
	cli4  = netip.MustParseAddr("198.18.1.1")
	lb6   = netip.MustParseAddr("2001:db8::1")
	real6 = netip.MustParseAddr("2001:db8::2")
	vip6  = netip.MustParseAddr("2001:db8:100::100")
	cli6  = netip.MustParseAddr("2001:db8:1::1")
)

// lab is two namespaces, lb and real, on a veth named eth0 at both ends,
// and Options for Up in real with a unique pin dir and state file.
type lab struct {
	lb, real *testutil.NS
	opts     Options
}

func newLab(t *testing.T) *lab {
	t.Helper()
	l := &lab{lb: testutil.NetNS(t), real: testutil.NetNS(t)}
	testutil.Veth(t, l.lb, "eth0", l.real, "eth0")
	for _, end := range []struct {
		ns     *testutil.NS
		v4, v6 netip.Addr
	}{{l.lb, lb4, lb6}, {l.real, real4, real6}} {
		end.ns.MustRun(t, "ip", "addr", "add", end.v4.String()+"/24", "dev", "eth0")
		end.ns.MustRun(t, "ip", "addr", "add", end.v6.String()+"/64", "dev", "eth0", "nodad")
	}
	// The real answers clients through lb, as through its default route.
	l.real.MustRun(t, "ip", "route", "add", "198.18.1.0/24", "via", lb4.String())
	l.real.MustRun(t, "ip", "-6", "route", "add", "2001:db8:1::/64", "via", lb6.String())

	pinDir := filepath.Join("/sys/fs/bpf", testutil.UniqueName("xlbtest-rs-"))
	t.Cleanup(func() { os.RemoveAll(pinDir) })
	l.opts = Options{
		VIPs:      []netip.Addr{vip4, vip6},
		Iface:     "eth0",
		Tunnel:    true,
		PinDir:    pinDir,
		StateFile: filepath.Join(t.TempDir(), "realserver.json"),
		Logger:    slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	return l
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// sysctls reads the sysctls Up may touch, in the calling thread's netns.
func sysctls(t *testing.T) map[string]string {
	t.Helper()
	out := make(map[string]string)
	for _, p := range []string{
		"net/ipv4/conf/all/arp_ignore", "net/ipv4/conf/lo/arp_ignore",
		"net/ipv4/conf/all/arp_announce", "net/ipv4/conf/lo/arp_announce",
		"net/ipv4/conf/all/rp_filter", "net/ipv4/conf/eth0/rp_filter",
	} {
		v, err := readSysctl(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		out[p] = v
	}
	return out
}

// loAddrs lists lo's addresses in the calling thread's netns.
func loAddrs(t *testing.T) []netip.Addr {
	t.Helper()
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := linkAddrs(lo)
	if err != nil {
		t.Fatal(err)
	}
	return addrs
}

// xdpProgID returns the id of the XDP program on ifname (0: none), in the
// calling thread's netns.
func xdpProgID(t *testing.T, ifname string) uint32 {
	t.Helper()
	l, err := netlink.LinkByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	if x := l.Attrs().Xdp; x != nil && x.Attached {
		return x.ProgId
	}
	return 0
}

// pinnedReasons reads the pinned reasons map under pinDir.
func pinnedReasons(t *testing.T, pinDir string) map[string]uint64 {
	t.Helper()
	r, err := readReasons(filepath.Join(pinDir, decap.DecapMapReasons))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// sendFrame writes frame, a whole Ethernet frame, out of ifname in ns.
func sendFrame(ns *testutil.NS, ifname string, frame []byte) error {
	return ns.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		// Protocol 0: this socket only sends, it receives nothing.
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
		if err != nil {
			return fmt.Errorf("packet socket: %w", err)
		}
		defer unix.Close(fd)
		etherType := binary.BigEndian.Uint16(frame[12:])
		sa := &unix.SockaddrLinklayer{Ifindex: ifi.Index, Protocol: htons(etherType)}
		if err := unix.Sendto(fd, frame, 0, sa); err != nil {
			return fmt.Errorf("send frame on %s: %w", ifname, err)
		}
		return nil
	})
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

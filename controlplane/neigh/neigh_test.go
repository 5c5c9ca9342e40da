package neigh

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"xlb/internal/testutil"
)

// waitLimit bounds every wait for the kernel. Resolution on a veth takes
// milliseconds; FAILED takes mcast_solicit × retrans_time (3 s).
const waitLimit = 15 * time.Second

const (
	lbMAC   = "02:00:5e:10:00:01"
	realMAC = "02:00:5e:10:00:02"
	lbMTU   = 1450
)

// lab is an "lb" namespace running a Table, linked by a veth to a "real"
// namespace:
//
//	lb eth0 198.18.0.1/24 2001:db8::1/64 <-> real eth0 198.18.0.2/24 2001:db8::2/64
//
// plus 198.19.0.0/24 routed in lb via the gateway 198.18.0.254; lb's eth0
// has MTU lbMTU.
type lab struct {
	lb, real *testutil.NS
	table    *Table
}

func newLab(t testing.TB) *lab {
	t.Helper()
	l := &lab{lb: testutil.NetNS(t), real: testutil.NetNS(t)}
	testutil.Veth(t, l.lb, "eth0", l.real, "eth0")
	for _, c := range []struct {
		ns       *testutil.NS
		mac      string
		v4, v6   string
		moreArgs [][]string
	}{
		{l.lb, lbMAC, "198.18.0.1/24", "2001:db8::1/64", [][]string{
			{"ip", "route", "add", "198.19.0.0/24", "via", "198.18.0.254"},
			// Not the default, so that Hop.MTU is seen to be read.
			{"ip", "link", "set", "eth0", "mtu", strconv.Itoa(lbMTU)},
		}},
		{l.real, realMAC, "198.18.0.2/24", "2001:db8::2/64", nil},
	} {
		c.ns.MustRun(t, "ip", "link", "set", "eth0", "address", c.mac)
		c.ns.MustRun(t, "ip", "addr", "add", c.v4, "dev", "eth0")
		c.ns.MustRun(t, "ip", "addr", "add", c.v6, "dev", "eth0", "nodad")
		for _, args := range c.moreArgs {
			c.ns.MustRun(t, args[0], args[1:]...)
		}
	}
	l.table = New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	return l
}

// run starts the Table's Run inside lb, waits for the subscription (the
// first Changed) and stops it when the test ends, failing if Run errs.
func (l *lab) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- l.lb.Do(func() error { return l.table.Run(ctx) }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-l.table.Changed():
	case err := <-errc:
		t.Fatalf("Run ended before subscribing: %v", err)
	case <-time.After(waitLimit):
		t.Fatal("Run did not signal its subscription")
	}
}

func (l *lab) lookup(t *testing.T, addr netip.Addr) (Hop, error) {
	t.Helper()
	var hop Hop
	var lerr error
	if err := l.lb.Do(func() error {
		hop, lerr = l.table.Lookup(addr)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return hop, lerr
}

// waitHop looks addr up after every Changed until the hop satisfies ok, and
// returns it; it fails the test after waitLimit.
func (l *lab) waitHop(t *testing.T, addr netip.Addr, ok func(Hop) bool) Hop {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		hop, err := l.lookup(t, addr)
		if err == nil && ok(hop) {
			return hop
		}
		if err != nil && !errors.Is(err, ErrUnresolved) {
			t.Fatalf("Lookup(%s): %v", addr, err)
		}
		select {
		case <-l.table.Changed():
		case <-deadline:
			t.Fatalf("Lookup(%s) after %v: %+v, %v", addr, waitLimit, hop, err)
		}
	}
}

// kernelNeigh returns `ip neigh get` for addr in lb ("" when absent).
func (l *lab) kernelNeigh(addr netip.Addr) string {
	out, err := l.lb.Run("ip", "-d", "neigh", "get", addr.String(), "dev", "eth0")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}

// equateAddrs lets go-cmp compare netip.Addr, whose fields are unexported.
var equateAddrs = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

func mac(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

func TestLookupResolves(t *testing.T) {
	l := newLab(t)
	l.run(t)
	ifindex := func() int {
		var idx int
		if err := l.lb.Do(func() error {
			i, err := net.InterfaceByName("eth0")
			if i != nil {
				idx = i.Index
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return idx
	}()
	for _, tc := range []struct {
		addr  string
		src   string // the route's preferred source
		fresh bool   // no kernel entry yet: the first Lookup is ErrUnresolved
	}{
		{"198.18.0.2", "198.18.0.1", true},
		{"::ffff:198.18.0.2", "198.18.0.1", false}, // v4-mapped, as map keys hold it
		{"2001:db8::2", "2001:db8::1", true},
	} {
		want := Hop{Ifindex: ifindex, Ifname: "eth0", SrcMAC: mac(lbMAC), DstMAC: mac(realMAC), Src: netip.MustParseAddr(tc.src), MTU: lbMTU}
		t.Run(tc.addr, func(t *testing.T) {
			addr := netip.MustParseAddr(tc.addr)
			if tc.fresh {
				if _, err := l.lookup(t, addr); !errors.Is(err, ErrUnresolved) {
					t.Fatalf("first Lookup(%s) = %v, want ErrUnresolved", addr, err)
				}
				// The kernel's answer must come back as a Changed signal.
				select {
				case <-l.table.Changed():
				case <-time.After(waitLimit):
					t.Fatalf("no Changed within %v of resolving %s", waitLimit, addr)
				}
			}
			got := l.waitHop(t, addr, func(Hop) bool { return true })
			if diff := cmp.Diff(want, got, equateAddrs); diff != "" {
				t.Errorf("Lookup(%s) (-want +got):\n%s", addr, diff)
			}
			if n := l.kernelNeigh(addr.Unmap()); !strings.Contains(n, "managed") {
				t.Errorf("kernel entry %q is not managed", n)
			}
		})
	}
}

func TestLookupErrors(t *testing.T) {
	l := newLab(t)
	l.run(t)
	// An admin's static entry is used as it is and never made managed.
	l.lb.MustRun(t, "ip", "neigh", "add", "198.18.0.50", "dev", "eth0", "lladdr", "02:00:5e:10:00:50", "nud", "permanent")

	for _, tc := range []struct {
		name    string
		addr    string
		want    error  // nil: a hop
		wantMsg string // in the error
	}{
		{"gateway", "198.19.0.7", ErrNotConnected, "via gateway 198.18.0.254"},
		{"local", "198.18.0.1", ErrNotConnected, "local address"},
		{"no host", "198.18.0.99", ErrUnresolved, "198.18.0.99"},
		{"permanent", "198.18.0.50", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hop, err := l.lookup(t, netip.MustParseAddr(tc.addr))
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("Lookup(%s) = %v, want %v", tc.addr, err, tc.want)
			}
			if err != nil && !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("Lookup(%s) error %q does not mention %q", tc.addr, err, tc.wantMsg)
			}
			if tc.want == nil && hop.DstMAC.String() != "02:00:5e:10:00:50" {
				t.Errorf("Lookup(%s) DstMAC = %s, want the static 02:00:5e:10:00:50", tc.addr, hop.DstMAC)
			}
		})
	}
	if n := l.kernelNeigh(netip.MustParseAddr("198.18.0.50")); !strings.Contains(n, "PERMANENT") || strings.Contains(n, "managed") {
		t.Errorf("static entry became %q, want it PERMANENT and not managed", n)
	}

	// With no host the kernel gives up (FAILED); Lookup still answers at
	// once with ErrUnresolved, naming the state.
	noHost := netip.MustParseAddr("198.18.0.99")
	deadline := time.Now().Add(waitLimit)
	for !strings.Contains(l.kernelNeigh(noHost), "FAILED") {
		if time.Now().After(deadline) {
			t.Fatalf("entry for %s never FAILED: %q", noHost, l.kernelNeigh(noHost))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := l.lookup(t, noHost); !errors.Is(err, ErrUnresolved) || !strings.Contains(err.Error(), "failed") {
		t.Errorf("Lookup(%s) after FAILED = %v, want ErrUnresolved naming the failed state", noHost, err)
	}
}

func TestChangedOnLinkChange(t *testing.T) {
	l := newLab(t)
	l.run(t)
	addr := netip.MustParseAddr("198.18.0.2")
	l.waitHop(t, addr, func(Hop) bool { return true })

	// The real's MAC changes and it announces itself (a gratuitous ARP, as
	// keepalived or a moved VM sends); the kernel updates the existing
	// entry even with arp_accept=0, which only gates creating entries.
	const newReal = "02:00:5e:10:00:22"
	l.real.MustRun(t, "ip", "link", "set", "eth0", "address", newReal)
	l.real.MustRun(t, "arping", "-U", "-c", "1", "-I", "eth0", "198.18.0.2")
	hop := l.waitHop(t, addr, func(h Hop) bool { return h.DstMAC.String() == newReal })
	if hop.SrcMAC.String() != lbMAC {
		t.Errorf("SrcMAC = %s, want %s", hop.SrcMAC, lbMAC)
	}

	// The lb's own interface changes MAC: the hop follows.
	const newLB = "02:00:5e:10:00:11"
	l.lb.MustRun(t, "ip", "link", "set", "eth0", "address", newLB)
	hop = l.waitHop(t, addr, func(h Hop) bool { return h.SrcMAC.String() == newLB })
	if hop.DstMAC.String() != newReal {
		t.Errorf("DstMAC = %s, want %s", hop.DstMAC, newReal)
	}

	// Its MTU changes (TUN's Packet Too Big is decided by it): Changed
	// fires and the hop follows.
	const newMTU = 1300
	l.lb.MustRun(t, "ip", "link", "set", "eth0", "mtu", strconv.Itoa(newMTU))
	hop = l.waitHop(t, addr, func(h Hop) bool { return h.MTU == newMTU })
	if hop.SrcMAC.String() != newLB {
		t.Errorf("SrcMAC = %s, want %s", hop.SrcMAC, newLB)
	}
}

func TestForget(t *testing.T) {
	l := newLab(t)
	l.run(t)
	addr := netip.MustParseAddr("198.18.0.2")
	l.waitHop(t, addr, func(Hop) bool { return true })
	if err := l.lb.Do(func() error { return l.table.Forget(addr) }); err != nil {
		t.Fatalf("Forget: %v", err)
	}
	if n := l.kernelNeigh(addr); n != "" {
		t.Errorf("after Forget the kernel still has %q", n)
	}
}

func TestRunStops(t *testing.T) {
	l := newLab(t)
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- l.lb.Do(func() error { return l.table.Run(ctx) }) }()
	select {
	case <-l.table.Changed():
	case <-time.After(waitLimit):
		t.Fatal("Run did not subscribe")
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Run = %v, want nil on cancel", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Run did not return after cancel")
	}
	// The goroutine that ran Do may take a moment to be gone.
	deadline := time.Now().Add(waitLimit)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines left, %d before Run:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLookupRouted(t *testing.T) {
	l := newLab(t)
	l.run(t)
	// The real namespace also answers for the lab's gateway address.
	l.real.MustRun(t, "ip", "addr", "add", "198.18.0.254/24", "dev", "eth0")

	routedHop := func(addr netip.Addr) (Hop, error) {
		var hop Hop
		var lerr error
		if err := l.lb.Do(func() error {
			hop, lerr = l.table.LookupRouted(addr)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return hop, lerr
	}
	waitRouted := func(addr netip.Addr) Hop {
		deadline := time.After(waitLimit)
		for {
			hop, err := routedHop(addr)
			if err == nil {
				return hop
			}
			if !errors.Is(err, ErrUnresolved) {
				t.Fatalf("LookupRouted(%s): %v", addr, err)
			}
			select {
			case <-l.table.Changed():
			case <-deadline:
				t.Fatalf("LookupRouted(%s) unresolved after %v: %v", addr, waitLimit, err)
			}
		}
	}

	// Behind the gateway: the frame goes to the gateway's MAC.
	got := waitRouted(netip.MustParseAddr("198.19.0.7"))
	want := Hop{Ifindex: got.Ifindex, Ifname: "eth0", SrcMAC: mac(lbMAC), DstMAC: mac(realMAC),
		Src: netip.MustParseAddr("198.18.0.1"), Gateway: netip.MustParseAddr("198.18.0.254"), MTU: lbMTU}
	if diff := cmp.Diff(want, got, equateAddrs); diff != "" {
		t.Errorf("LookupRouted via gateway (-want +got):\n%s", diff)
	}

	// Directly connected: no gateway, same source.
	got = waitRouted(netip.MustParseAddr("198.18.0.2"))
	if got.Gateway.IsValid() || got.Src != netip.MustParseAddr("198.18.0.1") || got.DstMAC.String() != realMAC {
		t.Errorf("LookupRouted of a connected real = %+v, want no gateway, source 198.18.0.1, the real's MAC", got)
	}

	// Forgetting the routed real leaves the gateway's entry alone.
	if err := l.lb.Do(func() error { return l.table.Forget(netip.MustParseAddr("198.19.0.7")) }); err != nil {
		t.Fatal(err)
	}
	if n := l.kernelNeigh(netip.MustParseAddr("198.18.0.254")); n == "" {
		t.Error("Forget of a routed real removed its gateway's neighbour entry")
	}
}

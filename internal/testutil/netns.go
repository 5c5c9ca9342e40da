package testutil

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"xlb/internal/nsrun"
)

// NS is a named network namespace that exists for the length of one test.
type NS struct {
	Name   string         // name under /run/netns, unique per test run
	Path   string         // /run/netns/Name, for nsenter --net=
	Handle netns.NsHandle // open handle, for netlink.NewHandleAt and friends
}

// RequireRoot fails the test when it does not run as root.
func RequireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Fatal("this test needs root (network namespaces, BPF); CI runs it as root")
	}
}

// UniqueName returns prefix followed by the PID and a random suffix, so
// tests running side by side (or two runs of the suite) never collide.
func UniqueName(prefix string) string {
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return fmt.Sprintf("%s%d-%s", prefix, os.Getpid()%100000, hex.EncodeToString(b[:]))
}

// NetNS creates a new named network namespace with its loopback up and
// removes it when the test ends.
func NetNS(tb testing.TB) *NS {
	tb.Helper()
	RequireRoot(tb)
	name := UniqueName("xlbt-")

	// netns.NewNamed switches the calling thread into the new namespace,
	// so do it on a locked thread and switch straight back.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		tb.Fatalf("get current netns: %v", err)
	}
	defer orig.Close()
	h, err := netns.NewNamed(name)
	if err != nil {
		tb.Fatalf("create netns %s: %v", name, err)
	}
	if err := netns.Set(orig); err != nil {
		// The thread is in the wrong namespace; it must not be reused.
		panic(fmt.Sprintf("return to original netns: %v", err))
	}
	ns := &NS{Name: name, Path: "/run/netns/" + name, Handle: h}
	tb.Cleanup(func() {
		h.Close()
		if err := netns.DeleteNamed(name); err != nil {
			tb.Errorf("delete netns %s: %v", name, err)
		}
	})
	ns.MustRun(tb, "ip", "link", "set", "lo", "up")
	// No duplicate address detection: nothing else shares a test's links,
	// and a tentative address (link-local ones included) cannot be bound
	// for a second or more, which makes tests race the kernel.
	ns.MustRun(tb, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0")
	return ns
}

// Do runs fn on a locked OS thread that has entered the namespace. netlink,
// link.AttachXDP and sockets opened inside fn act in the namespace.
func (ns *NS) Do(fn func() error) error {
	return nsrun.Do(ns.Handle, fn)
}

// Run runs a command inside the namespace and returns its combined output.
func (ns *NS) Run(name string, args ...string) (string, error) {
	full := append([]string{"netns", "exec", ns.Name, name}, args...)
	out, err := exec.Command("ip", full...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("in netns %s: %s %s: %w: %s", ns.Name, name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// MustRun is Run that fails the test on error.
func (ns *NS) MustRun(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	out, err := ns.Run(name, args...)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// Veth links two namespaces with a veth pair named ifA in a and ifB in b,
// both up and with transmit checksum offload off (LAB-NOTES: frames that
// XDP forwards would otherwise keep partial checksums).
func Veth(tb testing.TB, a *NS, ifA string, b *NS, ifB string) {
	tb.Helper()
	out, err := exec.Command("ip", "-n", a.Name, "link", "add", ifA, "type", "veth",
		"peer", "name", ifB, "netns", b.Name).CombinedOutput()
	if err != nil {
		tb.Fatalf("add veth %s/%s - %s/%s: %v: %s", a.Name, ifA, b.Name, ifB, err, out)
	}
	for _, end := range []struct {
		ns     *NS
		ifname string
	}{{a, ifA}, {b, ifB}} {
		end.ns.MustRun(tb, "ip", "link", "set", end.ifname, "up")
		end.ns.MustRun(tb, "ethtool", "-K", end.ifname, "tx", "off")
	}
	for _, end := range []struct {
		ns     *NS
		ifname string
	}{{a, ifA}, {b, ifB}} {
		end.ns.WaitLinkLocal(tb, end.ifname)
	}
}

// WaitLinkLocal waits (up to 5 s) until ifname in ns has an IPv6
// link-local address that is no longer tentative. The kernel adds every
// IPv6 address tentative and clears the flag from a work queue, DAD or
// not; until then the address cannot be bound, which makes a test that
// opens an ICMPv6 or VRRP socket at once race the kernel.
func (ns *NS) WaitLinkLocal(tb testing.TB, ifname string) {
	tb.Helper()
	if off, err := ns.Run("sysctl", "-n", "net.ipv6.conf."+ifname+".disable_ipv6"); err == nil && strings.TrimSpace(off) == "1" {
		return // no IPv6 on the link: nothing to wait for
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		all := ns.MustRun(tb, "ip", "-6", "addr", "show", "dev", ifname, "scope", "link")
		tentative := ns.MustRun(tb, "ip", "-6", "addr", "show", "dev", ifname, "scope", "link", "tentative")
		if strings.Contains(all, "inet6") && !strings.Contains(tentative, "inet6") {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s in %s: no usable link-local address after 5s:\n%s", ifname, ns.Name, all)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// OpenNS opens the existing named network namespace name (one a lab made)
// for Do and Run; unlike NetNS it leaves the namespace in place at the
// end of the test, closing only its handle.
func OpenNS(tb testing.TB, name string) *NS {
	tb.Helper()
	h, err := netns.GetFromName(name)
	if err != nil {
		tb.Fatalf("open netns %s: %v", name, err)
	}
	tb.Cleanup(func() { h.Close() })
	return &NS{Name: name, Path: "/run/netns/" + name, Handle: h}
}

// AddAddrs adds each address ("198.18.0.1/24", "2001:db8::1/64") to ifname
// in ns, without duplicate address detection.
func (ns *NS) AddAddrs(tb testing.TB, ifname string, addrs ...string) {
	tb.Helper()
	for _, a := range addrs {
		ns.MustRun(tb, "ip", "addr", "add", a, "dev", ifname, "nodad")
	}
}

// LinkLocal waits as WaitLinkLocal does until ifname in ns has a usable
// IPv6 link-local address, and returns it.
func (ns *NS) LinkLocal(tb testing.TB, ifname string) netip.Addr {
	tb.Helper()
	ns.WaitLinkLocal(tb, ifname)
	var found netip.Addr
	if err := ns.Do(func() error {
		link, err := netlink.LinkByName(ifname)
		if err != nil {
			return err
		}
		list, err := netlink.AddrList(link, netlink.FAMILY_V6)
		if err != nil {
			return err
		}
		for _, a := range list {
			ip, _ := netip.AddrFromSlice(a.IP)
			if ip.IsLinkLocalUnicast() && a.Flags&unix.IFA_F_TENTATIVE == 0 {
				found = ip
			}
		}
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
	if !found.IsValid() {
		tb.Fatalf("%s in %s: no usable link-local address", ifname, ns.Name)
	}
	return found
}

package testutil

import (
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
)

func TestNetNSIsolatedAndRemoved(t *testing.T) {
	a := NetNS(t)
	b := NetNS(t)
	if a.Name == b.Name {
		t.Fatalf("two namespaces share the name %q", a.Name)
	}
	Veth(t, a, "eth0", b, "eth0")

	var names []string
	if err := a.Do(func() error {
		links, err := netlink.LinkList()
		for _, l := range links {
			names = append(names, l.Attrs().Name)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names, ","); got != "lo,eth0" {
		t.Errorf("links seen inside %s = %q, want lo,eth0", a.Name, got)
	}
	if out := a.MustRun(t, "ip", "-br", "link", "show", "eth0"); !strings.Contains(out, "UP") {
		t.Errorf("eth0 in %s not up: %s", a.Name, out)
	}
}

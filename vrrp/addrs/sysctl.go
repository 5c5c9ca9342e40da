package addrs

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// sysctl is one /proc/sys/net/ipv4/conf/IF/NAME setting, opened in the
// Host's namespace. The open file stays bound to that namespace, so the
// value can be restored from any thread.
type sysctl struct {
	f   *os.File
	old string // the value before set
}

// vmacSysctls are keepalived's settings for a VMAC (vrrp_if_config.c):
// it must not answer ARP for the parent's addresses (arp_ignore), must
// hear adverts from its own host's other instances (accept_local), must
// receive while it has no address (rp_filter), and keeps secondaries when
// the primary goes (promote_secondaries).
var vmacSysctls = []struct{ name, value string }{
	{"arp_ignore", "1"}, {"accept_local", "1"}, {"rp_filter", "0"}, {"promote_secondaries", "1"},
}

// parentSysctls are keepalived's settings for a VMAC's parent: it must not
// answer ARP for the VIPs on the VMAC with its own MAC. Close restores them.
var parentSysctls = []struct{ name, value string }{
	{"arp_ignore", "1"}, {"arp_filter", "1"},
}

// setSysctl sets ifname's IPv4 setting name to value in the calling
// thread's namespace and returns a handle to restore it.
func setSysctl(ifname, name, value string) (*sysctl, error) {
	path := "/proc/sys/net/ipv4/conf/" + ifname + "/" + name
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	b := make([]byte, 32)
	n, err := f.ReadAt(b, 0)
	if err != nil && n == 0 {
		f.Close()
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	s := &sysctl{f: f, old: strings.TrimSpace(string(b[:n]))}
	if err := s.write(value); err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

func (s *sysctl) write(v string) error {
	if _, err := s.f.WriteAt([]byte(v+"\n"), 0); err != nil {
		return fmt.Errorf("write %s: %w", s.f.Name(), err)
	}
	return nil
}

// restore writes back the old value and closes the file.
func (s *sysctl) restore() error {
	return errors.Join(s.write(s.old), s.f.Close())
}

// setVMACSysctls applies vmacSysctls to the VMAC and parentSysctls to its
// parent, keeping the parent's to restore.
func (h *Host) setVMACSysctls() error {
	for _, sc := range vmacSysctls {
		s, err := setSysctl(h.vmac.Attrs().Name, sc.name, sc.value)
		if err != nil {
			return err
		}
		s.f.Close() // the VMAC goes with its settings
	}
	for _, sc := range parentSysctls {
		s, err := setSysctl(h.opts.Interface, sc.name, sc.value)
		if err != nil {
			return err
		}
		h.parentSysctls = append(h.parentSysctls, s)
	}
	return nil
}

// restoreSysctls puts the parent's settings back.
func (h *Host) restoreSysctls() error {
	var errs []error
	for i := len(h.parentSysctls) - 1; i >= 0; i-- {
		errs = append(errs, h.parentSysctls[i].restore())
	}
	h.parentSysctls = nil
	return errors.Join(errs...)
}

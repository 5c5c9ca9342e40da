package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"xlb/realserver"
)

// TunReal is a real prepared for TUN mode: where its decapsulator is
// pinned and where `xlbctl realserver up` recorded what it changed.
type TunReal struct {
	Node
	PinDir string // under /sys/fs/bpf, unique per lab and real
	State  string // the state file, in the lab's directory
}

// realserverArgs are the xlbctl arguments of `realserver verb` for tr.
func (tr TunReal) realserverArgs(verb string) []string {
	return []string{"realserver", verb, "--pin-dir", tr.PinDir, "--state", tr.State}
}

// makeTunReal prepares r for xlb's TUN mode with `xlbctl realserver up
// --tunnel`, run with nsenter --net so that the decapsulator's pins land in
// the host's bpffs (`ip netns exec` would mount a private /sys, where
// they vanish). It records r before running, so Close undoes even a
// half-done up.
func (l *Lab) makeTunReal(ctx context.Context, r Node) error {
	tr := TunReal{
		Node:   r,
		PinDir: "/sys/fs/bpf/" + l.Name + "-" + r.Role + "-decap",
		State:  filepath.Join(l.Dir, r.Role+"-realserver.json"),
	}
	l.mu.Lock()
	l.tunReals = append(l.tunReals, tr)
	l.mu.Unlock()
	l.log.Info("prepare real for TUN", "role", r.Role, "vip", VIP, "vip6", VIP6, "pin_dir", tr.PinDir)
	args := append(tr.realserverArgs("up"), "--vip", VIP.String(), "--vip", VIP6.String(), "--tunnel", "-i", "eth0")
	return run(ctx, "nsenter", append([]string{"--net=" + r.Path(), "--", l.xlbctl}, args...)...)
}

// tunDown runs `xlbctl realserver down` in tr's namespace and removes
// its pin directory if down left it.
func (l *Lab) tunDown(tr TunReal) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*cmdTimeout)
	defer cancel()
	err := run(ctx, "nsenter", append([]string{"--net=" + tr.Path(), "--", l.xlbctl}, tr.realserverArgs("down")...)...)
	if _, serr := os.Stat(tr.PinDir); serr == nil {
		l.log.Warn("remove decapsulator pins down left", "role", tr.Role, "pin_dir", tr.PinDir)
		if rerr := os.RemoveAll(tr.PinDir); rerr != nil {
			err = errors.Join(err, fmt.Errorf("remove decapsulator pins of %s: %w", tr.Role, rerr))
		}
	}
	return err
}

// TunReals returns the reals prepared for TUN mode; none in DR mode.
func (l *Lab) TunReals() []TunReal {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]TunReal(nil), l.tunReals...)
}

// Decap returns what the decapsulator of the real named role counted
// since it was attached, by decapsulator reason ("decap_ipip", ...;
// non-zero counts only). The pins and the state file are the host's, so
// no namespace is entered.
func (l *Lab) Decap(role string) (map[string]uint64, error) {
	for _, tr := range l.TunReals() {
		if tr.Role != role {
			continue
		}
		s, err := realserver.Inspect(realserver.Options{PinDir: tr.PinDir, StateFile: tr.State})
		if err != nil {
			return nil, fmt.Errorf("decapsulator of %s: %w", role, err)
		}
		if s.Ifindex == 0 {
			return nil, fmt.Errorf("decapsulator of %s: not attached", role)
		}
		return s.Reasons, nil
	}
	return nil, fmt.Errorf("no TUN real %q in lab %s", role, l.Name)
}

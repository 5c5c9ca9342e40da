package realserver

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"xlb/bpf/decap"
)

// Status is what Up has done on this host, as the state file and the pins
// tell it.
type Status struct {
	Up          bool              // a state file exists
	VIPs        []netip.Addr      // VIPs served
	AddedVIPs   []netip.Addr      // of those, the ones Up put on lo
	Sysctls     map[string]string // sysctl path -> value to restore on Down
	TunnelIface string            // where the decapsulator was attached; "" without Tunnel
	Ifindex     uint32            // interface the pinned link is attached to; 0 if none
	Reasons     map[string]uint64 // decapsulator verdicts since attach, non-zero counts only
}

// Inspect reports the status recorded by Up in opts.StateFile and the
// decapsulator pinned under opts.PinDir.
func Inspect(opts Options) (Status, error) {
	opts = opts.withDefaults()
	st, err := loadState(opts.StateFile)
	if err != nil {
		return Status{}, err
	}
	s := Status{
		Up: st.found, VIPs: st.VIPs, AddedVIPs: st.AddedVIPs,
		Sysctls: st.Sysctls, TunnelIface: st.TunnelIface,
	}
	pinDir := opts.PinDir
	if st.PinDir != "" {
		pinDir = st.PinDir
	}
	l, err := link.LoadPinnedLink(filepath.Join(pinDir, linkPin), nil)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("load pinned link: %w", err)
	}
	defer l.Close()
	if info, err := l.Info(); err == nil && info.XDP() != nil {
		s.Ifindex = info.XDP().Ifindex
	}
	if s.Reasons, err = readReasons(filepath.Join(pinDir, decap.DecapMapReasons)); err != nil {
		return s, err
	}
	return s, nil
}

// readReasons sums the pinned per-CPU reasons map at path over CPUs.
func readReasons(path string) (map[string]uint64, error) {
	m, err := ebpf.LoadPinnedMap(path, nil)
	if err != nil {
		return nil, fmt.Errorf("load pinned reasons: %w", err)
	}
	defer m.Close()
	names, err := decap.ReasonNames()
	if err != nil {
		return nil, err
	}
	out := make(map[string]uint64)
	for i, name := range names {
		var perCPU []uint64
		if err := m.Lookup(uint32(i), &perCPU); err != nil {
			return nil, fmt.Errorf("read reason %s: %w", name, err)
		}
		var n uint64
		for _, v := range perCPU {
			n += v
		}
		if n > 0 {
			out[name] = n
		}
	}
	return out, nil
}

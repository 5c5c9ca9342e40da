package realserver

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
)

// Defaults for Options.
const (
	DefaultPinDir    = "/sys/fs/bpf/xlb-realserver"
	DefaultStateFile = "/run/xlb/realserver.json"
)

// ErrBadOptions marks an error in Options, as opposed to one of the host:
// xlbctl exits 2 for it.
var ErrBadOptions = errors.New("bad options")

// Options configure Up and Down. The zero values of PinDir, StateFile and
// Logger pick the defaults (no logs for Logger).
type Options struct {
	VIPs      []netip.Addr // VIPs to serve; Down removes these only without a state file
	Iface     string       // interface tunnels arrive on; needed with Tunnel
	Tunnel    bool         // attach the decapsulator (xlb's TUN mode)
	PinDir    string       // bpffs directory for the decapsulator's pins
	StateFile string       // where Up records what to undo
	Logger    *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.PinDir == "" {
		o.PinDir = DefaultPinDir
	}
	if o.StateFile == "" {
		o.StateFile = DefaultStateFile
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o
}

// check validates the options of Up.
func (o Options) check() error {
	if len(o.VIPs) == 0 {
		return fmt.Errorf("%w: no VIP", ErrBadOptions)
	}
	for _, v := range o.VIPs {
		if !v.IsValid() || v.IsUnspecified() || v.IsMulticast() || v.IsLoopback() || v.Zone() != "" {
			return fmt.Errorf("%w: VIP %s: want a unicast address", ErrBadOptions, v)
		}
	}
	if o.Tunnel && o.Iface == "" {
		return fmt.Errorf("%w: tunnel needs the interface tunnels arrive on", ErrBadOptions)
	}
	return nil
}

// Up prepares this host to serve opts.VIPs behind xlb: see the package
// documentation. It may be run again with more VIPs.
func Up(opts Options) error {
	opts = opts.withDefaults()
	if err := opts.check(); err != nil {
		return err
	}
	vips := unmap(opts.VIPs)
	st, err := loadState(opts.StateFile)
	if err != nil {
		return err
	}
	if opts.Tunnel && st.TunnelIface != "" && st.TunnelIface != opts.Iface {
		return fmt.Errorf("%w: decapsulator already attached to %s; run down first", ErrBadOptions, st.TunnelIface)
	}
	// Save after every step, so that Down can undo a half-done Up.
	save := func(err error) error {
		if serr := st.save(opts.StateFile); serr != nil {
			return errors.Join(err, serr)
		}
		return err
	}

	for _, v := range vips {
		if !slices.Contains(st.VIPs, v) {
			st.VIPs = append(st.VIPs, v)
		}
		added, err := addVIP(v)
		if err != nil {
			return save(err)
		}
		if added {
			st.AddedVIPs = append(st.AddedVIPs, v)
			opts.Logger.Info("vip added to lo", "vip", v)
		}
	}
	if err := waitUsable(vips, vipSettleTimeout); err != nil {
		return save(err)
	}

	if slices.ContainsFunc(st.VIPs, netip.Addr.Is4) {
		// lvs_real.sh's four settings: answer ARP only for addresses on
		// the interface asked (arp_ignore 1), and never announce a lo
		// address as an ARP source (arp_announce 2).
		for _, s := range []struct{ path, value string }{
			{"net/ipv4/conf/all/arp_ignore", "1"},
			{"net/ipv4/conf/lo/arp_ignore", "1"},
			{"net/ipv4/conf/all/arp_announce", "2"},
			{"net/ipv4/conf/lo/arp_announce", "2"},
		} {
			if err := st.setSysctl(s.path, s.value, opts.Logger); err != nil {
				return save(err)
			}
		}
		if opts.Tunnel {
			if err := st.looseRPFilter(opts.Iface, opts.Logger); err != nil {
				return save(err)
			}
		}
	}

	if opts.Tunnel {
		st.TunnelIface = opts.Iface
		st.PinDir = opts.PinDir
		if err := attachDecap(opts.PinDir, opts.Iface, st.VIPs, opts.Logger); err != nil {
			return save(err)
		}
	}
	return save(nil)
}

// Down undoes what Up recorded in the state file: it detaches and unpins
// the decapsulator, restores the sysctls and removes the VIPs Up added
// (not ones that were on lo before). Without a state file it removes
// opts.VIPs from lo and the decapsulator pinned under opts.PinDir, if any,
// and leaves the sysctls, whose old values it does not know.
func Down(opts Options) error {
	opts = opts.withDefaults()
	st, err := loadState(opts.StateFile)
	if err != nil {
		return err
	}
	var errs []error

	pinDirs := []string{opts.PinDir}
	if st.PinDir != "" && st.PinDir != opts.PinDir {
		pinDirs = append(pinDirs, st.PinDir)
	}
	for _, dir := range pinDirs {
		if err := detachDecap(dir, opts.Logger); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		st.TunnelIface, st.PinDir = "", ""
	}

	for _, path := range slices.Sorted(maps.Keys(st.Sysctls)) {
		if err := writeSysctl(path, st.Sysctls[path]); err != nil {
			errs = append(errs, fmt.Errorf("restore %s: %w", path, err))
			continue
		}
		opts.Logger.Info("sysctl restored", "sysctl", path, "value", st.Sysctls[path])
		delete(st.Sysctls, path)
	}

	remove := st.AddedVIPs
	if !st.found {
		// No record (never up, or the state file lost): do what the
		// operator names, as lvs_real.sh stop does.
		remove = unmap(opts.VIPs)
	}
	var kept []netip.Addr
	for _, v := range remove {
		removed, err := delVIP(v)
		if err != nil {
			errs = append(errs, err)
			kept = append(kept, v)
			continue
		}
		if removed {
			opts.Logger.Info("vip removed from lo", "vip", v)
		}
	}
	st.AddedVIPs = kept

	if len(errs) > 0 {
		// Keep the record of what is left to undo.
		if err := st.save(opts.StateFile); err != nil {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	}
	return removeState(opts.StateFile)
}

// unmap returns addrs with v4-mapped IPv6 addresses as IPv4, so that
// ::ffff:198.18.0.100 and 198.18.0.100 name the same VIP.
func unmap(addrs []netip.Addr) []netip.Addr {
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, a.Unmap())
	}
	return out
}

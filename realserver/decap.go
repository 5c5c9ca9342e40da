package realserver

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"xlb/bpf/decap"
	"xlb/internal/bpfutil"
)

// Pin names under PinDir: the XDP link, and each map by its C name.
const linkPin = "link"

var mapPins = []string{decap.DecapMapDecapDsts, decap.DecapMapVips, decap.DecapMapReasons}

// attachDecap makes sure the decapsulator is attached to iface and pinned
// under pinDir, and sets its maps: decap_dsts to iface's addresses, vips
// to vips. A link pinned by an earlier Up is kept (the maps are refreshed),
// unless its interface is gone, in which case it is replaced.
func attachDecap(pinDir, iface string, vips []netip.Addr, log *slog.Logger) error {
	l, err := netlink.LinkByName(iface)
	if err != nil {
		return fmt.Errorf("attach decap to %s: %w", iface, err)
	}
	dsts, err := linkAddrs(l)
	if err != nil {
		return fmt.Errorf("attach decap to %s: %w", iface, err)
	}
	if err := bpfutil.EnsurePinDir(pinDir, log); err != nil {
		return fmt.Errorf("attach decap to %s: %w", iface, err)
	}

	attached, err := pinnedAttached(pinDir, l.Attrs().Index)
	if err != nil {
		return fmt.Errorf("attach decap to %s: %w", iface, err)
	}
	if !attached {
		if err := attachNew(pinDir, iface, l.Attrs().Index, log); err != nil {
			return fmt.Errorf("attach decap to %s: %w", iface, err)
		}
	}
	for name, want := range map[string][]netip.Addr{decap.DecapMapDecapDsts: dsts, decap.DecapMapVips: vips} {
		if err := syncSet(filepath.Join(pinDir, name), want); err != nil {
			return fmt.Errorf("attach decap to %s: fill %s: %w", iface, name, err)
		}
	}
	log.Info("decap maps set", "iface", iface, "dsts", len(dsts), "vips", len(vips))
	return nil
}

// pinnedAttached says whether pinDir holds a link attached to ifindex. A
// link whose interface is gone (ifindex 0) is unpinned, to be replaced;
// one attached elsewhere is an error.
func pinnedAttached(pinDir string, ifindex int) (bool, error) {
	path := filepath.Join(pinDir, linkPin)
	l, err := link.LoadPinnedLink(path, nil)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("load pinned link: %w", err)
	}
	defer l.Close()
	info, err := l.Info()
	if err != nil {
		return false, fmt.Errorf("pinned link: %w", err)
	}
	xdp := info.XDP()
	switch {
	case xdp == nil:
		return false, fmt.Errorf("pinned link %s is not an XDP link", path)
	case xdp.Ifindex == uint32(ifindex):
		return true, nil
	case xdp.Ifindex == 0:
		if err := l.Unpin(); err != nil {
			return false, fmt.Errorf("unpin defunct link: %w", err)
		}
		return false, nil
	default:
		return false, fmt.Errorf("pinned link %s is attached to ifindex %d; run down first", path, xdp.Ifindex)
	}
}

// attachNew loads the program, pins its maps (replacing stale pins: no
// link means no program uses them), attaches it natively, or generically
// if the driver refuses, and pins the link.
func attachNew(pinDir, iface string, ifindex int, log *slog.Logger) error {
	var objs decap.DecapObjects
	if err := decap.LoadDecapObjects(&objs, nil); err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return fmt.Errorf("load decap: %+v", ve)
		}
		return fmt.Errorf("load decap: %w", err)
	}
	defer objs.Close()

	for name, m := range map[string]*ebpf.Map{
		decap.DecapMapDecapDsts: objs.DecapDsts,
		decap.DecapMapVips:      objs.Vips,
		decap.DecapMapReasons:   objs.Reasons,
	} {
		path := filepath.Join(pinDir, name)
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove stale pin: %w", err)
		}
		if err := m.Pin(path); err != nil {
			return fmt.Errorf("pin map %s: %w", name, err)
		}
	}

	l, err := link.AttachXDP(link.XDPOptions{Program: objs.DecapXdp, Interface: ifindex, Flags: link.XDPDriverMode})
	mode := "native"
	if err != nil {
		log.Warn("native xdp refused, using generic mode (slower)", "iface", iface, "err", err)
		l, err = link.AttachXDP(link.XDPOptions{Program: objs.DecapXdp, Interface: ifindex, Flags: link.XDPGenericMode})
		mode = "generic"
	}
	if err != nil {
		return fmt.Errorf("attach xdp: %w", err)
	}
	defer l.Close()
	if err := l.Pin(filepath.Join(pinDir, linkPin)); err != nil {
		return fmt.Errorf("pin link: %w", err) // closing l detaches it
	}
	log.Info("decap attached", "iface", iface, "mode", mode, "pin_dir", pinDir)
	return nil
}

// syncSet makes the pinned set map at path hold exactly want.
func syncSet(path string, want []netip.Addr) error {
	m, err := ebpf.LoadPinnedMap(path, nil)
	if err != nil {
		return err
	}
	defer m.Close()
	keep := make(map[decap.DecapDecapAddr]bool, len(want))
	for _, a := range want {
		keep[decap.DecapDecapAddr{Addr: a.As16()}] = true
	}
	var stale []decap.DecapDecapAddr
	var k decap.DecapDecapAddr
	var v uint32
	it := m.Iterate()
	for it.Next(&k, &v) {
		if !keep[k] {
			stale = append(stale, k)
		}
	}
	if err := it.Err(); err != nil {
		return err
	}
	for _, k := range stale {
		if err := m.Delete(k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return err
		}
	}
	for k := range keep {
		if err := m.Put(k, uint32(1)); err != nil {
			return fmt.Errorf("put %s: %w", netip.AddrFrom16(k.Addr).Unmap(), err)
		}
	}
	return nil
}

// detachDecap unpins the link (which detaches the program once no one
// else holds it) and the maps under pinDir, and removes pinDir if that
// leaves it empty. Missing pins are not an error.
func detachDecap(pinDir string, log *slog.Logger) error {
	path := filepath.Join(pinDir, linkPin)
	l, err := link.LoadPinnedLink(path, nil)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("detach decap: load pinned link: %w", err)
	default:
		uerr := l.Unpin()
		l.Close()
		if uerr != nil {
			return fmt.Errorf("detach decap: unpin link: %w", uerr)
		}
		log.Info("decap detached", "pin_dir", pinDir)
	}
	for _, name := range mapPins {
		if err := os.Remove(filepath.Join(pinDir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("detach decap: unpin %s: %w", name, err)
		}
	}
	if err := os.Remove(pinDir); err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, unix.ENOTEMPTY) {
		return fmt.Errorf("detach decap: remove %s: %w", pinDir, err)
	}
	return nil
}

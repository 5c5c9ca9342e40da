package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"xlb/internal/nsrun"
)

// Addresses every lab uses. Each lab has its own bridge, so two labs can
// use the same addresses side by side.
var (
	Subnet     = netip.MustParsePrefix("198.18.0.0/24")
	ClientAddr = netip.MustParseAddr("198.18.0.10")
	LBAddr     = netip.MustParseAddr("198.18.0.2")
	VIP        = netip.MustParseAddr("198.18.0.100")

	// The same segment's IPv6 addresses, from the documentation prefix
	// (RFC 3849), added with nodad: nothing else is on the segment.
	Subnet6     = netip.MustParsePrefix("2001:db8::/64")
	ClientAddr6 = netip.MustParseAddr("2001:db8::10")
	LBAddr6     = netip.MustParseAddr("2001:db8::2")
	VIP6        = netip.MustParseAddr("2001:db8::100")
)

// pathMTU is the MTU of the load balancer's and the reals' eth0 and of
// their bridge ports; the client keeps 1500. In TUN mode xlb's XDP program
// pushes a 20-byte (IPv4) or 40-byte (IPv6) outer header on the client's
// frames and sets DF, so a full-sized 1500-byte request from the client
// must fit 1540 bytes on the way from lb to the real. Raising the MTU of
// that path is what operators of IPIP do too; clamping the client's MSS
// instead would change what the client sends and test less. Replies go
// from the real straight to the client within the client's MSS, which it
// announced for its own 1500.
const pathMTU = 1600

// RealAddr returns the address of real server i, counted from 1:
// 198.18.0.11, 198.18.0.12, ...
func RealAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{198, 18, 0, byte(10 + i)})
}

// RealAddr6 returns the IPv6 address of real server i, counted from 1:
// 2001:db8::11, 2001:db8::12, ... (the same digits as RealAddr's, in hex).
func RealAddr6(i int) netip.Addr {
	a := Subnet6.Addr().As16()
	a[15] = byte(0x10 + i)
	return netip.AddrFrom16(a)
}

// Mode is how the reals are prepared to take the load balancer's traffic.
type Mode int

const (
	// DR is direct routing (LVS-DR): the VIPs on lo and the ARP sysctls,
	// set by the lab itself as lvs_real.sh does.
	DR Mode = iota
	// TUN is xlb's tunnel mode: `xlbctl realserver up --tunnel` in each
	// real puts the VIPs on lo and attaches the BPF decapsulator to eth0.
	TUN
	// NAT is LVS masquerading: the reals sit on a second bridge behind the
	// load balancer's eth1, which is their gateway (nat.go).
	NAT
)

func (m Mode) String() string {
	switch m {
	case DR:
		return "DR"
	case TUN:
		return "TUN"
	case NAT:
		return "NAT"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Node is one host of the lab: a network namespace whose eth0 is a port of
// the lab's bridge.
type Node struct {
	Role  string           // "client", "lb", "r1", ...; also its bridge port's name
	NS    string           // network namespace name, under /run/netns
	Addr  netip.Addr       // eth0's address, in Subnet
	Addr6 netip.Addr       // eth0's IPv6 address, in Subnet6
	MAC   net.HardwareAddr // eth0's MAC, derived from Addr so that dumps read easily
}

// Path returns the namespace's bind mount, for nsenter --net=.
func (n Node) Path() string { return "/run/netns/" + n.NS }

// Options configure New. The zero value builds a lab with three reals in a
// temporary directory and logs nothing.
type Options struct {
	// Name prefixes every namespace; empty picks "xlb-" and six random hex
	// digits. It must be unique among labs that exist at the same time.
	Name string
	// Reals is the number of real servers; 0 means 3.
	Reals int
	// Dir receives process logs and the daemon's socket. Empty makes a
	// temporary directory that Close removes.
	Dir string
	// Logger gets one line per step; nil discards.
	Logger *slog.Logger
	// Mode prepares the reals for DR (the zero value) or TUN.
	Mode Mode
	// XLBCtl is the xlbctl binary; TUN mode runs `xlbctl realserver` with it.
	XLBCtl string
	// NoVIP leaves the VIPs off the load balancer's eth0, for labs where
	// VRRP (xlbd or keepalived) moves them between load balancers.
	NoVIP bool
	// PathMTU is the MTU of the load balancer's and the reals' eth0; 0
	// means pathMTU (1600, room for a tunnel's outer header). 1500 makes
	// a TUN service answer full-sized client packets with a PTB.
	PathMTU int
}

// Lab is a running lab. Build it with New and always Close it.
type Lab struct {
	Name   string // namespace prefix
	Dir    string // logs and sockets
	Switch string // namespace holding the bridge br0
	Client Node
	LB     Node
	Reals  []Node
	Mode   Mode

	log    *slog.Logger
	xlbctl string
	ownDir bool

	mu         sync.Mutex
	namespaces []string // in creation order; the switch first
	procs      []*Proc
	servers    map[string]*Proc // each real's server, by role, while it runs
	pins       []string         // bpffs directories daemons were given
	tunReals   []TunReal
	daemon     *Daemon
	xdp        link.Link
	prog       *ebpf.Program
	closed     bool
}

// xdpPass is XDP_PASS from enum xdp_action in linux/bpf.h.
const xdpPass = 2

// cmdTimeout bounds every short setup command (ip, ethtool, sysctl).
const cmdTimeout = 10 * time.Second

// New builds a lab: the switch namespace with bridge br0, then the client,
// the load balancer and the reals, each with eth0 on the bridge, the VIP on
// the load balancer's eth0 and on every real's lo, and the ARP sysctls that
// direct routing needs on the reals. On error it removes whatever it made.
func New(ctx context.Context, opts Options) (_ *Lab, err error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("the lab needs root (network namespaces, BPF)")
	}
	if opts.Reals == 0 {
		opts.Reals = 3
	}
	if opts.Reals < 1 || opts.Reals > 80 {
		return nil, fmt.Errorf("reals: want 1..80, got %d", opts.Reals)
	}
	if opts.Name == "" {
		opts.Name = "xlb-" + randomHex(3)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	switch opts.Mode {
	case DR, NAT:
	case TUN:
		if opts.XLBCtl == "" {
			return nil, errors.New("TUN mode needs the xlbctl binary")
		}
		if opts.XLBCtl, err = filepath.Abs(opts.XLBCtl); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("mode: unknown %v", opts.Mode)
	}
	l := &Lab{Name: opts.Name, Dir: opts.Dir, Mode: opts.Mode, xlbctl: opts.XLBCtl, log: opts.Logger.With("lab", opts.Name)}
	if l.Dir == "" {
		if l.Dir, err = os.MkdirTemp("", opts.Name+"-"); err != nil {
			return nil, fmt.Errorf("make lab directory: %w", err)
		}
		l.ownDir = true
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, l.Close())
		}
	}()

	if err := ensureBPFFS(ctx); err != nil {
		return nil, err
	}
	l.Switch = l.Name + "-sw"
	l.log.Info("create switch", "netns", l.Switch, "bridge", "br0")
	if err := l.addNS(ctx, l.Switch); err != nil {
		return nil, err
	}
	if err := run(ctx, "ip", "-n", l.Switch, "link", "add", "br0", "type", "bridge"); err != nil {
		return nil, err
	}
	if err := run(ctx, "ip", "-n", l.Switch, "link", "set", "br0", "up"); err != nil {
		return nil, err
	}

	if l.Client, err = l.addNode(ctx, "client", ClientAddr, ClientAddr6, 0); err != nil {
		return nil, err
	}
	mtu := pathMTU
	if opts.PathMTU != 0 {
		mtu = opts.PathMTU
	}
	if l.LB, err = l.addNode(ctx, "lb", LBAddr, LBAddr6, mtu); err != nil {
		return nil, err
	}
	// The load balancer owns the VIPs on the segment: it answers ARP and
	// neighbour solicitations for them, so clients send VIP traffic to it
	// and XDP sees that traffic first. With NoVIP, VRRP places them.
	if !opts.NoVIP {
		if err := run(ctx, "ip", "-n", l.LB.NS, "addr", "add", VIP.String()+"/32", "dev", "eth0"); err != nil {
			return nil, err
		}
		if err := run(ctx, "ip", "-n", l.LB.NS, "addr", "add", VIP6.String()+"/128", "dev", "eth0", "nodad"); err != nil {
			return nil, err
		}
	}
	reals := opts.Reals
	if opts.Mode == NAT {
		if err := l.addNATSide(ctx, reals); err != nil {
			return nil, err
		}
		reals = 0
	}
	for i := 1; i <= reals; i++ {
		r, err := l.addNode(ctx, fmt.Sprintf("r%d", i), RealAddr(i), RealAddr6(i), mtu)
		if err != nil {
			return nil, err
		}
		l.Reals = append(l.Reals, r)
		if opts.Mode == TUN {
			err = l.makeTunReal(ctx, r)
		} else {
			err = l.makeDRReal(ctx, r)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := l.attachPassAll(); err != nil {
		return nil, err
	}
	if opts.Mode == NAT {
		if err := l.attachPassAllInside(); err != nil {
			return nil, err
		}
	}
	if err := l.waitSettled(ctx); err != nil {
		return nil, err
	}
	l.log.Info("lab ready", "nodes", 2+len(l.Reals), "mode", l.Mode, "dir", l.Dir)
	return l, nil
}

// addNode makes a namespace for role with eth0 as the peer of a bridge
// port named role, addressed with addr/24 and addr6/64; mtu, unless 0,
// is set on both ends of the veth.
func (l *Lab) addNode(ctx context.Context, role string, addr, addr6 netip.Addr, mtu int) (Node, error) {
	n := Node{Role: role, NS: l.Name + "-" + role, Addr: addr, Addr6: addr6, MAC: macFor(addr)}
	l.log.Info("create node", "role", role, "netns", n.NS, "addr", addr, "addr6", addr6, "mac", n.MAC.String())
	if err := l.addNS(ctx, n.NS); err != nil {
		return Node{}, err
	}
	pfx := netip.PrefixFrom(addr, Subnet.Bits()).String()
	pfx6 := netip.PrefixFrom(addr6, Subnet6.Bits()).String()
	steps := [][]string{
		{"ip", "-n", l.Switch, "link", "add", role, "type", "veth",
			"peer", "name", "eth0", "address", n.MAC.String(), "netns", n.NS},
	}
	if mtu > 0 {
		steps = append(steps,
			[]string{"ip", "-n", l.Switch, "link", "set", role, "mtu", strconv.Itoa(mtu)},
			[]string{"ip", "-n", n.NS, "link", "set", "eth0", "mtu", strconv.Itoa(mtu)})
	}
	steps = append(steps, [][]string{
		{"ip", "-n", l.Switch, "link", "set", role, "master", "br0", "up"},
		{"ip", "-n", n.NS, "addr", "add", pfx, "dev", "eth0"},
		// Nothing else on the segment holds these addresses, and DAD would
		// keep them tentative (unusable) for a second or more.
		{"ip", "-n", n.NS, "addr", "add", pfx6, "dev", "eth0", "nodad"},
		{"ip", "-n", n.NS, "link", "set", "eth0", "up"},
		// LAB-NOTES: a veth sender leaves checksums partial, and frames
		// that XDP forwards are never completed; real wires carry full ones.
		{"ip", "netns", "exec", n.NS, "ethtool", "-K", "eth0", "tx", "off"},
	}...)
	for _, s := range steps {
		if err := run(ctx, s[0], s[1:]...); err != nil {
			return Node{}, err
		}
	}
	return n, nil
}

// makeDRReal prepares a real for direct routing as LVS-DR needs (the seed
// course's lvs_real.sh): the VIPs on lo so the real accepts frames for
// them, arp_ignore=1 so it does not answer ARP for the VIP (the load
// balancer must), and arp_announce=2 so its own ARP requests carry eth0's
// address, never the VIP. IPv6 needs no sysctl: Linux answers a neighbour
// solicitation only for an address of the interface it arrived on, never
// for one on lo (TestLabIPv6 checks it).
func (l *Lab) makeDRReal(ctx context.Context, r Node) error {
	l.log.Info("prepare real for direct routing", "role", r.Role, "vip", VIP, "vip6", VIP6)
	if err := run(ctx, "ip", "-n", r.NS, "addr", "add", VIP.String()+"/32", "dev", "lo"); err != nil {
		return err
	}
	if err := run(ctx, "ip", "-n", r.NS, "addr", "add", VIP6.String()+"/128", "dev", "lo", "nodad"); err != nil {
		return err
	}
	return run(ctx, "ip", "netns", "exec", r.NS, "sysctl", "-q", "-w",
		"net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.lo.arp_ignore=1",
		"net.ipv4.conf.all.arp_announce=2", "net.ipv4.conf.lo.arp_announce=2")
}

// attachPassAll loads a program that passes every frame and attaches it to
// the load balancer's bridge port. LAB-NOTES: frames that xlb sends back
// out of the load balancer's veth with XDP_TX only leave the peer when the
// peer runs an XDP program.
func (l *Lab) attachPassAll() error {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         "xlblab_pass",
		Type:         ebpf.XDP,
		License:      "GPL",
		Instructions: passAll(),
	})
	if err != nil {
		return fmt.Errorf("load pass-all xdp program: %w", err)
	}
	var lk link.Link
	err = nsrun.DoNamed(l.Switch, func() error {
		ifc, err := net.InterfaceByName(l.LB.Role)
		if err != nil {
			return err
		}
		lk, err = link.AttachXDP(link.XDPOptions{Program: prog, Interface: ifc.Index})
		return err
	})
	if err != nil {
		prog.Close()
		return fmt.Errorf("attach pass-all xdp to %s in %s: %w", l.LB.Role, l.Switch, err)
	}
	l.mu.Lock()
	l.prog, l.xdp = prog, lk
	l.mu.Unlock()
	l.log.Info("attach pass-all xdp", "netns", l.Switch, "iface", l.LB.Role)
	return nil
}

// addNS creates a named network namespace with lo up and records it for
// Close.
func (l *Lab) addNS(ctx context.Context, name string) error {
	if err := run(ctx, "ip", "netns", "add", name); err != nil {
		return err
	}
	l.mu.Lock()
	l.namespaces = append(l.namespaces, name)
	l.mu.Unlock()
	return run(ctx, "ip", "-n", name, "link", "set", "lo", "up")
}

// Real returns the real whose IPv4 or IPv6 address is addr.
func (l *Lab) Real(addr netip.Addr) (Node, bool) {
	addr = addr.Unmap()
	for _, r := range l.Reals {
		if r.Addr == addr || r.Addr6 == addr {
			return r, true
		}
	}
	return Node{}, false
}

// Namespaces returns the names of the lab's namespaces that still exist
// (as far as the lab knows), the switch first.
func (l *Lab) Namespaces() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.namespaces...)
}

// Close tears the lab down: it stops every process the lab started (by
// PID: SIGTERM, SIGKILL after a bounded wait), detaches the pass-all
// program, deletes the nodes' namespaces and the switch's last, removes
// pins a daemon left and the lab's temporary directory. It is safe to call
// more than once and from a signal-cancelled context's cleanup.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	procs, namespaces, pins, tunReals := l.procs, l.namespaces, l.pins, l.tunReals
	xdp, prog := l.xdp, l.prog
	l.mu.Unlock()

	var errs []error
	// Stop in reverse start order, so the daemon goes before the servers.
	// A process that already ended is not Close's to report: whoever
	// waited for it (a readiness check, Daemon.Stop) has done so.
	for i := len(procs) - 1; i >= 0; i-- {
		p := procs[i]
		select {
		case <-p.Done():
			continue
		default:
		}
		if err := p.Stop(stopGrace); err != nil && !p.stopExpected(err) {
			errs = append(errs, err)
		}
	}
	// The decapsulators go while their namespaces still exist, so down
	// can detach them and restore what up changed; their pins go even if
	// down failed.
	for _, tr := range tunReals {
		if err := l.tunDown(tr); err != nil {
			errs = append(errs, err)
		}
	}
	if xdp != nil {
		if err := xdp.Close(); err != nil {
			errs = append(errs, fmt.Errorf("detach pass-all xdp: %w", err))
		}
	}
	if prog != nil {
		prog.Close()
	}
	// Namespaces go in reverse creation order: the switch, made first,
	// goes last, once no veth refers to its bridge.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := len(namespaces) - 1; i >= 0; i-- {
		if err := run(ctx, "ip", "netns", "del", namespaces[i]); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range pins {
		if _, err := os.Stat(p); err == nil {
			l.log.Warn("remove pins the daemon left", "bpffs", p)
			if err := os.RemoveAll(p); err != nil {
				errs = append(errs, fmt.Errorf("remove leftover pins: %w", err))
			}
		}
	}
	if l.ownDir {
		if err := os.RemoveAll(l.Dir); err != nil {
			errs = append(errs, fmt.Errorf("remove lab directory: %w", err))
		}
	}
	l.log.Info("lab torn down", "processes", len(procs), "namespaces", len(namespaces))
	return errors.Join(errs...)
}

// waitSettled returns once no namespace has a tentative global IPv6 address. The
// kernel marks every new IPv6 address tentative, nodad ones too, until a
// work queue gets to it; on a busy machine that can drop a test's first
// packets.
func (l *Lab) waitSettled(ctx context.Context) error {
	deadline := time.Now().Add(5 * time.Second)
	for _, ns := range l.Namespaces() {
		for {
			ctx, cancel := context.WithTimeout(ctx, cmdTimeout)
			out, err := exec.CommandContext(ctx, "ip", "-n", ns, "-6", "addr", "show", "scope", "global", "tentative").Output()
			cancel()
			if err != nil {
				return fmt.Errorf("list tentative addresses in %s: %w", ns, err)
			}
			if len(strings.TrimSpace(string(out))) == 0 {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("addresses in %s still tentative after 5s: %s", ns, out)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// ensureBPFFS mounts bpffs on /sys/fs/bpf when nothing is mounted there
// (LAB-NOTES: it is not always mounted), so daemons can pin under it.
func ensureBPFFS(ctx context.Context) error {
	if exec.CommandContext(ctx, "mountpoint", "-q", "/sys/fs/bpf").Run() == nil {
		return nil
	}
	return run(ctx, "mount", "-t", "bpf", "bpf", "/sys/fs/bpf")
}

// run runs a short command to completion, bounded by cmdTimeout, and folds
// its output into the error.
func run(ctx context.Context, name string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// macFor derives a locally administered unicast MAC from an IPv4 address:
// 198.18.0.11 gets 02:00:c6:12:00:0b.
func macFor(addr netip.Addr) net.HardwareAddr {
	a := addr.As4()
	return net.HardwareAddr{0x02, 0x00, a[0], a[1], a[2], a[3]}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}

package maps

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"xlb/bpf"
	"xlb/internal/bpfutil"
)

// Defaults, used when an Options field is zero. The timeouts are IPVS's
// (ipvsadm --set tcp tcpfin udp, and its syn_recv).
const (
	DefaultMaxServices   = 256
	DefaultMaxReals      = 4096
	DefaultConnTableSize = 1 << 20
	DefaultTCPTimeout    = 900 * time.Second
	DefaultTCPFinTimeout = 120 * time.Second
	DefaultUDPTimeout    = 300 * time.Second
	DefaultSYNTimeout    = 60 * time.Second
	// DefaultLocalityTableSize and DefaultLocalityExpiration size and age
	// the lblc/lblcr table (localities): IPVS lets one service's table
	// grow to 16384 entries before collecting idle ones early, and keeps
	// an entry 24 hours (the lblc_expiration and lblcr_expiration sysctls).
	DefaultLocalityTableSize  = 16384
	DefaultLocalityExpiration = 24 * time.Hour
)

// connTable6Divisor sizes the IPv6 connection table when
// Options.ConnTableSize6 is zero: ConnTableSize / connTable6Divisor. Most
// traffic is still IPv4, and an IPv6 entry costs 24 bytes more.
const connTable6Divisor = 4

// ipv6Size is the size of an IPv6 table that Options leaves zero while
// giving its IPv4 twin's, n: n / connTable6Divisor, at least 1.
func ipv6Size(n uint32) uint32 {
	return max(n/connTable6Divisor, 1)
}

// flowTableDefaults fills in the flow tables' sizes opts leaves zero: the
// connection table's, then the NAT and full-NAT tables' from it. An IPv6
// size follows its own table's IPv4 size when that is given (ipv6Size),
// else the connection table's IPv6 size.
func flowTableDefaults(opts *Options) {
	if opts.ConnTableSize == 0 {
		opts.ConnTableSize = DefaultConnTableSize
	}
	if opts.ConnTableSize6 == 0 {
		opts.ConnTableSize6 = ipv6Size(opts.ConnTableSize)
	}
	if opts.NATTableSize6 == 0 {
		opts.NATTableSize6 = opts.ConnTableSize6
		if opts.NATTableSize != 0 {
			opts.NATTableSize6 = ipv6Size(opts.NATTableSize)
		}
	}
	if opts.NATTableSize == 0 {
		opts.NATTableSize = opts.ConnTableSize
	}
	if opts.FNATTableSize6 == 0 {
		opts.FNATTableSize6 = max(opts.ConnTableSize6/fnatTableDivisor, 1)
		if opts.FNATTableSize != 0 {
			opts.FNATTableSize6 = ipv6Size(opts.FNATTableSize)
		}
	}
	if opts.FNATTableSize == 0 {
		opts.FNATTableSize = max(opts.ConnTableSize/fnatTableDivisor, 1)
	}
}

// fnatTableDivisor sizes the full-NAT tables when Options.FNATTableSize
// (6) is zero: the connection tables' sizes / fnatTableDivisor.
const fnatTableDivisor = 4

// maxConns bounds ConnTableSize: the table is preallocated (about 100 bytes
// an entry), so 2^27 entries already take 13 GiB.
const maxConns = 1 << 27

// maxIDs bounds MaxServices and MaxReals: array maps of that many entries
// are already far beyond what one node balances.
const maxIDs = 1 << 20

// Options configure Open. The zero value of each field but PinDir picks a
// default.
type Options struct {
	PinDir      string // bpffs directory, e.g. /sys/fs/bpf/xlb; created if missing
	MaxServices uint32 // highest service id; default DefaultMaxServices
	MaxReals    uint32 // highest real id; default DefaultMaxReals
	// ConnTableSize is how many IPv4 flows the connection table holds
	// (conns4: sets of ConnWays flows, preallocated, see bpf/conntab.h;
	// rounded up to whole sets); default
	// DefaultConnTableSize. IPv4 and IPv6 flows have tables of their own
	// (an IPv4 key is 16 bytes, an IPv6 one 40): ConnTableSize6 sizes the
	// IPv6 one (conns6), by default a quarter of ConnTableSize.
	ConnTableSize uint32
	// ConnTableSize6 is how many IPv6 flows the connection table holds;
	// zero means ConnTableSize / 4 (at least 1).
	ConnTableSize6 uint32
	// NATTableSize and NATTableSize6 are how many IPv4 and IPv6 NAT flows
	// the reverse tables (nat4, nat6: a reply's 5-tuple to its VIP) hold;
	// zero means ConnTableSize and ConnTableSize6, one reverse entry per
	// tracked flow, and NATTableSize6 zero with NATTableSize given a
	// quarter of it (at least 1). Preallocated like the connection tables: a node
	// without NAT services may set 1 to save the memory.
	NATTableSize, NATTableSize6 uint32
	// PersistTableSize and PersistTableSize6 are how many IPv4 and IPv6
	// persistence templates (persist4, persist6: one per client, or
	// client prefix, of each persistent service) the tables hold; zero
	// means DefaultPersistTableSize and a quarter of it. Preallocated LRU
	// hashes: 88 bytes an IPv4 entry, 104 an IPv6 one (TestPersistMemory),
	// 28 MiB at the defaults.
	PersistTableSize, PersistTableSize6 uint32
	// FNATTableSize and FNATTableSize6 are how many IPv4 and IPv6
	// full-NAT flows the data plane tracks: each flow takes one entry in
	// the forward table (fnat4, fnat6) and one in the reverse table
	// (fnat_rev4, fnat_rev6), preallocated (160 bytes an IPv4 flow, 224 an IPv6 one:
	// maps.TestFNATMemory), both sets of ConnWays flows. Zero means a quarter of ConnTableSize and
	// ConnTableSize6: full NAT is the rarer kind; FNATTableSize6 zero with
	// FNATTableSize given, a quarter of it (at least 1). A node without FNAT
	// services may set 1.
	FNATTableSize, FNATTableSize6 uint32
	// Idle timeouts of tracked flows by state, as IPVS's: TCPTimeout for
	// established TCP (ipvsadm --set tcp), TCPFinTimeout after a FIN or
	// RST (tcpfin), UDPTimeout (udp), SYNTimeout after a SYN only
	// (syn_recv). A flow idle longer is scheduled afresh. Expiry may come
	// up to a second early: the program refreshes last-seen at most once a
	// second. Set at load: changing one means reopening.
	TCPTimeout, TCPFinTimeout, UDPTimeout, SYNTimeout time.Duration
	// LocalityTableSize is how many (service, destination) entries the
	// lblc/lblcr table holds (an LRU shared by all services, preallocated:
	// 176 bytes an entry); default DefaultLocalityTableSize.
	LocalityTableSize uint32
	// LocalityExpiration is how long an lblc/lblcr entry may go unused
	// before the destination is scheduled afresh (IPVS's lblc_expiration,
	// lblcr_expiration); default DefaultLocalityExpiration.
	// LocalityShrink is how long an lblcr set of two or more reals must go
	// unchanged before it sheds its most loaded member; default
	// LocalityExpiration, as IPVS uses lblcr_expiration for both. Set at
	// load, like the timeouts.
	LocalityExpiration, LocalityShrink time.Duration
	Logger                             *slog.Logger
}

// Dataplane is the loaded XDP program and its pinned maps. Its methods are
// safe for concurrent use.
type Dataplane struct {
	opts Options
	log  *slog.Logger

	coll        *ebpf.Collection
	prog        *ebpf.Program
	services    *ebpf.Map // IPv6 VIPs
	services4   *ebpf.Map // IPv4 VIPs
	reals       *ebpf.Map
	tables      *ebpf.Map
	realStats   *ebpf.Map
	reasons     *ebpf.Map
	conns4      *ebpf.Map      // IPv4 flows
	conns6      *ebpf.Map      // IPv6 flows
	nat4        *ebpf.Map      // IPv4 NAT replies
	nat6        *ebpf.Map      // IPv6 NAT replies
	ifaces      *ebpf.Map      // interface roles by ifindex
	schedLists  *ebpf.Map      // lc/wlc/sed/nq reals by service id
	schedPos    *ebpf.Map      // rr/wrr per-CPU positions by service id
	realConns   *ebpf.Map      // active/inactive flows by real id
	persist4    *ebpf.Map      // IPv4 persistence templates
	persist6    *ebpf.Map      // IPv6 persistence templates
	port0       *ebpf.Variable // non-zero while a port-0 service exists
	marked      *ebpf.Variable // non-zero while an interface has ifaces flags
	vipHints    *ebpf.Map      // bitmap over the services' keys (fastpath.go)
	serviceIDs  *ebpf.Map      // services by id, with one key each (fastpath.go)
	localities  *ebpf.Map      // lblc/lblcr reals by service and destination
	fnat4       *ebpf.Map      // IPv4 full-NAT flows, client side
	fnat6       *ebpf.Map      // IPv6 full-NAT flows, client side
	fnatRev4    *ebpf.Map      // IPv4 full-NAT flows, real side
	fnatRev6    *ebpf.Map      // IPv6 full-NAT flows, real side
	fnatPools   *ebpf.Map      // full-NAT local addresses by service id
	innerSpec   *ebpf.MapSpec  // template for the Maglev tables, with BTF
	reasonNames []string       // enum reason value -> name, from BTF
	ncpu        int

	lock *os.File // PinDir, flocked while this Dataplane is open

	realMu       sync.Mutex   // orders read-modify-writes of reals entries (generations)
	svcMu        sync.Mutex   // orders writes of the services maps and the index below
	index        serviceIndex // what the services maps hold, for vip_hints, service_ids and port0_services
	ifaceMu      sync.Mutex   // orders read-modify-writes of ifaces entries (flags) and markedIfaces
	markedIfaces map[int]bool // ifindexes with flags in ifaces

	mu     sync.Mutex
	links  map[string]link.Link // by interface name
	closed bool
}

// Open loads the data plane and pins its maps under opts.PinDir, replacing
// pins a dead xlbd left behind. It fails if another live Dataplane holds
// the same PinDir.
func Open(opts Options) (*Dataplane, error) {
	if opts.PinDir == "" {
		return nil, errors.New("open data plane: pin dir: empty")
	}
	opts.PinDir = filepath.Clean(opts.PinDir)
	if opts.MaxServices == 0 {
		opts.MaxServices = DefaultMaxServices
	}
	if opts.MaxReals == 0 {
		opts.MaxReals = DefaultMaxReals
	}
	flowTableDefaults(&opts)
	if err := persistDefaults(&opts); err != nil {
		return nil, fmt.Errorf("open data plane: %w", err)
	}
	if opts.FNATTableSize > maxConns || opts.FNATTableSize6 > maxConns {
		return nil, fmt.Errorf("open data plane: fnat table size: want 1..%d, got %d and %d", maxConns, opts.FNATTableSize, opts.FNATTableSize6)
	}
	if opts.NATTableSize > maxConns || opts.NATTableSize6 > maxConns {
		return nil, fmt.Errorf("open data plane: nat table size: want 1..%d, got %d and %d", maxConns, opts.NATTableSize, opts.NATTableSize6)
	}
	if opts.LocalityTableSize == 0 {
		opts.LocalityTableSize = DefaultLocalityTableSize
	}
	if opts.LocalityTableSize > maxConns {
		return nil, fmt.Errorf("open data plane: locality table size: want 1..%d, got %d", maxConns, opts.LocalityTableSize)
	}
	if opts.LocalityExpiration == 0 {
		opts.LocalityExpiration = DefaultLocalityExpiration
	}
	if opts.LocalityShrink == 0 {
		opts.LocalityShrink = opts.LocalityExpiration
	}
	for _, t := range []struct {
		d   *time.Duration
		def time.Duration
	}{{&opts.TCPTimeout, DefaultTCPTimeout}, {&opts.TCPFinTimeout, DefaultTCPFinTimeout}, {&opts.UDPTimeout, DefaultUDPTimeout}, {&opts.SYNTimeout, DefaultSYNTimeout},
		{&opts.LocalityExpiration, DefaultLocalityExpiration}, {&opts.LocalityShrink, opts.LocalityExpiration}} {
		if *t.d == 0 {
			*t.d = t.def
		}
		if *t.d < 0 {
			return nil, fmt.Errorf("open data plane: timeout: want > 0, got %s", *t.d)
		}
	}
	if opts.ConnTableSize > maxConns {
		return nil, fmt.Errorf("open data plane: conn table size: want 1..%d, got %d", maxConns, opts.ConnTableSize)
	}
	if opts.ConnTableSize6 > maxConns {
		return nil, fmt.Errorf("open data plane: conn table size6: want 1..%d, got %d", maxConns, opts.ConnTableSize6)
	}
	if opts.MaxServices > maxIDs {
		return nil, fmt.Errorf("open data plane: max services: want 1..%d, got %d", maxIDs, opts.MaxServices)
	}
	if opts.MaxReals > maxIDs {
		return nil, fmt.Errorf("open data plane: max reals: want 1..%d, got %d", maxIDs, opts.MaxReals)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	if err := bpfutil.EnsurePinDir(opts.PinDir, log); err != nil {
		return nil, fmt.Errorf("open data plane: %w", err)
	}
	lock, err := lockDir(opts.PinDir)
	if err != nil {
		return nil, fmt.Errorf("open data plane: %w", err)
	}
	d, err := load(opts, log)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("open data plane: %w", err)
	}
	d.lock = lock
	if err := d.pin(); err != nil {
		d.Close()
		return nil, fmt.Errorf("open data plane: %w", err)
	}
	log.Info("data plane loaded", "pin_dir", opts.PinDir,
		"max_services", opts.MaxServices, "max_reals", opts.MaxReals, "conn_table_size", opts.ConnTableSize, "conn_table_size6", opts.ConnTableSize6)
	return d, nil
}

// lockDir takes an exclusive flock on dir. The kernel drops it when the
// holder dies, so a crashed xlbd never blocks its successor.
func lockDir(dir string) (*os.File, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("lock pin dir: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("pin dir %s is in use by another xlbd", dir)
		}
		return nil, fmt.Errorf("lock pin dir %s: %w", dir, err)
	}
	return f, nil
}

// load sizes the maps from opts and loads the collection, unpinned.
func load(opts Options, log *slog.Logger) (*Dataplane, error) {
	spec, err := bpf.LoadXlb()
	if err != nil {
		return nil, err
	}
	// Entry 0 of every id-indexed array is unused (ids are 1-based).
	services, reals := opts.MaxServices+1, opts.MaxReals+1
	for name, n := range map[string]uint32{
		bpf.XlbMapServices:     opts.MaxServices,
		bpf.XlbMapServices4:    opts.MaxServices,
		bpf.XlbMapMaglevTables: services,
		bpf.XlbMapServiceIds:   services,
		bpf.XlbMapSchedLists:   opts.MaxServices,
		bpf.XlbMapSchedPos:     services,
		bpf.XlbMapReals:        reals,
		bpf.XlbMapRealStats:    reals,
		bpf.XlbMapRealConns:    reals,
	} {
		spec.Maps[name].MaxEntries = n
	}
	spec.Maps[bpf.XlbMapLocalities].MaxEntries = opts.LocalityTableSize
	spec.Maps[bpf.XlbMapPersist4].MaxEntries = opts.PersistTableSize
	spec.Maps[bpf.XlbMapPersist6].MaxEntries = opts.PersistTableSize6
	spec.Maps[bpf.XlbMapFnatPools].MaxEntries = opts.MaxServices
	// The connection, NAT reverse and full-NAT tables hold sets of
	// ConnWays flows; the program scales a flow's hash onto the set
	// count (bpf/conntab.h, bpf/nattab.h, bpf/fnat.h).
	for _, t := range []struct {
		table, count string
		size         uint32
	}{
		{bpf.XlbMapConns4, bpf.XlbVarConnSets4, opts.ConnTableSize},
		{bpf.XlbMapConns6, bpf.XlbVarConnSets6, opts.ConnTableSize6},
		{bpf.XlbMapNat4, bpf.XlbVarNatSets4, opts.NATTableSize},
		{bpf.XlbMapNat6, bpf.XlbVarNatSets6, opts.NATTableSize6},
		{bpf.XlbMapFnat4, bpf.XlbVarFnatSets4, opts.FNATTableSize},
		{bpf.XlbMapFnat6, bpf.XlbVarFnatSets6, opts.FNATTableSize6},
		{bpf.XlbMapFnatRev4, bpf.XlbVarFnatRevSets4, opts.FNATTableSize},
		{bpf.XlbMapFnatRev6, bpf.XlbVarFnatRevSets6, opts.FNATTableSize6},
	} {
		sets := connSetCount(t.size)
		spec.Maps[t.table].MaxEntries = sets
		v, ok := spec.Variables[t.count]
		if !ok {
			return nil, fmt.Errorf("program has no variable %s", t.count)
		}
		if err := v.Set(sets); err != nil {
			return nil, fmt.Errorf("set %s: %w", t.count, err)
		}
	}
	for name, t := range map[string]time.Duration{
		"conn_timeout_tcp_ns":          opts.TCPTimeout,
		"conn_timeout_tcpfin_ns":       opts.TCPFinTimeout,
		"conn_timeout_udp_ns":          opts.UDPTimeout,
		"conn_timeout_syn_ns":          opts.SYNTimeout,
		bpf.XlbVarLocalityExpirationNs: opts.LocalityExpiration,
		bpf.XlbVarLocalityShrinkNs:     opts.LocalityShrink,
	} {
		v, ok := spec.Variables[name]
		if !ok {
			return nil, fmt.Errorf("program has no variable %s", name)
		}
		if err := v.Set(uint64(t.Nanoseconds())); err != nil {
			return nil, fmt.Errorf("set %s: %w", name, err)
		}
	}
	inner := spec.Maps[bpf.XlbMapMaglevTables].InnerMap
	if inner == nil {
		return nil, errors.New("maglev_tables has no inner map template")
	}
	names, err := reasonNames(spec.Types)
	if err != nil {
		return nil, err
	}
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		return nil, fmt.Errorf("count cpus: %w", err)
	}

	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("load program: %+v", ve)
		}
		return nil, fmt.Errorf("load: %w", err)
	}
	return &Dataplane{
		opts:         opts,
		log:          log,
		coll:         coll,
		prog:         coll.Programs[bpf.XlbProgXlbXdp],
		services:     coll.Maps[bpf.XlbMapServices],
		services4:    coll.Maps[bpf.XlbMapServices4],
		reals:        coll.Maps[bpf.XlbMapReals],
		tables:       coll.Maps[bpf.XlbMapMaglevTables],
		realStats:    coll.Maps[bpf.XlbMapRealStats],
		reasons:      coll.Maps[bpf.XlbMapReasons],
		conns4:       coll.Maps[bpf.XlbMapConns4],
		conns6:       coll.Maps[bpf.XlbMapConns6],
		nat4:         coll.Maps[bpf.XlbMapNat4],
		nat6:         coll.Maps[bpf.XlbMapNat6],
		ifaces:       coll.Maps[bpf.XlbMapIfaces],
		schedLists:   coll.Maps[bpf.XlbMapSchedLists],
		schedPos:     coll.Maps[bpf.XlbMapSchedPos],
		realConns:    coll.Maps[bpf.XlbMapRealConns],
		persist4:     coll.Maps[bpf.XlbMapPersist4],
		persist6:     coll.Maps[bpf.XlbMapPersist6],
		port0:        coll.Variables[bpf.XlbVarPort0Services],
		marked:       coll.Variables[bpf.XlbVarMarkedIfaces],
		markedIfaces: map[int]bool{},
		vipHints:     coll.Maps[bpf.XlbMapVipHints],
		serviceIDs:   coll.Maps[bpf.XlbMapServiceIds],
		index:        newServiceIndex(),
		localities:   coll.Maps[bpf.XlbMapLocalities],
		fnat4:        coll.Maps[bpf.XlbMapFnat4],
		fnat6:        coll.Maps[bpf.XlbMapFnat6],
		fnatRev4:     coll.Maps[bpf.XlbMapFnatRev4],
		fnatRev6:     coll.Maps[bpf.XlbMapFnatRev6],
		fnatPools:    coll.Maps[bpf.XlbMapFnatPools],
		innerSpec:    inner.Copy(),
		reasonNames:  names,
		ncpu:         ncpu,
		links:        make(map[string]link.Link),
	}, nil
}

// reasonNames reads enum reason from the program's BTF, so the names
// come from the C source alone.
func reasonNames(types *btf.Spec) ([]string, error) {
	return bpfutil.EnumNames(types, "reason", "REASON_", int(bpf.XlbReasonREASON_MAX))
}

// pin pins every map by name under PinDir. A pin already there belongs to
// a dead xlbd (the flock proves no live one holds the dir): replace it.
func (d *Dataplane) pin() error {
	for name, m := range d.coll.Maps {
		if isDataSection(name) {
			continue
		}
		path := filepath.Join(d.opts.PinDir, name)
		if err := os.Remove(path); err == nil {
			d.log.Info("replaced stale pin", "path", path)
		} else if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove stale pin: %w", err)
		}
		if err := m.Pin(path); err != nil {
			return fmt.Errorf("pin map %s: %w", name, err)
		}
	}
	return nil
}

// isDataSection says whether a collection map holds global variables
// (.rodata: the timeouts) rather than being one of bpf/maps.h's: those are
// set at load and not pinned (bpffs names cannot start with a dot).
func isDataSection(name string) bool { return strings.HasPrefix(name, ".") }

// Attach attaches the program to ifname in the calling thread's network
// namespace, in native (driver) mode, or in generic mode if the driver
// refuses, with a warning. The link is not pinned: the program detaches
// when the Dataplane is closed or its process dies.
func (d *Dataplane) Attach(ifname string) (mode string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return "", fmt.Errorf("attach xdp to %s: data plane closed", ifname)
	}
	if _, ok := d.links[ifname]; ok {
		return "", fmt.Errorf("attach xdp to %s: already attached", ifname)
	}
	iface, err := net.InterfaceByName(ifname)
	if err != nil {
		return "", fmt.Errorf("attach xdp to %s: %w", ifname, err)
	}
	l, err := link.AttachXDP(link.XDPOptions{Program: d.prog, Interface: iface.Index, Flags: link.XDPDriverMode})
	mode = "native"
	if err != nil {
		d.log.Warn("native xdp refused, using generic mode (slower)", "iface", ifname, "err", err)
		l, err = link.AttachXDP(link.XDPOptions{Program: d.prog, Interface: iface.Index, Flags: link.XDPGenericMode})
		mode = "generic"
	}
	if err != nil {
		return "", fmt.Errorf("attach xdp to %s: %w", ifname, err)
	}
	d.links[ifname] = l
	d.log.Info("xdp attached", "iface", ifname, "mode", mode)
	return mode, nil
}

// Close detaches every link, unpins every map it pinned, releases the
// PinDir lock (removing PinDir if it is left empty) and closes all fds.
func (d *Dataplane) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	var errs []error
	for ifname, l := range d.links {
		if err := l.Close(); err != nil {
			errs = append(errs, fmt.Errorf("detach xdp from %s: %w", ifname, err))
		}
	}
	for name, m := range d.coll.Maps {
		if isDataSection(name) {
			continue
		}
		if err := m.Unpin(); err != nil {
			errs = append(errs, fmt.Errorf("unpin map %s: %w", name, err))
		}
	}
	d.coll.Close()
	if d.lock != nil {
		// Only an empty dir goes: other files are not ours to remove.
		if err := os.Remove(d.opts.PinDir); err != nil && !errors.Is(err, unix.ENOTEMPTY) && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove pin dir: %w", err))
		}
		errs = append(errs, d.lock.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close data plane: %w", err)
	}
	return nil
}

// Program returns the XDP program, for tests and benchmarks. It stays
// owned by the Dataplane.
func (d *Dataplane) Program() *ebpf.Program { return d.prog }

var _ io.Closer = (*Dataplane)(nil)

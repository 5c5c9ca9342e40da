package rate

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"xlb/bpf"
	"xlb/internal/testutil"
	"xlb/maps"
)

var (
	// vip is the DR service the generator's frames are sent to.
	vip = netip.MustParseAddrPort("198.18.0.100:80")
	// client is the frames' source: one established flow.
	client = netip.MustParseAddrPort("198.18.1.1:40000")
	// realAddr is the one real's address (DR: only its MAC is used).
	realAddr = netip.MustParseAddr("198.18.1.2")
)

const (
	genIf, lbIf = "g0", "l0"

	// runCPU is the one CPU the generator and the veth processing use.
	runCPU = 0

	// sampleEvery is how often measure reads the sink while frames
	// flow, and maxSamples bounds a measurement (a minute).
	sampleEvery = 5 * time.Millisecond
	maxSamples  = 12_000

	// warmFrames are sent before each measurement: they fill the
	// generator's page pool and make the flow established in xlb.
	warmFrames = 10_000

	xdpDrop, xdpTX = 1, 3 // enum xdp_action
)

// xdpMD is the kernel's struct xdp_md (uapi linux/bpf.h), the context of
// a BPF_PROG_TEST_RUN of an XDP program.
type xdpMD struct {
	Data, DataEnd, DataMeta, IngressIfindex, RxQueueIndex, EgressIfindex uint32
}

// lab is the two-namespace rate lab (see the package doc).
type lab struct {
	gen, lb       *testutil.NS
	genIndex      int
	genMAC, lbMAC net.HardwareAddr
	sink          *ebpf.Map     // per-CPU frame count, key 0
	generator     *ebpf.Program // XDP_TX with fresh Ethernet addresses
	lbLink        link.Link     // l0's XDP link; Update switches programs
	macswap       *ebpf.Program
	refdr         *ebpf.Program
	dp            *maps.Dataplane
	frame         []byte
	lbProgName    string
}

// newLab builds the lab with macswap attached to l0; everything goes
// when tb ends.
func newLab(tb testing.TB) *lab {
	tb.Helper()
	testutil.RequireRoot(tb)
	l := &lab{gen: testutil.NetNS(tb), lb: testutil.NetNS(tb)}
	// No stray traffic: an IPv6 router solicitation, DAD or MLD report
	// sent from the other CPU would schedule a veth's NAPI there, where
	// it would keep polling while the generator fills its ring. The
	// interfaces have no IPv4 address, so nothing else talks.
	for _, ns := range []*testutil.NS{l.gen, l.lb} {
		ns.MustRun(tb, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1", "net.ipv6.conf.all.disable_ipv6=1")
	}
	testutil.Veth(tb, l.gen, genIf, l.lb, lbIf)
	var lbIndex int
	l.genIndex, l.genMAC = ifaceIn(tb, l.gen, genIf)
	lbIndex, l.lbMAC = ifaceIn(tb, l.lb, lbIf)
	l.frame = ackFrame(l.lbMAC, l.genMAC, client, vip)

	var ms bpf.MacswapObjects
	if err := bpf.LoadMacswapObjects(&ms, nil); err != nil {
		tb.Fatalf("load macswap: %v", err)
	}
	tb.Cleanup(func() { ms.Close() })
	l.macswap = ms.MacswapXdp
	l.refdr = loadRefdr(tb, l.genMAC, l.lbMAC)

	l.dp = openDataplane(tb, lbIndex, l.genMAC, l.lbMAC)

	var err error
	if l.sink, err = ebpf.NewMap(&ebpf.MapSpec{Name: "rate_sink", Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 1}); err != nil {
		tb.Fatalf("create sink map: %v", err)
	}
	tb.Cleanup(func() { l.sink.Close() })
	sink := loadXDP(tb, "rate_sink", sinkInsns(l.sink))
	l.generator = loadXDP(tb, "rate_gen", generatorInsns(l.lbMAC, l.genMAC))

	attach(tb, l.gen, genIf, sink)
	l.lbLink = attach(tb, l.lb, lbIf, l.macswap)
	l.lbProgName = "macswap"

	// Threaded NAPI would move veth processing to kthreads that may run
	// on the other CPU; it is off by default and must stay off.
	for _, end := range []struct {
		ns     *testutil.NS
		ifname string
	}{{l.gen, genIf}, {l.lb, lbIf}} {
		out := strings.TrimSpace(end.ns.MustRun(tb, "cat", "/sys/class/net/"+end.ifname+"/threaded"))
		if out != "0" {
			tb.Fatalf("%s: threaded NAPI is %q, want 0 (veth work on the sending CPU)", end.ifname, out)
		}
	}
	return l
}

// ifaceIn returns ifname's index and MAC inside ns.
func ifaceIn(tb testing.TB, ns *testutil.NS, ifname string) (int, net.HardwareAddr) {
	tb.Helper()
	var iface *net.Interface
	if err := ns.Do(func() (err error) {
		iface, err = net.InterfaceByName(ifname)
		return err
	}); err != nil {
		tb.Fatalf("%s in %s: %v", ifname, ns.Name, err)
	}
	return iface.Index, iface.HardwareAddr
}

// loadRefdr loads bpf/refdr.c, the minimal stateless DR balancer, with
// the service vip over one real with MAC mac, sent from srcMAC.
func loadRefdr(tb testing.TB, mac, srcMAC net.HardwareAddr) *ebpf.Program {
	tb.Helper()
	var rd bpf.RefdrObjects
	if err := bpf.LoadRefdrObjects(&rd, nil); err != nil {
		tb.Fatalf("load refdr: %v", err)
	}
	tb.Cleanup(func() { rd.Close() })
	a := vip.Addr().As4()
	var port [2]byte
	binary.BigEndian.PutUint16(port[:], vip.Port())
	// The key holds network byte order, as the program reads the packet.
	key := bpf.RefdrRefdrKey{Addr: binary.NativeEndian.Uint32(a[:]), Port: binary.NativeEndian.Uint16(port[:]), Proto: unix.IPPROTO_TCP}
	if err := rd.RefdrServices.Put(&key, &bpf.RefdrRefdrService{First: 0, Count: 1}); err != nil {
		tb.Fatalf("put refdr service: %v", err)
	}
	if err := rd.RefdrReals.Put(uint32(0), &bpf.RefdrRefdrReal{Mac: [6]byte(mac), SrcMac: [6]byte(srcMAC)}); err != nil {
		tb.Fatalf("put refdr real: %v", err)
	}
	return rd.RefdrXdp
}

// openDataplane opens xlb on a unique pin dir with the DR service vip
// over one real behind ifindex (MAC mac, sent from srcMAC), its Maglev
// table full (every slot the real).
func openDataplane(tb testing.TB, ifindex int, mac, srcMAC net.HardwareAddr) *maps.Dataplane {
	tb.Helper()
	dir := filepath.Join("/sys/fs/bpf", testutil.UniqueName("xlbrate-"))
	tb.Cleanup(func() { os.RemoveAll(dir) })
	d, err := maps.Open(maps.Options{PinDir: dir})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := d.Close(); err != nil {
			tb.Error(err)
		}
	})
	// ServiceID as xlbd puts its reals: a tracked flow then finds its
	// service through the real (bpf/fast.h), not by a services lookup.
	if err := d.PutReal(1, maps.Real{Addr: realAddr, MAC: mac, SrcMAC: srcMAC, Ifindex: ifindex, ServiceID: 1}); err != nil {
		tb.Fatal(err)
	}
	slots := make([]uint32, maps.MaxTableSize)
	for i := range slots {
		slots[i] = 1
	}
	if err := d.SwapTable(1, slots); err != nil {
		tb.Fatal(err)
	}
	key := maps.ServiceKey{Addr: vip.Addr(), Port: vip.Port(), Proto: unix.IPPROTO_TCP}
	if err := d.PutService(key, maps.Service{ID: 1, TableSize: maps.MaxTableSize, Kind: maps.KindDR}); err != nil {
		tb.Fatal(err)
	}
	return d
}

// loadXDP loads an XDP program written in asm.
func loadXDP(tb testing.TB, name string, insns asm.Instructions) *ebpf.Program {
	tb.Helper()
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{Name: name, Type: ebpf.XDP, License: "GPL", Instructions: insns})
	if err != nil {
		tb.Fatalf("load %s: %+v", name, err)
	}
	tb.Cleanup(func() { p.Close() })
	return p
}

// sinkInsns counts a frame in counter (per-CPU, key 0) and drops it.
func sinkInsns(counter *ebpf.Map) asm.Instructions {
	return append(testutil.LookupKey0(counter, "out"),
		asm.LoadMem(asm.R1, asm.R0, 0, asm.DWord),
		asm.Add.Imm(asm.R1, 1),
		asm.StoreMem(asm.R0, 0, asm.R1, asm.DWord),
		asm.Mov.Imm(asm.R0, xdpDrop).WithSymbol("out"),
		asm.Return(),
	)
}

// generatorInsns writes dst and src into the frame's Ethernet header and
// returns XDP_TX. Live-frame runs recycle their pages without copying the
// frame in again, so a page comes back as the far end sent it (MACs
// swapped or rewritten); the addresses must be set before every send.
func generatorInsns(dst, src net.HardwareAddr) asm.Instructions {
	const xdpData, xdpDataEnd = 0, 4 // offsets in struct xdp_md
	addr := append(append([]byte{}, dst...), src...)
	insns := asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, xdpData, asm.Word),
		asm.LoadMem(asm.R3, asm.R1, xdpDataEnd, asm.Word),
		asm.Mov.Reg(asm.R4, asm.R2),
		asm.Add.Imm(asm.R4, int32(len(addr))),
		asm.JGT.Reg(asm.R4, asm.R3, "drop"),
	}
	// Immediates are stored in host byte order: reading the bytes in
	// host order stores them as they are.
	for off := 0; off < len(addr); off += 4 {
		v := int32(binary.NativeEndian.Uint32(addr[off:]))
		insns = append(insns, asm.StoreImm(asm.R2, int16(off), int64(v), asm.Word))
	}
	return append(insns,
		asm.Mov.Imm(asm.R0, xdpTX),
		asm.Return(),
		asm.Mov.Imm(asm.R0, xdpDrop).WithSymbol("drop"),
		asm.Return(),
	)
}

// attach attaches prog to ifname in ns in native mode.
func attach(tb testing.TB, ns *testutil.NS, ifname string, prog *ebpf.Program) link.Link {
	tb.Helper()
	var l link.Link
	if err := ns.Do(func() error {
		iface, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		l, err = link.AttachXDP(link.XDPOptions{Program: prog, Interface: iface.Index, Flags: link.XDPDriverMode})
		return err
	}); err != nil {
		tb.Fatalf("attach xdp to %s in %s: %v", ifname, ns.Name, err)
	}
	tb.Cleanup(func() { l.Close() })
	return l
}

// use puts prog (named name) on l0.
func (l *lab) use(tb testing.TB, name string, prog *ebpf.Program) {
	tb.Helper()
	if l.lbProgName == name {
		return
	}
	if err := l.lbLink.Update(prog); err != nil {
		tb.Fatalf("put %s on %s: %v", name, lbIf, err)
	}
	l.lbProgName = name
}

// result is one measurement.
type result struct {
	sent     uint64 // frames the generator sent
	received uint64 // frames the sink counted, on all CPUs
	offCPU   uint64 // of those, counted on another CPU than runCPU

	// window and windowFrames are the steady-state span of the run: from
	// the first sample that saw frames to the last one that saw more
	// still to come, and the frames the sink counted in it.
	window       time.Duration
	windowFrames uint64
}

// mpps is the sink's steady-state rate in million frames per second, 0
// if the run was too short to sample.
func (r result) mpps() float64 {
	if r.window <= 0 {
		return 0
	}
	return float64(r.windowFrames) / r.window.Seconds() / 1e6
}

// sample is the sink's total count at a time.
type sample struct {
	at    time.Time
	count uint64
}

// measure sends warmFrames, then frames frames in one generator call on a
// thread in gen pinned to runCPU, and returns what the sink counted of
// the latter. Meanwhile it samples the sink every sampleEvery from a
// thread kept off runCPU (so it takes no time from the frames), and takes
// the rate from the samples, not from the call's wall time: a live-frame
// call also sets up and tears down its page pool and switches the XDP
// dispatcher, some milliseconds measured here, before and after the
// frames.
func (l *lab) measure(tb testing.TB, frames uint32) result {
	tb.Helper()
	var before []uint64
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- l.gen.Do(func() error {
			var orig, one unix.CPUSet
			if err := unix.SchedGetaffinity(0, &orig); err != nil {
				return fmt.Errorf("get affinity: %w", err)
			}
			one.Set(runCPU)
			if err := unix.SchedSetaffinity(0, &one); err != nil {
				return fmt.Errorf("pin to cpu %d: %w", runCPU, err)
			}
			// The thread goes back to the runtime's pool: not pinned.
			defer unix.SchedSetaffinity(0, &orig)
			if err := l.send(warmFrames); err != nil {
				return err
			}
			var err error
			if before, err = l.sinkCounts(); err != nil {
				return err
			}
			close(started)
			return l.send(frames)
		})
	}()
	select {
	case <-started:
	case err := <-done:
		tb.Fatalf("measure %s: %v", l.lbProgName, err)
	}

	samples, after, err := l.sampleUntil(done)
	if err != nil {
		tb.Fatalf("measure %s: %v", l.lbProgName, err)
	}
	r := result{sent: uint64(frames)}
	var base uint64
	for cpu := range after {
		base += before[cpu]
		n := after[cpu] - before[cpu]
		r.received += n
		if cpu != runCPU {
			r.offCPU += n
		}
	}
	first, last := -1, -1
	for i, s := range samples {
		if s.count > base && first < 0 {
			first = i
		}
		if s.count < base+r.received {
			last = i
		}
	}
	if first >= 0 && last > first {
		r.window = samples[last].at.Sub(samples[first].at)
		r.windowFrames = samples[last].count - samples[first].count
	}
	return r
}

// sampleUntil samples the sink's total every sampleEvery until done
// yields the generator's result (at most maxSamples times), and returns
// the samples and the final per-CPU counts.
func (l *lab) sampleUntil(done <-chan error) ([]sample, []uint64, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var orig, others unix.CPUSet
	if err := unix.SchedGetaffinity(0, &orig); err != nil {
		return nil, nil, fmt.Errorf("get affinity: %w", err)
	}
	others = orig
	others.Clear(runCPU)
	if others.Count() > 0 { // with one CPU, share it
		if err := unix.SchedSetaffinity(0, &others); err != nil {
			return nil, nil, fmt.Errorf("keep sampler off cpu %d: %w", runCPU, err)
		}
		defer unix.SchedSetaffinity(0, &orig)
	}
	samples := make([]sample, 0, maxSamples)
	// The thread sleeps in the kernel, not on a runtime timer: while the
	// generator's thread sits in its long syscall, runtime timers were
	// seen to fire 200 ms late.
	pause := unix.NsecToTimespec(sampleEvery.Nanoseconds())
	for range maxSamples {
		per, err := l.sinkCounts()
		if err != nil {
			return nil, nil, err
		}
		var total uint64
		for _, n := range per {
			total += n
		}
		samples = append(samples, sample{at: time.Now(), count: total})
		select {
		case err := <-done:
			if err != nil {
				return nil, nil, err
			}
			per, err := l.sinkCounts()
			return samples, per, err
		default:
		}
		if err := unix.Nanosleep(&pause, nil); err != nil && err != unix.EINTR {
			return nil, nil, fmt.Errorf("sleep: %w", err)
		}
	}
	return nil, nil, fmt.Errorf("generator still running after %d samples", maxSamples)
}

// send runs the generator n times on l.frame in live-frame mode, each
// XDP_TX sending the frame out of g0. It must run inside gen: the kernel
// looks the ingress ifindex up in the caller's namespace.
func (l *lab) send(n uint32) error {
	ctx := xdpMD{DataEnd: uint32(len(l.frame)), IngressIfindex: uint32(l.genIndex)}
	_, err := l.generator.Run(&ebpf.RunOptions{
		Data:    l.frame,
		Context: ctx,
		Repeat:  n,
		Flags:   unix.BPF_F_TEST_XDP_LIVE_FRAMES,
	})
	if err != nil {
		return fmt.Errorf("send %d frames: %w", n, err)
	}
	return nil
}

// sinkCounts returns the sink's count per CPU.
func (l *lab) sinkCounts() ([]uint64, error) {
	var per []uint64
	if err := l.sink.Lookup(uint32(0), &per); err != nil {
		return nil, fmt.Errorf("read sink: %w", err)
	}
	return per, nil
}

// ackFrame builds an Ethernet/IPv4/TCP ACK from src to dst with valid
// checksums, padded to the 60-byte Ethernet minimum.
func ackFrame(dstMAC, srcMAC net.HardwareAddr, src, dst netip.AddrPort) []byte {
	const ethLen, ipLen, tcpLen, minFrame = 14, 20, 20, 60
	f := make([]byte, minFrame)
	copy(f[0:], dstMAC)
	copy(f[6:], srcMAC)
	binary.BigEndian.PutUint16(f[12:], unix.ETH_P_IP)

	ip := f[ethLen : ethLen+ipLen]
	ip[0] = 0x45 // version 4, 5 words
	binary.BigEndian.PutUint16(ip[2:], ipLen+tcpLen)
	ip[6] = 0x40 // don't fragment
	ip[8] = 64   // TTL
	ip[9] = unix.IPPROTO_TCP
	s, d := src.Addr().As4(), dst.Addr().As4()
	copy(ip[12:], s[:])
	copy(ip[16:], d[:])
	binary.BigEndian.PutUint16(ip[10:], checksum(0, ip))

	tcp := f[ethLen+ipLen : ethLen+ipLen+tcpLen]
	binary.BigEndian.PutUint16(tcp[0:], src.Port())
	binary.BigEndian.PutUint16(tcp[2:], dst.Port())
	binary.BigEndian.PutUint32(tcp[4:], 1000) // seq
	binary.BigEndian.PutUint32(tcp[8:], 2000) // ack
	tcp[12] = 5 << 4                          // 5 words
	tcp[13] = 0x10                            // ACK
	binary.BigEndian.PutUint16(tcp[14:], 65535)
	// RFC 9293 section 3.1: the checksum covers a pseudo-header.
	pseudo := make([]byte, 0, 12)
	pseudo = append(pseudo, s[:]...)
	pseudo = append(pseudo, d[:]...)
	pseudo = append(pseudo, 0, unix.IPPROTO_TCP, 0, tcpLen)
	binary.BigEndian.PutUint16(tcp[16:], checksum(sum(0, pseudo), tcp))
	return f
}

// checksum is the Internet checksum (RFC 1071) of b, starting from the
// partial sum acc.
func checksum(acc uint32, b []byte) uint16 {
	s := sum(acc, b)
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// sum adds b's 16-bit big-endian words to acc (b has even length).
func sum(acc uint32, b []byte) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		acc += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	return acc
}

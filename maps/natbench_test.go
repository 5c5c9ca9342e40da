package maps

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"

	"xlb/internal/testutil"
)

// BenchmarkNAT reports the NAT paths in the NAT lab (natLab), where
// bpf_fib_lookup finds its routes and neighbours: an established flow's
// client packet (forward: conntrack hit, destination rewrite, FIB,
// redirect) and the real's reply (one nat4/nat6 lookup, source rewrite,
// FIB, redirect), IPv4 and IPv6, against refdr forwarding a DR frame of
// the same family (IPv6 rows also report x_refdr4, against refdr's IPv4
// path, see BenchmarkProgram); and non-VIP packets on an outside
// interface (the ifaces check only) and on an inside one (plus the nat4
// miss). Forward and reply rewrite the frame, which a repeat > 1
// run would feed back to the program, so those rows run repeat=1 calls
// less a drop program's time (as TUN in BenchmarkProgram), and so does
// refdr beside them; non-VIP rows are batched. Every call names its
// ingress interface (xdp_md), so the runs go through timedRun.
func BenchmarkNAT(b *testing.B) {
	fx := loadFixtures(b)
	ref := loadReferences(b)
	lab := newNATLab(b)
	d := benchDataplane(b, Options{}, benchReals)
	outside, inside := lab.ifindex["outside"], lab.ifindex["inside"]
	// Ports 8081: routed reals (bpf_fib_lookup); 8082: reals whose next
	// hop the control plane resolved (as for DR, no FIB lookup).
	labReal := net.HardwareAddr{0x02, 0, 0, 0, 0x02, 0x0b}
	for i, n := range []struct {
		vip, real string
		resolved  bool
	}{
		{"198.18.0.100:8081", "198.18.2.11", false}, {"[2001:db8::100]:8081", "2001:db8:2::11", false},
		{"198.18.0.100:8082", "198.18.2.11", true}, {"[2001:db8::100]:8082", "2001:db8:2::11", true},
	} {
		id := uint32(benchReals + 1 + i)
		// The real and its service share the id; the real names its
		// service, as the control plane's do (bpf/fast.h).
		r := Real{Addr: netip.MustParseAddr(n.real), Port: 8080, ServiceID: id}
		if n.resolved {
			r.MAC, r.SrcMAC, r.Ifindex = labReal, net.HardwareAddr(labInsideMAC), int(inside)
		}
		if err := d.PutReal(id, r); err != nil {
			b.Fatal(err)
		}
		slots := make([]uint32, MaxTableSize)
		for j := range slots {
			slots[j] = id
		}
		if err := d.SwapTable(id, slots); err != nil {
			b.Fatal(err)
		}
		ap := netip.MustParseAddrPort(n.vip)
		if err := d.PutService(ServiceKey{Addr: ap.Addr(), Port: ap.Port(), Proto: unix.IPPROTO_TCP},
			Service{ID: id, TableSize: MaxTableSize, Kind: KindNAT}); err != nil {
			b.Fatal(err)
		}
	}
	if err := d.SetInside(int(inside), true); err != nil {
		b.Fatal(err)
	}
	// Established: SYN, then the ACKs the rows send (no state change).
	ack4 := withL4Dport(b, fx["nat_fin_from_real"].Before[1], 8081)
	ack6 := withTCPFlags(b, withL4Dport(b, fx["nat_v6_tcp_forward"].In, 8081), tcpACK)
	ack4r, ack6r := withL4Dport(b, ack4, 8082), withL4Dport(b, ack6, 8082)
	for _, in := range [][]byte{withL4Dport(b, fx["nat_v4_tcp_forward"].In, 8081), ack4,
		withL4Dport(b, fx["nat_v6_tcp_forward"].In, 8081), ack6,
		withL4Dport(b, fx["nat_v4_tcp_forward"].In, 8082), ack4r,
		withL4Dport(b, fx["nat_v6_tcp_forward"].In, 8082), ack6r} {
		var v uint32
		var err error
		if doErr := lab.ns.Do(func() error { v, _, err = timedRun(d.Program(), in, outside, 1); return nil }); doErr != nil {
			b.Fatal(doErr)
		}
		if err != nil || testutil.VerdictName(v) != "XDP_REDIRECT" {
			b.Fatalf("set up flow: verdict %s, %v", testutil.VerdictName(v), err)
		}
	}
	reply4, reply6 := fx["nat_v4_tcp_reply"].In, fx["nat_v6_tcp_reply"].In
	nonVIP := fx["non_vip_port"].In
	// refdr's frames: an established DR flow to its VIP of each family.
	dr4, dr6 := fx["ct_hit"].In, fx["ipv6_tcp_tx"].In

	for _, bc := range []labRow{
		{"nat_v4_established_forward_warm", ack4, dr4, outside, "XDP_REDIRECT", false},
		{"nat_v4_established_forward_resolved_warm", ack4r, dr4, outside, "XDP_REDIRECT", false},
		{"nat_v4_established_reply_warm", reply4, dr4, inside, "XDP_REDIRECT", false},
		{"nat_v6_established_forward_warm", ack6, dr6, outside, "XDP_REDIRECT", false},
		{"nat_v6_established_forward_resolved_warm", ack6r, dr6, outside, "XDP_REDIRECT", false},
		{"nat_v6_established_reply_warm", reply6, dr6, inside, "XDP_REDIRECT", false},
		{"nat_v4_established_forward", ack4, dr4, outside, "XDP_REDIRECT", true},
		{"nat_v4_established_reply", reply4, dr4, inside, "XDP_REDIRECT", true},
		{"nat_v6_established_forward", ack6, dr6, outside, "XDP_REDIRECT", true},
		{"nat_v6_established_reply", reply6, dr6, inside, "XDP_REDIRECT", true},
		{"non_vip_outside", nonVIP, nonVIP, outside, "XDP_PASS", false},
		{"non_vip_inside", nonVIP, nonVIP, inside, "XDP_PASS", false},
	} {
		b.Run(bc.name, func(b *testing.B) { runLabRow(b, lab, d, ref, dr4, bc) })
	}
}

// labRow is one row of the benchmarks run in the NAT lab: frame arrives
// on ingress and must get verdict; refdr and macswap run refIn.
type labRow struct {
	name    string
	frame   []byte
	refIn   []byte // what refdr and macswap run
	ingress uint32
	verdict string
	single  bool // repeat=1 calls; else batched, forwarded rows behind restoreProgram
}

// runLabRow measures bc for BenchmarkNAT and BenchmarkFNAT: xlb, refdr
// and macswap in the same loop, in the lab's namespace, and for IPv6 rows
// refdr's IPv4 path on dr4 too (x_refdr4).
func runLabRow(b *testing.B, lab *natLab, d *Dataplane, ref references, dr4 []byte, bc labRow) {
	v6 := isIPv6Frame(bc.frame)
	lbProg, rdProg, rd4Prog, ctProg, natProg := d.Program(), ref.refdr, ref.refdr, ref.refct, ref.refctNat
	tracked := bc.verdict != "XDP_PASS" // refct and refct_nat: the rows of tracked flows
	if !bc.single && tracked {
		// Batched (full) NAT: the kernel would re-run the rewritten
		// frame, so a wrapper puts the original back first; refdr runs
		// its frame behind the same wrapper.
		lbProg = restoreProgram(b, d.Program(), bc.frame)
		rdProg = restoreProgram(b, ref.refdr, bc.refIn)
		ctProg = restoreProgram(b, ref.refct, bc.refIn)
		natProg = restoreProgram(b, ref.refctNat, bc.refIn)
		if v6 {
			rd4Prog = restoreProgram(b, ref.refdr, dr4)
		}
	}
	rdVerdict := "XDP_PASS"
	if bc.verdict != "XDP_PASS" {
		rdVerdict = "XDP_TX"
	}
	// refTime times a reference: prog batched, or the bare one repeat=1.
	refTimeVerdict := func(prog, bare *ebpf.Program, in []byte, verdict string) (time.Duration, error) {
		if bc.single {
			return timedSingle(bare, ref.drop, in, bc.ingress, verdict)
		}
		return timedBatch(prog, in, bc.ingress, verdict)
	}
	refTime := func(prog, bare *ebpf.Program, in []byte) (time.Duration, error) {
		return refTimeVerdict(prog, bare, in, rdVerdict)
	}
	var tt rowTimes
	if tracked {
		// refct_nat's reals are on the loopback (loadRefdr), not the
		// lab's ingress: it redirects, as xlb does in these rows.
		tt.modeRef = "refct_nat"
	}
	for b.Loop() {
		var err error
		if doErr := lab.ns.Do(func() error {
			var t time.Duration
			if bc.single {
				t, err = timedSingle(d.Program(), ref.drop, bc.frame, bc.ingress, bc.verdict)
			} else {
				t, err = timedBatch(lbProg, bc.frame, bc.ingress, bc.verdict)
			}
			if err != nil {
				return nil
			}
			tt.lb += t
			if t, err = refTime(rdProg, ref.refdr, bc.refIn); err != nil {
				return nil
			}
			tt.rd += t
			if v6 {
				if t, err = refTime(rd4Prog, ref.refdr, dr4); err != nil {
					return nil
				}
				tt.rd4 += t
			}
			if tracked {
				if t, err = refTime(ctProg, ref.refct, bc.refIn); err != nil {
					return nil
				}
				tt.ct += t
				if t, err = refTimeVerdict(natProg, ref.refctNat, bc.refIn, "XDP_REDIRECT"); err != nil {
					return nil
				}
				tt.mode += t
			}
			t, err = timedBatch(ref.macswap, bc.refIn, bc.ingress, "XDP_TX")
			tt.ms += t
			return nil
		}); doErr != nil {
			b.Fatal(doErr)
		}
		if err != nil {
			b.Fatal(err)
		}
		tt.n++
	}
	tt.report(b, v6, tracked)
}

// tcpACK is the TCP flags byte of a bare ACK.
const tcpACK = 0x10

// withTCPFlags returns a copy of an untagged IPv6 TCP frame without
// extension headers with TCP flags set to flags and the checksum fixed.
func withTCPFlags(tb testing.TB, frame []byte, flags byte) []byte {
	tb.Helper()
	out := withL4Dport(tb, frame, binary.BigEndian.Uint16(frame[ethHeaderLen+ipv6HeaderLen+2:]))
	out[ethHeaderLen+ipv6HeaderLen+13] = flags
	return withL4Dport(tb, out, binary.BigEndian.Uint16(out[ethHeaderLen+ipv6HeaderLen+2:]))
}

// progRunAttr is the BPF_PROG_TEST_RUN part of union bpf_attr (uapi
// linux/bpf.h). cilium/ebpf's Program.Benchmark cannot pass a context (the
// ingress interface) and Program.Run does not return the kernel's time.
type progRunAttr struct {
	ProgFD, Retval, DataSizeIn, DataSizeOut uint32
	DataIn, DataOut                         uint64
	Repeat, Duration                        uint32
	CtxSizeIn, CtxSizeOut                   uint32
	CtxIn, CtxOut                           uint64
	Flags, CPU, BatchSize, _                uint32
}

// timedRun runs prog repeat times on in, arriving on ingress, and returns
// the verdict and the kernel's mean time per run (whole ns).
func timedRun(prog *ebpf.Program, in []byte, ingress, repeat uint32) (uint32, time.Duration, error) {
	out := make([]byte, len(in)+256)
	ctx, err := binary.Append(nil, binary.NativeEndian, xdpMD{DataEnd: uint32(len(in)), IngressIfindex: ingress})
	if err != nil {
		return 0, 0, err
	}
	attr := progRunAttr{
		ProgFD: uint32(prog.FD()), DataSizeIn: uint32(len(in)), DataSizeOut: uint32(len(out)),
		DataIn: uint64(uintptr(unsafe.Pointer(&in[0]))), DataOut: uint64(uintptr(unsafe.Pointer(&out[0]))),
		Repeat: repeat, CtxSizeIn: uint32(len(ctx)), CtxIn: uint64(uintptr(unsafe.Pointer(&ctx[0]))),
	}
	const maxTries = 10 // EINTR: a signal interrupted the run
	for range maxTries {
		_, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_TEST_RUN, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
		runtime.KeepAlive(in)
		runtime.KeepAlive(out)
		runtime.KeepAlive(ctx)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return 0, 0, fmt.Errorf("bpf prog test run: %w", errno)
		}
		return attr.Retval, time.Duration(attr.Duration), nil
	}
	return 0, 0, errors.New("bpf prog test run: interrupted")
}

// timedBatch is kernelTime with an ingress interface.
func timedBatch(prog *ebpf.Program, in []byte, ingress uint32, verdict string) (time.Duration, error) {
	v, t, err := timedRun(prog, in, ingress, benchRepeat)
	if err == nil && testutil.VerdictName(v) != verdict {
		err = fmt.Errorf("verdict %s, want %s", testutil.VerdictName(v), verdict)
	}
	return t, err
}

// timedSingle is singleTime with an ingress interface: singleRuns
// repeat=1 calls less the drop program's.
func timedSingle(prog, drop *ebpf.Program, in []byte, ingress uint32, verdict string) (time.Duration, error) {
	var total, overhead time.Duration
	for range singleRuns {
		v, t, err := timedRun(prog, in, ingress, 1)
		if err != nil {
			return 0, err
		}
		if testutil.VerdictName(v) != verdict {
			return 0, fmt.Errorf("verdict %s, want %s", testutil.VerdictName(v), verdict)
		}
		_, o, err := timedRun(drop, in, ingress, 1)
		if err != nil {
			return 0, err
		}
		total += t
		overhead += o
	}
	return (total - overhead) / singleRuns, nil
}

// restoreProgram returns a benchmark-only XDP program that writes frame
// (as given) over the packet and tail-calls target, so that a batched run
// (repeat > 1, which re-runs the program on its own output) gives target
// the same frame every time. Its cost (a map lookup, a few 8-byte copies,
// the tail call) is in the figure, as newFlowProgram's.
func restoreProgram(b *testing.B, target *ebpf.Program, frame []byte) *ebpf.Program {
	b.Helper()
	return frameProgram(b, target, frame, false)
}

// frameProgram is restoreProgram, and with shrink shrinkRestoreProgram.
func frameProgram(b *testing.B, target *ebpf.Program, frame []byte, shrink bool) *ebpf.Program {
	b.Helper()
	const valueSize = 256 // bytes: room for any benchmark frame
	if len(frame) > valueSize {
		b.Fatalf("frame of %d bytes, want <= %d", len(frame), valueSize)
	}
	saved, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: valueSize, MaxEntries: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { saved.Close() })
	val := make([]byte, valueSize)
	copy(val, frame)
	if err := saved.Put(uint32(0), val); err != nil {
		b.Fatal(err)
	}
	jump, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.ProgramArray, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { jump.Close() })
	if err := jump.Put(uint32(0), target); err != nil {
		b.Fatal(err)
	}
	const xdpData, xdpDataEnd = 0, 4 // offsets in struct xdp_md
	insns := asm.Instructions{asm.Mov.Reg(asm.R6, asm.R1)}
	if shrink {
		// bpf_xdp_adjust_head(ctx, len - len(frame)).
		insns = append(insns,
			asm.LoadMem(asm.R2, asm.R6, xdpDataEnd, asm.Word),
			asm.LoadMem(asm.R3, asm.R6, xdpData, asm.Word),
			asm.Sub.Reg(asm.R2, asm.R3),
			asm.Sub.Imm(asm.R2, int32(len(frame))),
			asm.Mov.Reg(asm.R1, asm.R6),
			asm.FnXdpAdjustHead.Call(),
			asm.JNE.Imm(asm.R0, 0, "abort"),
		)
	}
	insns = append(insns, testutil.LookupKey0(saved, "abort")...)
	insns = append(insns,
		asm.LoadMem(asm.R2, asm.R6, xdpData, asm.Word),
		asm.LoadMem(asm.R3, asm.R6, xdpDataEnd, asm.Word),
		asm.Mov.Reg(asm.R4, asm.R2),
		asm.Add.Imm(asm.R4, int32(len(frame))),
		asm.JGT.Reg(asm.R4, asm.R3, "abort"),
	)
	// The copy starts with 2 bytes, then 8 at a time: every store begins
	// at 2 mod 4 from the frame's start, as the IP header's 4-byte
	// fields do (after 14 bytes of Ethernet header), so no address, the
	// ports or any narrower field the programs read spans two stores. A
	// load that spans two stores cannot be forwarded from the store
	// buffer and waits for them to retire (measured: a tenth of a NAT
	// packet's samples on the IPv4 destination address, with the copy
	// 8-byte aligned), a cost frames written by a NIC or veth long
	// before the program runs do not have.
	for off := 0; off < len(frame); {
		size, n := asm.DWord, 8
		switch left := len(frame) - off; {
		case off == 0 && left >= 2:
			size, n = asm.Half, 2
		case left >= 8:
		case left >= 4:
			size, n = asm.Word, 4
		case left >= 2:
			size, n = asm.Half, 2
		default:
			size, n = asm.Byte, 1
		}
		insns = append(insns,
			asm.LoadMem(asm.R5, asm.R0, int16(off), size),
			asm.StoreMem(asm.R2, int16(off), asm.R5, size))
		off += n
	}
	insns = append(insns,
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.LoadMapPtr(asm.R2, jump.FD()),
		asm.Mov.Imm(asm.R3, 0),
		asm.FnTailCall.Call(),
		asm.Mov.Imm(asm.R0, 0 /* XDP_ABORTED */).WithSymbol("abort"),
		asm.Return(),
	)
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Name: "bench_restore", Type: ebpf.XDP, AttachType: ebpf.AttachXDP, License: "GPL", Instructions: insns})
	if err != nil {
		b.Fatalf("load program: %+v", err)
	}
	b.Cleanup(func() { prog.Close() })
	return prog
}

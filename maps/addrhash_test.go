package maps

import (
	"encoding/binary"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"

	"xlb/controlplane/sched"
	"xlb/internal/testutil"
)

// tcpSYN returns an untagged Ethernet frame holding a TCP SYN from src to
// dst (IPv4 or IPv6, by src), IPv4 header checksum filled in; the program
// checks no TCP checksum.
func tcpSYN(src, dst netip.AddrPort) []byte {
	const tcpLen = 20
	frame := []byte{0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0xaa, 0, 0}
	if src.Addr().Is4() {
		binary.BigEndian.PutUint16(frame[12:], unix.ETH_P_IP)
		ip := make([]byte, 20)
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)+tcpLen))
		binary.BigEndian.PutUint16(ip[6:], 0x4000) // DF
		ip[8], ip[9] = 64, unix.IPPROTO_TCP
		s, d := src.Addr().As4(), dst.Addr().As4()
		copy(ip[12:], s[:])
		copy(ip[16:], d[:])
		binary.BigEndian.PutUint16(ip[10:], ^testutil.OnesSum(ip))
		frame = append(frame, ip...)
	} else {
		binary.BigEndian.PutUint16(frame[12:], unix.ETH_P_IPV6)
		ip := make([]byte, 40)
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:], tcpLen)
		ip[6], ip[7] = unix.IPPROTO_TCP, 64
		s, d := src.Addr().As16(), dst.Addr().As16()
		copy(ip[8:], s[:])
		copy(ip[24:], d[:])
		frame = append(frame, ip...)
	}
	tcp := make([]byte, tcpLen)
	binary.BigEndian.PutUint16(tcp[0:], src.Port())
	binary.BigEndian.PutUint16(tcp[2:], dst.Port())
	binary.BigEndian.PutUint32(tcp[4:], 1000)
	tcp[12], tcp[13] = 5<<4, 0x02 // data offset 5 words, SYN
	binary.BigEndian.PutUint16(tcp[14:], 0xfaf0)
	return append(frame, tcp...)
}

// randomAddr returns an address in 198.18.0.0/15 (v4) or 2001:db8::/32
// (v6), the documentation ranges the tests may use, from r.
func randomAddr(r *rand.Rand, v6 bool) netip.Addr {
	if !v6 {
		return netip.AddrFrom4([4]byte{198, 18 + byte(r.IntN(2)), byte(r.IntN(256)), byte(r.IntN(254) + 1)})
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[8:], r.Uint64())
	binary.BigEndian.PutUint64(b[:8], r.Uint64())
	copy(b[:4], []byte{0x20, 0x01, 0x0d, 0xb8})
	return netip.AddrFrom16(b)
}

// TestAddrHashOracle checks the sh and dh schedulers of the program
// against the Go oracle: for 1,000 clients (sh) or destinations (dh) of
// each family the real the program forwards to is the one of slot
// sched.Slot(sched.AddrHash(key), size) of a weighted Maglev table from
// sched.HashTable. The flow hash would agree in about 1 case in 4 (the
// reals' weight shares), the address hash in all.
func TestAddrHashOracle(t *testing.T) {
	const (
		keys = 1000
		size = MaxTableSize
	)
	backends := []sched.Backend{
		{ID: 1, Key: "198.18.0.11:80", Weight: 1},
		{ID: 2, Key: "198.18.0.12:80", Weight: 2},
		{ID: 3, Key: "198.18.0.13:80", Weight: 3},
		{ID: 4, Key: "198.18.0.14:80", Weight: 1},
		{ID: 5, Key: "198.18.0.15:80", Weight: 4},
	}
	table, err := sched.HashTable(backends, size)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		hash HashKey
		v6   bool
	}{
		{"sh_v4", HashSource, false},
		{"sh_v6", HashSource, true},
		{"dh_v4", HashDest, false},
		{"dh_v6", HashDest, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := openTest(t, Options{MaxServices: keys + 1, MaxReals: uint32(len(backends))})
			for _, b := range backends {
				r := testReal(loIfindex)
				r.MAC = net.HardwareAddr{0x02, 0, 0, 0, 0x01, byte(b.ID)} // the output frame names the real
				if err := d.PutReal(b.ID, r); err != nil {
					t.Fatal(err)
				}
			}
			if err := d.SwapTable(1, table); err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, map[bool]uint64{false: 4, true: 6}[tc.v6]))
			vip := netip.MustParseAddr("198.18.0.100")
			if tc.v6 {
				vip = netip.MustParseAddr("2001:db8::100")
			}
			client := randomAddr(rng, tc.v6)
			putVIP := func(a netip.Addr) {
				k := ServiceKey{Addr: a, Port: 80, Proto: unix.IPPROTO_TCP}
				if err := d.PutService(k, Service{ID: 1, TableSize: size, Kind: KindDR, Hash: tc.hash}); err != nil {
					t.Fatal(err)
				}
			}
			if tc.hash == HashSource {
				putVIP(vip)
			}

			perReal := map[uint32]int{}
			for i := range keys {
				// sh: a new client each time; dh: a new destination (each
				// a VIP of the same service table), all from one client.
				src, dst := randomAddr(rng, tc.v6), vip
				key := src
				if tc.hash == HashDest {
					src, dst = client, randomAddr(rng, tc.v6)
					putVIP(dst)
					key = dst
				}
				want := table[sched.Slot(sched.AddrHash(key), size)]
				frame := tcpSYN(netip.AddrPortFrom(src, uint16(1024+i)), netip.AddrPortFrom(dst, 80))
				v, out := run(t, d.Program(), frame)
				if name := testutil.VerdictName(v); name != "XDP_TX" {
					t.Fatalf("key %s: verdict %s, want XDP_TX", key, name)
				}
				if got := uint32(out[ethAddrLen-1]); got != want {
					t.Errorf("key %s: program picked real %d, oracle %d", key, got, want)
				}
				perReal[want]++
			}
			// Every real must have been picked: a test whose keys all land
			// on one real would pass for any hash.
			if len(perReal) != len(backends) {
				t.Errorf("keys per real %v: want all %d reals picked", perReal, len(backends))
			}
			t.Logf("keys per real %v", perReal)
		})
	}
}

// TestFlowHashOracle checks the mh path the same way: for 1,000 new flows
// of each family (random clients and source ports, one VIP) the program
// forwards to the real of slot sched.Slot(sched.FlowHash(flow), size), so
// the Go twin of flow_hash that explains and tests rely on is the
// program's hash.
func TestFlowHashOracle(t *testing.T) {
	const (
		flows = 1000
		size  = MaxTableSize
	)
	backends := []sched.Backend{
		{ID: 1, Key: "198.18.0.11:80", Weight: 1},
		{ID: 2, Key: "198.18.0.12:80", Weight: 2},
		{ID: 3, Key: "198.18.0.13:80", Weight: 3},
	}
	table, err := sched.HashTable(backends, size)
	if err != nil {
		t.Fatal(err)
	}
	for _, v6 := range []bool{false, true} {
		t.Run(map[bool]string{false: "v4", true: "v6"}[v6], func(t *testing.T) {
			d := openTest(t, Options{MaxReals: uint32(len(backends))})
			for _, b := range backends {
				r := testReal(loIfindex)
				r.MAC = net.HardwareAddr{0x02, 0, 0, 0, 0x01, byte(b.ID)} // the output frame names the real
				if err := d.PutReal(b.ID, r); err != nil {
					t.Fatal(err)
				}
			}
			if err := d.SwapTable(1, table); err != nil {
				t.Fatal(err)
			}
			vip := netip.MustParseAddr("198.18.0.100")
			if v6 {
				vip = netip.MustParseAddr("2001:db8::100")
			}
			k := ServiceKey{Addr: vip, Port: 80, Proto: unix.IPPROTO_TCP}
			if err := d.PutService(k, Service{ID: 1, TableSize: size, Kind: KindDR}); err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(2, map[bool]uint64{false: 4, true: 6}[v6]))
			perReal := map[uint32]int{}
			for range flows {
				src := netip.AddrPortFrom(randomAddr(rng, v6), uint16(1024+rng.IntN(60000)))
				dst := netip.AddrPortFrom(vip, 80)
				want := table[sched.Slot(sched.FlowHash(sched.Flow{Src: src, Dst: dst, Proto: unix.IPPROTO_TCP}), size)]
				v, out := run(t, d.Program(), tcpSYN(src, dst))
				if name := testutil.VerdictName(v); name != "XDP_TX" {
					t.Fatalf("flow %s: verdict %s, want XDP_TX", src, name)
				}
				if got := uint32(out[ethAddrLen-1]); got != want {
					t.Errorf("flow %s: program picked real %d, oracle %d", src, got, want)
				}
				perReal[want]++
			}
			if len(perReal) != len(backends) {
				t.Errorf("flows per real %v: want all %d reals picked", perReal, len(backends))
			}
		})
	}
}

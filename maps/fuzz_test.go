package maps

import (
	"bytes"
	"net"
	"testing"
)

// maxFuzzFrame bounds fuzz inputs to an Ethernet MTU frame; the test run
// rejects data beyond a page anyway.
const maxFuzzFrame = 1514

// ethHeaderLen is the shortest input BPF_PROG_TEST_RUN accepts for XDP.
const ethHeaderLen = 14

// FuzzProgram feeds arbitrary frames through the program, with the golden
// tcp_vip_tx maps loaded. Every frame must get one of PASS, DROP, TX or
// REDIRECT; a frame that is passed or dropped must come out unchanged, and
// a forwarded one may differ only in its MAC addresses, which must be a
// real's and the node's.
func FuzzProgram(f *testing.F) {
	fixtures := loadFixtures(f)
	for _, fx := range fixtures {
		f.Add([]byte(fx.In))
	}
	d := openTest(f, Options{MaxServices: 4, MaxReals: 4})
	std := fixtures["tcp_vip_tx"]
	std.fill(f, d)
	// Real 3 behind another interface, so REDIRECT is reachable too.
	if err := d.PutReal(3, testReal(7)); err != nil {
		f.Fatal(err)
	}
	if err := d.SwapTable(2, []uint32{1, 2, 3, 0, 1, 2, 3}); err != nil {
		f.Fatal(err)
	}
	realMACs := map[string]bool{}
	for _, r := range std.Reals {
		realMACs[r.MAC] = true
	}
	realMACs[testMAC.String()] = true

	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < ethHeaderLen || len(in) > maxFuzzFrame {
			return
		}
		verdict, out := run(t, d.Program(), in)
		switch verdictName(verdict) {
		case "XDP_PASS", "XDP_DROP":
			if !bytes.Equal(in, out) {
				t.Errorf("%s changed the frame:\nin  %x\nout %x", verdictName(verdict), in, out)
			}
		case "XDP_TX", "XDP_REDIRECT":
			if !bytes.Equal(in[12:], out[12:]) || len(in) != len(out) {
				t.Errorf("forwarding changed more than the MACs:\nin  %x\nout %x", in, out)
			}
			if dst := net.HardwareAddr(out[:6]).String(); !realMACs[dst] {
				t.Errorf("forwarded to %s, no real's MAC", dst)
			}
		default:
			t.Errorf("verdict %s, want PASS, DROP, TX or REDIRECT", verdictName(verdict))
		}
	})
}

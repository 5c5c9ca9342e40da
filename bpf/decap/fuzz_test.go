package decap

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	dt "xlb/bpf/decap/decaptest"

	"xlb/internal/testutil"
)

// FuzzDecap feeds arbitrary frames through the program (seeded with the
// golden inputs) and checks what it may do to them: only XDP_PASS or
// XDP_DROP; a dropped frame, and any frame that is not IPv4/IPv6 carrying
// protocol 4 or 41, is left as it came; a changed frame is the input with
// exactly one outer IP header cut out after the link header, whose
// EtherType now names the inner packet's version.
func FuzzDecap(f *testing.F) {
	paths, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no seeds in testdata: %v", err)
	}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		var g golden
		if err := json.Unmarshal(raw, &g); err != nil {
			f.Fatalf("%s: %v", p, err)
		}
		f.Add([]byte(g.In))
	}
	objs := loadTest(f, goldenDsts, goldenVIPs)

	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 14 || len(in) > 4000 {
			return // BPF_PROG_TEST_RUN refuses frames shorter than Ethernet
		}
		verdict, out := run(t, objs.DecapXdp, bytes.Clone(in))
		if v := testutil.VerdictName(verdict); v != "XDP_PASS" && v != "XDP_DROP" {
			t.Fatalf("verdict %s, want XDP_PASS or XDP_DROP", v)
		}
		if bytes.Equal(in, out) {
			return
		}
		if testutil.VerdictName(verdict) == "XDP_DROP" {
			t.Fatalf("dropped frame was changed:\n in %x\nout %x", in, out)
		}
		l2 := 14
		if binary.BigEndian.Uint16(in[12:]) == dt.EtherTypeVLAN {
			l2 = 18
		}
		if len(in) < l2+1 {
			t.Fatalf("frame of %d bytes changed", len(in))
		}
		var proto byte
		switch binary.BigEndian.Uint16(in[l2-2:]) {
		case dt.EtherTypeIPv4:
			proto = in[l2+9]
		case dt.EtherTypeIPv6:
			proto = in[l2+6]
		default:
			t.Fatalf("non-IP frame changed:\n in %x\nout %x", in, out)
		}
		if proto != dt.ProtoIPIP && proto != dt.ProtoIPv6 {
			t.Fatalf("IP frame with protocol %d changed:\n in %x\nout %x", proto, in, out)
		}
		cut := len(in) - len(out)
		if cut < 20 || cut > 60 || !bytes.Equal(out[:l2-2], in[:l2-2]) || !bytes.Equal(out[l2:], in[l2+cut:]) {
			t.Fatalf("output is not the input less one header of %d bytes:\n in %x\nout %x", cut, in, out)
		}
		if got, want := binary.BigEndian.Uint16(out[l2-2:]), dt.EtherTypeOf(out[l2:]); got != want {
			t.Fatalf("EtherType %#04x after decap, inner packet wants %#04x", got, want)
		}
	})
}

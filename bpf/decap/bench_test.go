package decap

import (
	"testing"
	"time"

	dt "xlb/bpf/decap/decaptest"
)

// BenchmarkDecap reports the kernel's ns per frame (BPF_PROG_TEST_RUN,
// program not attached). A decapsulated frame changes, and a run with
// repeat > 1 would re-run the changed buffer, so every case uses repeat = 1
// calls; the ARP case (first check, no map lookup) shows the fixed
// per-call overhead to subtract. Frames passed untouched are also
// batch-run (/batch), which has no such overhead.
func BenchmarkDecap(b *testing.B) {
	objs := loadTest(b, goldenDsts, goldenVIPs)
	in4 := udp4(vip4, 53)
	for _, bc := range []struct {
		name string
		in   []byte
	}{
		{"arp", dt.Ethernet(dt.DstMAC, dt.SrcMAC, dt.EtherTypeARP, make([]byte, 28))},
		{"plain_udp4", dt.Frame(in4)},
		{"ipip_other_dst", dt.Frame(dt.Encap(lb4, other4, in4))},
		{"ipip", dt.Frame(dt.Encap(lb4, real4, in4))},
		{"ip6ip6", dt.Frame(dt.Encap(lb6, real6, udp6(vip6, 53)))},
		{"4in6", dt.Frame(dt.Encap(lb6, real6, in4))},
	} {
		if bc.name != "ipip" && bc.name != "ip6ip6" && bc.name != "4in6" {
			// Frames passed untouched can be batch-run: no per-call
			// overhead, so this is the program's own cost.
			b.Run(bc.name+"/batch", func(b *testing.B) {
				_, d, err := objs.DecapXdp.Benchmark(bc.in, b.N, b.ResetTimer)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(d.Nanoseconds()), "kernel-ns/frame")
			})
		}
		b.Run(bc.name, func(b *testing.B) {
			var total time.Duration
			for b.Loop() {
				_, d, err := objs.DecapXdp.Benchmark(bc.in, 1, nil)
				if err != nil {
					b.Fatal(err)
				}
				total += d
			}
			b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "kernel-ns/frame")
		})
	}
}

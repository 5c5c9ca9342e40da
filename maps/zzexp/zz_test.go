package zzexp

import (
	"testing"

	"github.com/cilium/ebpf"
)

func BenchmarkTLB(b *testing.B) {
	spec, err := ebpf.LoadCollectionSpec("/tmp/tlbexp/tlb.o")
	if err != nil {
		b.Fatal(err)
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		b.Fatal(err)
	}
	defer coll.Close()
	outer := coll.Maps["outer"]
	for i := uint32(0); i < outer.MaxEntries(); i++ {
		in, err := ebpf.NewMap(spec.Maps["outer"].InnerMap)
		if err != nil {
			b.Fatal(err)
		}
		if err := outer.Put(i, in); err != nil {
			b.Fatal(err)
		}
		in.Close()
	}
	frame := make([]byte, 64)
	for _, name := range []string{"small_x", "big_x", "chasesmall_x", "chase_x", "big_x", "chase_x"} {
		p := coll.Programs[name]
		b.Run(name, func(b *testing.B) {
			var tot float64
			for b.Loop() {
				_, d, err := p.Benchmark(frame, 100000, nil)
				if err != nil {
					b.Fatal(err)
				}
				tot += float64(d.Nanoseconds())
			}
			b.ReportMetric(tot/float64(b.N), "ns/pkt")
		})
	}
}

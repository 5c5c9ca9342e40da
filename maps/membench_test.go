package maps

import (
	"testing"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"xlb/bpf"
	"xlb/internal/testutil"
)

// BenchmarkTableMiss measures the floor under issue 4's first-packet
// target: what one read of a random set of a connection table costs on
// this machine, as nothing else. A benchmark-only XDP program reads one
// word of a set picked by a counter's hash in an array of conns4's sets
// (128 bytes each) and drops the frame; refdr runs in the same loop on
// ct_hit, the targets' yardstick (x_refdr). Rows:
//   - default_table_dependent: a table of DefaultConnTableSize flows
//     (32 MiB), the next run's set depending on this run's read, so that
//     no two reads overlap: what a packet pays when its read is the
//     first thing it needs and nothing of its own work overlaps it,
//     which is xlb's new flow (its profile: most of its samples on the
//     set's first load);
//   - default_table_independent: the same table, each run's set from the
//     counter alone, so that the CPU overlaps the reads of consecutive
//     runs: the least a random read costs;
//   - half_table_dependent: the same flows in half the bytes (2^18 sets
//     of one 64-byte line, 16 MiB), as a table of 16-byte ways would hold
//     them (a 4-byte hash of the key instead of its 16 bytes, the time
//     in 32 bits): what a more compact table would save a first packet;
//   - small_table_dependent: 256 sets (32 KiB), which stay in cache: the
//     program's own cost.
//
// A new flow must read its set (to learn that it is new, and which way
// to take), so a first packet over a million distinct flows costs at
// least the default table's figure plus refdr's own work.
func BenchmarkTableMiss(b *testing.B) {
	fx := loadFixtures(b)
	ref := loadReferences(b)
	setSize := uint32(unsafe.Sizeof(bpf.XlbConnSet4{}))
	for _, bc := range []struct {
		name      string
		sets      uint32
		setSize   uint32
		dependent bool
	}{
		{"default_table_dependent", connSetCount(DefaultConnTableSize), setSize, true},
		{"default_table_independent", connSetCount(DefaultConnTableSize), setSize, false},
		{"half_table_dependent", connSetCount(DefaultConnTableSize), setSize / 2, true},
		{"small_table_dependent", 256, setSize, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			prog := tableMissProgram(b, bc.sets, bc.setSize, bc.dependent)
			frame := fx["ct_hit"].In
			var miss, rd float64
			for b.Loop() {
				miss += float64(kernelTime(b, prog, frame, "XDP_DROP"))
				rd += float64(kernelTime(b, ref.refdr, frame, "XDP_TX"))
			}
			b.ReportMetric(miss/float64(b.N), "ns/pkt")
			b.ReportMetric(rd/float64(b.N), "refdr_ns/pkt")
			b.ReportMetric(miss/rd, "x_refdr")
		})
	}
}

// tableMissProgram returns the program BenchmarkTableMiss runs: a counter
// (an array of one) advances by one, plus the word read when dependent;
// its value times 2654435761 (Knuth's multiplicative hash), top bits,
// picks one of sets sets of setSize bytes (sets a power of two), whose
// word at offset 8 is read. It returns XDP_DROP.
func tableMissProgram(b *testing.B, sets, setSize uint32, dependent bool) *ebpf.Program {
	b.Helper()
	if sets&(sets-1) != 0 {
		b.Fatalf("%d sets, want a power of two", sets)
	}
	bits := 0
	for 1<<bits < sets {
		bits++
	}
	counter, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { counter.Close() })
	table, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: setSize, MaxEntries: sets})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { table.Close() })
	const golden = -1640531535 // 2654435761 as an int32
	// R6 = &counter[0], R7 = *R6 + 1.
	insns := append(testutil.LookupKey0(counter, "out"),
		asm.Mov.Reg(asm.R6, asm.R0),
		asm.LoadMem(asm.R7, asm.R6, 0, asm.Word),
		asm.Add.Imm32(asm.R7, 1),
		// set = R7 * golden >> (32 - bits), looked up in table.
		asm.Mov.Reg32(asm.R1, asm.R7),
		asm.Mul.Imm32(asm.R1, golden),
		asm.RSh.Imm32(asm.R1, int32(32-bits)),
		asm.StoreMem(asm.RFP, -8, asm.R1, asm.Word),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -8),
		asm.LoadMapPtr(asm.R1, table.FD()),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "out"),
		asm.LoadMem(asm.R1, asm.R0, 8, asm.Word),
	)
	if dependent {
		// The words are 0, which the CPU cannot know before the read.
		insns = append(insns, asm.Add.Reg32(asm.R7, asm.R1))
	}
	insns = append(insns,
		asm.StoreMem(asm.R6, 0, asm.R7, asm.Word),
		asm.Mov.Imm(asm.R0, 1 /* XDP_DROP */).WithSymbol("out"),
		asm.Return(),
	)
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Name: "bench_tablemiss", Type: ebpf.XDP, License: "GPL", Instructions: insns})
	if err != nil {
		b.Fatalf("load program: %+v", err)
	}
	b.Cleanup(func() { prog.Close() })
	return prog
}

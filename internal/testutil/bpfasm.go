package testutil

import (
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// LookupKey0 returns the instructions that look up key 0 of array m (a
// counter or a saved frame of the benchmark programs), leaving the
// value's address in R0, or jumping to miss if there is none. They use
// the 4 bytes below the frame pointer and clobber R1 to R5.
func LookupKey0(m *ebpf.Map, miss string) asm.Instructions {
	return asm.Instructions{
		asm.StoreImm(asm.RFP, -4, 0, asm.Word),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -4),
		asm.LoadMapPtr(asm.R1, m.FD()),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, miss),
	}
}

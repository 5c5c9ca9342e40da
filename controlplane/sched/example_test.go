package sched_test

import (
	"fmt"
	"net/netip"

	"xlb/controlplane/sched"
)

func ExampleWRRSequence() {
	reals := []sched.Backend{
		{ID: 1, Key: "198.18.0.11:80", Weight: 4},
		{ID: 2, Key: "198.18.0.12:80", Weight: 3},
		{ID: 3, Key: "198.18.0.13:80", Weight: 2},
		{ID: 4, Key: "198.18.0.14:80", Weight: 0}, // quiesced: never listed
	}
	seq, err := sched.WRRSequence(reals)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(seq)
	// Output: [1 1 2 1 2 3 1 2 3]
}

func ExampleModel() {
	m, err := sched.New(sched.WLC, []sched.Backend{
		{ID: 1, Key: "198.18.0.11:80", Weight: 3},
		{ID: 2, Key: "198.18.0.12:80", Weight: 1},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	flow := sched.Flow{
		Src:   netip.MustParseAddrPort("198.18.50.1:40000"),
		Dst:   netip.MustParseAddrPort("198.18.100.1:80"),
		Proto: 6,
	}
	for range 6 {
		id, _ := m.Pick(flow)
		_ = m.Connect(id) // SYN: counted inactive
		fmt.Print(id, " ")
	}
	fmt.Println()
	// Output: 1 2 1 1 1 2
}

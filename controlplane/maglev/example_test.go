package maglev_test

import (
	"fmt"

	"xlb/controlplane/maglev"
)

func ExampleBuild() {
	reals := []maglev.Backend{
		{ID: 1, Key: "198.18.0.11:80", Weight: 3},
		{ID: 2, Key: "198.18.0.12:80", Weight: 1},
		{ID: 3, Key: "198.18.0.13:80", Weight: 0}, // drained: gets no slot
	}
	table, err := maglev.Build(reals, maglev.DefaultSize)
	if err != nil {
		fmt.Println(err)
		return
	}
	slots := make(map[uint32]int)
	for _, id := range table {
		slots[id]++
	}
	fmt.Println(len(table), slots[1], slots[2], slots[3])
	// Output: 65537 49153 16384 0
}

package sched

import (
	"fmt"
	"slices"
	"strings"

	"xlb/controlplane/maglev"
)

// Backend is one real server as the schedulers see it: the same triple the
// Maglev builder takes (ID written into tables, stable Key, Weight), so one
// slice of reals feeds every builder.
type Backend = maglev.Backend

// Scheduler names, as keepalived's lb_algo and ipvsadm -s spell them.
const (
	RR    = "rr"
	WRR   = "wrr"
	LC    = "lc"
	WLC   = "wlc"
	SH    = "sh"
	DH    = "dh"
	SED   = "sed"
	NQ    = "nq"
	LBLC  = "lblc"
	LBLCR = "lblcr"
	MH    = "mh"
)

// Names lists every scheduler this package models, in the seed's order with
// mh last.
var Names = []string{RR, WRR, LC, WLC, SH, DH, SED, NQ, LBLC, LBLCR, MH}

// Known reports whether name is a scheduler this package models.
func Known(name string) bool { return slices.Contains(Names, name) }

// Sorted returns a copy of backends sorted by Key: the list order xlb's
// data plane walks (WRRSequence, and the bounded real list the least-
// connection schedulers scan). Pass it to New to model the data plane.
func Sorted(backends []Backend) []Backend {
	s := slices.Clone(backends)
	slices.SortFunc(s, func(a, b Backend) int { return strings.Compare(a.Key, b.Key) })
	return s
}

// validate checks what every builder needs: distinct keys, distinct
// non-zero ids and non-empty keys for every backend that can be picked.
// Weight-0 backends may carry id 0 (they never reach a table), as in
// maglev.Build.
func validate(backends []Backend) error {
	ids := make(map[uint32]string, len(backends))
	keys := make(map[string]struct{}, len(backends))
	for i, b := range backends {
		if _, dup := keys[b.Key]; dup {
			return fmt.Errorf("backend %d: key %q: duplicate", i, b.Key)
		}
		keys[b.Key] = struct{}{}
		if b.ID != 0 {
			if other, dup := ids[b.ID]; dup {
				return fmt.Errorf("backend %d (%q): id %d: already used by %q", i, b.Key, b.ID, other)
			}
			ids[b.ID] = b.Key
		}
		if b.Weight == 0 {
			continue
		}
		if b.ID == 0 {
			return fmt.Errorf("backend %d (%q): id: want non-zero with weight %d", i, b.Key, b.Weight)
		}
		if b.Key == "" {
			return fmt.Errorf("backend %d (id %d): key: want non-empty with weight %d", i, b.ID, b.Weight)
		}
	}
	return nil
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

package controlplane

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"xlb/controlplane/maglev"
	"xlb/controlplane/sched"
	"xlb/maps"
)

func TestExplain(t *testing.T) {
	f := newXDPFixture(t, strings.Replace(threeReals, "lb_algo mh", "lb_algo mh", 1))
	f.reconcile(t)
	vip := MustParseServiceKey("198.18.0.100:80/tcp")
	client := netip.MustParseAddrPort("198.18.1.10:40000")
	flow := maps.Flow{Src: client, Dst: netip.MustParseAddrPort("198.18.0.100:80"), Proto: 6}

	// What the data plane's table holds, and which real the flow's slot names.
	slot := sched.Slot(sched.FlowHash(sched.Flow{Src: flow.Src, Dst: flow.Dst, Proto: 6}), smallTable)
	wantSlotReal := map[uint32]string{1: "198.18.0.11:80", 2: "198.18.0.12:80", 3: "198.18.0.13:80"}[f.dp.tables[1][slot]]
	other := map[string]uint32{"198.18.0.11:80": 2, "198.18.0.12:80": 3, "198.18.0.13:80": 1}[wantSlotReal]
	otherAddr := map[uint32]string{1: "198.18.0.11:80", 2: "198.18.0.12:80", 3: "198.18.0.13:80"}[other]

	tests := []struct {
		name      string
		conn      *maps.Conn
		wantReal  string
		wantBy    string
		wantNotes string
	}{
		{name: "new flow", wantReal: wantSlotReal, wantBy: "scheduler"},
		{name: "tracked on another real", conn: &maps.Conn{RealID: other, State: maps.ConnEstablished, LastSeen: maps.MonotonicNow()},
			wantReal: otherAddr, wantBy: "connection table"},
		{name: "tracked but expired", conn: &maps.Conn{RealID: other, State: maps.ConnSYN, LastSeen: maps.MonotonicNow() - 2*time.Minute},
			wantReal: wantSlotReal, wantBy: "scheduler", wantNotes: "idle past its 1m0s timeout"},
		{name: "tracked on a real gone", conn: &maps.Conn{RealID: 99, State: maps.ConnEstablished, LastSeen: maps.MonotonicNow()},
			wantReal: wantSlotReal, wantBy: "scheduler", wantNotes: "no longer configured"},
		{name: "closing", conn: &maps.Conn{RealID: other, State: maps.ConnClosing, LastSeen: maps.MonotonicNow()},
			wantReal: otherAddr, wantBy: "connection table", wantNotes: "a new SYN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.dp.conns = map[maps.Flow]maps.Conn{}
			if tc.conn != nil {
				f.dp.conns[flow] = *tc.conn
			}
			e, err := f.rec.Explain(vip, client)
			if err != nil {
				t.Fatal(err)
			}
			if e.Real.String() != tc.wantReal || e.DecidedBy != tc.wantBy {
				t.Errorf("Explain = real %s by %q, want %s by %q (notes %q)", e.Real, e.DecidedBy, tc.wantReal, tc.wantBy, e.Notes)
			}
			if e.Slot != slot || e.SlotReal.String() != wantSlotReal || e.Scheduler != "mh" {
				t.Errorf("scheduler part = %s slot %d → %s, want mh slot %d → %s", e.Scheduler, e.Slot, e.SlotReal, slot, wantSlotReal)
			}
			if notes := strings.Join(e.Notes, "; "); !strings.Contains(notes, tc.wantNotes) {
				t.Errorf("notes %q do not mention %q", notes, tc.wantNotes)
			}
		})
	}
}

func TestExplainSourceHash(t *testing.T) {
	f := newXDPFixture(t, strings.Replace(threeReals, "lb_algo mh", "lb_algo sh", 1))
	f.reconcile(t)
	vip := MustParseServiceKey("198.18.0.100:80/tcp")
	backends := []maglev.Backend{
		{ID: 1, Key: "198.18.0.11:80", Weight: 3}, {ID: 2, Key: "198.18.0.12:80", Weight: 2}, {ID: 3, Key: "198.18.0.13:80", Weight: 1},
	}
	table, err := maglev.Build(backends, smallTable)
	if err != nil {
		t.Fatal(err)
	}
	// sh: every port of one client meets the same real.
	var first netip.AddrPort
	for port := uint16(40000); port < 40010; port++ {
		client := netip.AddrPortFrom(netip.MustParseAddr("198.18.1.10"), port)
		e, err := f.rec.Explain(vip, client)
		if err != nil {
			t.Fatal(err)
		}
		want := table[sched.Slot(sched.AddrHash(client.Addr()), smallTable)]
		if e.Scheduler != "sh" || e.SlotReal.String() != backends[want-1].Key {
			t.Fatalf("port %d: %s slot real %s, want sh and %s", port, e.Scheduler, e.SlotReal, backends[want-1].Key)
		}
		if port > 40000 && e.Real != first {
			t.Errorf("port %d goes to %s, port 40000 to %s: sh must keep a client on one real", port, e.Real, first)
		}
		first = e.Real
	}
}

func TestExplainErrors(t *testing.T) {
	f := newXDPFixture(t, threeReals)
	f.reconcile(t)
	_, err := f.rec.Explain(MustParseServiceKey("198.18.0.100:81/tcp"), netip.MustParseAddrPort("198.18.1.10:1"))
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown service: %v, want ErrNotFound", err)
	}
	_, err = f.rec.Explain(MustParseServiceKey("198.18.0.100:80/tcp"), netip.MustParseAddrPort("[2001:db8::1]:1"))
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("IPv6 client of an IPv4 VIP: %v, want ErrInvalid", err)
	}
}

// TestExplainSequence checks that a flow under rr/wrr or the least-
// connection family is explained by its connection entry, or as the
// scheduler's choice at its first packet, with no table slot.
func TestExplainSequence(t *testing.T) {
	for _, algo := range []string{"wrr", "wlc"} {
		t.Run(algo, func(t *testing.T) {
			f := newXDPFixture(t, strings.Replace(threeReals, "lb_algo mh", "lb_algo "+algo, 1))
			f.reconcile(t)
			e, err := f.rec.Explain(MustParseServiceKey("198.18.0.100:80/tcp"), netip.MustParseAddrPort("198.18.1.10:40000"))
			if err != nil {
				t.Fatal(err)
			}
			if e.Scheduler != algo || e.TableSize != 0 || e.DecidedBy != "scheduler" || e.Real.IsValid() {
				t.Errorf("Explain = %+v, want %s deciding at the first packet, no slot, no real", e, algo)
			}
			if len(e.Notes) == 0 || !strings.Contains(e.Notes[0], "at its first packet") {
				t.Errorf("notes %q, want one saying the choice is made at the first packet", e.Notes)
			}
		})
	}
}

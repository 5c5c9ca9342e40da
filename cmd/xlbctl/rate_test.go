package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"xlb/controlplane/api"
)

func TestRates(t *testing.T) {
	svc := func(packets, bytes uint64, reals ...api.Real) api.Services {
		return api.Services{Services: []api.Service{{VIP: "198.18.0.100", Port: 80, Protocol: "tcp",
			Packets: packets, Bytes: bytes, Reals: reals}}}
	}
	real := func(addr string, packets, bytes uint64) api.Real {
		return api.Real{Address: addr, Port: 80, Packets: packets, Bytes: bytes}
	}
	first := svc(100, 10000, real("198.18.0.11", 60, 6000), real("198.18.0.12", 40, 4000))
	second := svc(300, 40000,
		real("198.18.0.11", 160, 16000), // grew by 100 packets
		real("198.18.0.12", 10, 1000),   // counters went back: re-added, counts from 0
		real("198.18.0.13", 30, 3000))   // new
	got := rates(first, second, 2*time.Second)
	want := Rates{Interval: 2, Services: []ServiceRate{{
		VIP: "198.18.0.100", Port: 80, Protocol: "tcp", Rate: Rate{PPS: 100, BPS: 15000},
		Reals: []RealRate{
			{Address: "198.18.0.11", Port: 80, Rate: Rate{PPS: 50, BPS: 5000}},
			{Address: "198.18.0.12", Port: 80, Rate: Rate{PPS: 5, BPS: 500}},
			{Address: "198.18.0.13", Port: 80, Rate: Rate{PPS: 15, BPS: 1500}},
		},
	}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rates (-want +got):\n%s", diff)
	}
}

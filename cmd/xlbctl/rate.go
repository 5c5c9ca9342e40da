package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"xlb/controlplane/api"
)

// Rates is what `xlbctl services --rate -o json` prints: per-second rates
// over one interval between two listings, as ipvsadm --rate shows them.
type Rates struct {
	Interval float64       `json:"interval_seconds"`
	Services []ServiceRate `json:"services"`
}

// ServiceRate is one service's rates and its reals'.
type ServiceRate struct {
	VIP      string     `json:"vip"`
	Port     uint16     `json:"port"`
	Protocol string     `json:"protocol"`
	Rate                // packets and bytes per second
	Reals    []RealRate `json:"reals"`
}

// RealRate is one real server's rates.
type RealRate struct {
	Address string `json:"address"`
	Port    uint16 `json:"port"`
	Rate
}

// Rate is a pair of per-second rates.
type Rate struct {
	PPS float64 `json:"packets_per_second"`
	BPS float64 `json:"bytes_per_second"`
}

// sampleRates lists the services twice, interval apart, and turns the
// counters' growth into rates.
func sampleRates(ctx context.Context, c *api.Client, interval time.Duration) (Rates, error) {
	first, err := c.Services(ctx)
	if err != nil {
		return Rates{}, err
	}
	start := time.Now()
	select {
	case <-ctx.Done():
		return Rates{}, ctx.Err()
	case <-time.After(interval):
	}
	second, err := c.Services(ctx)
	if err != nil {
		return Rates{}, err
	}
	return rates(first, second, time.Since(start)), nil
}

// rates compares two listings taken elapsed apart. A service or real that
// is new in the second, or whose counters went back (it was removed and
// added again), counts from zero.
func rates(first, second api.Services, elapsed time.Duration) Rates {
	secs := elapsed.Seconds()
	per := func(before, after uint64) float64 {
		if after < before {
			before = 0
		}
		return float64(after-before) / secs
	}
	type key struct {
		vip, proto string
		port       uint16
	}
	oldSvc := map[key]api.Service{}
	for _, s := range first.Services {
		oldSvc[key{s.VIP, s.Protocol, s.Port}] = s
	}
	out := Rates{Interval: secs, Services: []ServiceRate{}}
	for _, s := range second.Services {
		old := oldSvc[key{s.VIP, s.Protocol, s.Port}]
		sr := ServiceRate{VIP: s.VIP, Port: s.Port, Protocol: s.Protocol,
			Rate: Rate{PPS: per(old.Packets, s.Packets), BPS: per(old.Bytes, s.Bytes)}, Reals: []RealRate{}}
		oldReal := map[string]api.Real{}
		for _, r := range old.Reals {
			oldReal[hostPort(r.Address, r.Port)] = r
		}
		for _, r := range s.Reals {
			o := oldReal[hostPort(r.Address, r.Port)]
			sr.Reals = append(sr.Reals, RealRate{Address: r.Address, Port: r.Port,
				Rate: Rate{PPS: per(o.Packets, r.Packets), BPS: per(o.Bytes, r.Bytes)}})
		}
		out.Services = append(out.Services, sr)
	}
	return out
}

// printRates writes rates as ipvsadm --rate does, one line a service and
// one a real.
func printRates(w io.Writer, r Rates) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "rates over %.1fs\n", r.Interval)
	fmt.Fprintln(tw, "Prot\tLocalAddress:Port\tPPS\tBPS\t")
	for _, s := range r.Services {
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.0f\t\n", strings.ToUpper(s.Protocol), hostPort(s.VIP, s.Port), s.PPS, s.BPS)
		for _, rr := range s.Reals {
			fmt.Fprintf(tw, "->\t%s\t%.0f\t%.0f\t\n", hostPort(rr.Address, rr.Port), rr.PPS, rr.BPS)
		}
	}
	return tw.Flush()
}

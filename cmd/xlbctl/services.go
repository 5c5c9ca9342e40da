package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"xlb/controlplane/api"
)

func newServicesCommand(client func() *api.Client, withTimeout func(*cobra.Command) (context.Context, context.CancelFunc)) *cobra.Command {
	var output *string
	var rate, stats bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "services [-o text|json] [--rate [--interval D]]",
		Short: "list virtual services and their real servers with weights and counters",
		Long: `services lists every virtual service like ipvsadm -Ln --stats: its scheduler
(as configured, and the one serving it), forwarding kind and counters, then each
real server with its configured and effective weight, next-hop MAC, state and
counters. -o json prints the API's schema (see docs/api.md).

--stats prints the counters of both directions, as ipvsadm --stats: in (client
to real) and out (replies the load balancer translated back, NAT only).

--rate lists twice, --interval apart (default 1s), and prints packets and bytes
per second for each service and real, like ipvsadm --rate.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(*output); err != nil {
				return err
			}
			if interval <= 0 {
				return usageError{fmt.Errorf("--interval %v: want more than 0", interval)}
			}
			ctx, cancel := withTimeout(cmd)
			defer cancel()
			if rate {
				r, err := sampleRates(ctx, client(), interval)
				if err != nil {
					return err
				}
				return render(cmd.OutOrStdout(), *output, r, func(w io.Writer) error { return printRates(w, r) })
			}
			svcs, err := client().Services(ctx)
			if err != nil {
				return err
			}
			return render(cmd.OutOrStdout(), *output, svcs, func(w io.Writer) error { return printServices(w, svcs, stats) })
		},
	}
	output = outputFlag(cmd)
	cmd.Flags().BoolVar(&rate, "rate", false, "print packets and bytes per second, over --interval")
	cmd.Flags().BoolVar(&stats, "stats", false, "print packets and bytes in both directions (out: NAT replies)")
	cmd.Flags().DurationVar(&interval, "interval", time.Second, "how long --rate samples")
	return cmd
}

// printServices writes the listing as a table an ipvsadm user reads at once;
// reasons, which are long, follow the table.
func printServices(w io.Writer, svcs api.Services, stats bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	var notes []string
	counters := func(conns, in, inBytes, out, outBytes uint64) string {
		if stats {
			return fmt.Sprintf("%d\t%d\t%d\t%d\t%d", conns, in, out, inBytes, outBytes)
		}
		return fmt.Sprintf("%d\t%d", in, inBytes)
	}
	head := "Packets\tBytes"
	if stats {
		head = "Conns\tInPkts\tOutPkts\tInBytes\tOutBytes"
	}
	fmt.Fprintln(tw, "Prot\tLocalAddress:Port\tScheduler\tKind\tWeight\tEffective\tMAC\tState\tActiveConn\tInActConn\t"+head)
	for _, s := range svcs.Services {
		vip := hostPort(s.VIP, s.Port)
		sched := s.Scheduler
		if s.ServedBy != "" && !strings.EqualFold(s.ServedBy, s.Scheduler) {
			sched = fmt.Sprintf("%s(as %s)", s.Scheduler, s.ServedBy)
		}
		// As ipvsadm -Ln: "rr persistent 360 mask 255.255.255.0", "ops".
		if s.PersistenceS > 0 {
			sched += fmt.Sprintf(" persistent %d", s.PersistenceS)
			if m := persistMask(s.VIP, s.PersistenceGranularity); m != "" {
				sched += " mask " + m
			}
		}
		if s.OPS {
			sched += " ops"
		}
		if s.Reason != "" {
			notes = append(notes, fmt.Sprintf("%s: %s", vip, s.Reason))
		}
		if !s.QuorumUp && len(s.Reals) > 0 {
			notes = append(notes, fmt.Sprintf("%s: quorum %d not met by the live reals' weights", vip, s.Quorum))
		}
		if s.SorryActive {
			notes = append(notes, fmt.Sprintf("%s: no real has weight: new flows go to the sorry_server %s", vip, s.SorryServer))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\t\t\t%s\t\t\t%s\n", strings.ToUpper(s.Protocol),
			vip, sched, s.Kind, s.Status, counters(s.Connections, s.Packets, s.Bytes, s.OutPackets, s.OutBytes))
		for _, r := range s.Reals {
			rip := hostPort(r.Address, r.Port)
			eff := fmt.Sprint(r.EffectiveWeight)
			if r.Override != nil {
				eff += "*"
			}
			mac := r.MAC
			if mac == "" {
				mac = "-"
			}
			if r.Reason != "" && r.State != "out" {
				notes = append(notes, fmt.Sprintf("%s -> %s: %s", vip, rip, r.Reason))
			}
			fmt.Fprintf(tw, "  ->\t%s\t\t\t%d\t%s\t%s\t%s\t%d\t%d\t%s\n",
				rip, r.Weight, eff, mac, r.State, r.ActiveConns, r.InactiveConns, counters(r.Connections, r.Packets, r.Bytes, r.OutPackets, r.OutBytes))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "(* = weight overridden with xlbctl weight)")
	for _, n := range notes {
		fmt.Fprintln(w, n)
	}
	return nil
}

// persistMask writes a persistence granularity as ipvsadm does: an IPv4
// netmask, or an IPv6 prefix length; "" for a host (ipvsadm's default).
func persistMask(vip string, bits int) string {
	a, err := netip.ParseAddr(vip)
	if err != nil || bits <= 0 || (a.Is4() && bits >= 32) || bits >= 128 {
		return ""
	}
	if a.Is6() {
		return fmt.Sprint(bits)
	}
	m := [4]byte{}
	for i := range bits {
		m[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom4(m).String()
}

func hostPort(addr string, port uint16) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return fmt.Sprintf("%s:%d", addr, port)
	}
	return netip.AddrPortFrom(a, port).String()
}

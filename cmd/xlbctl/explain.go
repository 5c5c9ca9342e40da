package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"

	"github.com/spf13/cobra"

	"xlb/controlplane"
	"xlb/controlplane/api"
)

func newExplainCommand(client func() *api.Client, withTimeout func(*cobra.Command) (context.Context, context.CancelFunc)) *cobra.Command {
	var output *string
	cmd := &cobra.Command{
		Use:   "explain VIP:PORT[/tcp|/udp] CLIENT:PORT [-o text|json]",
		Short: "say which real a client's flow goes to, and why",
		Long: `explain answers which real server the data plane sends the flow from
CLIENT:PORT to the virtual service, and why: its connection-table entry (state,
idle time, timeout), or — for a new, expired or orphaned flow — the client's
persistence template (persistent services), or the scheduler's table slot
(the hash of the flow for mh, of the client for sh, of the VIP for dh), or
for lblc/lblcr the VIP's entry in the locality table and whether it holds
(table hit) or wlc picks (overloaded, or no entry). It reads the same inputs
as the XDP program, without sending a packet.`,
		Example: "  xlbctl explain 198.18.0.100:80/tcp 198.18.0.10:43512",
		Args:    usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(*output); err != nil {
				return err
			}
			if _, err := controlplane.ParseServiceKey(args[0]); err != nil {
				return usageError{err}
			}
			if _, err := netip.ParseAddrPort(args[1]); err != nil {
				return usageError{fmt.Errorf("client %q: want IP:PORT", args[1])}
			}
			ctx, cancel := withTimeout(cmd)
			defer cancel()
			e, err := client().Explain(ctx, args[0], args[1])
			if err != nil {
				return err
			}
			return render(cmd.OutOrStdout(), *output, e, func(w io.Writer) error {
				printExplanation(w, e)
				return nil
			})
		},
	}
	output = outputFlag(cmd)
	return cmd
}

// printExplanation writes the answer first, then the reasoning.
func printExplanation(w io.Writer, e api.Explanation) {
	real := e.Real
	if real == "" {
		real = "nowhere (dropped)"
	}
	fmt.Fprintf(w, "%s -> %s: real %s, decided by the %s\n", e.Client, e.Service, real, e.DecidedBy)
	if c := e.Conn; c != nil {
		cr := c.Real
		if cr == "" {
			cr = "a real no longer configured"
		}
		fmt.Fprintf(w, "  connection table: %s, %s, idle %.0fs of %.0fs\n", cr, c.State, c.IdleS, c.TimeoutS)
	} else {
		fmt.Fprintln(w, "  connection table: no entry")
	}
	if t := e.Template; t != nil {
		tr := t.Real
		if tr == "" {
			tr = "a real no longer configured"
		}
		fmt.Fprintf(w, "  persistence template: %s -> %s, idle %.0fs of %.0fs\n", t.Client, tr, t.IdleS, t.TimeoutS)
	}
	slotReal := e.SlotReal
	if slotReal == "" {
		slotReal = "empty"
	}
	if e.TableSize == 0 {
		// rr/wrr, the least-connection family, lblc and lblcr: no slot.
		if e.SlotReal == "" {
			slotReal = "chosen at the first packet"
		}
		fmt.Fprintf(w, "  scheduler %s: %s\n", e.Scheduler, slotReal)
	} else {
		fmt.Fprintf(w, "  scheduler %s: hash %#08x -> slot %d of %d -> %s\n", e.Scheduler, e.Hash, e.Slot, e.TableSize, slotReal)
	}
	for _, n := range e.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
}

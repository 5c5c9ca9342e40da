package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"xlb/controlplane/api"
)

func newChecksCommand(client func() *api.Client, withTimeout func(*cobra.Command) (context.Context, context.CancelFunc)) *cobra.Command {
	return newViewCommand("checks [-o text|json]", "show every health check: state, last result and its reason, latency, failures",
		`checks lists each health-checked virtual service (a virtual_server_group's
once, under its first address) with its quorum, then each real server's health
and, under it, each of its checks: up or down, what the last attempt saw,
how long it took, consecutive failures, and when it runs next.`,
		client, withTimeout, func(ctx context.Context, c *api.Client) (api.Checks, error) { return c.Checks(ctx) }, printChecks)
}

// printChecks writes one line a service, a real and a check.
func printChecks(w io.Writer, c api.Checks) error {
	if len(c.Services) == 0 {
		_, err := fmt.Fprintln(w, "no health checks configured")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Service / Real / Check\tState\tWeight\tLatency\tFailures\tNext\tReason")
	for _, s := range c.Services {
		state := "quorum up"
		if !s.QuorumUp {
			state = "quorum DOWN"
		}
		if s.Suspended {
			state += ", suspended (ha_suspend)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t\t\t\t\n", s.Name, state, s.LiveWeight, s.Quorum)
		for _, r := range s.Reals {
			fmt.Fprintf(tw, "  %s\t%s\t%d\t\t\t\t%s\n", r.Address, upDown(r.Up), r.Weight, r.Reason)
			for _, ch := range r.Checks {
				next := "-"
				if ch.NextCheck != nil {
					next = "in " + time.Until(*ch.NextCheck).Round(100*time.Millisecond).String()
				}
				fmt.Fprintf(tw, "    %s\t%s\t\t%.2fms\t%d\t%s\t%s\n", ch.ID, upDown(ch.Up), ch.LatencyMS,
					ch.ConsecutiveFailures, next, ch.Reason)
			}
		}
	}
	return tw.Flush()
}

func upDown(up bool) string {
	if up {
		return "up"
	}
	return "DOWN"
}

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
	var output *string
	cmd := &cobra.Command{
		Use:   "checks [-o text|json]",
		Short: "show every health check: state, last result and its reason, latency, failures",
		Long: `checks lists each health-checked virtual service (a virtual_server_group's
once, under its first address) with its quorum, then each real server's health
and, under it, each of its checks: up or down, what the last attempt saw,
how long it took, consecutive failures, and when it runs next.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(*output); err != nil {
				return err
			}
			ctx, cancel := withTimeout(cmd)
			defer cancel()
			c, err := client().Checks(ctx)
			if err != nil {
				return err
			}
			return render(cmd.OutOrStdout(), *output, c, func(w io.Writer) error { return printChecks(w, c) })
		},
	}
	output = outputFlag(cmd)
	return cmd
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

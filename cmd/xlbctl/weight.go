package main

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/spf13/cobra"

	"xlb/controlplane"
	"xlb/controlplane/api"
)

func newWeightCommand(client func() *api.Client, withTimeout func(*cobra.Command) (context.Context, context.CancelFunc)) *cobra.Command {
	return &cobra.Command{
		Use:   "weight VIP:PORT[/tcp|/udp] RIP:PORT N",
		Short: "override a real server's weight at run time (0 takes it out of the table)",
		Long: `weight sets the effective weight of one real server of one virtual service,
overriding the configured weight until xlbd stops; it survives SIGHUP reloads
while the real stays configured. It returns once the data plane's maps are
written. The protocol defaults to tcp. N is 0..65535; 0 takes the real out of
the scheduler's table.`,
		Example: "  xlbctl weight 198.18.0.100:80/tcp 198.18.0.13:80 0",
		Args:    usageArgs(cobra.ExactArgs(3)),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := parseWeightArgs(args)
			if err != nil {
				return usageError{err}
			}
			ctx, cancel := withTimeout(cmd)
			defer cancel()
			resp, err := client().SetWeight(ctx, req)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s weight %d\n", resp.Service, resp.Real, resp.Weight)
			return nil
		},
	}
}

// parseWeightArgs checks the syntax locally so a typo gets a clear message
// without a round trip; xlbd checks again and knows what exists.
func parseWeightArgs(args []string) (api.WeightRequest, error) {
	svc, real, n := args[0], args[1], args[2]
	if _, err := controlplane.ParseServiceKey(svc); err != nil {
		return api.WeightRequest{}, err
	}
	if _, err := netip.ParseAddrPort(real); err != nil {
		return api.WeightRequest{}, fmt.Errorf("real %q: want RIP:PORT", real)
	}
	w, err := strconv.Atoi(n)
	if err != nil || w < 0 || w > 65535 {
		return api.WeightRequest{}, fmt.Errorf("weight: want 0..65535, got %q", n)
	}
	return api.WeightRequest{Service: svc, Real: real, Weight: &w}, nil
}

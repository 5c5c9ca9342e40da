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

func newFNATClientCommand(client func() *api.Client, withTimeout func(*cobra.Command) (context.Context, context.CancelFunc)) *cobra.Command {
	var output, protocol *string
	cmd := &cobra.Command{
		Use:   "fnat-client REAL:PORT LOCAL:PORT [-p tcp|udp] [-o text|json]",
		Short: "say which client is behind a full-NAT connection a real server sees",
		Long: `fnat-client answers, for a connection that real server REAL:PORT sees
from LOCAL:PORT (one of the load balancer's local addresses: lb_kind FNAT
rewrites the client's source), which client it carries and to which virtual
service, from the data plane's full-NAT table. Use it to put client
addresses into a real's logs: the real itself never sees them.`,
		Example: "  xlbctl fnat-client 198.19.0.11:8080 198.19.0.200:40123",
		Args:    usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(*output); err != nil {
				return err
			}
			for i, what := range []string{"real", "local"} {
				if _, err := netip.ParseAddrPort(args[i]); err != nil {
					return usageError{fmt.Errorf("%s %q: want IP:PORT", what, args[i])}
				}
			}
			if _, err := controlplane.ParseProtocol(*protocol); err != nil {
				return usageError{fmt.Errorf("protocol %q: want tcp or udp", *protocol)}
			}
			ctx, cancel := withTimeout(cmd)
			defer cancel()
			f, err := client().FNATClient(ctx, args[0], args[1], *protocol)
			if err != nil {
				return err
			}
			return render(cmd.OutOrStdout(), *output, f, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "%s -> %s (%s): client %s, service %s, %s, idle %.0fs\n",
					f.Local, f.Real, f.Protocol, f.Client, f.Service, f.State, f.IdleS)
				return err
			})
		},
	}
	output = outputFlag(cmd)
	protocol = cmd.Flags().StringP("protocol", "p", "tcp", "the connection's protocol: tcp or udp")
	return cmd
}

package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"xlb/controlplane/api"
)

func newReasonsCommand(client func() *api.Client, withTimeout func(*cobra.Command) (context.Context, context.CancelFunc)) *cobra.Command {
	return newViewCommand("reasons [-o text|json]", "show why the data plane passed, dropped or forwarded packets",
		`reasons prints the XDP program's packet counters by name, summed over CPUs
since xlbd started: pass_* (left to the kernel: not for a virtual service, a
fragment, …), drop_* (malformed, no real, …), tx and redirect (forwarded), and
ct_* (what the connection table did for packets to a virtual service).`,
		client, withTimeout, func(ctx context.Context, c *api.Client) (api.Reasons, error) { return c.Reasons(ctx) }, printReasons)
}

// printReasons writes one counter a line, by name.
func printReasons(w io.Writer, r api.Reasons) error {
	names := make([]string, 0, len(r.Reasons))
	for name := range r.Reasons {
		names = append(names, name)
	}
	slices.Sort(names)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, name := range names {
		fmt.Fprintf(tw, "%s\t%d\t\n", name, r.Reasons[name])
	}
	return tw.Flush()
}

package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"xlb/controlplane/api"
)

func newVRRPCommand(client func() *api.Client, withTimeout func(*cobra.Command) (context.Context, context.CancelFunc)) *cobra.Command {
	return newViewCommand("vrrp [-o text|json]", "show each VRRP instance: state, priorities, current master, last transition",
		`vrrp lists every vrrp_instance: its state (BACKUP, MASTER, FAULT, ...), configured
and effective priority (tracked objects' weights applied), the current master and
its priority, and when and why it last changed state; then every vrrp_sync_group.`,
		client, withTimeout, func(ctx context.Context, c *api.Client) (api.VRRP, error) { return c.VRRP(ctx) }, func(w io.Writer, v api.VRRP) error { return printVRRP(w, v, time.Now()) })
}

// printVRRP writes one line an instance and one a sync group.
func printVRRP(w io.Writer, v api.VRRP, now time.Time) error {
	if len(v.Instances) == 0 {
		_, err := fmt.Fprintln(w, "no vrrp_instance configured")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Instance\tVRID\tIface\tState\tPriority\tMaster\tVIPs\tSince\tReason")
	for _, i := range v.Instances {
		prio := fmt.Sprint(i.Priority)
		if i.EffectivePriority != i.Priority {
			prio = fmt.Sprintf("%d (%d)", i.EffectivePriority, i.Priority)
		}
		master := "-"
		if i.Master != "" {
			master = fmt.Sprintf("%s (%d)", i.Master, i.MasterPriority)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s ago\t%s\n", i.Name, i.VRID, i.Interface, i.State, prio,
			master, strings.Join(i.VIPs, ","), now.Sub(i.Since).Round(time.Second), i.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(v.Groups) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Sync group\tState\tMembers\tSince\tReason")
	for _, g := range v.Groups {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s ago\t%s\n", g.Name, g.State, strings.Join(g.Members, ","),
			now.Sub(g.Since).Round(time.Second), g.Reason)
	}
	return tw.Flush()
}

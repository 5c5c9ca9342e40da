// Command xlbctl inspects a running xlbd and changes real server weights at
// run time, over xlbd's API socket.
//
//	xlbctl [--socket PATH] services [-o text|json]
//	xlbctl [--socket PATH] weight VIP:PORT[/tcp|/udp] RIP:PORT N
//	xlbctl [--socket PATH] reasons [-o text|json]
//	xlbctl [--socket PATH] explain VIP:PORT[/tcp|/udp] CLIENT:PORT [-o text|json]
//	xlbctl realserver up --vip VIP [--vip VIP…] [--tunnel -i IFACE]
//	xlbctl realserver down | status
//
// realserver prepares the host it runs on as a real server (what LVS's
// lvs_real.sh does, plus a BPF decapsulator for TUN); it needs no daemon.
//
// Exit status: 0 done; 1 xlbd unreachable or failed; 2 bad usage, bad
// value, or a service or real that xlbd does not have.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"xlb/controlplane/api"
)

// Exit statuses.
const (
	exitFailure = 1 // daemon unreachable, or it failed to do it
	exitUsage   = 2 // the request itself is wrong
)

// usageError marks an error as the operator's input being wrong.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func main() {
	os.Exit(mainExit())
}

func mainExit() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	cmd := newRootCommand()
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintln(os.Stderr, "xlbctl:", err)
	return exitCode(err)
}

// exitCode maps an error to the documented exit status.
func exitCode(err error) int {
	var ue usageError
	var se *api.StatusError
	switch {
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &se) && se.Status/100 == 4:
		return exitUsage
	default:
		return exitFailure
	}
}

func newRootCommand() *cobra.Command {
	var socket string
	var timeout time.Duration
	root := &cobra.Command{
		Use:           "xlbctl",
		Short:         "inspect xlbd and change real server weights",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	defSocket := api.DefaultSocket
	if env := os.Getenv("XLB_SOCKET"); env != "" {
		defSocket = env
	}
	root.PersistentFlags().StringVar(&socket, "socket", defSocket, "xlbd's API socket (env XLB_SOCKET)")
	root.PersistentFlags().DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait for xlbd")
	// Cobra reports unknown flags and arguments as plain errors; they are
	// usage errors all the same.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })

	client := func() *api.Client { return api.NewClient(socket) }
	withTimeout := func(cmd *cobra.Command) (context.Context, context.CancelFunc) {
		return context.WithTimeout(cmd.Context(), timeout)
	}
	root.AddCommand(newServicesCommand(client, withTimeout), newWeightCommand(client, withTimeout),
		newReasonsCommand(client, withTimeout), newExplainCommand(client, withTimeout),
		newChecksCommand(client, withTimeout), newGenhashCommand(), newVRRPCommand(client, withTimeout))
	root.AddCommand(newFNATClientCommand(client, withTimeout))
	root.AddCommand(newRealserverCommand())
	return root
}

// usageArgs wraps a cobra argument check so its errors exit 2.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError{fmt.Errorf("%w\nusage: %s", err, cmd.UseLine())}
		}
		return nil
	}
}

// Command xlbd is the xlb daemon: it reads a keepalived.conf, loads the XDP
// data plane, attaches it to the given interfaces and keeps its maps equal
// to the configuration and the operator's runtime overrides.
//
//	xlbd -f FILE -i IFACE [-i IFACE…] [--bpffs DIR] [--socket PATH]
//	xlbd -t -f FILE
//
// Every flag can also come from the environment (XLB_CONFIG,
// XLB_INTERFACES as a comma list, XLB_BPFFS, XLB_SOCKET, …); a flag given on
// the command line wins.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(mainExit())
}

// errExit carries an exit status chosen by run; the message (if any) has
// already been printed.
type errExit int

func (e errExit) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func mainExit() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	cmd := newRootCommand()
	cmd.SetArgs(os.Args[1:])
	err := cmd.ExecuteContext(ctx)
	var code errExit
	switch {
	case err == nil:
		return 0
	case errors.As(err, &code):
		return int(code)
	default:
		fmt.Fprintln(os.Stderr, "xlbd:", err)
		return 1
	}
}

func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

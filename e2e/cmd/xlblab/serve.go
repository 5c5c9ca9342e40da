package main

import (
	"log/slog"
	"net"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"xlb/e2e/lab"
)

func serveCmd(log *slog.Logger) *cobra.Command {
	var (
		name, listen string
		udp          bool
	)
	cmd := &cobra.Command{
		Use:   "serve --name r1 --listen :80 [--udp]",
		Short: "answer each HTTP request (and with --udp each UDP datagram) with this server's name and the client address it saw",
		Long: `serve answers HTTP on --listen; ":80" is one socket for IPv4 and IPv6.
With --udp it also answers each datagram to the same address and port.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			var pcs []*net.UDPConn
			if udp {
				if pcs, err = lab.ListenUDP(listen); err != nil {
					ln.Close()
					return err
				}
			}
			g, ctx := errgroup.WithContext(cmd.Context())
			g.Go(func() error { return lab.Serve(ctx, name, ln, log) })
			for _, pc := range pcs {
				g.Go(func() error { return lab.ServeUDP(ctx, name, pc, log) })
			}
			return g.Wait()
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "name to answer with (one word)")
	cmd.Flags().StringVar(&listen, "listen", ":80", "address to listen on")
	cmd.Flags().BoolVar(&udp, "udp", false, "answer UDP datagrams on the same address too")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

package main

import (
	"log/slog"
	"net"

	"github.com/spf13/cobra"

	"xlb/e2e/lab"
)

func serveCmd(log *slog.Logger) *cobra.Command {
	var name, listen string
	cmd := &cobra.Command{
		Use:   "serve --name r1 --listen :80",
		Short: "answer each HTTP request with this server's name and the client address it saw",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			return lab.Serve(cmd.Context(), name, ln, log)
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "name to answer with (one word)")
	cmd.Flags().StringVar(&listen, "listen", ":80", "address to listen on")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

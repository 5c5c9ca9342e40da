package main

import (
	"fmt"
	"io"

	"xlb/config"
)

// checkConfig is `xlbd -t`: it reads the configuration, prints warnings and
// errors as FILE:LINE:COL: message to stderr, and with --dump the normalized
// configuration as JSON to stdout. It needs no root, interface or bpffs, and
// does not look at the host's interfaces: a check passes the same on the
// node and on an operator's laptop.
func checkConfig(stdout, stderr io.Writer, s settings) error {
	cfg, warnings, err := loadConfig(stderr, s.Config, s.ConfigID)
	if err != nil {
		return errExit(1)
	}
	if s.Dump {
		b, err := config.Dump(cfg)
		if err != nil {
			return err
		}
		if _, err := stdout.Write(b); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "%s: configuration valid (%d warnings)\n", s.Config, len(warnings))
	return nil
}

// loadConfig reads path and prints every diagnostic to w, one per line, with
// the include lines that led to it.
func loadConfig(w io.Writer, path, configID string) (*config.Config, []config.Diagnostic, error) {
	cfg, warnings, err := config.LoadWithOptions(path, config.Options{ConfigID: configID})
	for _, d := range warnings {
		fmt.Fprintf(w, "%s: warning: %s%s\n", d.Pos, d.Msg, d.Pos.Includes())
	}
	if err != nil {
		fmt.Fprintln(w, err)
		return nil, warnings, err
	}
	return cfg, warnings, nil
}
